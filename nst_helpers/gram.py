"""The Gram matrix: the statistic Gatys et al. use to describe style (notebook 01)."""

from __future__ import annotations

import torch

__all__ = ["gram_matrix"]


def gram_matrix(features: torch.Tensor) -> torch.Tensor:
    """Gram matrix of feature maps, normalised by the number of entries.

    For feature maps ``F`` of shape ``(B, C, H, W)``, flattened to ``(B, C, H*W)``,
    returns ``F @ F^T / (C * H * W)``: shape ``(B, C, C)``, float32, symmetric, entry
    ``(i, j)`` the average over positions of the product of channels ``i`` and ``j``
    (divided by ``C`` as well, as the PyTorch tutorial does). Dividing by the size makes
    the value independent of the image size.

    Computed in float32 even for float16 or bfloat16 features, and under ``torch.autocast``
    too: Gram entries overflow float16 easily. (:mod:`nst_helpers.engine.fast_gram` computes the
    same values with a cheaper gradient; the runs use that one.)
    """
    if features.dim() != 4:
        raise ValueError(f"gram_matrix expects (B, C, H, W) features, got shape "
                         f"{tuple(features.shape)}")
    b, c, h, w = features.shape
    flat = features.float().reshape(b, c, h * w)
    if features.device.type not in ("cpu", "cuda"):  # no autocast runs there (older torch
        return flat @ flat.transpose(1, 2) / (c * h * w)  # refuses even to disable it on MPS)
    with torch.autocast(features.device.type, enabled=False):  # else the matmul runs in 16 bits
        return flat @ flat.transpose(1, 2) / (c * h * w)
