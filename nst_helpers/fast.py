"""A network that paints in one pass (notebook 08): Johnson et al. (2016) with instance norm.

Optimisation (notebooks 03-07) changes the *pixels* of one image until the perceptual loss is
low, and starts again for every photo. Johnson, Alahi & Fei-Fei (2016, "Perceptual Losses for
Real-Time Style Transfer and Super-Resolution") change the *weights* of an image transformation
network instead, over many photos, with the same loss; afterwards one forward pass stylizes any
photo. Ulyanov, Vedaldi & Lempitsky (2016, "Instance Normalization: The Missing Ingredient for
Fast Stylization") replaced its batch normalisation with instance normalisation, which this
network uses.

* :class:`TransformerNet`: reflection-padded convolutions, two stride-2 downsamplings, residual
  blocks, nearest-neighbour upsampling plus a convolution, a sigmoid to [0, 1].
* :class:`PerceptualLoss`: the package's own loss, for a batch: content at ``relu4_2`` and
  Gram matrices at ``relu1_1..relu5_1`` of VGG19, both relative
  (:func:`~nst_helpers.losses.relative_squared_error`, :class:`~nst_helpers.losses.StyleLoss`).
* :func:`stylize_fast`: paint with a trained network (a shipped name such as
  ``"starry_night"``, or the path of a checkpoint: :func:`load_network`), best at the size it
  learned (:func:`trained_size`).

Training it is :mod:`nst_helpers.training` (``python -m nst_helpers.fast train ...`` runs its
command line); its files :mod:`nst_helpers.io.networks`; its photos :mod:`nst_helpers.io.photos`.
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
#: Weaker than the optimisation's 20: one network serves every photo, and at 20 it paints over
#: the content (measured, see ``nst_helpers/networks/README.md``).
DEFAULT_STYLE_WEIGHT = 10.0


def conv_layer(in_channels: int, out_channels: int, kernel_size: int, stride: int = 1
               ) -> nn.Sequential:
    """Reflection padding then a convolution: the image's border is mirrored, not zeroed, so
    no dark frame appears around the output."""
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
    """Johnson et al.'s image transformation network, slimmed for a CPU, with instance norm.

    Args:
        channels: channels at full, half and quarter resolution (default 16, 32, 64).
        residual_blocks: residual blocks at quarter resolution (default 5).

    Forward: takes photos ``(B, 3, H, W)`` in [0, 1], any ``H, W`` (padded by reflection to a
    multiple of 4 and cropped back), returns the stylized images, same shape, in [0, 1].
    """

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


# --- The loss --------------------------------------------------------------------------------

class PerceptualLoss(nn.Module):
    """The package's perceptual loss, for a batch of outputs and the photos they came from.

    Args:
        vgg: from :func:`~nst_helpers.vgg.load_vgg19`; not changed.
        style_image: ``(1, 3, h, w)`` in [0, 1].
        content_layers, style_layers: the paper's names (default ``relu4_2`` and
            ``relu1_1..relu5_1``, as notebooks 03-04).
        style_layer_weights: one weight per style layer (default ``1 / len(style_layers)``).

    Call ``loss(outputs, photos)`` with both ``(B, 3, H, W)`` in [0, 1]: returns
    ``(content_loss, style_loss)``, scalars. Content: the relative squared error between the
    outputs' and the photos' ``relu4_2`` maps (summed over the batch, as
    :class:`~nst_helpers.losses.ContentLoss` does for one image; averaged over content layers).
    Style: per layer, :class:`~nst_helpers.losses.StyleLoss` of each output's Gram matrix,
    averaged over the batch, then the weighted sum over layers. For ``B = 1`` these are the
    numbers :class:`~nst_helpers.model.StyleTransferModel` gives.
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
        content_targets = feature_maps(self._as_vgg(), photos, set(self.content_layers))
        content = outputs.new_zeros((), dtype=torch.float32)
        style = outputs.new_zeros((), dtype=torch.float32)
        x = outputs
        for name, module in self.layers.items():
            x = module(x)
            if name in self.content_layers:
                content = content + relative_squared_error(x, content_targets[name])
            if name in self.style_losses:
                per_batch = self.style_losses[name].measure(gram_matrix(x)) / x.shape[0]
                style = style + self.style_layer_weights[name] * per_batch
        return content / max(len(self.content_layers), 1), style

    def _as_vgg(self) -> nn.Sequential:
        # feature_maps walks vgg_layers(vgg, names): module 0 the normalisation, then the layers.
        return nn.Sequential(*self.layers.values())


# --- Using it --------------------------------------------------------------------------------

def load_network(name_or_path: str | Path, device: torch.device | str | None = None
                 ) -> TransformerNet:
    """A trained :class:`TransformerNet` in eval mode on ``device`` (``None``: the profile's,
    :func:`~nst_helpers.io.profiles.pick_device`): a shipped name (``"starry_night"``, see
    :func:`~nst_helpers.io.networks.shipped_networks`) or the path of a checkpoint written by
    :func:`~nst_helpers.training.train`.

    Raises:
        NetworkError: one line: no such name or file, or a corrupt or foreign file.
    """
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
    """The long side, in pixels, at which ``network`` learned its painting's strokes: the
    ``style_size`` of its last stretch of training (512 for the shipped networks). Paint a photo
    at about this size to get strokes of the size it learned; a 4000x3000 photo painted at its
    own size gets strokes several times smaller, relative to the picture."""
    if isinstance(network, nn.Module):
        return int(getattr(network, "trained_size", TRAINED_SIZE))
    return _trained_size(read_checkpoint(network_path(network)))


def network_dtype(precision: str, device: torch.device | str) -> torch.dtype | None:
    """The dtype the network runs in: ``precision`` as :func:`~nst_helpers.transfer.stylize`
    takes it (``"fp32"``, ``"bf16"``, ``"fp16"`` on a CUDA GPU), resolved for ``device``
    (:mod:`nst_helpers.engine.precision`): ``None`` for float32. ``"auto"`` is float16 on a
    CUDA GPU (one pass of instance-normalised activations, no loss to scale: the tensor
    cores' format), bfloat16 on a CPU that has it natively, float32 elsewhere.

    Raises:
        ValueError: one line, for an unknown precision or one the device cannot run fast.
    """
    from .engine.precision import autocast_dtype, resolve_precision

    if precision == "auto" and torch.device(device).type == "cuda":
        precision = "fp16"
    return autocast_dtype(resolve_precision(precision, device), device)


def inference_copy(network: nn.Module, dtype: torch.dtype | None = None) -> nn.Module:
    """A copy of ``network`` that paints faster on a CPU and computes the same thing.

    Each ``InstanceNorm2d(C, affine=True)`` becomes ``GroupNorm(C, C)``: one channel per group
    is instance norm (the same formula, ``eps``, ``weight`` and ``bias``), but its CPU kernel
    keeps a channels-last tensor channels-last, where ``InstanceNorm2d`` hands it back in the
    default layout and every following convolution reorders it. With ``dtype`` (bfloat16) the
    whole copy is cast, rather than autocast casting each activation before every convolution
    and back after it (timings: ``nst_helpers/networks/README.md``). Training
    keeps ``InstanceNorm2d``, as notebook 08 builds it. ``network`` is not changed.
    """
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
    """Stylize ``photo`` ``(1, 3, H, W)`` (or a batch) in [0, 1] in one forward pass.

    Args:
        photo: any size and aspect, on any device: it is painted on the network's.
        network: a :class:`TransformerNet`, or a shipped name or a checkpoint's path (loaded
            on the profile's device, :func:`load_network`).
        precision: ``"auto"`` (bfloat16 where the device has it natively, else float32),
            ``"fp32"``, ``"bf16"``, or ``"fp16"`` on a CUDA GPU (:func:`network_dtype`).

    Returns:
        the stylized image, same shape, float32 in [0, 1], on ``photo``'s device.
    """
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


if __name__ == "__main__":  # python -m nst_helpers.fast train ...: the training command
    from .training import main

    raise SystemExit(main())
