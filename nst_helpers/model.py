"""Insert loss modules between the layers of VGG19, and cut it after the last one.

This is the idea notebook 03 derives: walk the network layer by layer, and
right after each chosen layer put a :class:`~nst_helpers.losses.ContentLoss`
or :class:`~nst_helpers.losses.StyleLoss` whose target is what that layer
produced for the content or style image. Layers past the last loss module
cannot change any loss, so they are dropped.

For speed the network runs on feature maps stored channels-last (height,
width, then channels in memory), the layout the CPU (oneDNN) and GPU (cuDNN)
convolutions are fastest with; the values, and so the losses, are the same.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from torch import nn

from .losses import ContentLoss, StyleLoss
from .tiles import check_tile, needs_tiles, tiled_feature_maps, tiled_gram_matrices, tiled_losses
from .vgg import CONTENT_LAYERS, LAYER_NAMES, STYLE_LAYERS, layer_index

__all__ = ["StyleTransferModel", "build_model", "preferred_memory_format"]


@dataclass
class StyleTransferModel:
    """What :func:`build_model` returns.

    Attributes:
        network: ``nn.Sequential`` of normalisation, VGG19 layers up to the last
            loss layer, and the loss modules, each named (``"relu4_2"``,
            ``"content_relu4_2"``, ``"style_relu1_1"``...).
        content_losses: the content loss modules, by layer name.
        style_losses: the style loss modules, by layer name.
        style_layer_weights: weight of each style layer (default ``1 / number of layers``).
    """

    network: nn.Sequential
    content_losses: dict[str, ContentLoss]
    style_losses: dict[str, StyleLoss]
    style_layer_weights: dict[str, float] = field(default_factory=dict)
    #: layout the image is given to the network in (``None``: as it comes).
    memory_format: torch.memory_format | None = torch.channels_last
    #: run the network under ``torch.autocast`` in this dtype (``torch.float16`` on a GPU);
    #: ``None`` (default): float32. Gram matrices and losses stay float32.
    autocast_dtype: torch.dtype | None = None
    #: with float16, gradients are multiplied by this on their way into the network and
    #: divided by it at the image, so that the tiny gradients of the relative losses do
    #: not underflow float16 (a fixed loss scale: GradScaler cannot drive L-BFGS).
    grad_scale: float = 2.0 ** 20
    #: evaluate images larger than this many pixels a side tile by tile, with the same
    #: losses and gradient in a fraction of the memory (:mod:`nst_helpers.tiles`);
    #: ``None`` (default): always the whole image at once.
    tile: int | None = None

    def losses(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Run ``image`` ``(1, 3, H, W)`` in [0, 1] through the network.

        Returns ``(content_loss, style_loss)``: the mean of the content layers'
        losses and the weighted sum of the style layers' losses (scalars).
        The gradient reaches ``image`` in its own layout.
        """
        if needs_tiles(image, self.tile):
            return tiled_losses(self, image)
        device = image.device
        x = _in_layout(image, self.memory_format)
        scale = self.grad_scale if self.autocast_dtype == torch.float16 else 1.0
        if self.autocast_dtype is None:
            self.network(x)
        else:
            if scale != 1.0:
                x = _ScaleGrad.apply(x, 1.0 / scale)
            with torch.autocast(device.type, dtype=self.autocast_dtype):
                self.network(x)
        content = sum((m.loss for m in self.content_losses.values()),
                      torch.zeros((), device=device))
        if self.content_losses:
            content = content / len(self.content_losses)
        style = sum((self.style_layer_weights[name] * m.loss
                     for name, m in self.style_losses.items()), torch.zeros((), device=device))
        if scale != 1.0:
            content, style = _ScaleGrad.apply(content, scale), _ScaleGrad.apply(style, scale)
        return content, style


class _ScaleGrad(torch.autograd.Function):
    """Identity forward; multiplies the gradient by ``scale`` on the way back."""

    @staticmethod
    def forward(ctx, x, scale):
        ctx.scale = scale
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad):
        return grad * ctx.scale, None


def preferred_memory_format(device: torch.device | str) -> torch.memory_format | None:
    """The layout convolutions are fastest with on ``device``: channels-last on CPU
    and CUDA (measured 0.47 vs 0.54 s per step at 256 px on 2 CPU cores), else
    ``None`` (leave tensors as they are; MPS gains nothing from it)."""
    return torch.channels_last if torch.device(device).type in ("cpu", "cuda") else None


def _in_layout(image: torch.Tensor, memory_format: torch.memory_format | None) -> torch.Tensor:
    if memory_format is None or image.dim() != 4:
        return image
    return image.contiguous(memory_format=memory_format)


def _vgg_layers(vgg: nn.Sequential, names) -> list[tuple[str, nn.Module]]:
    """``(name, module)``: the normalisation, then VGG19's layers up to the deepest in ``names``."""
    last = max(layer_index(n) for n in names)
    return [("normalization", vgg[0])] + [(LAYER_NAMES[i], vgg[i + 1]) for i in range(last + 1)]


def _features_at(vgg: nn.Sequential, image: torch.Tensor, names: set[str],
                 memory_format: torch.memory_format | None = None,
                 tile: int | None = None) -> dict:
    """Feature maps of ``image`` at each layer in ``names``; one pass, no gradients
    (tile by tile when ``image`` is larger than ``tile``)."""
    return tiled_feature_maps(_vgg_layers(vgg, names), image, sorted(names), tile,
                              memory_format=memory_format)


def build_model(vgg: nn.Sequential, content_image: torch.Tensor | None,
                style_images: torch.Tensor | Sequence[torch.Tensor] = (),
                *, content_layers: Sequence[str] = CONTENT_LAYERS,
                style_layers: Sequence[str] = STYLE_LAYERS,
                style_blend: Sequence[float] | None = None,
                style_layer_weights: Sequence[float] | None = None,
                tile: int | None = None) -> StyleTransferModel:
    """Insert content and style loss modules after the named layers of ``vgg``.

    Args:
        vgg: from :func:`~nst_helpers.vgg.load_vgg19` (normalisation first, then 37 layers);
            its weights are stored channels-last from here on, where that is the faster
            layout (same values).
        content_image: ``(1, 3, H, W)`` in [0, 1], or ``None`` for no content loss.
        style_images: one ``(1, 3, h, w)`` image in [0, 1] or a list of them; any
            size and aspect ratio (a Gram matrix does not depend on them).
        content_layers, style_layers: the paper's names; may be empty.
        style_blend: one weight per style image (default equal).
        style_layer_weights: one weight per style layer (default ``1 / len(style_layers)``).
        tile: compute the targets, and later the losses, of images larger than ``tile`` px
            a side tile by tile (:mod:`nst_helpers.tiles`; a multiple of 16, >= 64), for the
            memory of one tile; ``None`` (default): whole images.

    Returns:
        a :class:`StyleTransferModel`; its network ends at the last loss module.
    """
    if isinstance(style_images, torch.Tensor):
        style_images = [style_images]
    style_images = list(style_images)
    content_layers = list(content_layers) if content_image is not None else []
    style_layers = list(style_layers) if style_images else []
    if not content_layers and not style_layers:
        raise ValueError("nothing to measure: give a content image and content layers, "
                         "or style images and style layers")
    if style_layer_weights is None:
        style_layer_weights = [1.0 / len(style_layers)] * len(style_layers) if style_layers else []
    elif not style_images:
        style_layer_weights = []
    if len(style_layer_weights) != len(style_layers):
        raise ValueError(f"{len(style_layer_weights)} style layer weights for "
                         f"{len(style_layers)} style layers: give one weight per layer")
    for name in (*content_layers, *style_layers):
        layer_index(name)  # raises a clear error for an unknown name
    check_tile(tile)

    device = next(vgg.parameters()).device
    layout = preferred_memory_format(device)
    if layout is not None:
        # The weights in the layout of the feature maps too: otherwise every convolution,
        # forward and backward, converts its weight first (8 copies of 9 MiB per step).
        vgg.to(memory_format=layout)
    # Targets are computed once, here, in the layout the network will run in.
    content_targets = (_features_at(vgg, content_image, set(content_layers), layout, tile)
                       if content_layers else {})
    style_targets: dict[str, list[torch.Tensor]] = {name: [] for name in style_layers}
    for image in style_images if style_layers else []:
        grams = tiled_gram_matrices(_vgg_layers(vgg, style_layers), image, style_layers,
                                    tile, memory_format=layout)
        for name in style_layers:
            style_targets[name].append(grams[name])

    last = max(layer_index(n) for n in (*content_layers, *style_layers))
    network = nn.Sequential()
    network.add_module("normalization", vgg[0])
    content_losses: dict[str, ContentLoss] = {}
    style_losses: dict[str, StyleLoss] = {}
    for i in range(last + 1):
        name = LAYER_NAMES[i]
        network.add_module(name, vgg[i + 1])
        if name in content_layers:
            content_losses[name] = ContentLoss(content_targets[name])
            network.add_module(f"content_{name}", content_losses[name])
        if name in style_layers:
            style_losses[name] = StyleLoss(style_targets[name], style_blend)
            network.add_module(f"style_{name}", style_losses[name])
    weights = dict(zip(style_layers, (float(w) for w in style_layer_weights)))
    return StyleTransferModel(network, content_losses, style_losses, weights, layout, tile=tile)
