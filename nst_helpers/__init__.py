"""Neural Style Transfer, step by step: the helper package behind the notebooks.

One small module per idea the notebooks teach. The algorithm, in the order of the notebooks:

* :mod:`nst_helpers.gram`: the Gram matrix (notebook 01)
* :mod:`nst_helpers.vgg`: VGG19, its weights and the paper's layer names (notebook 02)
* :mod:`nst_helpers.losses`: content and style loss modules (notebook 03)
* :mod:`nst_helpers.model`: inserting them into VGG19 (notebook 03)
* :mod:`nst_helpers.transfer`: ``stylize``, the run (notebook 04), and
  :mod:`nst_helpers.loop`, its loop with the safety nets
* :mod:`nst_helpers.color`, :mod:`nst_helpers.multiscale`: the controls (notebook 06)

What makes it fast and large, apart (notebook 07): :mod:`nst_helpers.engine.speed` (how a
model runs), :mod:`nst_helpers.engine.precision`, :mod:`nst_helpers.engine.layout`,
:mod:`nst_helpers.engine.fast_gram`, :mod:`nst_helpers.engine.tiles` (the same losses and
gradient, tile by tile), :mod:`nst_helpers.engine.memory`.
Around them: :mod:`nst_helpers.io.images`, :mod:`nst_helpers.io.profiles` (device and run size),
:mod:`nst_helpers.io.colab`, :mod:`nst_helpers.io.download`, :mod:`nst_helpers.cli`.

Importing the package does no work; the names below are imported lazily.
"""

from __future__ import annotations

import importlib

#: The package's version, written only here (pyproject.toml reads it: ``dynamic = ["version"]``).
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
    "load_image": "io.images",
    "save_image": "io.images",
    "show_images": "io.images",
    "example_image": "io.images",
    "pick_device": "io.profiles",
    "current_profile": "io.profiles",
    "stylize_multiscale": "multiscale",
    "estimate_peak_memory": "engine.memory",
    "largest_size": "engine.memory",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        module = importlib.import_module(f".{_EXPORTS[name]}", __name__)
        return getattr(module, name)
    raise AttributeError(f"module 'nst_helpers' has no attribute {name!r}")
