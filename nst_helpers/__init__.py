"""Neural Style Transfer, step by step: the helper package behind the notebooks.

The algorithm, at the top, one small module per idea, in the order of the notebooks:

* :mod:`nst_helpers.gram`: the Gram matrix (notebook 01)
* :mod:`nst_helpers.vgg`: VGG19 and the paper's layer names (notebook 02)
* :mod:`nst_helpers.losses`: content and style loss modules (notebook 03)
* :mod:`nst_helpers.model`: inserting them into VGG19 (notebook 03)
* :mod:`nst_helpers.loop`: the optimisation loop (notebook 04)
* :mod:`nst_helpers.transfer`: ``stylize``, one run end to end (notebook 04)
* :mod:`nst_helpers.color`, :mod:`nst_helpers.multiscale`: the controls (notebooks 06, 07)
* :mod:`nst_helpers.fast`: a network trained with the same loss, one pass per photo
  (notebook 08), and :mod:`nst_helpers.training`, which trains it (``training`` imports
  ``fast``; ``fast`` imports neither it nor the command line)

The machinery, in folders: :mod:`nst_helpers.engine` (how a run goes fast and big: speed,
precision, memory layout, the fast Gram, tiles, the memory estimate; notebook 07),
:mod:`nst_helpers.io` (images, downloads, the weight files, device profiles, Colab, notebook
09's upload button and tool) and
:mod:`nst_helpers.cli` (the commands: ``nst``, and the training command ``python -m
nst_helpers.cli.train``). ``gram``, ``losses``, ``model`` and ``loop`` import none of it;
``vgg`` only ``io`` (its weight files, the device). The command line sits on top: it may
import any module, and none outside it imports it but ``python -m nst_helpers``; no import runs
in a circle, not even one inside a function or an ``if __name__ == "__main__":`` block
(tests/test_layout.py checks both). The engine plugs in through ``StyleTransferModel.engine`` (an
object whose ``losses(model, image, dtype, scale)`` runs the network its way) and
``build_model(targets=...)``; the precision is an argument: ``transfer.stylize`` resolves it
and hands the loop a dtype (and for float16 a loss scale), which the loop passes with every
evaluation.

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
