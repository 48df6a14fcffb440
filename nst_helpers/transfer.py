"""``stylize``: one style transfer run, end to end (notebook 04): the inputs, the model, the
loop (:mod:`nst_helpers.loop`, the one loop module) and the result.

It optimises an image until it has the content of one picture and the style of another.

A *step* is one evaluation of the loss and its gradient (for L-BFGS, one
closure call), as the PyTorch tutorial counts.

The loss is that of the image clamped to [0, 1], the image that can be shown. Left
free, L-BFGS pushes pixels past black and white, where they still lower the loss of
the raw values; clamped only at the end, such an image loses much of what was won
(notebook 04 measures it). The tutorial clamps between steps instead,
which moves the image behind L-BFGS's back; here L-BFGS sees the true loss.
"""

from __future__ import annotations

import functools
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch

from .color import PRESERVE_COLOR, color_inputs, combine_luminance_chroma
from .engine.layout import in_preferred_layout
from .engine.precision import PRECISIONS, LossScale, autocast_dtype, resolve_precision
from .engine.speed import accelerate, build_tiled_model, cudnn_autotuned
from .engine.tiles import check_tile
from .io.images import resize_to
from .io.profiles import pick_device
from .loop import EARLY_STOP, LossWeights, Optimisation
from .losses import check_style_blend
from .model import build_model
from .vgg import CONTENT_LAYERS, STYLE_LAYERS, load_vgg19

__all__ = ["StylizeResult", "stylize", "DEFAULT_STYLE_WEIGHT", "DEFAULT_STEPS", "check_style_blend",
           "PRECISIONS", "autocast_dtype"]

#: Balance between style and content (content weight 1), for the relative losses of
#: :mod:`nst_helpers.losses` at the paper's layers read after the ReLU (the defaults).
#:
#: Chosen by eye on the paper's Figure 2 pair, a photo of Tübingen and *The Starry Night*
#: (kept outside the repository), 200 L-BFGS steps, the bundled weights, from content:
#:
#: * 10 at 256 px: the sky in large strokes, but the houses almost untouched, paler than the
#:   paper's figure; at 128 px still clearly the town;
#: * 30 at 256 px: large swirls and yellow discs everywhere, houses still readable, as bold as
#:   Figure 2; but at 128 px the town is nearly gone;
#: * 20 (chosen): at 128 px the town still shows; at 384 px the sky is all large swirls and
#:   yellow discs and the houses are painted over but readable. Notebook 05's sweep shows
#:   the same choice on the bundled cat and *The Starry Night*.
#:
#: (The old default, 10 with the pre-ReLU ``conv`` layers, laid fine concentric strokes
#: over a nearly intact photo.) Not checked with torchvision's weights or at 1024 px: see
#: the project's notes.
DEFAULT_STYLE_WEIGHT = 20.0

#: The step ceiling of :func:`stylize` (and of the coarsest size of
#: :func:`~nst_helpers.multiscale.stylize_multiscale`): the paper's code ran L-BFGS this long.
#: Why ``nst`` and the notebooks use other ceilings: they take theirs from the run profile
#: (:data:`nst_helpers.io.profiles.PROFILES`): this same 300 on a GPU, 150 on a CPU (where a
#: step takes many times longer, and half the steps keep a run at the profile's 256 px to
#: minutes), 8 in CI (``NST_QUICK=1``). A library call keeps the paper's ceiling whatever the
#: device; the stopping rule (:data:`~nst_helpers.loop.EARLY_STOP`) often ends a run sooner.
DEFAULT_STEPS = 300


@dataclass
class StylizeResult:
    """What :func:`stylize` returns.

    Attributes:
        image: the best image found (lowest total loss), ``(1, 3, H, W)`` in [0, 1], on the CPU.
        history: per step, ``"content"``, ``"style"`` and ``"total"`` losses (weighted as
            optimised; ``content`` and ``style`` unweighted), lists of floats: the losses of
            the image clamped to [0, 1], the image as it can be shown and saved.
        steps: loss evaluations done.
        seconds: wall time of the whole call (loading VGG19 and building the targets
            included); ``step_seconds`` of the steps alone, and ``seconds_per_step`` per step.
        interrupted: True if a KeyboardInterrupt stopped the run early; ``image`` is still
            the best image so far.
        stopped_reason: ``None`` for a full run, else why it stopped early.
        best_step: the step whose image is returned (1-based; 0 means the initial image).
        peak_memory_mb: peak CUDA memory of the run on a GPU, else ``None``.
        final_losses: ``"content"``, ``"style"`` and ``"total"`` losses of the returned image
            itself (with ``preserve_color="luminance"``, of its grey luminance image), always
            measured in float32, or ``{}`` when no step ran. ``history`` ends one update
            earlier.
        precision: the precision the run used (``"auto"`` resolved: ``"fp32"``, ``"bf16"``
            or ``"fp16"``; ``"fp32"`` when float16 overflowed and the run went on in float32).
        stopped_early: True when the stopping rule ended the run before ``steps`` (the loss
            had stopped falling, see :data:`~nst_helpers.loop.EARLY_STOP`): done, not a failure.
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
        """Wall time of the optimisation's steps alone (not loading VGG19 or building the
        targets), per step."""
        return self.step_seconds / max(self.steps, 1)

    @property
    def moved(self) -> bool:
        """False when no step lowered the loss below the starting image's, so that ``image``
        *is* the starting image (``best_step == 0``): not a result to show. :func:`stylize`
        also warns when that happens in a run that was not interrupted."""
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
            steps: int = DEFAULT_STEPS,
            style_weight: float = DEFAULT_STYLE_WEIGHT,
            content_weight: float = 1.0,
            tv_weight: float = 0.0,
            weights: str = "original",
            pooling: str = "max",
            optimizer: str = "lbfgs",
            lr: float | None = None,
            init: str | torch.Tensor = "content",
            seed: int = 0,
            content_layers: Sequence[str] = CONTENT_LAYERS,
            style_layers: Sequence[str] = STYLE_LAYERS,
            style_blend: Sequence[float] | None = None,
            style_layer_weights: Sequence[float] | None = None,
            device: torch.device | str | None = None,
            callback: Callable[[int, torch.Tensor, dict], None] | None = None,
            progress: bool = False,
            preserve_color: str = "none",
            precision: str = "auto",
            tile: int | None = None,
            early_stop: float | None = EARLY_STOP) -> StylizeResult:
    """Run Gatys et al.'s algorithm: the image with the content of ``content`` and the
    style of ``style`` (images ``(1, 3, H, W)`` in [0, 1]; the result has the content's
    size; ``style`` may be a list, blended by ``style_blend``).

    The algorithm's knobs: ``steps`` (a ceiling: loss evaluations), ``style_weight`` and
    ``content_weight`` (of the relative losses, :mod:`nst_helpers.losses`), ``tv_weight``
    (total variation, 0 = off), ``content_layers`` / ``style_layers`` (the paper's names,
    ``"relu4_2"`` after the ReLU as its Caffe code read it, ``"conv4_2"`` before it),
    ``style_layer_weights``, ``weights`` (``"original"``, ``"torchvision"``, ``"random"``)
    and ``pooling`` (``"max"`` or the paper's ``"avg"``) of VGG19, ``optimizer``
    (``"lbfgs"`` or ``"adam"``) and its ``lr``, ``init`` (``"content"``, ``"noise"`` seeded
    by ``seed``, or an image).

    The controls (notebook 06, :mod:`nst_helpers.color`): ``preserve_color`` (``"none"``,
    ``"luminance"``: optimise a grey image, then put the content's chroma back;
    ``"histogram"``: match the styles' colours to the content's first).

    How it runs (notebook 07): ``device`` (``None``: the best one here, CUDA, then Apple MPS,
    then the CPU: :func:`~nst_helpers.io.profiles.pick_device`, the device the notebooks' profile
    line reports); ``precision`` (``"auto"``: bfloat16 on a CPU that
    has it natively, else float32; or ``"fp32"``, ``"bf16"``, ``"fp16"``,
    :mod:`nst_helpers.engine.precision`); ``tile`` (evaluate an image larger than ``tile`` px a side
    tile by tile, :mod:`nst_helpers.engine.tiles`); ``early_stop`` (end when the loss fell by less
    than this fraction over the last 20 steps, :mod:`nst_helpers.loop`; ``None``: every
    step); ``callback(step, image, losses)`` after each step; ``progress`` (a tqdm bar).

    Returns a :class:`StylizeResult`: the image with the lowest loss. Ctrl-C or a NaN loss
    ends the run early and still returns the best image so far, saying why.
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
    # 2. VGG19 with the loss modules after the paper's layers (notebook 03), run fast.
    # (only the layers up to the last loss layer stay alive: the model keeps no reference to
    # the rest of VGG19)
    # With a tile, the targets too are computed tile by tile: a large image is never whole.
    build = build_model if tile is None else functools.partial(build_tiled_model, tile=tile)
    vgg = in_preferred_layout(load_vgg19(weights, pooling=pooling, device=device, seed=seed),
                              device)
    model = build(vgg,
                  content_in, [s.to(device) for s in styles],
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
        # (an interrupted run stopped because it was asked to: the advice below would be wrong)
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
