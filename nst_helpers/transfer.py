"""``stylize``: one style transfer run, end to end (notebook 04): optimise an image until it has
the content of one picture and the style of another. The loss is that of the image clamped to
[0, 1], the image that can be shown, so L-BFGS sees the true loss.
"""

from __future__ import annotations

import functools
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch

from .color import PRESERVE_COLOR, color_inputs, combine_luminance_chroma
from .engine.layout import cudnn_autotuned, in_preferred_layout
from .engine.precision import PRECISIONS, LossScale, autocast_dtype, resolve_precision
from .engine.speed import accelerate, build_tiled_model
from .engine.tiles import check_tile
from .io.images import resize_to
from .io.profiles import pick_device
from .loop import EARLY_STOP, LossWeights, Optimisation
from .losses import check_style_blend
from .model import build_model
from .vgg import CONTENT_LAYERS, STYLE_LAYERS, load_vgg19

__all__ = ["StylizeResult", "stylize", "DEFAULT_STYLE_WEIGHT", "DEFAULT_STEPS", "check_style_blend",
           "PRECISIONS", "autocast_dtype"]

#: Balance between style and content (content weight 1) for the relative losses at the
#: default layers; chosen by eye on the paper's Figure 2 pair (Tübingen and *The Starry
#: Night*): the town still shows at 128 px, the sky is all swirls at 384 px.
DEFAULT_STYLE_WEIGHT = 20.0

#: The step ceiling of :func:`stylize`: the paper's code ran L-BFGS this long (``nst`` and the
#: notebooks take theirs from the run profile, :data:`nst_helpers.io.profiles.PROFILES`).
DEFAULT_STEPS = 300


@dataclass
class StylizeResult:
    """What :func:`stylize` returns.

    ``image``: the best image found, ``(1, 3, H, W)`` in [0, 1], on the CPU; ``history``: per
    step, ``"content"``, ``"style"`` (unweighted) and ``"total"`` losses; ``best_step``: 1-based
    (0: the initial image); ``final_losses``: the returned image's, in float32 (``{}`` if no
    step ran); ``peak_memory_mb``: on a GPU, else ``None``; ``stopped_early``: the stopping rule
    ended the run (done, not a failure); ``stopped_reason``: else why it stopped early.
    """

    image: torch.Tensor
    history: dict[str, list[float]] = field(default_factory=dict)
    steps: int = 0
    seconds: float = 0.0
    interrupted: bool = False
    stopped_reason: str | None = None
    best_step: int = 0
    peak_memory_mb: float | None = None
    final_losses: dict[str, float] = field(default_factory=dict)
    precision: str = "fp32"
    stopped_early: bool = False
    step_seconds: float = 0.0

    @property
    def seconds_per_step(self) -> float:
        """Wall time of the optimisation's steps alone, per step."""
        return self.step_seconds / max(self.steps, 1)

    @property
    def moved(self) -> bool:
        """False when no step lowered the loss below the starting image's (``best_step == 0``):
        ``image`` *is* the starting image."""
        return self.best_step > 0


def initial_image(init: str | torch.Tensor, content: torch.Tensor, seed: int = 0) -> torch.Tensor:
    """Where the optimisation starts: a copy of ``content`` (``"content"``), seeded uniform
    noise (``"noise"``), or a given image resized to the content's size."""
    if isinstance(init, torch.Tensor):
        if init.shape != content.shape:
            init = resize_to(init, content.shape[-2:])
        return init.clone().to(content.device)
    if init == "content":
        return content.clone()
    if init == "noise":
        generator = torch.Generator().manual_seed(seed)
        return torch.rand(content.shape, generator=generator).to(content.device)
    raise ValueError(f"unknown init {init!r}: use 'content', 'noise' or an image tensor")


def stylize(content: torch.Tensor, style: torch.Tensor | Sequence[torch.Tensor], *,
            steps: int = DEFAULT_STEPS, style_weight: float = DEFAULT_STYLE_WEIGHT,
            content_weight: float = 1.0, tv_weight: float = 0.0,
            weights: str = "original", pooling: str = "max",
            optimizer: str = "lbfgs", lr: float | None = None,
            init: str | torch.Tensor = "content", seed: int = 0,
            content_layers: Sequence[str] = CONTENT_LAYERS,
            style_layers: Sequence[str] = STYLE_LAYERS,
            style_blend: Sequence[float] | None = None,
            style_layer_weights: Sequence[float] | None = None,
            device: torch.device | str | None = None,
            callback: Callable[[int, torch.Tensor, dict], None] | None = None,
            progress: bool = False, preserve_color: str = "none", precision: str = "auto",
            tile: int | None = None, early_stop: float | None = EARLY_STOP) -> StylizeResult:
    """Gatys et al.'s algorithm: an image with the content of ``content`` and the style of
    ``style`` (``(1, 3, H, W)`` in [0, 1]; ``style`` may be a list, blended by ``style_blend``).

    ``steps`` is a ceiling of loss evaluations; ``tv_weight`` 0 is off; layers go by the
    paper's names; ``init`` is ``"content"``, ``"noise"`` (seeded by ``seed``) or an image;
    ``preserve_color`` is ``"none"``, ``"luminance"`` or ``"histogram"`` (notebook 06);
    ``device`` ``None`` is CUDA, then Apple MPS, then the CPU; ``precision`` ``"auto"`` is
    bfloat16 on a CPU that has it natively, else float32; ``tile`` evaluates tile by tile
    (notebook 07); ``early_stop`` ``None`` runs every step; ``callback(step, image, losses)``
    runs after each step. Returns a :class:`StylizeResult` with the image of lowest loss; Ctrl-C
    or a NaN loss ends the run early, still returning the best image so far and saying why.
    """
    check_arguments(steps, preserve_color, tile)
    started = time.perf_counter()
    device = pick_device(device)
    precision = resolve_precision(precision, device)
    styles = [style] if isinstance(style, torch.Tensor) else list(style)
    check_style_blend(style_blend, len(styles))
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    # 1. The inputs, after the colour control (if any).
    content_in, styles, init = color_inputs(preserve_color, content, styles, init)
    content_in = content_in.to(device)
    # 2. VGG19 with the loss modules after the paper's layers (notebook 03), run fast;
    # with a tile, the targets too are computed tile by tile.
    build = build_model if tile is None else functools.partial(build_tiled_model, tile=tile)
    vgg = in_preferred_layout(load_vgg19(weights, pooling=pooling, device=device, seed=seed),
                              device)
    model = build(vgg, content_in, [s.to(device) for s in styles],
                  content_layers=content_layers, style_layers=style_layers,
                  style_blend=style_blend, style_layer_weights=style_layer_weights)
    accelerate(model, device, tile)
    # 3. The pixels, optimised until the weighted loss stops falling (notebook 04).
    image = initial_image(init, content_in, seed).requires_grad_(True)
    dtype = autocast_dtype(precision, device)
    run = Optimisation(model, image, LossWeights(content_weight, style_weight, tv_weight),
                       steps=steps, optimizer=optimizer, lr=lr, early_stop=early_stop,
                       callback=callback, progress=progress, dtype=dtype,
                       loss_scale=LossScale() if dtype == torch.float16 else None)
    steps_began = time.perf_counter()
    with cudnn_autotuned(device):
        run.run()
    step_seconds = time.perf_counter() - steps_began
    # 4. The best image, its losses measured in float32, the colours put back.
    best = run.best_image.clamp(0, 1)
    final_losses = run.score(best, float32=True) if run.step > 0 else {}
    if preserve_color == "luminance":
        best = combine_luminance_chroma(best, content)
    if run.step > 0 and run.best_step == 0 and not run.interrupted:
        warnings.warn(f"no step of {run.step} lowered the loss below the starting image's, so "
                      "the image returned is the starting image (result.moved is False): raise "
                      "the style weight, or check the style layers and weights",
                      RuntimeWarning, stacklevel=2)
    peak = torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else None
    return StylizeResult(image=best.cpu(), history=run.history, steps=run.step,
                         seconds=time.perf_counter() - started, interrupted=run.interrupted,
                         stopped_reason=run.reason, best_step=run.best_step,
                         peak_memory_mb=peak, final_losses=final_losses,
                         precision="fp32" if run.fell_back else precision,
                         stopped_early=run.stopped_early, step_seconds=step_seconds)


def check_arguments(steps: int, preserve_color: str, tile: int | None) -> None:
    """Raise ValueError, in one line that says what to give, for a bad argument."""
    if steps < 0:
        raise ValueError(f"steps must be >= 0, got {steps}")
    if preserve_color not in PRESERVE_COLOR:
        raise ValueError(f"unknown preserve_color {preserve_color!r}: use one of "
                         f"{', '.join(PRESERVE_COLOR)}")
    check_tile(tile)
