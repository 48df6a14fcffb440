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
    overflow float16 easily.
    """
    if features.dim() != 4:
        raise ValueError(f"gram_matrix expects (B, C, H, W) features, got shape "
                         f"{tuple(features.shape)}")
    b, c, h, w = features.shape
    flat = features.reshape(b, c, h * w).float()
    return torch.bmm(flat, flat.transpose(1, 2)) / (c * h * w)
