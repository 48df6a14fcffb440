"""Small real images the core tests share (made here, not loaded from disk)."""

from __future__ import annotations

import math

import torch


def photo_like(height: int = 64, width: int = 80, seed: int = 0) -> torch.Tensor:
    """A smooth, photo-like RGB image ``(1, 3, H, W)`` in [0, 1]: gradients and a disc."""
    g = torch.Generator().manual_seed(seed)
    y = torch.linspace(0, 1, height).view(height, 1)
    x = torch.linspace(0, 1, width).view(1, width)
    disc = (((x - 0.6) ** 2 + (y - 0.4) ** 2) < 0.05).float()
    r = 0.2 + 0.6 * x + 0.2 * disc
    gch = 0.3 + 0.5 * y * (1 - disc)
    b = 0.5 + 0.4 * torch.sin(3 * x + 2 * y) * 0.5
    image = torch.stack([r.expand(height, width), gch.expand(height, width),
                         b.expand(height, width)])
    image = image + 0.02 * torch.rand(image.shape, generator=g)
    return image.clamp(0, 1).unsqueeze(0)


def stripes(height: int = 72, width: int = 56, period: float = 9.0) -> torch.Tensor:
    """A high-contrast diagonal-stripe "painting" ``(1, 3, H, W)`` in [0, 1]."""
    y = torch.arange(height).view(height, 1).float()
    x = torch.arange(width).view(1, width).float()
    wave = 0.5 + 0.5 * torch.sin(2 * math.pi * (x + y) / period)
    image = torch.stack([wave, 0.2 + 0.0 * wave, 1 - wave])
    return image.unsqueeze(0)
