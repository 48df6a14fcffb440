"""Precision: VGG19 under ``torch.autocast`` in bfloat16 or float16 where the hardware runs
it fast; the Gram matrices, losses, image and optimiser stay float32. ``"auto"`` is bfloat16
on a CPU with native bfloat16, float32 elsewhere. Also float16's dynamic loss scale.
"""

from __future__ import annotations

import contextlib

import torch

__all__ = ["PRECISIONS", "AUTOCAST_DEVICES", "autocast_dtype", "resolve_precision", "autocast",
           "autocast_off", "ScaleGrad", "LossScale"]

#: The device types ever run under ``torch.autocast``; others always run float32.
AUTOCAST_DEVICES = ("cpu", "cuda")

#: ``precision`` values :func:`~nst_helpers.transfer.stylize` and ``--precision`` take.
PRECISIONS = ("auto", "fp32", "bf16", "fp16")


def _native_cpu_bf16() -> bool:
    return torch.ops.mkldnn._is_mkldnn_bf16_supported()


def resolve_precision(precision: str, device: torch.device | str) -> str:
    """``precision``, or for ``"auto"`` ``"bf16"`` on a CPU with native bfloat16 and
    ``"fp32"`` elsewhere. Raises ValueError like :func:`autocast_dtype`."""
    device = torch.device(device)
    if precision == "auto":
        native = device.type == "cpu" and _native_cpu_bf16()
        return "bf16" if native else "fp32"
    autocast_dtype(precision, device)
    return precision


def autocast_dtype(precision: str, device: torch.device | str) -> torch.dtype | None:
    """The ``torch.autocast`` dtype for ``precision`` on ``device`` (``None`` for fp32):
    ``"bf16"`` needs a CPU with AVX512-BF16 or AMX or a CUDA GPU of compute capability 8.0+,
    ``"fp16"`` a CUDA GPU. ValueError: an unknown precision, or one the device runs slowly."""
    device = torch.device(device)
    if precision == "auto":
        precision = resolve_precision(precision, device)
    if precision == "fp32":
        return None
    if precision == "bf16":
        if device.type == "cpu" and not _native_cpu_bf16():
            raise ValueError("this CPU has no native bfloat16 (AVX512-BF16 or AMX): bf16 would "
                             "be slower, not faster; use --precision fp32")
        if device.type == "cuda" and not _native_cuda_bf16(device):
            raise ValueError("this GPU has no bfloat16 (a T4 has not): use --precision fp16")
        if device.type not in AUTOCAST_DEVICES:
            raise ValueError(f"bf16 runs on a CPU with AVX512-BF16 or AMX or on a CUDA GPU, not "
                             f"on {device.type}: use --precision fp32")
        return torch.bfloat16
    if precision == "fp16":
        if device.type != "cuda":
            native = device.type == "cpu" and _native_cpu_bf16()
            raise ValueError(f"fp16 runs fast only on a CUDA GPU, not on {device.type}: use "
                             + ("--precision bf16 (native on this CPU) or " if native else "")
                             + "--precision fp32")
        return torch.float16
    raise ValueError(f"unknown precision {precision!r}: use one of {', '.join(PRECISIONS)}")


def autocast(device_type: str, dtype: torch.dtype | None):
    """``torch.autocast(device_type, dtype=dtype)``; for ``dtype=None`` (float32) nothing."""
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type, dtype=dtype)


def autocast_off(device_type: str):
    """Autocast disabled on ``device_type`` if in :data:`AUTOCAST_DEVICES`; else nothing."""
    if device_type in AUTOCAST_DEVICES:
        return torch.autocast(device_type, enabled=False)
    return contextlib.nullcontext()


def _native_cuda_bf16(device: torch.device) -> bool:
    """bfloat16 in the GPU's hardware (compute capability 8.0+, not emulated)."""
    return torch.cuda.get_device_capability(device) >= (8, 0)


class ScaleGrad(torch.autograd.Function):
    """Identity forward; multiplies the gradient by ``scale`` on the way back (float16's loss
    scale, see :class:`LossScale`)."""

    @staticmethod
    def forward(ctx, x, scale):
        ctx.scale = scale
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad):
        return grad * ctx.scale, None


#: Underflow: more than this fraction of the pixels inside (0, 1) got a gradient of exactly 0.
UNDERFLOW_ZEROS = 0.05


class LossScale:
    """A dynamic float16 loss scale (like ``torch.amp.GradScaler``) for an optimiser that
    calls its closure itself (L-BFGS). The loop reports :meth:`overflowed` (inf/NaN: halve),
    :meth:`underflowed` (double) and :meth:`good_step` (double after ``growth_interval``).

    Attributes:
        scale: the factor in use, a power of two in ``[min_scale, max_scale]``.
        growth_interval: good steps in a row before the scale is raised.
    """

    def __init__(self, scale: float = 2.0 ** 20, *, growth_interval: int = 25,
                 min_scale: float = 1.0, max_scale: float = 2.0 ** 32):
        self.scale, self.growth_interval = float(scale), growth_interval
        self.min_scale, self.max_scale = float(min_scale), float(max_scale)
        self.good_steps = 0
        self.lowered = self.raised = 0  # counts, for the run's report

    def overflowed(self) -> bool:
        """Halve the scale after an overflow; False when already at ``min_scale``."""
        self.good_steps = 0
        if self.scale <= self.min_scale:
            return False
        self.scale = max(self.scale / 2, self.min_scale)
        self.lowered += 1
        return True

    def underflowed(self) -> bool:
        """Double the scale after an underflow; False when already at ``max_scale``."""
        self.good_steps = 0
        if self.scale >= self.max_scale:
            return False
        self.scale = min(self.scale * 2, self.max_scale)
        self.raised += 1
        return True

    @staticmethod
    def gradient_underflowed(grad: torch.Tensor, image: torch.Tensor) -> bool:
        """Whether ``grad`` at ``image`` (both ``(1, 3, H, W)``, image in [0, 1]) underflowed:
        more than :data:`UNDERFLOW_ZEROS` of the pixels inside (0, 1) have a zero gradient."""
        inside = (image > 0) & (image < 1)
        count = int(inside.sum())
        return count > 0 and int(((grad == 0) & inside).sum()) > UNDERFLOW_ZEROS * count

    def good_step(self) -> None:
        """Count a good step; double the scale after ``growth_interval`` in a row."""
        self.good_steps += 1
        if self.good_steps >= self.growth_interval and self.scale < self.max_scale:
            self.scale = min(self.scale * 2, self.max_scale)
            self.good_steps = 0
