"""Neural Style Transfer, step by step: the helper package behind the notebooks.

One small module per idea the notebooks teach. The algorithm, in the order of the notebooks:

* :mod:`nst_helpers.gram`: the Gram matrix (notebook 01)
* :mod:`nst_helpers.vgg`: VGG19, its weights and the paper's layer names (notebook 02)
* :mod:`nst_helpers.losses`: content and style loss modules (notebook 03)
* :mod:`nst_helpers.model`: inserting them into VGG19 (notebook 03)
* :mod:`nst_helpers.transfer`: ``stylize``, the run (notebook 04), and
  :mod:`nst_helpers.loop`, its loop with the safety nets
* :mod:`nst_helpers.color`, :mod:`nst_helpers.multiscale`: the controls (notebook 06)
* :mod:`nst_helpers.fast`: a network trained with the same loss, one pass per photo
  (notebook 08); :mod:`nst_helpers.datasets` downloads photos to train it on

What makes it fast and large, apart (notebook 07): :mod:`nst_helpers.speed` (how a model
runs), :mod:`nst_helpers.precision`, :mod:`nst_helpers.layout`, :mod:`nst_helpers.fast_gram`,
:mod:`nst_helpers.tiles` (the same losses and gradient, tile by tile), :mod:`nst_helpers.memory`.
Around them: :mod:`nst_helpers.images`, :mod:`nst_helpers.profiles` (device and run size),
:mod:`nst_helpers.colab`, :mod:`nst_helpers.download`, :mod:`nst_helpers.cli`.

Importing the package does no work; the names below are imported lazily.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_EXPORTS = {
    "gram_matrix": "gram",
    "load_vgg19": "vgg",
    "layer_index": "vgg",
    "layer_name": "vgg",
    "LAYER_NAMES": "vgg",
    "CONTENT_LAYERS": "vgg",
    "STYLE_LAYERS": "vgg",
    "ContentLoss": "losses",
    "StyleLoss": "losses",
    "total_variation": "losses",
    "build_model": "model",
    "stylize": "transfer",
    "StylizeResult": "transfer",
    "load_image": "images",
    "save_image": "images",
    "show_images": "images",
    "example_image": "images",
    "pick_device": "profiles",
    "current_profile": "profiles",
    "stylize_multiscale": "multiscale",
    "estimate_peak_memory": "memory",
    "largest_size": "memory",
    "stylize_fast": "fast",
    "load_network": "fast",
    "TransformerNet": "fast",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        module = importlib.import_module(f".{_EXPORTS[name]}", __name__)
        return getattr(module, name)
    raise AttributeError(f"module 'nst_helpers' has no attribute {name!r}")
