"""Neural Style Transfer, step by step: the helper package behind the notebooks.

One small module per idea the notebooks teach:

* :mod:`nst_helpers.gram`: the Gram matrix (notebook 01)
* :mod:`nst_helpers.vgg`: VGG19, its weights and the paper's layer names (notebook 02)
* :mod:`nst_helpers.losses`: content and style loss modules (notebook 03)
* :mod:`nst_helpers.model`: inserting them into VGG19 (notebook 03)
* :mod:`nst_helpers.transfer`: the optimisation loop (notebook 04)
* :mod:`nst_helpers.images`: loading, saving and showing images
* :mod:`nst_helpers.profiles`: device and run size
* :mod:`nst_helpers.color`, :mod:`nst_helpers.multiscale`: the controls of notebook 06
* :mod:`nst_helpers.tiles`: the same losses and gradient, tile by tile (notebook 06)
* :mod:`nst_helpers.memory`: how much memory a run needs

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
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        module = importlib.import_module(f".{_EXPORTS[name]}", __name__)
        return getattr(module, name)
    raise AttributeError(f"module 'nst_helpers' has no attribute {name!r}")
