"""A network that paints in one pass (notebook 08): Johnson et al. (2016, "Perceptual Losses for
Real-Time Style Transfer") train an image transformation network's *weights* over many photos,
with instance norm (Ulyanov et al. 2016). Training: :mod:`nst_helpers.training`, which imports
this module (this one imports neither it nor the command line); the training command:
``python -m nst_helpers.cli.train``.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn

from .gram import gram_matrix
from .io.networks import NetworkError, network_path, read_checkpoint
from .losses import StyleLoss, relative_squared_error
from .model import _style_layer_weights, device_of, feature_maps, vgg_layers
from .vgg import CONTENT_LAYERS, STYLE_LAYERS

__all__ = ["TransformerNet", "PerceptualLoss", "load_network", "trained_size", "stylize_fast",
           "inference_copy", "network_dtype", "DEFAULT_CHANNELS", "DEFAULT_RESIDUAL_BLOCKS",
           "DEFAULT_STYLE_WEIGHT"]

#: Channels after the first convolution and after each downsampling.
DEFAULT_CHANNELS = (16, 32, 64)
DEFAULT_RESIDUAL_BLOCKS = 5
#: Weaker than the optimisation's 20: one network serves every photo.
DEFAULT_STYLE_WEIGHT = 10.0


def conv_layer(in_channels: int, out_channels: int, kernel_size: int, stride: int = 1
               ) -> nn.Sequential:
    """Reflection padding (no dark frame at the border) then a convolution."""
    return nn.Sequential(nn.ReflectionPad2d(kernel_size // 2),
                         nn.Conv2d(in_channels, out_channels, kernel_size, stride))


def conv_norm_relu(in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
                   upsample: bool = False) -> nn.Sequential:
    """[nearest-neighbour x2 upsampling], a padded convolution, instance norm, ReLU."""
    layers = [nn.Upsample(scale_factor=2, mode="nearest")] if upsample else []
    layers += [*conv_layer(in_channels, out_channels, kernel_size, stride),
               nn.InstanceNorm2d(out_channels, affine=True), nn.ReLU()]
    return nn.Sequential(*layers)


class ResidualBlock(nn.Module):
    """``x + IN(conv(ReLU(IN(conv(x)))))``: two 3x3 convolutions that learn a correction."""

    def __init__(self, channels: int):
        super().__init__()
        self.body = nn.Sequential(conv_norm_relu(channels, channels, 3),
                                  *conv_layer(channels, channels, 3),
                                  nn.InstanceNorm2d(channels, affine=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class TransformerNet(nn.Module):
    """Johnson et al.'s image transformation network, slimmed for a CPU, with instance norm:
    ``channels`` at full, half and quarter resolution, ``residual_blocks`` at quarter. Forward:
    photos ``(B, 3, H, W)`` in [0, 1], any ``H, W`` -> stylized, same shape, in [0, 1]."""

    def __init__(self, channels: Sequence[int] = DEFAULT_CHANNELS,
                 residual_blocks: int = DEFAULT_RESIDUAL_BLOCKS):
        super().__init__()
        c1, c2, c3 = (int(c) for c in channels)
        self.channels, self.residual_blocks = (c1, c2, c3), int(residual_blocks)
        self.down = nn.Sequential(conv_norm_relu(3, c1, 9),             # full resolution
                                  conv_norm_relu(c1, c2, 3, stride=2),  # 1/2
                                  conv_norm_relu(c2, c3, 3, stride=2))  # 1/4
        self.residual = nn.Sequential(*(ResidualBlock(c3) for _ in range(self.residual_blocks)))
        self.up = nn.Sequential(conv_norm_relu(c3, c2, 3, upsample=True),  # 1/2
                                conv_norm_relu(c2, c1, 3, upsample=True),  # full resolution
                                *conv_layer(c1, 3, 9))

    def config(self) -> dict:
        """What :func:`load_network` needs to rebuild this network."""
        return {"channels": list(self.channels), "residual_blocks": self.residual_blocks}

    def forward(self, photos: torch.Tensor) -> torch.Tensor:
        h, w = photos.shape[-2:]
        pad_h, pad_w = -h % 4, -w % 4
        x = photos
        if pad_h or pad_w:
            mode = "reflect" if min(h, w) > max(pad_h, pad_w) else "replicate"
            x = nn.functional.pad(x, (0, pad_w, 0, pad_h), mode=mode)
        out = torch.sigmoid(self.up(self.residual(self.down(x))))
        return out[..., :h, :w]


class PerceptualLoss(nn.Module):
    """The package's perceptual loss, for a batch of outputs and the photos they came from.

    ``style_image`` ``(1, 3, h, w)`` in [0, 1]; the other arguments as in
    :func:`~nst_helpers.model.build_model`. ``loss(outputs, photos)``, both ``(B, 3, H, W)`` in
    [0, 1], returns ``(content_loss, style_loss)``, the style loss averaged over the batch; for
    ``B = 1``, what :class:`~nst_helpers.model.StyleTransferModel` gives.
    """

    def __init__(self, vgg: nn.Sequential, style_image: torch.Tensor, *,
                 content_layers: Sequence[str] = CONTENT_LAYERS,
                 style_layers: Sequence[str] = STYLE_LAYERS,
                 style_layer_weights: Sequence[float] | None = None):
        super().__init__()
        self.content_layers, self.style_layers = list(content_layers), list(style_layers)
        self.layers = nn.ModuleDict(vgg_layers(vgg, self.content_layers + self.style_layers))
        self.style_layer_weights = _style_layer_weights(style_layer_weights, self.style_layers)
        grams = {n: gram_matrix(f) for n, f in
                 feature_maps(vgg, style_image, set(self.style_layers)).items()}
        self.style_losses = nn.ModuleDict({n: StyleLoss(grams[n]) for n in self.style_layers})

    def forward(self, outputs: torch.Tensor, photos: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor]:
        device = device_of(self.layers)  # VGG19's: inputs from elsewhere are moved there
        outputs, photos = outputs.to(device), photos.to(device)
        # feature_maps walks module 0 (the normalisation), then the layers, as vgg_layers gives
        as_vgg = nn.Sequential(*self.layers.values())
        content_targets = feature_maps(as_vgg, photos, set(self.content_layers))
        content = style = outputs.new_zeros((), dtype=torch.float32)
        x = outputs
        for name, module in self.layers.items():
            x = module(x)
            if name in self.content_layers:
                content = content + relative_squared_error(x, content_targets[name])
            if name in self.style_losses:
                per_batch = self.style_losses[name].measure(gram_matrix(x)) / x.shape[0]
                style = style + self.style_layer_weights[name] * per_batch
        return content / max(len(self.content_layers), 1), style


def load_network(name_or_path: str | Path, device: torch.device | str | None = None
                 ) -> TransformerNet:
    """A trained :class:`TransformerNet` in eval mode on ``device`` (``None``: the profile's):
    a shipped name (``"starry_night"``) or a checkpoint's path. Raises NetworkError, one line,
    for no such name or file, or a corrupt or foreign file."""
    from .io.profiles import pick_device

    device = pick_device(device)
    path = network_path(name_or_path)
    state = read_checkpoint(path)
    try:
        network = TransformerNet(**state["config"])
        network.load_state_dict(state["state_dict"])
    except (KeyError, TypeError, RuntimeError) as err:  # config or weights that do not fit
        raise NetworkError(f"{path.name}: its weights do not fit the network it describes "
                           f"({type(err).__name__})") from None
    network.trained_size = _trained_size(state)
    return network.to(device).eval()


#: The painting's long side, in pixels, for a network whose file does not record it.
TRAINED_SIZE = 512


def _trained_size(state: dict) -> int:
    phases = state.get("phases") or [state.get("recipe") or {}]
    return int(phases[-1].get("style_size") or TRAINED_SIZE)


def trained_size(network: str | Path | nn.Module) -> int:
    """The long side, in px, at which ``network`` learned its strokes (the ``style_size`` of
    its last stretch of training): paint a photo at about this size."""
    if isinstance(network, nn.Module):
        return int(getattr(network, "trained_size", TRAINED_SIZE))
    return _trained_size(read_checkpoint(network_path(network)))


def network_dtype(precision: str, device: torch.device | str) -> torch.dtype | None:
    """The dtype the network runs in (``None``: float32) for ``precision`` on ``device``:
    ``"auto"`` is float16 on a CUDA GPU, bfloat16 on a CPU that has it natively, else float32.
    Raises ValueError, one line, for an unknown precision or one the device cannot run fast."""
    from .engine.precision import autocast_dtype, resolve_precision

    if precision == "auto" and torch.device(device).type == "cuda":
        precision = "fp16"
    return autocast_dtype(resolve_precision(precision, device), device)


def inference_copy(network: nn.Module, dtype: torch.dtype | None = None) -> nn.Module:
    """A copy of ``network``, cast to ``dtype`` if given, that computes the same thing faster
    on a CPU: each ``InstanceNorm2d(C, affine=True)`` becomes the equivalent ``GroupNorm(C, C)``,
    which keeps channels-last tensors channels-last."""
    fast = copy.deepcopy(network)
    for module in list(fast.modules()):
        for name, child in module.named_children():
            if (isinstance(child, nn.InstanceNorm2d) and child.affine
                    and not child.track_running_stats):
                norm = nn.GroupNorm(child.num_features, child.num_features, eps=child.eps)
                norm = norm.to(child.weight.device, child.weight.dtype)
                norm.load_state_dict(child.state_dict())
                setattr(module, name, norm)
    return fast.to(dtype) if dtype is not None else fast


@torch.no_grad()
def stylize_fast(photo: torch.Tensor, network: str | Path | TransformerNet = "starry_night", *,
                 precision: str = "auto") -> torch.Tensor:
    """Stylize ``photo`` ``(B, 3, H, W)`` in [0, 1], on any device, in one forward pass of
    ``network`` (a :class:`TransformerNet`, a shipped name or a checkpoint's path); ``precision``
    as :func:`network_dtype`. Returns float32 in [0, 1], same shape, on ``photo``'s device."""
    if not isinstance(network, nn.Module):
        network = load_network(network)
    from .engine.layout import preferred_memory_format

    given_on, device = photo.device, device_of(network)
    dtype = network_dtype(precision, device)
    network = inference_copy(network, dtype)
    photo = photo.to(device, dtype) if dtype is not None else photo.to(device)
    layout = preferred_memory_format(device)  # channels-last where it is measured to help
    out = network(photo.contiguous(memory_format=layout) if layout else photo)
    return out.float().contiguous().to(given_on)


if __name__ == "__main__":  # the training command moved: nst_helpers.cli.train
    import sys

    print("nst_helpers.fast is a module, not a command: train a network with python -m "
          "nst_helpers.cli.train --style PAINTING -o NETWORK.pt (--help lists its flags)",
          file=sys.stderr)
    raise SystemExit(2)
