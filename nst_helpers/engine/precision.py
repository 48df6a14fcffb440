"""Precision: run VGG19 in 16-bit floats where the hardware does that fast.

Machinery for speed, not part of the algorithm. The convolutions run under
``torch.autocast`` in bfloat16 (CPUs with AVX512-BF16 or AMX, Ampere and newer GPUs) or
float16 (CUDA GPUs, the T4's tensor cores); the Gram matrices, the losses, the image and
L-BFGS stay float32.

``"auto"`` (the default of :func:`~nst_helpers.transfer.stylize` and the CLI) picks
bfloat16 on a CPU that runs it natively, where it is faster per step and ends at about the
same loss (benchmarks/README.md, "Precision"), and float32 everywhere else. On CUDA it
stays float32 until a GPU measurement shows float16 is as good.
"""

from __future__ import annotations

import contextlib

import torch

__all__ = ["PRECISIONS", "AUTOCAST_DEVICES", "autocast_dtype", "resolve_precision", "autocast",
           "autocast_off", "ScaleGrad", "LossScale", "gradient_underflowed"]

#: The device types the package ever runs under ``torch.autocast``; MPS and others always run
#: float32 (older torch releases refuse ``torch.autocast("mps")``).
AUTOCAST_DEVICES = ("cpu", "cuda")

#: ``precision`` values :func:`~nst_helpers.transfer.stylize` and ``--precision`` take.
PRECISIONS = ("auto", "fp32", "bf16", "fp16")


def resolve_precision(precision: str, device: torch.device | str) -> str:
    """The precision a run uses: ``precision`` itself, or for ``"auto"`` ``"bf16"`` on a CPU
    with native bfloat16 and ``"fp32"`` elsewhere. Raises ValueError like
    :func:`autocast_dtype` for a precision the device cannot run fast."""
    device = torch.device(device)
    if precision == "auto":
        native = device.type == "cpu" and torch.ops.mkldnn._is_mkldnn_bf16_supported()
        return "bf16" if native else "fp32"
    autocast_dtype(precision, device)
    return precision


def autocast_dtype(precision: str, device: torch.device | str) -> torch.dtype | None:
    """The ``torch.autocast`` dtype for ``precision`` on ``device`` (``None`` for fp32).

    ``"bf16"`` needs a CPU with native bfloat16 (AVX512-BF16 or AMX; oneDNN then runs the
    convolutions about twice as fast) or a GPU that has it (not the T4). ``"fp16"`` needs a
    CUDA GPU (the T4's tensor cores). ``"auto"`` is resolved first (:func:`resolve_precision`).

    Raises:
        ValueError: an unknown precision, or one the device cannot run fast.
    """
    device = torch.device(device)
    if precision == "auto":
        precision = resolve_precision(precision, device)
    if precision == "fp32":
        return None
    if precision == "bf16":
        if device.type == "cpu" and not torch.ops.mkldnn._is_mkldnn_bf16_supported():
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
            native = device.type == "cpu" and torch.ops.mkldnn._is_mkldnn_bf16_supported()
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
    """Autocast disabled on ``device_type`` where the package ever enables it
    (:data:`AUTOCAST_DEVICES`); elsewhere nothing."""
    if device_type in AUTOCAST_DEVICES:
        return torch.autocast(device_type, enabled=False)
    return contextlib.nullcontext()


def _native_cuda_bf16(device: torch.device) -> bool:
    """bfloat16 in the GPU's hardware: compute capability 8.0 (Ampere) or newer. Asked this way
    because ``torch.cuda.is_bf16_supported(including_emulation=False)`` is missing from older
    torch releases, and without the argument a T4 answers True (emulated: slow)."""
    return torch.cuda.get_device_capability(device) >= (8, 0)


class ScaleGrad(torch.autograd.Function):
    """Identity forward; multiplies the gradient by ``scale`` on the way back. With float16,
    the tiny gradients of the relative losses would underflow: they are scaled up on their
    way into the network and down again at the image, by a :class:`LossScale`."""

    @staticmethod
    def forward(ctx, x, scale):
        ctx.scale = scale
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad):
        return grad * ctx.scale, None


class LossScale:
    """A dynamic loss scale for float16, what ``torch.amp.GradScaler`` does, for an optimiser
    that calls its closure itself (L-BFGS: GradScaler cannot drive it).

    float16 holds magnitudes from about 6e-8 (below: zero, *underflow*) to 65504 (above:
    infinity, *overflow*). The gradients flowing back through VGG19 are multiplied by
    :attr:`scale` so that they sit in that range, and divided by it again at the image. The
    loop (:mod:`nst_helpers.loop`) tells the scale what each evaluation showed:

    * :meth:`overflowed`: the gradient had an inf or NaN: halve the scale, evaluate again;
    * :meth:`underflowed`: many gradient entries were exactly zero
      (:func:`gradient_underflowed`): double it, evaluate again;
    * :meth:`good_step`: after ``growth_interval`` good steps in a row, double it (it may
      have been lowered more than needed).

    Attributes:
        scale: the factor in use, a power of two in ``[min_scale, max_scale]``.
        growth_interval: good steps in a row before the scale is raised.
    """

    def __init__(self, scale: float = 2.0 ** 20, *, growth_interval: int = 25,
                 min_scale: float = 1.0, max_scale: float = 2.0 ** 32):
        self.scale, self.growth_interval = float(scale), growth_interval
        self.min_scale, self.max_scale = float(min_scale), float(max_scale)
        self.good_steps = 0
        self.lowered = self.raised = 0  # how often, for the run's report

    def overflowed(self) -> bool:
        """Halve the scale after an overflow. False when it is at ``min_scale`` already (the
        overflow is not the scale's doing: evaluate in float32 instead)."""
        self.good_steps = 0
        if self.scale <= self.min_scale:
            return False
        self.scale = max(self.scale / 2, self.min_scale)
        self.lowered += 1
        return True

    def underflowed(self) -> bool:
        """Double the scale after an underflow. False when it is at ``max_scale`` already."""
        self.good_steps = 0
        if self.scale >= self.max_scale:
            return False
        self.scale = min(self.scale * 2, self.max_scale)
        self.raised += 1
        return True

    def gradient_underflowed(self, grad: torch.Tensor, image: torch.Tensor) -> bool:
        """:func:`gradient_underflowed`, for the loop, which knows only this object."""
        return gradient_underflowed(grad, image)

    def good_step(self) -> None:
        """Count a step whose gradient was finite and not underflowed; raise the scale after
        ``growth_interval`` of them in a row."""
        self.good_steps += 1
        if self.good_steps >= self.growth_interval and self.scale < self.max_scale:
            self.scale = min(self.scale * 2, self.max_scale)
            self.good_steps = 0


#: A float16 gradient counts as underflowed when more than this fraction of the image's
#: pixels inside (0, 1) got a gradient of exactly zero (in float32 almost none do: every pixel
#: reaches the losses through many paths; clamped pixels, at 0 or 1, get none by design).
UNDERFLOW_ZEROS = 0.05


def gradient_underflowed(grad: torch.Tensor, image: torch.Tensor) -> bool:
    """Whether ``grad`` (the gradient at ``image``, both ``(1, 3, H, W)``, image in [0, 1])
    lost most of itself to float16 underflow: more than :data:`UNDERFLOW_ZEROS` of the pixels
    strictly inside (0, 1) have a gradient of exactly zero."""
    inside = (image > 0) & (image < 1)
    count = int(inside.sum())
    if count == 0:
        return False
    zeros = int(((grad == 0) & inside).sum())
    return zeros > UNDERFLOW_ZEROS * count
