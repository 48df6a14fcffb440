"""Loss modules that sit *inside* the network: each stores in ``self.loss`` how far its input
is from its target and passes the input on. Both losses are *relative* (squared error over the
target's squared size), so one ``style_weight`` balances alike across layers and image sizes.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
from torch import nn

from .gram import gram_matrix

__all__ = ["ContentLoss", "StyleLoss", "relative_squared_error", "squared_error",
           "squared_norm", "total_variation", "check_weights", "check_style_blend"]


def squared_error(x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """``||x - target||^2``, summed over every entry: a float32 scalar, >= 0."""
    return (x.float() - target.float()).pow(2).sum()


def squared_norm(target: torch.Tensor) -> torch.Tensor:
    """``||target||^2``: a float32 scalar, at least 1e-12 (safe to divide by)."""
    return target.float().pow(2).sum().clamp_min(1e-12)


def relative_squared_error(x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """``||x - target||^2 / ||target||^2``: 0 when equal, 1 when ``x`` is zero."""
    return squared_error(x, target) / squared_norm(target)


def check_weights(weights: Sequence[float], count: int, *, what: str, of: str,
                  each: str) -> None:
    """Raise ValueError unless ``weights`` holds ``count`` finite numbers >= 0, not all 0;
    ``what``, ``of`` and ``each`` name them in the message ("blend weights", "2 style images",
    "style image")."""
    weights = [float(w) for w in weights]
    if len(weights) != count:
        raise ValueError(f"{len(weights)} {what} for {of}: give one weight per {each}")
    if not all(math.isfinite(w) and w >= 0 for w in weights) or not any(weights):
        raise ValueError(f"{what} must be finite, >= 0 and not all 0, got {weights}")


def check_style_blend(style_blend: Sequence[float] | None, num_styles: int) -> None:
    """Raise ValueError unless ``style_blend`` is ``None`` or valid weights for
    ``num_styles`` style images (:func:`check_weights`)."""
    if style_blend is not None:
        check_weights(style_blend, num_styles, what="blend weights",
                      of=f"{num_styles} style images", each="style image")


class ContentLoss(nn.Module):
    """Content loss at one layer (Gatys et al. eq. 1, made relative) against ``target``, the
    content image's features ``(1, C, H, W)``; forward sets ``self.loss``, returns its input."""

    def __init__(self, target: torch.Tensor):
        super().__init__()
        self.register_buffer("target", target.detach())
        self.loss = torch.zeros(())

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        self.loss = relative_squared_error(features, self.target)
        return features


class StyleLoss(nn.Module):
    """Style loss at one layer (Gatys et al. eq. 4, made relative), for one or more styles.

    ``targets``: the style images' Gram matrices ``A_k``, each ``(1, C, C)``; ``blend``: one
    weight per style (default equal, summing to 1); ``gram``: features -> ``G``. Forward takes
    features ``(1, C, H, W)``, sets ``self.loss = sum_k blend[k] * ||G - A_k||^2 / ||A_k||^2``
    and ``self.per_style`` (the unweighted terms), and returns its input.
    """

    def __init__(self, targets: torch.Tensor | Sequence[torch.Tensor],
                 blend: Sequence[float] | None = None,
                 gram: Callable[[torch.Tensor], torch.Tensor] = gram_matrix):
        super().__init__()
        self.gram = gram
        if isinstance(targets, torch.Tensor):
            targets = [targets]
        targets = [t.detach().float() for t in targets]
        check_style_blend(blend, len(targets))
        if blend is None:
            blend = [1.0 / len(targets)] * len(targets)
        self.register_buffer("targets", torch.stack(targets))
        self.blend = [float(b) for b in blend]
        self.loss = torch.zeros(())
        self.per_style: list[torch.Tensor] = []

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        self.measure(self.gram(features))
        return features

    def measure(self, gram: torch.Tensor) -> torch.Tensor:
        """Set and return ``self.loss`` (and ``self.per_style``) for a Gram matrix
        ``(1, C, C)`` computed elsewhere (e.g. tile by tile)."""
        self.per_style = [relative_squared_error(gram, target) for target in self.targets]
        self.loss = sum(w * loss for w, loss in zip(self.blend, self.per_style))
        return self.loss


def total_variation(image: torch.Tensor) -> torch.Tensor:
    """Mean squared difference between neighbouring pixels of ``image`` ``(B, C, H, W)``:
    a smoothness prior, 0 for a flat image."""
    dx = image[..., :, 1:] - image[..., :, :-1]
    dy = image[..., 1:, :] - image[..., :-1, :]
    return dx.pow(2).mean() + dy.pow(2).mean()
