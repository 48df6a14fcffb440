"""How a model runs fast: memory layout, precision, the cheaper Gram gradient, tiles.

A :class:`~nst_helpers.model.StyleTransferModel` computes the same losses with or without an
:class:`Engine` (up to float rounding); :func:`~nst_helpers.transfer.stylize` attaches one
with :func:`accelerate`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from ..model import build_model, vgg_layers
from .fast_gram import fast_gram_matrix
from .layout import in_preferred_layout, preferred_memory_format
from .precision import ScaleGrad, autocast
from .tiles import (
    check_tile,
    needs_tiles,
    tiled_feature_maps,
    tiled_gram_matrices,
    tiled_losses,
)

__all__ = ["Engine", "accelerate", "build_tiled_model"]


@dataclass
class Engine:
    """How a :class:`~nst_helpers.model.StyleTransferModel` runs its network.

    Attributes:
        memory_format: layout the image is handed to the network in (``None``: as it comes).
        tile: evaluate images larger than this many px a side tile by tile; ``None``: never.
    """

    memory_format: torch.memory_format | None = None
    tile: int | None = None

    def losses(self, model, image: torch.Tensor, dtype: torch.dtype | None = None,
               scale: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
        """``(content_loss, style_loss)`` of ``model`` at ``image``, run this engine's way.
        ``dtype``: the network's autocast dtype (``None``: float32). ``scale``: float16's
        loss scale (:class:`~nst_helpers.engine.precision.ScaleGrad`)."""
        if needs_tiles(image, self.tile):
            return tiled_losses(model, self, image, dtype, scale)
        x = image.contiguous(memory_format=self.memory_format) \
            if self.memory_format is not None else image
        if scale != 1.0:
            x = ScaleGrad.apply(x, 1.0 / scale)
        with autocast(image.device.type, dtype):
            model.network(x)
        content, style = model.summed_losses(image.device)
        if scale != 1.0:
            content = ScaleGrad.apply(content, scale)
            style = ScaleGrad.apply(style, scale)
        return content, style


def build_tiled_model(vgg: nn.Sequential, content_image: torch.Tensor | None,
                      style_images: torch.Tensor | Sequence[torch.Tensor] = (), *,
                      tile: int, **options):
    """:func:`~nst_helpers.model.build_model` (same arguments) whose targets and losses are
    computed tile by tile, ``tile`` px a side (:func:`~nst_helpers.engine.tiles.check_tile`).
    The losses equal the untiled model's up to float rounding."""
    tile = check_tile(tile)

    def targets(content, styles, content_layers, style_layers):
        names = set(content_layers)
        content_targets = tiled_feature_maps(vgg_layers(vgg, names), content, sorted(names),
                                             tile) if content_layers else {}
        style_targets: dict[str, list[torch.Tensor]] = {n: [] for n in style_layers}
        for image in styles if style_layers else []:
            grams = tiled_gram_matrices(vgg_layers(vgg, style_layers), image, style_layers, tile)
            for n in style_layers:
                style_targets[n].append(grams[n])
        return content_targets, style_targets

    model = build_model(vgg, content_image, style_images, targets=targets, **options)
    model.engine = Engine(tile=tile)
    return model


def accelerate(model, device: torch.device | str, tile: int | None = None) -> None:
    """Make ``model`` run fast on ``device``: the preferred layout, the cheaper Gram gradient
    and ``tile``. Changes ``model`` and the layout (not values) of its shared weights."""
    model.engine = Engine(memory_format=preferred_memory_format(device), tile=check_tile(tile))
    in_preferred_layout(model.network, device)
    for module in model.style_losses.values():
        module.gram = fast_gram_matrix

