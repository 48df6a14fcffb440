"""How much memory a :func:`~nst_helpers.transfer.stylize` run needs (on CUDA
``torch.cuda.max_memory_allocated``; on the CPU the peak resident memory above the process's
after importing torch), and the largest image that fits a budget.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import torch

from ..vgg import (
    CONTENT_LAYERS,
    LAYER_NAMES,
    STYLE_LAYERS,
    layer_channels,
    layer_index,
    layers_up_to,
)
from .tiles import check_tile, receptive_margin

__all__ = ["T4_USABLE_BYTES", "CUDA_MARGIN", "estimate_peak_memory", "largest_size",
           "image_shape", "peak_rss_bytes", "usable_bytes"]

#: Share of the free CUDA memory left unplanned (allocator rounding, cuDNN workspace).
CUDA_MARGIN = 0.10
#: Memory torch's CUDA context takes before any tensor (not in a started process's free memory).
CUDA_CONTEXT_BYTES = 512 * 2**20
#: What a Colab T4 leaves to a run once the context is loaded, less :data:`CUDA_MARGIN`.
T4_USABLE_BYTES = int((14.7 * 2**30 - CUDA_CONTEXT_BYTES) * (1 - CUDA_MARGIN))

_ORIGINAL_COMPACT_BYTES = 20_100_000  # the bundled 8-bit weights, kept between calls

# Calibration. CPU: fitted to measured peaks of default stylize runs long enough to fill
# L-BFGS's history (benchmarks/run.py --memory-check); tiled runs add a fixed amount (oneDNN's
# primitives per tile shape, the allocator's freed maps). CUDA: uncalibrated.
_CPU = {"activation_factor": 1.34, "fixed": 196 * 2**20, "tiled_fixed": 138 * 2**20}
_CUDA = {"activation_factor": 1.1, "fixed": 64 * 2**20, "tiled_fixed": 0}


def peak_rss_bytes() -> int:
    """Peak resident memory of this process so far, in bytes (0 where it cannot be read):
    ``VmHWM`` on Linux (``ru_maxrss`` survives ``exec``), else ``ru_maxrss``."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024  # kB
    except OSError:
        pass
    try:
        import resource
    except ImportError:  # Windows
        return 0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss if sys.platform == "darwin" else rss * 1024  # macOS: bytes; Linux: KiB


def usable_bytes(device: torch.device | str = "cuda") -> int:
    """Bytes a run may plan for on a CUDA ``device``: its free memory now, less
    :data:`CUDA_MARGIN`. Elsewhere, and without CUDA, :data:`T4_USABLE_BYTES`."""
    device = torch.device(device)
    if device.type != "cuda" or not torch.cuda.is_available():
        return T4_USABLE_BYTES
    free, _total = torch.cuda.mem_get_info(device)
    return int(free * (1 - CUDA_MARGIN))


def image_shape(size: int | tuple[int, int], aspect: float = 1.0) -> tuple[int, int]:
    """``(height, width)`` for ``size``: a pair is returned as is; a number is the long
    side, with ``aspect`` = height / width (e.g. 300 / 451 for chelsea.jpg)."""
    if isinstance(size, Sequence):
        h, w = (int(v) for v in size)
        return h, w
    size = int(size)
    if aspect <= 1:
        return max(1, round(size * aspect)), size
    return size, max(1, round(size / aspect))


def _feature_maps(h: int, w: int, last: int) -> list[tuple[str, int, int, int]]:
    """``(name, channels, height, width)`` of each VGG19 module's output up to ``last``."""
    out = []
    for name in layers_up_to(LAYER_NAMES[last]):
        if name.startswith("pool"):
            h, w = h // 2, w // 2
        out.append((name, layer_channels(name), h, w))
    return out


def _weight_bytes(last: str = LAYER_NAMES[-1]) -> int:
    """Bytes of VGG19's float32 convolutions (3x3 kernels and biases) up to layer ``last``."""
    total, channels = 0, 3
    for name in layers_up_to(last):
        if name.startswith("conv"):
            total += (channels * 9 + 1) * layer_channels(name) * 4
            channels = layer_channels(name)
    return total


def estimate_peak_memory(size: int | tuple[int, int], *,
                         content_layers: Sequence[str] = CONTENT_LAYERS,
                         style_layers: Sequence[str] = STYLE_LAYERS,
                         optimizer: str = "lbfgs", history_size: int = 50,
                         device: torch.device | str = "cpu",
                         dtype: torch.dtype = torch.float32,
                         aspect: float = 1.0, num_styles: int = 1,
                         tile: int | None = None) -> int:
    """Estimated peak memory, in bytes, of a :func:`~nst_helpers.transfer.stylize` run long
    enough to fill L-BFGS's history. ``size``: ``(height, width)`` or the long side (with
    ``aspect`` = height / width); ``optimizer``: ``"lbfgs"`` or ``"adam"``; ``device``:
    ``"cpu"`` or ``"cuda"`` (MPS as CUDA); ``dtype``: of the feature maps under autocast;
    ``tile``: as ``stylize``'s. ValueError for an unknown optimizer, no layers or a bad tile.
    """
    h, w = image_shape(size, aspect)
    if optimizer not in ("lbfgs", "adam"):
        raise ValueError(f"unknown optimizer {optimizer!r}: use 'lbfgs' or 'adam'")
    names = (*content_layers, *style_layers)
    if not names:
        raise ValueError("no layers: give content or style layers")
    element = torch.finfo(dtype).bits // 8
    is_cpu = torch.device(device).type == "cpu"
    check_tile(tile)
    calib = _CPU if is_cpu else _CUDA
    extra = 0
    if tile is not None and max(h, w) > tile:
        # One tile and its margins at a time; the content target and gradient stay whole.
        margin = receptive_margin(max(names, key=layer_index))
        activations = _activation_bytes(min(h, tile + 2 * margin), min(w, tile + 2 * margin),
                                        content_layers, style_layers, element)
        extra = sum(4 * c * hh * ww for name, c, hh, ww in _feature_maps(h, w, max(
            (layer_index(n) for n in content_layers), default=0)) if name in content_layers)
        extra += 3 * h * w * 4 + calib["tiled_fixed"]
    else:
        activations = _activation_bytes(h, w, content_layers, style_layers, element)

    image = 3 * h * w * 4
    vectors = {"lbfgs": 2 * history_size + 8, "adam": 2 + 6}[optimizer]
    grams = sum(layer_channels(n) ** 2 * 4 * 2 for n in style_layers)
    weights = _weight_bytes(max(names, key=layer_index))
    if element < 4:  # autocast's 16-bit copy of each convolution's weights, kept for backward
        weights += weights * element // 4
    total = (calib["activation_factor"] * activations + vectors * image + extra
             + grams * (num_styles + 1) + weights + calib["fixed"])
    if is_cpu:
        total += _ORIGINAL_COMPACT_BYTES
    return int(total)


def _activation_bytes(h: int, w: int, content_layers: Sequence[str],
                      style_layers: Sequence[str], element: int) -> int:
    """Bytes one evaluation of an ``h`` x ``w`` image keeps for its backward pass."""
    names = (*content_layers, *style_layers)
    maps = _feature_maps(h, w, max(layer_index(n) for n in names))

    def nbytes(c, hh, ww, size_of=element):
        return c * hh * ww * size_of

    # Kept for backward: the normalised image, each ReLU's output, each pool's output and
    # int64 indices, a loss layer's raw conv output, and each content target and difference.
    saved = 3 * h * w * element
    for name, c, hh, ww in maps:
        if name.startswith("relu"):
            saved += nbytes(c, hh, ww)
        elif name.startswith("pool"):
            saved += nbytes(c, hh, ww) + nbytes(c, hh, ww, 8)
        elif name in names:
            saved += nbytes(c, hh, ww, 4)
        if name in content_layers:
            saved += 2 * nbytes(c, hh, ww, 4)
        if name in style_layers and element < 4:
            saved += nbytes(c, hh, ww, 4)  # the float32 copy its Gram matrix is computed from
    # Backward: the gradient of the widest map and the one it is turned into.
    return saved + 2 * max(nbytes(c, hh, ww) for _, c, hh, ww in maps)


def largest_size(budget_bytes: int = T4_USABLE_BYTES, *, aspect: float = 1.0,
                 multiple_of: int = 16, low: int = 32, high: int = 8192, **kwargs) -> int:
    """The largest long side (px, a multiple of ``multiple_of``) whose
    :func:`estimate_peak_memory` (given ``kwargs``) fits ``budget_bytes``; ``0`` when not
    even ``low`` px fits."""
    def fits(side):
        return estimate_peak_memory(side, aspect=aspect, **kwargs) <= budget_bytes

    if not fits(low):
        return 0
    lo, hi = low // multiple_of, high // multiple_of
    while lo < hi:  # largest k with fits(k * multiple_of)
        mid = (lo + hi + 1) // 2
        if fits(mid * multiple_of):
            lo = mid
        else:
            hi = mid - 1
    return max(lo * multiple_of, low)
