"""The optimisation loop of :func:`~nst_helpers.transfer.stylize` (notebook 04), with safety nets:
the best image kept, an early stop, advice on a NaN loss, a float16 loss scale, Ctrl-C. A *step*
is one evaluation of the loss and its gradient (for L-BFGS, one closure call).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import torch

from .losses import total_variation

__all__ = ["LossWeights", "Optimisation", "EARLY_STOP", "STOP_WINDOW", "DEFAULT_LR",
           "make_optimizer"]

#: The stopping rule: a run ends early when its best total loss fell by less than this
#: fraction over the last :data:`STOP_WINDOW` steps (``None`` or 0 runs every step).
EARLY_STOP = 0.01
#: Steps the :data:`EARLY_STOP` improvement is measured over.
STOP_WINDOW = 20
#: float16: steps in a row redone in float32 before the run leaves float16 for good.
FP16_FLOAT32_STEPS = 3


@dataclass
class LossWeights:
    """The total loss: ``content * content_loss + style * style_loss + tv * TV(image)``."""

    content: float = 1.0
    style: float = 1.0
    tv: float = 0.0

    def total(self, content_loss: torch.Tensor, style_loss: torch.Tensor,
              image: torch.Tensor) -> torch.Tensor:
        total = self.content * content_loss + self.style * style_loss
        if self.tv:
            total = total + self.tv * total_variation(image)
        return total


#: The learning rate each optimiser takes when none is given.
DEFAULT_LR = {"lbfgs": 1.0, "adam": 0.02}


def make_optimizer(name: str, image: torch.Tensor, steps: int, lr: float | None):
    """L-BFGS as the paper's code runs it (``steps`` evaluations in one call, no line search)
    or Adam; ``lr`` ``None``: :data:`DEFAULT_LR`. Raises ValueError for an unknown optimiser
    or an ``lr`` not above 0."""
    if name not in DEFAULT_LR:
        raise ValueError(f"unknown optimizer {name!r}: use 'lbfgs' or 'adam'")
    lr = DEFAULT_LR[name] if lr is None else lr
    if not lr > 0:
        raise ValueError(f"lr must be above 0, got {lr}: the image would not move")
    if name == "lbfgs":
        return torch.optim.LBFGS([image], lr=lr, max_iter=max(steps, 1),
                                 max_eval=max(steps, 1), history_size=50,
                                 tolerance_grad=-1, tolerance_change=-1)
    return torch.optim.Adam([image], lr=lr)


class _Stop(Exception):
    pass


class Optimisation:
    """Optimise ``image`` (a leaf, ``(1, 3, H, W)``) to lower ``model``'s weighted loss.

    ``dtype``: the autocast dtype (``None``: float32); float16 needs ``loss_scale``. After
    :meth:`run`: ``history``, ``step``, ``best_image`` / ``best_step`` / ``best_loss``, ``reason``
    (why it failed or was interrupted, else ``None``), ``interrupted`` and ``stopped_early``.
    """

    def __init__(self, model, image: torch.Tensor, weights: LossWeights, *, steps: int,
                 optimizer: str = "lbfgs", lr: float | None = None,
                 early_stop: float | None = EARLY_STOP,
                 callback: Callable[[int, torch.Tensor, dict], None] | None = None,
                 progress: bool = False, dtype: torch.dtype | None = None, loss_scale=None):
        if dtype == torch.float16 and loss_scale is None:
            raise ValueError("float16 needs a loss_scale (nst_helpers.engine.precision.LossScale)")
        self.model, self.image, self.weights, self.steps = model, image, weights, steps
        self.dtype, self.loss_scale = dtype, loss_scale
        self.optimizer_name, self.lr, self.early_stop = optimizer, lr, early_stop
        self.callback, self.progress = callback, progress
        self.optimizer = make_optimizer(optimizer, image, steps, lr)
        self.history: dict[str, list[float]] = {"content": [], "style": [], "total": []}
        self.best_loss, self.best_image, self.best_step = math.inf, image.detach().clone(), 0
        self.best_by_step: list[float] = []
        self.step, self.reason = 0, None
        self.interrupted = self.stopped_early = self.fell_back = False
        self.float32_steps = 0  # float16 steps in a row that needed float32
        self._bar = None

    def evaluate(self, shown: torch.Tensor, dtype: torch.dtype | None = None):
        """``(content_loss, style_loss, total)`` of ``shown``, one forward pass in ``dtype``."""
        if dtype is None:
            content_loss, style_loss = self.model.losses(shown)
        else:
            scale = self.loss_scale.scale if dtype == torch.float16 else 1.0
            content_loss, style_loss = self.model.losses(shown, dtype, scale)
        return content_loss, style_loss, self.weights.total(content_loss, style_loss, shown)

    def closure(self) -> torch.Tensor:
        if self.step >= self.steps:
            raise _Stop
        # The loss of the image as shown: pixels past 0 or 1 count as 0 or 1 (notebook 04).
        if self.dtype == torch.float16:
            shown, losses = self._evaluate_fp16()
        else:
            shown, losses = self._evaluate_with_gradient(self.dtype)
        content, style, total = losses.tolist()  # the one read from the device, after backward
        self._record(shown, content, style, total)
        return losses[2]

    def _evaluate_with_gradient(self, dtype: torch.dtype | None):
        """``(shown, detached (content, style, total))``, gradient at ``image``; a non-finite
        loss stops the run, with advice in ``reason``."""
        self.optimizer.zero_grad(set_to_none=True)
        shown = self.image.clamp(0, 1)
        content_loss, style_loss, total = self.evaluate(shown, dtype)
        total.backward()
        losses = torch.stack([content_loss, style_loss, total]).detach()
        if not torch.isfinite(losses[2]):  # (one read, only here, when it is not)
            self.reason = self._diverged(losses.tolist(), dtype)
            raise _Stop
        return shown, losses

    def _evaluate_fp16(self):
        """One evaluation in float16 with a dynamic loss scale (halved on overflow, doubled on
        underflow); a forward pass that overflows is redone in float32."""
        scale = self.loss_scale
        overflowed = False  # once lowered in this step, never raised again in it
        while True:  # bounded: the scale only moves between its min_scale and max_scale
            self.optimizer.zero_grad(set_to_none=True)
            shown = self.image.clamp(0, 1)
            content_loss, style_loss, total = self.evaluate(shown, torch.float16)
            if not torch.isfinite(total):  # the forward pass overflowed float16
                break
            total.backward()
            grad = self.image.grad
            if not torch.isfinite(grad).all():
                overflowed = True
                if scale.overflowed():
                    continue
                break
            if (not overflowed and scale.gradient_underflowed(grad, shown.detach())
                    and scale.underflowed()):
                continue
            scale.good_step()
            self.float32_steps = 0
            return shown, torch.stack([content_loss, style_loss, total]).detach()
        # No scale gave a usable float16 gradient: this step in float32.
        self.float32_steps += 1
        evaluated = self._evaluate_with_gradient(None)
        if self.float32_steps >= FP16_FLOAT32_STEPS:
            self.dtype, self.fell_back = None, True
            warnings.warn(f"float16 overflowed at {self.float32_steps} steps in a row, up to step "
                          f"{self.step + 1}; continuing in float32 (--precision fp32 avoids the "
                          "retry)", RuntimeWarning, stacklevel=1)
        return evaluated

    def run(self) -> None:
        """Run up to ``steps`` steps; Ctrl-C ends the run, keeping what was found."""
        if self.progress:
            from tqdm.auto import tqdm

            self._bar = tqdm(total=self.steps, desc="stylize", unit="step", leave=False)
        try:
            while self.step < self.steps:
                before = self.step
                self.optimizer.step(self.closure)
                if self.step == before:
                    break
                if self.optimizer_name == "adam":  # projected: pixels come back into range
                    with torch.no_grad():
                        self.image.clamp_(0, 1)
        except _Stop:
            pass
        except KeyboardInterrupt:
            self.interrupted = True
            self.reason = f"interrupted at step {self.step} of {self.steps}"
        finally:
            if self._bar is not None:
                self._bar.close()
        if self.reason is None and self.step > 0:
            # The last step's update has not been evaluated yet: score that image too.
            last = self.image.detach().clamp(0, 1)
            final = self.score(last)["total"]
            if math.isfinite(final) and final < self.best_loss:
                self.best_loss, self.best_image, self.best_step = final, last, self.step

    def score(self, image: torch.Tensor, *, float32: bool = False) -> dict[str, float]:
        """``content``, ``style`` and ``total`` losses of ``image``, no gradients (in float32
        whatever the run's precision when ``float32``)."""
        with torch.no_grad():
            losses = torch.stack(self.evaluate(image, None if float32 else self.dtype))
        return dict(zip(("content", "style", "total"), losses.tolist()))

    def _record(self, shown: torch.Tensor, content: float, style: float, total: float) -> None:
        # The loss just computed belongs to the image as it is now, before this step.
        if total < self.best_loss:
            self.best_loss, self.best_step = total, self.step
            self.best_image = shown.detach().clone()
        self.step += 1
        losses = {"content": content, "style": style, "total": total}
        for key, value in losses.items():
            self.history[key].append(value)
        self.best_by_step.append(self.best_loss)
        if self._bar is not None:
            self._bar.update(1)
            self._bar.set_postfix(content=f"{content:.3g}", style=f"{style:.3g}")
        if self.callback is not None:
            self.callback(self.step, shown.detach(), losses)
        if self._done():
            self.stopped_early = True  # done, not a failure: ``reason`` stays None
            raise _Stop

    def _done(self) -> bool:
        """The stopping rule: the best loss fell by less than ``early_stop`` (relative)
        over the last :data:`STOP_WINDOW` steps."""
        if not self.early_stop or len(self.best_by_step) <= STOP_WINDOW:
            return False
        then, now = self.best_by_step[-STOP_WINDOW - 1], self.best_by_step[-1]
        return then - now < self.early_stop * abs(now)

    def _diverged(self, losses: list[float], dtype: torch.dtype | None) -> str:
        content_loss, style_loss, value = losses
        what = (f"the loss became {value} at step {self.step + 1}; kept the last good image "
                f"(step {self.best_step})")
        w, lr = self.weights, self.optimizer.param_groups[0]["lr"]
        bad = [f"{name}={v}" for name, v in (("content_weight", w.content),
               ("style_weight", w.style), ("tv_weight", w.tv)) if not math.isfinite(v)]
        if bad:
            advice = f"a weight is not a finite number ({', '.join(bad)}): give finite weights"
        elif math.isfinite(content_loss) and math.isfinite(style_loss):
            advice = ("the weighted sum overflowed float32: lower --style-weight, "
                      "--content-weight or --tv-weight")
        elif dtype == torch.bfloat16:
            advice = "bfloat16 ran out of precision: use --precision fp32"
        elif self.optimizer_name == "adam":
            advice = f"Adam stepped too far: lower its learning rate (--lr, now {lr:g})"
        else:
            advice = (f"L-BFGS stepped too far: lower its learning rate (--lr, now {lr:g}; "
                      "e.g. 0.5) or use --optimizer adam")
        return f"{what}. {advice[0].upper()}{advice[1:]}"
