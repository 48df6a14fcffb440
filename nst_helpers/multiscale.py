"""Coarse to fine, and the size of the style: two ways the image scale changes the result.

* **Coarse to fine** (:func:`stylize_multiscale`): optimise a small version first, then start
  each larger size (e.g. 128 -> 256 -> 512) from the result upscaled; the coarse runs lay out
  structures larger than the deepest layer sees (Gatys et al., CVPR 2017, section 6).
* **Style scale** (:func:`style_at_scale`): the style's size relative to the content's sets
  the size of the brush strokes.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import torch

from .io.images import MIN_SIDE, resize, resize_to, scaled_shape
from .transfer import DEFAULT_STEPS, StylizeResult, check_style_blend, stylize

__all__ = ["coarse_to_fine_sizes", "coarse_to_fine_steps", "style_at_scale",
           "style_shape_at_scale", "stylize_multiscale", "auto_sizes", "cost_in_full_size_steps",
           "upscale_with_detail", "check_sizes", "SMALLEST_SCALE", "LEAST_STEPS"]

#: The smallest long side :func:`coarse_to_fine_sizes` goes down to: below it the deep style
#: layers have almost nothing to match.
SMALLEST_SCALE = 128
#: The fewest steps :func:`coarse_to_fine_steps` gives a size (when ``steps`` allows).
LEAST_STEPS = 50


def coarse_to_fine_sizes(size: int, smallest: int = SMALLEST_SCALE) -> list[int]:
    """Long sides for a coarse-to-fine run ending at ``size``, halving down while >= ``smallest``:
    ``coarse_to_fine_sizes(1024) == [128, 256, 512, 1024]``."""
    if size < 1 or smallest < 1:
        raise ValueError(f"sizes must be positive, got size={size}, smallest={smallest}")
    sizes = [int(size)]
    while sizes[0] // 2 >= smallest:
        sizes.insert(0, sizes[0] // 2)
    return sizes


def auto_sizes(content: torch.Tensor, styles: Sequence[torch.Tensor],
               style_scale: float = 1.0) -> list[int]:
    """:func:`coarse_to_fine_sizes` of ``content``'s long side, less the coarse sizes where it
    or a style (at ``style_scale``) would be under ``MIN_SIDE`` (32 px) on its short side.
    Never empty: the last size is the content's long side."""
    shape = content.shape[-2:]

    def readable(size: int) -> bool:
        if min(scaled_shape(shape, size)) < MIN_SIDE:
            return False
        try:
            for style in styles:
                style_shape_at_scale(style.shape[-2:], size, style_scale)
        except ValueError:
            return False
        return True

    sizes = coarse_to_fine_sizes(max(shape))
    while len(sizes) > 1 and not readable(sizes[0]):
        sizes.pop(0)
    return sizes


def coarse_to_fine_steps(steps: int, count: int) -> list[int]:
    """Step ceilings for ``count`` sizes, coarse to fine: ``steps`` at the coarsest, half as
    many at each size up, never fewer than :data:`LEAST_STEPS` (or ``steps``, if fewer).
    ``coarse_to_fine_steps(300, 4) == [300, 150, 75, 50]``."""
    if steps < 1 or count < 1:
        raise ValueError(f"steps and count must be >= 1, got steps={steps}, count={count}")
    return [max(int(steps) >> k, min(int(steps), LEAST_STEPS)) for k in range(count)]


def style_at_scale(style: torch.Tensor, content_long_side: int,
                   style_scale: float = 1.0) -> torch.Tensor:
    """``style`` ``(1, 3, h, w)`` in [0, 1] resized to a long side ``style_scale`` times the
    content's (larger: larger brush strokes). Raises ValueError for a ``style_scale`` not a
    finite number > 0, or a style under ``MIN_SIDE`` (32 px) on its short side."""
    shape = style_shape_at_scale(style.shape[-2:], content_long_side, style_scale)
    if tuple(style.shape[-2:]) == shape:
        return style
    return resize(style, max(1, round(style_scale * content_long_side)))


def style_shape_at_scale(style_shape: Sequence[int], content_long_side: int,
                         style_scale: float = 1.0) -> tuple[int, int]:
    """The ``(h, w)`` :func:`style_at_scale` would give, without resizing; same ValueErrors."""
    if not (isinstance(style_scale, (int, float)) and math.isfinite(style_scale)
            and style_scale > 0):
        raise ValueError(f"style scale must be a finite number > 0, got {style_scale!r}")
    shape = scaled_shape(style_shape, max(1, round(style_scale * content_long_side)))
    if min(shape) < MIN_SIDE:
        raise ValueError(f"style scale {style_scale:g} makes the style {shape[1]}x{shape[0]} px "
                         f"for a {content_long_side} px content image; VGG19 needs a short side "
                         f">= {MIN_SIDE} px: use a larger style scale or image size")
    return tuple(shape)


def upscale_with_detail(image: torch.Tensor, coarse_content: torch.Tensor,
                        content: torch.Tensor) -> torch.Tensor:
    """A coarse result ``image`` ``(1, 3, h, w)`` brought to ``content``'s size ``(H, W)``,
    with the detail the coarse size lacked added back from the content:
    ``resize(image) + content - resize(coarse_content)``, clamped to [0, 1]."""
    shape = content.shape[-2:]  # exactly: 341 px halved and doubled is 340
    return (resize_to(image, shape) + content - resize_to(coarse_content, shape)).clamp(0, 1)


def cost_in_full_size_steps(sizes: Sequence[int], steps: Sequence[int]) -> float:
    """Compute of a coarse-to-fine schedule in steps at the final size, a step costing in
    proportion to its pixels: ``cost_in_full_size_steps([128, 256], [100, 50]) == 75.0``."""
    return float(sum(n * (s / sizes[-1]) ** 2 for s, n in zip(sizes, steps, strict=True)))


def check_sizes(sizes: Sequence[int]) -> list[int]:
    """``sizes`` as a list of ints if it is a coarse-to-fine schedule: at least one long side,
    each >= ``MIN_SIDE`` (32 px), increasing. Else ValueError, one line."""
    sizes = [int(s) for s in sizes]
    if not sizes:
        raise ValueError("no sizes: give at least one long side, e.g. 128 256")
    if any(a >= b for a, b in zip(sizes, sizes[1:])):
        raise ValueError(f"sizes {' '.join(map(str, sizes))} do not increase from coarse to "
                         "fine; give increasing long sides, e.g. 128 256 512")
    if sizes[0] < MIN_SIDE:
        raise ValueError(f"{sizes[0]} px is too small; VGG19 needs every size >= {MIN_SIDE} px")
    return sizes


def _check_sizes(sizes: Sequence[int], content: torch.Tensor) -> list[int]:
    sizes = check_sizes(sizes)
    long_side = max(content.shape[-2:])
    if sizes[-1] > long_side:
        raise ValueError(f"the content image is {long_side} px long, less than the final size "
                         f"{sizes[-1]}: load it at the final size (it is resized down for each "
                         "scale, never up)")
    short = min(scaled_shape(content.shape[-2:], sizes[0]))
    if short < MIN_SIDE:
        raise ValueError(f"at the coarsest size {sizes[0]} px the content is {short} px on its "
                         f"short side; VGG19 needs >= {MIN_SIDE}: start at a larger size")
    return sizes


def stylize_multiscale(content: torch.Tensor, style: torch.Tensor | Sequence[torch.Tensor], *,
                       sizes: Sequence[int] | str = "auto",
                       steps: int | Sequence[int] | None = None, style_scale: float = 1.0,
                       init: str | torch.Tensor = "content", callback=None,
                       **kwargs) -> StylizeResult:
    """Coarse-to-fine style transfer: :func:`~nst_helpers.transfer.stylize` at each size in
    turn, each starting from the previous result (:func:`upscale_with_detail`).

    ``content`` ``(1, 3, H, W)`` in [0, 1], at least ``sizes[-1]`` long (only resized down);
    ``style`` one ``(1, 3, h, w)`` image in [0, 1] or a list (:func:`style_at_scale`);
    ``sizes`` increasing long sides in px (``"auto"``: :func:`auto_sizes`); ``steps`` one
    ceiling for all sizes or one per size (``None``: :func:`coarse_to_fine_steps`);
    ``callback(step, image, losses)`` counts steps across sizes; ``**kwargs`` go to ``stylize``.

    Returns a :class:`~nst_helpers.transfer.StylizeResult` at long side ``sizes[-1]``, its
    ``history`` (plus a ``"size"`` list) and counts spanning all sizes. Raises ValueError for
    bad sizes or steps, or a style scale too small at some size.
    """
    styles = [style] if isinstance(style, torch.Tensor) else list(style)
    if isinstance(sizes, str):
        if sizes != "auto":
            raise ValueError(f"sizes {sizes!r}: give 'auto' or increasing long sides in px")
        sizes = auto_sizes(content, styles, style_scale)
    sizes = _check_sizes(sizes, content)
    if steps is None:
        per_scale = coarse_to_fine_steps(DEFAULT_STEPS, len(sizes))
    elif isinstance(steps, int):
        per_scale = [int(steps)] * len(sizes)
    else:
        per_scale = [int(n) for n in steps]
    if len(per_scale) != len(sizes) or any(n < 0 for n in per_scale):
        raise ValueError(f"steps {list(per_scale)} for sizes {sizes}: give one number >= 0 per "
                         "size, or a single number")
    check_style_blend(kwargs.get("style_blend"), len(styles))
    scaled_styles = [[style_at_scale(s, size, style_scale) for s in styles] for size in sizes]
    history: dict[str, list[float]] = {"content": [], "style": [], "total": [], "size": []}
    done, seconds, step_seconds, best_step, stopped_early = 0, 0.0, 0.0, 0, False
    image: torch.Tensor | str | None = init
    coarse_content = result = None
    for size, styles_here, n in zip(sizes, scaled_styles, per_scale):
        content_here = content if max(content.shape[-2:]) == size else resize(content, size)
        if coarse_content is not None:  # a result from the coarser size: bring it up
            image = upscale_with_detail(image, coarse_content, content_here)

        def forward(step, img, losses, offset=done):
            if callback is not None:
                callback(offset + step, img, losses)

        try:
            result = stylize(content_here, styles_here, steps=n, init=image, callback=forward,
                             **kwargs)
        except KeyboardInterrupt:
            if result is None:
                raise
            result.interrupted = True
            result.stopped_reason = f"interrupted at step {done} before the {size} px scale"
            break
        for key in ("content", "style", "total"):
            history[key] += result.history[key]
        history["size"] += [size] * result.steps
        best_step = done + result.best_step
        stopped_early = stopped_early or result.stopped_early
        done += result.steps
        seconds += result.seconds
        step_seconds += result.step_seconds
        image, coarse_content = result.image, content_here
        if result.interrupted or result.stopped_reason:
            break
    final, final_losses = result.image, result.final_losses
    target = scaled_shape(content.shape[-2:], sizes[-1])
    if tuple(final.shape[-2:]) != target:
        final_losses = {}  # stopped before the last scale: no losses at the final size
        final = resize_to(final, target).clamp(0, 1)
    return dataclasses.replace(result, image=final, history=history, steps=done, seconds=seconds,
                               best_step=best_step, final_losses=final_losses,
                               stopped_early=stopped_early, step_seconds=step_seconds)
