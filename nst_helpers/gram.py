"""The Gram matrix: the statistic Gatys et al. use to describe style."""

from __future__ import annotations

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
    """
    if features.dim() != 4:
        raise ValueError(f"gram_matrix expects (B, C, H, W) features, got shape "
                         f"{tuple(features.shape)}")
    b, c, h, w = features.shape
    with torch.autocast(features.device.type, enabled=False):
        return _gram(features.float(), b, c, h, w)


def _gram(features: torch.Tensor, b: int, c: int, h: int, w: int) -> torch.Tensor:
    if c > 1 and h * w > 1 and not features.is_contiguous() \
            and features.is_contiguous(memory_format=torch.channels_last):
        # (B, H, W, C) in memory: a (B, H*W, C) view, and G = F^T F needs no copy.
        flat = features.permute(0, 2, 3, 1).reshape(b, h * w, c)
        return torch.bmm(flat.transpose(1, 2), flat) / (c * h * w)
    flat = features.reshape(b, c, h * w)
    return torch.bmm(flat, flat.transpose(1, 2)) / (c * h * w)
