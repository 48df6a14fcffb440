"""Tiled evaluation: the exact losses and gradient of an image too large for VGG19 at once.

Each tile runs with a margin (:func:`receptive_margin`) so that its interior's features are the
whole image's; edges sit on multiples of :data:`ALIGN`. Pass 1 (no gradients) sums the Gram
matrices and content errors: the loss and ``dL/dG``. Pass 2, per tile, differentiates
``sum_l <dL/dG_l, F_t F_t^T / n_l>`` plus its content error: its share of the gradient.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from ..losses import squared_error, squared_norm
from ..vgg import layer_index, layers_up_to
from .fast_gram import fast_gram_matrix
from .precision import autocast

__all__ = ["ALIGN", "MIN_TILE", "Tile", "receptive_margin", "tile_grid", "layer_stride",
           "check_tile", "tiled_features", "tiled_losses", "tiled_gram_matrices",
           "tiled_feature_maps", "needs_tiles"]

#: Tile edges are multiples of this (px), so the four poolings see the whole image's windows.
ALIGN = 16
#: The smallest tile side (px) accepted.
MIN_TILE = 64


def layer_stride(name: str) -> int:
    """Pixels of the input per position of the feature map at layer ``name`` (1 to 16)."""
    return 2 ** sum(1 for n in layers_up_to(name)[:-1] if n.startswith("pool"))


def receptive_margin(last_layer: str) -> int:
    """How far (px, a multiple of :data:`ALIGN`) beyond a tile's edge pixels reach a
    feature inside it, at any layer up to ``last_layer``."""
    rows, stride, margin = 0, 1, 0
    for name in layers_up_to(last_layer):
        if name.startswith("conv"):
            rows += 1
        elif name.startswith("pool"):
            rows, stride = -(-rows // 2), stride * 2
        margin = max(margin, rows * stride)
    return -(-margin // ALIGN) * ALIGN


@dataclass(frozen=True)
class Tile:
    """One tile: its interior ``rows`` x ``cols`` (pixel slices; each pixel in one tile) and
    the ``outer_rows`` x ``outer_cols`` it is run with (plus the margin, cut at the edges)."""

    rows: slice
    cols: slice
    outer_rows: slice
    outer_cols: slice

    def interior(self, features: torch.Tensor, stride: int) -> torch.Tensor:
        """The interior's view of the outer region's features ``(B, C, h, w)``."""
        def part(inner: slice, outer: slice) -> slice:
            start = (inner.start - outer.start) // stride
            return slice(start, start + inner.stop // stride - inner.start // stride)

        return features[..., part(self.rows, self.outer_rows), part(self.cols, self.outer_cols)]

    def within(self, whole: torch.Tensor, stride: int) -> torch.Tensor:
        """The interior's view of a whole-image feature map ``(B, C, H // s, W // s)``."""
        return whole[..., self.rows.start // stride: self.rows.stop // stride,
                     self.cols.start // stride: self.cols.stop // stride]


def check_tile(tile: int | None) -> int | None:
    """``tile`` if ``None`` or an int >= :data:`MIN_TILE`, multiple of :data:`ALIGN`; else
    ValueError."""
    if tile is None:
        return None
    if isinstance(tile, bool) or not isinstance(tile, int) or tile < MIN_TILE or tile % ALIGN:
        raise ValueError(f"tile must be a whole number of pixels >= {MIN_TILE} and a multiple of "
                         f"{ALIGN} (e.g. 512), got {tile!r}")
    return tile


def needs_tiles(image: torch.Tensor, tile: int | None) -> bool:
    """Whether ``image`` ``(..., H, W)`` is larger than one ``tile`` (``None``: never)."""
    return tile is not None and max(image.shape[-2:]) > tile


def tile_grid(height: int, width: int, tile: int | None, margin: int) -> list[Tile]:
    """The tiles covering a ``height`` x ``width`` image, row by row: interiors of ``tile``
    px (smaller at the bottom and right), with ``margin`` px around. One tile for the whole
    image when ``tile`` is ``None`` or it fits. ValueError for a bad tile or margin."""
    check_tile(tile)
    if margin % ALIGN:
        raise ValueError(f"margin must be a multiple of {ALIGN}, got {margin}")
    side = tile or max(height, width)

    def spans(length):
        return [(a, min(a + side, length)) for a in range(0, length, side)]

    return [Tile(slice(r0, r1), slice(c0, c1),
                 slice(max(r0 - margin, 0), min(r1 + margin, height)),
                 slice(max(c0 - margin, 0), min(c1 + margin, width)))
            for r0, r1 in spans(height) for c0, c1 in spans(width)]


def tiled_features(layers: Sequence[tuple[str, nn.Module]], image: torch.Tensor,
                   names: Sequence[str], tile: int | None, *,
                   memory_format: torch.memory_format | None = None,
                   autocast_dtype: torch.dtype | None = None,
                   requires_grad: bool = False, margin: int | None = None,
                   ) -> Iterator[tuple[Tile, torch.Tensor, dict[str, torch.Tensor]]]:
    """Run ``layers`` (``(name, module)`` pairs, no loss modules) tile by tile over
    ``image`` ``(1, 3, H, W)`` and yield ``(tile, pixels, features)``: the outer pixels (a
    leaf requiring grad if ``requires_grad``) and, per layer in ``names``, the interior's
    features ``(1, C, h_l, w_l)``. ``margin`` defaults to :func:`receptive_margin`."""
    if margin is None:
        margin = receptive_margin(max(names, key=layer_index))
    wanted, last = set(names), max(layer_index(n) for n in names)
    for t in tile_grid(image.shape[-2], image.shape[-1], tile, margin):
        pixels = image[..., t.outer_rows, t.outer_cols].detach()
        if memory_format is not None:
            pixels = pixels.contiguous(memory_format=memory_format)
        pixels.requires_grad_(requires_grad)
        features = {}
        with torch.set_grad_enabled(requires_grad), autocast(image.device.type, autocast_dtype):
            x = pixels
            for name, module in layers:
                x = module(x)
                if name in wanted:
                    features[name] = t.interior(x, layer_stride(name))
                    if layer_index(name) == last:
                        break
        yield t, pixels, features


def tiled_gram_matrices(layers: Sequence[tuple[str, nn.Module]], image: torch.Tensor,
                        names: Sequence[str], tile: int | None,
                        **kwargs) -> dict[str, torch.Tensor]:
    """The whole image's Gram matrices ``(1, C, C)`` at each layer in ``names``, summed tile
    by tile; ``kwargs`` as for :func:`tiled_features`."""
    grams: dict[str, torch.Tensor] = {}
    for _, _, features in tiled_features(layers, image, names, tile, **kwargs):
        for n, f in features.items():
            part = _partial_gram(f, _whole(n, image))
            grams[n] = grams[n] + part if n in grams else part
    return grams


def tiled_feature_maps(layers: Sequence[tuple[str, nn.Module]], image: torch.Tensor,
                       names: Sequence[str], tile: int | None,
                       **kwargs) -> dict[str, torch.Tensor]:
    """The whole image's feature maps ``(1, C, H // s, W // s)`` at each layer in ``names``
    (``s`` its stride), assembled from the tiles' interiors; ``kwargs`` as for
    :func:`tiled_features`."""
    if not needs_tiles(image, tile):
        [(_, _, features)] = tiled_features(layers, image, names, None, **kwargs)
        return features
    maps: dict[str, torch.Tensor] = {}
    layout = kwargs.get("memory_format") or torch.contiguous_format
    for t, _, features in tiled_features(layers, image, names, tile, **kwargs):
        for n, f in features.items():
            if n not in maps:
                maps[n] = torch.empty((f.shape[0], f.shape[1], *_whole(n, image)),
                                      dtype=f.dtype, device=f.device, memory_format=layout)
            t.within(maps[n], layer_stride(n)).copy_(f)
    return maps


def _partial_gram(features: torch.Tensor, whole: tuple[int, int]) -> torch.Tensor:
    """A tile's share ``F_t F_t^T / n`` of the Gram matrix, ``n`` over the ``whole`` map."""
    c, (h, w) = features.shape[1], features.shape[-2:]
    if h * w == 0:  # an edge sliver narrower than this layer's stride
        return features.new_zeros((features.shape[0], c, c), dtype=torch.float32)
    return fast_gram_matrix(features) * (h * w / (whole[0] * whole[1]))


def _content_error(model, t: Tile, name: str, features: torch.Tensor) -> torch.Tensor:
    """The squared content error at layer ``name`` over tile ``t``'s interior (undivided)."""
    target = t.within(model.content_losses[name].target, layer_stride(name))
    return squared_error(features, target)


def tiled_losses(model, engine, image: torch.Tensor, dtype: torch.dtype | None = None,
                 scale: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    """:meth:`~nst_helpers.engine.speed.Engine.losses` tile by tile (``engine.tile`` px):
    the same ``(content_loss, style_loss)``, with the gradient from a second pass."""
    return _TiledLosses.apply(image, model, engine, dtype, scale)


def _layers(model) -> list[tuple[str, nn.Module]]:
    skip = (*model.content_losses.values(), *model.style_losses.values())
    return [(name, m) for name, m in model.network.named_children()
            if not any(m is s for s in skip)]


def _whole(name: str, image: torch.Tensor) -> tuple[int, int]:
    stride = layer_stride(name)
    return image.shape[-2] // stride, image.shape[-1] // stride


class _TiledLosses(torch.autograd.Function):
    @staticmethod
    def forward(ctx, image, model, engine, dtype, scale):
        content_names, style_names = list(model.content_losses), list(model.style_losses)
        names = content_names + style_names
        grams = {n: 0.0 for n in style_names}
        errors = {n: 0.0 for n in content_names}
        for t, _, features in tiled_features(_layers(model), image, names, engine.tile,
                                             memory_format=engine.memory_format,
                                             autocast_dtype=dtype):
            for n in style_names:
                grams[n] = grams[n] + _partial_gram(features[n], _whole(n, image))
            for n in content_names:
                errors[n] = errors[n] + _content_error(model, t, n, features[n])
        norms = {n: squared_norm(model.content_losses[n].target) for n in content_names}
        for n in content_names:
            model.content_losses[n].loss = errors[n] / norms[n]
        content = model.content_loss(image.device)
        # dL/dG: all the second pass needs to know about the whole image.
        with torch.enable_grad():
            leaves = {n: g.detach().requires_grad_() for n, g in grams.items()}
            style = sum((model.style_layer_weights[n] * model.style_losses[n].measure(leaves[n])
                         for n in style_names), torch.zeros((), device=image.device))
            wants_grad = ctx.needs_input_grad[0] and style_names
            dgrams = (dict(zip(style_names, torch.autograd.grad(style, list(leaves.values()))))
                      if wants_grad else {})
        for n in style_names:
            module = model.style_losses[n]
            module.loss = module.loss.detach()
            module.per_style = [loss.detach() for loss in module.per_style]
        ctx.model, ctx.engine, ctx.dgrams, ctx.norms = model, engine, dgrams, norms
        ctx.dtype, ctx.scale = dtype, scale
        ctx.save_for_backward(image)
        return content, style.detach()

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_content, grad_style):
        (image,) = ctx.saved_tensors
        model, engine, dgrams, norms = ctx.model, ctx.engine, ctx.dgrams, ctx.norms
        content_names, style_names = list(model.content_losses), list(model.style_losses)
        scale = ctx.scale  # float16's loss scale, divided out at the pixels
        grad = torch.zeros_like(image)
        for t, pixels, features in tiled_features(
                _layers(model), image, content_names + style_names, engine.tile,
                memory_format=engine.memory_format, autocast_dtype=ctx.dtype,
                requires_grad=True):
            with torch.enable_grad():
                share = torch.zeros((), device=image.device)
                for n in style_names:
                    share = share + grad_style * (
                        dgrams[n] * _partial_gram(features[n], _whole(n, image))).sum()
                for n in content_names:
                    error = _content_error(model, t, n, features[n]) / norms[n]
                    share = share + grad_content * error / len(content_names)
                if not share.requires_grad:  # no feature of this tile counts (a sliver)
                    continue
                (pixel_grad,) = torch.autograd.grad(share * scale, pixels)
            grad[..., t.outer_rows, t.outer_cols] += pixel_grad / scale
        return grad, None, None, None, None
