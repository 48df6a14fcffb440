"""Precision: run VGG19 in 16-bit floats where the hardware does that fast.

Machinery for speed, not part of the algorithm. The convolutions run under
``torch.autocast`` in bfloat16 (CPUs with AVX512-BF16 or AMX, Ampere and newer GPUs) or
float16 (CUDA GPUs, the T4's tensor cores); the Gram matrices, the losses, the image and
L-BFGS stay float32.

``"auto"`` (the default of :func:`~nst_helpers.transfer.stylize` and the CLI) picks
bfloat16 on a CPU that runs it natively, float32 everywhere else: on such a CPU bfloat16
takes about 0.6x the time per step and ends at the same loss, within 1 %, measured in
float32 for every bundled pair at 256 and 512 px (benchmarks/README.md, "Precision").
On CUDA it stays float32 until a GPU measurement shows float16 is as good.
"""

from __future__ import annotations

import torch

__all__ = ["PRECISIONS", "autocast_dtype", "resolve_precision", "ScaleGrad"]

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
        if device.type not in ("cpu", "cuda"):
            raise ValueError(f"bf16 runs on a CPU with AVX512-BF16 or AMX or on a CUDA GPU, not "
                             f"on {device.type}: use --precision fp32")
        return torch.bfloat16
    if precision == "fp16":
        if device.type != "cuda":
            raise ValueError(f"fp16 runs fast only on a CUDA GPU, not on {device.type}: use "
                             "--precision bf16 on a CPU that has it, or fp32")
        return torch.float16
    raise ValueError(f"unknown precision {precision!r}: use one of {', '.join(PRECISIONS)}")


def _native_cuda_bf16(device: torch.device) -> bool:
    """bfloat16 in the GPU's hardware: compute capability 8.0 (Ampere) or newer. Asked this way
    because ``torch.cuda.is_bf16_supported(including_emulation=False)`` is missing from older
    torch releases, and without the argument a T4 answers True (emulated: slow)."""
    return torch.cuda.get_device_capability(device) >= (8, 0)


class ScaleGrad(torch.autograd.Function):
    """Identity forward; multiplies the gradient by ``scale`` on the way back. With float16,
    the tiny gradients of the relative losses would underflow: they are scaled up on their
    way into the network and down again at the image (a fixed loss scale: GradScaler
    cannot drive L-BFGS, which re-evaluates the loss itself)."""

    @staticmethod
    def forward(ctx, x, scale):
        ctx.scale = scale
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad):
        return grad * ctx.scale, None
