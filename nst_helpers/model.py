"""Insert loss modules between the layers of VGG19, and cut it after the last one (notebook 03).

After each chosen layer goes a loss module whose target is what that layer produced for the
content or style image. :mod:`nst_helpers.engine` plugs in through
:attr:`StyleTransferModel.engine` and the ``targets`` argument of :func:`build_model`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
from torch import nn

from .gram import gram_matrix
from .losses import ContentLoss, StyleLoss, check_weights
from .vgg import CONTENT_LAYERS, STYLE_LAYERS, check_layers, layer_index, layers_up_to

__all__ = ["StyleTransferModel", "build_model", "device_of", "feature_maps", "gram_targets",
           "vgg_layers", "check_style_layer_weights"]


@dataclass
class StyleTransferModel:
    """What :func:`build_model` returns.

    ``network``: normalisation, VGG19's layers up to the last loss layer and the loss modules
    (``"relu4_2"``, ``"content_relu4_2"``...); the loss modules and style layer weights by layer
    name; ``engine``: ``None`` (run in float32) or what :meth:`losses` hands the work to.
    """

    network: nn.Sequential
    content_losses: dict[str, ContentLoss]
    style_losses: dict[str, StyleLoss]
    style_layer_weights: dict[str, float] = field(default_factory=dict)
    engine: object | None = None

    def losses(self, image: torch.Tensor, dtype: torch.dtype | None = None,
               scale: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
        """``(content_loss, style_loss)`` of ``image`` ``(1, 3, H, W)`` in [0, 1], one forward
        pass; the gradient reaches ``image``. ``dtype`` and ``scale`` need an :attr:`engine`.
        """
        image = image.to(device_of(self.network))  # moved, gradient kept
        if self.engine is not None:
            return self.engine.losses(self, image, dtype, scale)
        if dtype is not None or scale != 1.0:
            raise ValueError("16-bit runs need an engine: nst_helpers.engine.speed.accelerate")
        self.network(image)
        return self.summed_losses(image.device)

    def summed_losses(self, device: torch.device | str = "cpu"
                      ) -> tuple[torch.Tensor, torch.Tensor]:
        """From the last pass: :meth:`content_loss` and the weighted sum of the style layers'
        losses (scalars on ``device``, 0 when there are none)."""
        style = sum((self.style_layer_weights[name] * m.loss
                     for name, m in self.style_losses.items()), torch.zeros((), device=device))
        return self.content_loss(device), style

    def content_loss(self, device: torch.device | str = "cpu") -> torch.Tensor:
        """The mean of the content layers' losses from the last pass (0 when none)."""
        content = sum((m.loss for m in self.content_losses.values()),
                      torch.zeros((), device=device))
        if self.content_losses:
            content = content / len(self.content_losses)
        return content


def device_of(module: nn.Module) -> torch.device:
    """The device of ``module``'s first parameter or buffer (the CPU if it has none)."""
    for tensor in (*module.parameters(), *module.buffers()):
        return tensor.device
    return torch.device("cpu")


def vgg_layers(vgg: nn.Sequential, names) -> list[tuple[str, nn.Module]]:
    """``(name, module)``: the normalisation, then VGG19's layers up to the deepest in ``names``."""
    walk = layers_up_to(max(names, key=layer_index))
    return [("normalization", vgg[0])] + [(name, vgg[i + 1]) for i, name in enumerate(walk)]


def feature_maps(vgg: nn.Sequential, image: torch.Tensor, names) -> dict[str, torch.Tensor]:
    """Feature maps ``(1, C, h, w)`` of ``image`` ``(1, 3, H, W)`` at each layer in ``names``:
    one pass, no gradients, on ``vgg``'s device."""
    maps, x = {}, image.to(device_of(vgg))
    with torch.no_grad():
        for name, module in vgg_layers(vgg, names):
            x = module(x)
            if name in names:
                maps[name] = x
    return maps


def gram_targets(vgg: nn.Sequential, images, names) -> dict[str, list[torch.Tensor]]:
    """Per style layer in ``names``, each image's Gram matrix ``(1, C, C)``, in order."""
    targets: dict[str, list[torch.Tensor]] = {name: [] for name in names}
    for image in images if names else []:
        grams = {n: gram_matrix(f) for n, f in feature_maps(vgg, image, names).items()}
        for name in names:
            targets[name].append(grams[name])
    return targets


def build_model(vgg: nn.Sequential, content_image: torch.Tensor | None,
                style_images: torch.Tensor | Sequence[torch.Tensor] = (),
                *, content_layers: Sequence[str] = CONTENT_LAYERS,
                style_layers: Sequence[str] = STYLE_LAYERS,
                style_blend: Sequence[float] | None = None,
                style_layer_weights: Sequence[float] | None = None,
                targets: Callable | None = None) -> StyleTransferModel:
    """Insert content and style loss modules after the named layers of ``vgg``.

    ``vgg`` from :func:`~nst_helpers.vgg.load_vgg19` (not changed); ``content_image``
    ``(1, 3, H, W)`` in [0, 1] or ``None``; ``style_images`` one ``(1, 3, h, w)`` image in [0, 1]
    or a list, any size; weights default to equal. ``targets(content_image, style_images,
    content_layers, style_layers)``, if given, returns the targets :func:`feature_maps` and
    :func:`gram_targets` would. The returned network ends at the last loss module.
    """
    style_images = [style_images] if isinstance(style_images, torch.Tensor) else list(style_images)
    content_layers = list(content_layers) if content_image is not None else []
    style_layers = list(style_layers) if style_images else []
    layer_weights = _style_layer_weights(style_layer_weights, style_layers)
    if not content_layers and not style_layers:
        raise ValueError("nothing to measure: give a content image and content layers, "
                         "or style images and style layers")
    check_layers(content_layers)
    check_layers(style_layers)
    if targets is not None:
        content_targets, style_targets = targets(content_image, style_images,
                                                 content_layers, style_layers)
    else:
        content_targets = feature_maps(vgg, content_image, set(content_layers)) \
            if content_layers else {}
        style_targets = gram_targets(vgg, style_images, style_layers)
    network = nn.Sequential()
    network.add_module("normalization", vgg[0])
    content_losses: dict[str, ContentLoss] = {}
    style_losses: dict[str, StyleLoss] = {}
    for name, module in vgg_layers(vgg, [*content_layers, *style_layers])[1:]:
        network.add_module(name, module)
        if name in content_layers:
            content_losses[name] = ContentLoss(content_targets[name])
            network.add_module(f"content_{name}", content_losses[name])
        if name in style_layers:
            style_losses[name] = StyleLoss(style_targets[name], style_blend)
            network.add_module(f"style_{name}", style_losses[name])
    return StyleTransferModel(network, content_losses, style_losses, layer_weights)


def check_style_layer_weights(weights: Sequence[float] | None, layers: Sequence[str]) -> None:
    """Raise ValueError unless ``weights`` is ``None`` or one valid weight per style layer."""
    if weights is not None and layers:
        check_weights(weights, len(layers), what="style layer weights",
                      of=f"{len(layers)} style layers ({' '.join(layers)})", each="layer")


def _style_layer_weights(weights: Sequence[float] | None, layers: list[str]) -> dict[str, float]:
    if not layers:
        return {}
    check_style_layer_weights(weights, layers)
    if weights is None:
        weights = [1.0 / len(layers)] * len(layers)
    return dict(zip(layers, (float(w) for w in weights)))
