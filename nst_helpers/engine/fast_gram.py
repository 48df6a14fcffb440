"""The Gram matrix of :mod:`nst_helpers.gram` (same values) with a one-product gradient.

``G = F F^T / n`` gives ``dL/dF = (g + g^T) F / n`` for ``g = dL/dG``. Channels-last feature
maps are used without a copy: in memory they are ``(B, H*W, C)``, and ``G = F^T F``.
"""

from __future__ import annotations

import torch

from ..gram import gram_matrix
from .precision import autocast_off

__all__ = ["fast_gram_matrix"]


def fast_gram_matrix(features: torch.Tensor) -> torch.Tensor:
    """:func:`~nst_helpers.gram.gram_matrix` (same shapes, same float32 values), with the
    one-product gradient and no copy of channels-last feature maps."""
    if not (features.requires_grad and torch.is_grad_enabled()) or features.dim() != 4:
        return gram_matrix(features)
    with autocast_off(features.device.type):
        return _Gram.apply(features.float())


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
        flat, channels_last = _flat(features)
        if channels_last:
            return torch.bmm(flat.transpose(1, 2), flat) / (c * h * w)
        return torch.bmm(flat, flat.transpose(1, 2)) / (c * h * w)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad):
        (features,) = ctx.saved_tensors
        b, c, h, w = features.shape
        sym = (grad + grad.transpose(1, 2)) / (c * h * w)
        flat, channels_last = _flat(features)
        if channels_last:  # (B, HW, C) @ (B, C, C), written back as channels-last
            return torch.bmm(flat, sym).reshape(b, h, w, c).permute(0, 3, 1, 2)
        return torch.bmm(sym, flat).reshape(b, c, h, w)
