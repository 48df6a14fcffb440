"""The Gram matrix: the statistic Gatys et al. use to describe style."""

from __future__ import annotations

import contextlib

import torch

__all__ = ["gram_matrix"]


def gram_matrix(features: torch.Tensor) -> torch.Tensor:
    """Gram matrix of feature maps, normalised by the number of entries.

    For feature maps ``F`` of shape ``(B, C, H, W)``, flattened to ``(B, C, H*W)``,
    returns ``F @ F^T / (C * H * W)``: shape ``(B, C, C)``, symmetric, entry
    ``(i, j)`` the average over positions of the product of channels ``i`` and
    ``j`` (divided by ``C`` as well, as the PyTorch tutorial does). Dividing by
    the size makes the value independent of the image size.

    The product is computed in float32 even for float16 input: Gram entries
    overflow float16 easily; this holds under ``torch.autocast`` too, which would
    otherwise run the product in float16 again. Feature maps stored channels-last (the layout the
    CPU and GPU convolutions are fastest with) are used as they are, without a copy.

    The gradient takes one matrix product, not the two autograd would do: ``G = F F^T / n``
    uses ``F`` twice, once per factor, and autograd would multiply once for each and add;
    written out, ``dL/dF = (g + g^T) F / n`` for ``g = dL/dG``, a single product (a
    quarter to a third less time per step). The values are those of ``F @ F^T / n``.
    """
    if features.dim() != 4:
        raise ValueError(f"gram_matrix expects (B, C, H, W) features, got shape "
                         f"{tuple(features.shape)}")
    b, c, h, w = features.shape
    with _autocast_off(features.device.type):
        return _gram(features.float(), b, c, h, w)


def _autocast_off(device_type: str):
    """Autocast disabled on ``device_type``, where the package ever enables it (CPU and CUDA,
    see ``transfer.autocast_dtype``). Elsewhere (MPS...) nothing: older torch releases refuse
    ``torch.autocast("mps")`` even to disable it, and no autocast runs there to disable."""
    if device_type in ("cpu", "cuda"):
        return torch.autocast(device_type, enabled=False)
    return contextlib.nullcontext()


def _gram(features: torch.Tensor, b: int, c: int, h: int, w: int) -> torch.Tensor:
    if features.requires_grad and torch.is_grad_enabled():
        return _Gram.apply(features)
    return _product(features, b, c, h, w)


def _product(features: torch.Tensor, b: int, c: int, h: int, w: int) -> torch.Tensor:
    flat, channels_last = _flat(features)
    if channels_last:  # (B, H*W, C) in memory: G = F^T F needs no copy
        return torch.bmm(flat.transpose(1, 2), flat) / (c * h * w)
    return torch.bmm(flat, flat.transpose(1, 2)) / (c * h * w)


def _flat(features: torch.Tensor) -> tuple[torch.Tensor, bool]:
    """``features`` as ``(B, C, H*W)`` (``False``) or, channels-last, as ``(B, H*W, C)``
    (``True``); views, no copy."""
    b, c, h, w = features.shape
    if c > 1 and h * w > 1 and not features.is_contiguous() \
            and features.is_contiguous(memory_format=torch.channels_last):
        return features.permute(0, 2, 3, 1).reshape(b, h * w, c), True
    return features.reshape(b, c, h * w), False


class _Gram(torch.autograd.Function):
    """``F F^T / n`` with a one-product backward: ``dF = (g + g^T) F / n``."""

    @staticmethod
    def forward(ctx, features):
        b, c, h, w = features.shape
        ctx.save_for_backward(features)
        return _product(features, b, c, h, w)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad):
        (features,) = ctx.saved_tensors
        b, c, h, w = features.shape
        sym = (grad + grad.transpose(1, 2)) / (c * h * w)
        flat, channels_last = _flat(features)
        if channels_last:  # (B, HW, C) @ (B, C, C), written back as channels-last
            out = torch.bmm(flat, sym).reshape(b, h, w, c).permute(0, 3, 1, 2)
        else:
            out = torch.bmm(sym, flat).reshape(b, c, h, w)
        return out
