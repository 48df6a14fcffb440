"""The run loop: optimise an image until it has the content of one picture and the style of another.

A *step* is one evaluation of the loss and its gradient (for L-BFGS, one
closure call), as the PyTorch tutorial counts.

The loss is that of the image clamped to [0, 1], the image that can be shown. Left
free, L-BFGS pushes pixels past black and white, where they still lower the loss of
the raw values; clamped only at the end, such an image loses much of what was won
(at 256 px, 300 steps: a loss of 0.70 optimised, 0.85 after clamping; optimising the
clamped image ends at 0.70 and shows it). The tutorial clamps between steps instead,
which moves the image behind L-BFGS's back; here L-BFGS sees the true loss.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch

from .color import (
    PRESERVE_COLOR,
    combine_luminance_chroma,
    grey,
    luminance,
    luminance_only_inputs,
    match_color_histogram,
)
from .images import resize_to
from .losses import total_variation
from .model import build_model
from .tiles import check_tile
from .vgg import CONTENT_LAYERS, STYLE_LAYERS, load_vgg19

__all__ = ["StylizeResult", "stylize", "DEFAULT_STYLE_WEIGHT", "check_style_blend",
           "PRECISIONS", "autocast_dtype"]

#: Balance between style and content (content weight 1), for the relative losses of
#: :mod:`nst_helpers.losses` at the paper's layers read after the ReLU (the defaults).
#:
#: Chosen by eye on the paper's Figure 2 pair, a photo of Tübingen and *The Starry Night*
#: (kept outside the repository), 200 L-BFGS steps, original weights, from content:
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


@dataclass
class StylizeResult:
    """What :func:`stylize` returns.

    Attributes:
        image: the best image found (lowest total loss), ``(1, 3, H, W)`` in [0, 1], on the CPU.
        history: per step, ``"content"``, ``"style"`` and ``"total"`` losses (weighted as
            optimised; ``content`` and ``style`` unweighted), lists of floats: the losses of
            the image clamped to [0, 1], the image as it can be shown and saved.
        steps: loss evaluations done.
        seconds: wall time of the optimisation (targets and model building included).
        interrupted: True if a KeyboardInterrupt stopped the run early; ``image`` is still
            the best image so far.
        stopped_reason: ``None`` for a full run, else why it stopped early.
        best_step: the step whose image is returned (1-based; 0 means the initial image).
        peak_memory_mb: peak CUDA memory of the run on a GPU, else ``None``.
        final_losses: ``"content"``, ``"style"`` and ``"total"`` losses of the returned image
            itself (with ``preserve_color="luminance"``, of its grey luminance image), always
            measured in float32, or ``{}`` when no step ran. ``history`` ends one update
            earlier.
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

    @property
    def seconds_per_step(self) -> float:
        return self.seconds / max(self.steps, 1)

    @property
    def moved(self) -> bool:
        """False when no step lowered the loss below the starting image's, so that ``image``
        *is* the starting image (``best_step == 0``): not a result to show. :func:`stylize`
        also warns when that happens."""
        return self.best_step > 0


def check_style_blend(style_blend: Sequence[float] | None, num_styles: int) -> None:
    """Raise ValueError unless ``style_blend`` is ``None`` or ``num_styles`` finite weights
    >= 0 that are not all 0. No style images at all is allowed (a content-only run)."""
    if style_blend is None:
        return
    weights = [float(w) for w in style_blend]
    if len(weights) != num_styles:
        raise ValueError(f"{len(weights)} blend weights for {num_styles} style images: give one "
                         "weight per style image")
    if not all(math.isfinite(w) and w >= 0 for w in weights) or not any(weights):
        raise ValueError(f"blend weights must be finite, >= 0 and not all 0, got {weights}")


#: ``precision`` values :func:`stylize` takes.
PRECISIONS = ("fp32", "bf16", "fp16")


def autocast_dtype(precision: str, device: torch.device | str) -> torch.dtype | None:
    """The ``torch.autocast`` dtype for ``precision`` on ``device`` (``None`` for fp32).

    ``"bf16"`` needs a CPU with native bfloat16 (AVX512-BF16 or AMX; oneDNN then runs the
    convolutions about twice as fast) or a GPU that has it (not the T4). ``"fp16"`` needs a
    CUDA GPU (the T4's tensor cores). The Gram matrices and losses stay float32 either way.

    Raises:
        ValueError: an unknown precision, or one the device cannot run fast.
    """
    device = torch.device(device)
    if precision == "fp32":
        return None
    if precision == "bf16":
        if device.type == "cpu" and not torch.ops.mkldnn._is_mkldnn_bf16_supported():
            raise ValueError("this CPU has no native bfloat16 (AVX512-BF16 or AMX): bf16 would "
                             "be slower, not faster; use --precision fp32")
        if device.type == "cuda" and not _native_cuda_bf16(device):
            raise ValueError("this GPU has no bfloat16 (a T4 has not): use --precision fp16")
        if device.type not in ("cpu", "cuda"):
            raise ValueError(f"bf16 runs on a CPU with AVX512-BF16 or AMX or on a CUDA GPU, not "
                             f"on {device.type}: use --precision fp32")
        return torch.bfloat16
    if precision == "fp16":
        if device.type != "cuda":
            raise ValueError(f"fp16 runs fast only on a CUDA GPU, not on {device.type}: use "
                             "--precision bf16 on a CPU that has it, or fp32")
        return torch.float16
    raise ValueError(f"unknown precision {precision!r}: use one of {', '.join(PRECISIONS)}")


def _native_cuda_bf16(device: torch.device) -> bool:
    """bfloat16 in the GPU's hardware: compute capability 8.0 (Ampere) or newer. Asked this way
    because ``torch.cuda.is_bf16_supported(including_emulation=False)`` is missing from older
    torch releases, and without the argument a T4 answers True (emulated: slow)."""
    return torch.cuda.get_device_capability(device) >= (8, 0)


def _init_image(init, content: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    if isinstance(init, torch.Tensor):
        if init.shape != content.shape:
            init = resize_to(init, content.shape[-2:])
        return init.clone()
    if init == "content":
        return content.clone()
    if init == "noise":
        return torch.rand(content.shape, generator=generator).to(content.device)
    raise ValueError(f"unknown init {init!r}: use 'content', 'noise' or an image tensor")


def stylize(content: torch.Tensor, style: torch.Tensor | Sequence[torch.Tensor], *,
            steps: int = 300,
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
            device: torch.device | str = "cpu",
            callback: Callable[[int, torch.Tensor, dict], None] | None = None,
            progress: bool = False,
            preserve_color: str = "none",
            precision: str = "fp32",
            tile: int | None = None) -> StylizeResult:
    """Run Gatys et al.'s algorithm.

    Args:
        content: content image ``(1, 3, H, W)`` in [0, 1]; the result has its size.
        style: one style image ``(1, 3, h, w)`` in [0, 1] (any size), or a list of them.
        steps: loss evaluations (L-BFGS closure calls, or Adam steps).
        style_weight, content_weight: weights of the (relative) style and content losses.
        tv_weight: weight of :func:`~nst_helpers.losses.total_variation` (0 = off).
        weights: ``"original"``, ``"torchvision"`` or ``"random"`` (see :mod:`nst_helpers.vgg`).
        pooling: ``"max"`` (VGG19's own) or ``"avg"``, which Gatys et al. use: average pooling
            passes gradient to every pixel of a window, not only the largest, and gives
            smoother, less speckled results.
        optimizer: ``"lbfgs"`` (default) or ``"adam"``.
        lr: learning rate (default 1 for L-BFGS, 0.02 for Adam; image values are in [0, 1]).
        init: ``"content"``, ``"noise"`` (seeded uniform) or an image tensor.
        seed: seeds the noise init and the random weights.
        content_layers, style_layers: names from :data:`~nst_helpers.vgg.LAYER_NAMES`;
            ``"relu4_2"`` (after the ReLU) is the paper's conv4_2 as its Caffe code read it,
            ``"conv4_2"`` the raw convolution output before the ReLU.
        style_blend: one weight >= 0 per style image (not all 0); the style loss is
            ``sum_k style_blend[k] * loss_k`` (default equal weights summing to 1).
        style_layer_weights: one weight per style layer (default ``1 / len(style_layers)``).
        device: where to run.
        callback: called after each step as ``callback(step, image, losses)``.
        progress: show a tqdm progress bar.
        preserve_color: keep the content's colours (see :mod:`nst_helpers.color`):
            ``"none"`` (default), ``"luminance"`` (optimise the luminance alone, as a grey
            image, then put the content's chroma back; ``callback`` and the losses in
            ``history`` then see the grey image) or ``"histogram"`` (match the style images'
            colour mean and covariance to the content's first).
        precision: ``"fp32"`` (default), ``"bf16"`` or ``"fp16"``: runs VGG19 under
            ``torch.autocast`` in that dtype (see :func:`autocast_dtype`); Gram matrices,
            losses, the image and L-BFGS stay float32, and ``final_losses`` are measured in
            float32 whatever the precision, so runs in different precisions compare.
        tile: evaluate an image larger than ``tile`` px a side tile by tile
            (:mod:`nst_helpers.tiles`): the same losses and gradient, for the memory of one
            ``tile`` px tile plus its 80 px margins, at about 2 to 2.5 times the time per step.
            A multiple of 16, >= 64; ``None`` (default): the whole image at once.

    Returns:
        a :class:`StylizeResult`. A KeyboardInterrupt or a NaN/inf loss stops the run
        early and still returns the best image so far, with ``interrupted`` /
        ``stopped_reason`` saying so.
    """
    if steps < 0:
        raise ValueError(f"steps must be >= 0, got {steps}")
    if preserve_color not in PRESERVE_COLOR:
        raise ValueError(f"unknown preserve_color {preserve_color!r}: use one of "
                         f"{', '.join(PRESERVE_COLOR)}")
    check_tile(tile)
    started = time.perf_counter()
    device = torch.device(device)
    amp_dtype = autocast_dtype(precision, device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
        torch.backends.cudnn.benchmark = True  # one image size for the whole run: autotune
    styles = [style] if isinstance(style, torch.Tensor) else list(style)
    check_style_blend(style_blend, len(styles))
    color_content = content
    if preserve_color == "histogram":
        styles = [match_color_histogram(s, content) for s in styles]
    elif preserve_color == "luminance":
        content, styles = luminance_only_inputs(content, styles)
        if isinstance(init, torch.Tensor):
            init = grey(luminance(init))
    generator = torch.Generator().manual_seed(seed)
    content = content.to(device)
    vgg = load_vgg19(weights, pooling=pooling, device=device, seed=seed)
    model = build_model(vgg, content, [s.to(device) for s in styles],
                        content_layers=content_layers, style_layers=style_layers,
                        style_blend=style_blend, style_layer_weights=style_layer_weights,
                        tile=tile)
    model.autocast_dtype = amp_dtype
    image = _init_image(init, content, generator).to(device).requires_grad_(True)

    if optimizer == "lbfgs":
        opt = torch.optim.LBFGS([image], lr=lr or 1.0, max_iter=max(steps, 1),
                                max_eval=max(steps, 1), history_size=50,
                                tolerance_grad=-1, tolerance_change=-1)
    elif optimizer == "adam":
        opt = torch.optim.Adam([image], lr=lr or 0.02)
    else:
        raise ValueError(f"unknown optimizer {optimizer!r}: use 'lbfgs' or 'adam'")

    history: dict[str, list[float]] = {"content": [], "style": [], "total": []}
    best = {"loss": math.inf, "image": image.detach().clone(), "step": 0}
    state = {"step": 0, "reason": None}
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=steps, desc="stylize", unit="step", leave=False)

    class _Stop(Exception):
        pass

    def evaluate(shown: torch.Tensor):
        content_loss, style_loss = model.losses(shown)
        total = content_weight * content_loss + style_weight * style_loss
        if tv_weight:
            total = total + tv_weight * total_variation(shown)
        return content_loss, style_loss, total

    def fall_back_to_fp32(why: str) -> None:
        # float16 is opt-in and its range is narrow (65504; VGG19's activations of the
        # Caffe-scaled input reach 1.6e4, and the gradient is scaled up against underflow):
        # when it overflows, say so and go on in float32 instead of stopping.
        nonlocal amp_dtype
        amp_dtype = model.autocast_dtype = None
        warnings.warn(f"{why}; continuing in float32 (--precision fp32 avoids the retry)",
                      RuntimeWarning, stacklevel=1)

    def diverged(value: float, content_loss: torch.Tensor, style_loss: torch.Tensor) -> str:
        what = (f"the loss became {value} at step {state['step'] + 1}; kept the last good "
                f"image (step {best['step']})")
        weights = {"content_weight": content_weight, "style_weight": style_weight,
                   "tv_weight": tv_weight}
        bad = [f"{name}={w}" for name, w in weights.items() if not math.isfinite(w)]
        if bad:
            advice = f"a weight is not a finite number ({', '.join(bad)}): give finite weights"
        elif math.isfinite(content_loss.item()) and math.isfinite(style_loss.item()):
            advice = ("the weighted sum overflowed float32: lower --style-weight, "
                      "--content-weight or --tv-weight")
        elif model.autocast_dtype == torch.bfloat16:
            advice = "bfloat16 ran out of precision: use --precision fp32"
        elif optimizer == "adam":
            advice = f"Adam stepped too far: lower its learning rate (--lr, now {lr or 0.02:g})"
        else:
            advice = (f"L-BFGS stepped too far: lower its learning rate (--lr, now {lr or 1.0:g};"
                      " e.g. 0.5) or use --optimizer adam")
        return f"{what}. {advice[0].upper()}{advice[1:]}"

    def closure():
        if state["step"] >= steps:
            raise _Stop
        opt.zero_grad(set_to_none=True)
        # The loss of the image as it can be shown: pixels pushed past 0 or 1 count as 0 or
        # 1 (and get no gradient). Optimising the raw values and clamping only at the end
        # returns an image whose loss is far higher than the one optimised.
        shown = image.clamp(0, 1)
        content_loss, style_loss, total = evaluate(shown)
        value = total.item()
        if not math.isfinite(value) and model.autocast_dtype == torch.float16:
            fall_back_to_fp32(f"the loss overflowed float16 at step {state['step'] + 1}")
            content_loss, style_loss, total = evaluate(shown)
            value = total.item()
        if not math.isfinite(value):
            state["reason"] = diverged(value, content_loss, style_loss)
            raise _Stop
        total.backward()
        if model.autocast_dtype == torch.float16 and not torch.isfinite(image.grad).all():
            fall_back_to_fp32(f"the gradient overflowed float16 at step {state['step'] + 1}")
            opt.zero_grad(set_to_none=True)
            shown = image.clamp(0, 1)  # a new graph: backward freed the last one
            content_loss, style_loss, total = evaluate(shown)
            value = total.item()
            total.backward()
        # The loss just computed belongs to the image as it is now, before this step.
        if value < best["loss"]:
            best.update(loss=value, image=shown.detach().clone(), step=state["step"])
        state["step"] += 1
        losses = {"content": content_loss.item(), "style": style_loss.item(), "total": value}
        for key, v in losses.items():
            history[key].append(v)
        if bar is not None:
            bar.update(1)
            bar.set_postfix(content=f"{losses['content']:.3g}", style=f"{losses['style']:.3g}")
        if callback is not None:
            callback(state["step"], shown.detach(), losses)
        return total

    interrupted = False
    try:
        while state["step"] < steps:
            before = state["step"]
            opt.step(closure)
            if state["step"] == before:
                break
            if optimizer == "adam":  # projected: pixels past the range come back to it
                with torch.no_grad():
                    image.clamp_(0, 1)
    except _Stop:
        pass
    except KeyboardInterrupt:
        interrupted = True
        state["reason"] = f"interrupted at step {state['step']} of {steps}"
    finally:
        if bar is not None:
            bar.close()

    def score(candidate: torch.Tensor, dtype: torch.dtype | None = amp_dtype) -> dict[str, float]:
        model.autocast_dtype = dtype
        with torch.no_grad():
            c, s = model.losses(candidate)
            total = content_weight * c + style_weight * s
            if tv_weight:
                total = total + tv_weight * total_variation(candidate)
        return {"content": c.item(), "style": s.item(), "total": total.item()}

    if state["reason"] is None and state["step"] > 0:
        # Score the final image too: the last step's update has not been evaluated yet.
        last = image.detach().clamp(0, 1)
        final = score(last)["total"]
        if math.isfinite(final) and final < best["loss"]:
            best.update(loss=final, image=last, step=state["step"])

    peak = None
    if device.type == "cuda":
        peak = torch.cuda.max_memory_allocated(device) / 2**20
    result_image = best["image"].clamp(0, 1)
    # In float32, whatever the run's precision, so that runs in different precisions compare.
    final_losses = score(result_image, None) if state["step"] > 0 else {}
    if preserve_color == "luminance":
        result_image = combine_luminance_chroma(result_image, color_content)
    if state["step"] > 0 and best["step"] == 0:
        warnings.warn(f"no step of {state['step']} lowered the loss below the starting "
                      "image's, so the image returned is the starting image (result.moved is "
                      "False): raise the style weight, or check the style layers and weights",
                      RuntimeWarning, stacklevel=2)
    return StylizeResult(image=result_image.cpu(), history=history,
                         steps=state["step"], seconds=time.perf_counter() - started,
                         interrupted=interrupted, stopped_reason=state["reason"],
                         best_step=best["step"], peak_memory_mb=peak,
                         final_losses=final_losses)
