"""Loss modules that sit *inside* the network and pass their input through.

Each module remembers a target when it is made and, on every forward pass,
stores how far its input is from that target in ``self.loss`` before handing
the input on unchanged to the next layer. One forward pass through a network
with these modules inserted measures content and style at every depth at once.

Both losses are *relative*: the squared error divided by the squared size of
the target. The paper's raw sums change by orders of magnitude between layers,
image sizes and sets of weights; relative errors do not, so one ``style_weight``
gives about the same balance at 128 px and at 512 px, and with either VGG19.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
from torch import nn

from .gram import gram_matrix

__all__ = ["ContentLoss", "StyleLoss", "relative_squared_error", "squared_error",
           "squared_norm", "total_variation", "check_weights",
           "check_style_blend"]


def squared_error(x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """``||x - target||^2``, summed over every entry: a float32 scalar, >= 0."""
    return (x.float() - target.float()).pow(2).sum()


def squared_norm(target: torch.Tensor) -> torch.Tensor:
    """``||target||^2``, summed over every entry: a float32 scalar, at least 1e-12 (so that
    dividing by it is safe)."""
    return target.float().pow(2).sum().clamp_min(1e-12)


def relative_squared_error(x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """``||x - target||^2 / ||target||^2``: a float32 scalar, 0 when equal, 1 when ``x`` is
    zero."""
    return squared_error(x, target) / squared_norm(target)


def check_weights(weights: Sequence[float], count: int, *, what: str, of: str,
                  each: str) -> None:
    """The one rule for a list of weights (style blend, style layer weights): raise
    ValueError, one line, unless ``weights`` holds ``count`` finite numbers >= 0, not all 0
    (all 0 would silently drop that loss). ``what`` names the weights ("blend weights"),
    ``of`` what they are counted against ("2 style images"), ``each`` one of those."""
    weights = [float(w) for w in weights]
    if len(weights) != count:
        raise ValueError(f"{len(weights)} {what} for {of}: give one weight per {each}")
    if not all(math.isfinite(w) and w >= 0 for w in weights) or not any(weights):
        raise ValueError(f"{what} must be finite, >= 0 and not all 0, got {weights}")


def check_style_blend(style_blend: Sequence[float] | None, num_styles: int) -> None:
    """Raise ValueError unless ``style_blend`` is ``None`` or ``num_styles`` weights as
    :func:`check_weights` requires. No style images at all is allowed (a content-only run)."""
    if style_blend is not None:
        check_weights(style_blend, num_styles, what="blend weights",
                      of=f"{num_styles} style images", each="style image")



class ContentLoss(nn.Module):
    """Content loss at one layer (Gatys et al. eq. 1, made relative).

    Args:
        target: the content image's feature maps at this layer, ``(1, C, H, W)``.

    Forward: takes features ``(1, C, H, W)`` of the same shape, sets ``self.loss``
    (a scalar tensor, >= 0) and returns the input unchanged.
    """

    def __init__(self, target: torch.Tensor):
        super().__init__()
        self.register_buffer("target", target.detach())
        self.loss = torch.zeros(())

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        self.loss = relative_squared_error(features, self.target)
        return features


class StyleLoss(nn.Module):
    """Style loss at one layer (Gatys et al. eq. 4, made relative), for one or more styles.

    Args:
        targets: the style images' Gram matrices at this layer, each ``(1, C, C)``
            (see :func:`~nst_helpers.gram.gram_matrix`); one per style image.
        blend: one non-negative weight per style (default: equal weights summing to 1).
        gram: the function that computes ``G`` (see the attribute of the same name).

    Forward: takes features ``(1, C, H, W)``, sets ``self.loss`` to
    ``sum_k blend[k] * ||G - A_k||^2 / ||A_k||^2`` with ``G`` the input's Gram matrix,
    and ``self.per_style`` to the per-style terms (unweighted); returns the input unchanged.
    """

    def __init__(self, targets: torch.Tensor | Sequence[torch.Tensor],
                 blend: Sequence[float] | None = None,
                 gram: Callable[[torch.Tensor], torch.Tensor] = gram_matrix):
        super().__init__()
        #: The function that computes ``G`` from the features: ``(1, C, H, W)`` ->
        #: ``(1, C, C)``, float32. Default :func:`~nst_helpers.gram.gram_matrix`; a run made
        #: fast by :func:`nst_helpers.engine.speed.accelerate` sets it to
        #: :func:`~nst_helpers.engine.fast_gram.fast_gram_matrix` (same values, a gradient
        #: that costs half as much).
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
        """Set (and return) ``self.loss`` and ``self.per_style`` for a Gram matrix ``(1, C, C)``
        computed elsewhere (tile by tile, see :mod:`nst_helpers.engine.tiles`)."""
        self.per_style = [relative_squared_error(gram, target) for target in self.targets]
        self.loss = sum(w * loss for w, loss in zip(self.blend, self.per_style))
        return self.loss


def total_variation(image: torch.Tensor) -> torch.Tensor:
    """Mean squared difference between neighbouring pixels of ``image`` ``(B, C, H, W)``.

    A smoothness prior: 0 for a flat image, about 0.005 to 0.02 for a photo in [0, 1].
    """
    dx = image[..., :, 1:] - image[..., :, :-1]
    dy = image[..., 1:, :] - image[..., :-1, :]
    return dx.pow(2).mean() + dy.pow(2).mean()
