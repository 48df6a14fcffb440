"""``--to-quality``: how long each way of running takes to reach a given loss, at 512 px.

Every loss here is measured the same way: ``stylize``'s loss (relative content and style
losses, style weight ``DEFAULT_STYLE_WEIGHT``, our layers) of the image clamped to [0, 1],
the image a run can return. That is the measure ours minimises, so it favours ours: the
``tutorial`` line minimises its own loss and is judged by ours; the ``unconstrained`` line
minimises ours too, but on pixels left free.

1. ``unconstrained``: our model, loss and L-BFGS settings, but L-BFGS on the raw pixels,
   clamped to [0, 1] only at the end (this project's default until 2026-11-28; how
   jcjohnson/neural-style and pastiche treat the pixel range, though not their losses,
   pixel scale or weights). Its final loss L0 and wall time T0.
2. ``default``: ``stylize`` in float32, every evaluation taken: when it first reaches L0
   (goal: by T0 / 2), and its own final loss L1.
3. ``tutorial``: the PyTorch tutorial's run (:mod:`tutorial`: its losses and weights, the
   clamp inside the closure, ``LBFGS`` with PyTorch's defaults), our measure taken after
   each evaluation with the clock stopped: when it reaches L0 and L1.
4. ``bf16``: ``stylize(precision="bf16")`` where the CPU has it: when it reaches L0 and L1.
5. ``coarse_to_fine``: stylize_multiscale (128 -> 256 -> 512 for 512 px, float32): when it
   reaches L1 at full size.

Wall times include building the models (and the coarse sizes).
"""

from __future__ import annotations

import math
import sys
import time

from common import fast, has_bf16, stylize_options


def _unconstrained_run(content, style, steps: int, device) -> dict:
    """L-BFGS on the raw pixel values (stylize's settings: lr 1, ``steps`` evaluations in one
    call, history 50), clamped to [0, 1] only at the end. Same model, weights, style weight
    and speed settings as stylize."""
    import torch

    from nst_helpers.model import build_model
    from nst_helpers.transfer import DEFAULT_STYLE_WEIGHT
    from nst_helpers.vgg import load_vgg19

    t0 = time.perf_counter()
    model = build_model(load_vgg19("original", device=device), content.to(device),
                        [style.to(device)])
    fast(model, device)
    image = content.clone().to(device).requires_grad_(True)
    opt = torch.optim.LBFGS([image], lr=1.0, max_iter=steps, max_eval=steps, history_size=50,
                            tolerance_grad=-1, tolerance_change=-1)
    raw = []

    def closure():
        opt.zero_grad()
        c, s = model.losses(image)
        loss = c + DEFAULT_STYLE_WEIGHT * s
        loss.backward()
        raw.append(loss.item())
        return loss

    while len(raw) < steps:
        before = len(raw)
        opt.step(closure)
        if len(raw) == before:
            break
    with torch.no_grad():
        c, s = model.losses(image.clamp(0, 1))
    return {"loss_optimised": min(raw), "loss": (c + DEFAULT_STYLE_WEIGHT * s).item(),
            "seconds": time.perf_counter() - t0, "evals": len(raw)}


def _time_to(target: float, log: dict, t0: float, only_size: int | None = None):
    """A stylize callback that notes when the loss first reaches ``target`` (and goes on)."""
    def callback(step, image, losses):
        if only_size is not None and max(image.shape[-2:]) != only_size:
            return
        if "seconds" not in log and losses["total"] <= target:
            log.update(step=step, seconds=time.perf_counter() - t0, loss=losses["total"])
    return callback


def _tutorial_run(content, style, steps: int, device, targets: dict[str, float],
                  own_layers: bool) -> dict:
    """The tutorial's run for ``steps`` evaluations; after each, our measure of its image
    (clamped by its closure), the time that takes left out of its clock."""
    from tutorial import run_reference
    from workers import our_measure

    from nst_helpers.io.images import resize_to

    measure = our_measure(content.to(device), style.to(device), device)
    t0, paused, losses = time.perf_counter(), [0.0], []
    reached: dict[str, dict] = {name: {} for name in targets}

    def stamp(image):
        stopped = time.perf_counter()
        losses.append(measure(image))
        for name, target in targets.items():
            if not reached[name] and losses[-1] <= target:
                reached[name].update(step=len(losses), loss=losses[-1],
                                     seconds=stopped - t0 - paused[0])
        paused[0] += time.perf_counter() - stopped

    # the tutorial needs a style image of the content's shape
    same_shape = resize_to(style, content.shape[-2:]).clamp(0, 1)
    run = run_reference({"evals": steps, "tutorial_layers": own_layers}, content.to(device),
                        same_shape.to(device), device, stamp)
    seconds = time.perf_counter() - t0 - paused[0]
    return {"loss": measure(run.image), "best_loss": min(losses), "seconds": seconds,
            "evals": len(losses), "tutorial_loss": run.loss,
            **{f"reached_{name}": log for name, log in reached.items()}}


def to_quality(args) -> dict:
    """See the module's docstring."""
    import torch

    from nst_helpers import transfer
    from nst_helpers.io.images import load_image
    from nst_helpers.multiscale import coarse_to_fine_sizes, stylize_multiscale

    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    content = load_image(args.content, args.quality_size)
    style = load_image(args.style, args.quality_size)
    steps = args.quality_steps
    out: dict = {"size": list(content.shape[-2:]), "steps": steps, "device": device,
                 "measure": "stylize's loss of the image clamped to [0, 1]"}

    base = _unconstrained_run(content, style, steps, device)
    out["unconstrained"] = base
    l0, t0_seconds = base["loss"], base["seconds"]
    print(f"  unconstrained: loss {l0:.4f} ({base['loss_optimised']:.4f} before clamping), "
          f"{t0_seconds:.0f} s", file=sys.stderr)

    log: dict = {}
    t0 = time.perf_counter()
    default = transfer.stylize(content, style, steps=steps, device=device,
                               callback=_time_to(l0, log, t0), **stylize_options("fp32"))
    l1 = default.final_losses["total"]
    out["default"] = {"loss": l1, "seconds": default.seconds, "reached_unconstrained": log,
                      "time_ratio": log["seconds"] / t0_seconds if log else None}
    print(f"  default: loss {l1:.4f}, {default.seconds:.0f} s; reached {l0:.4f} at "
          f"{log.get('step')} evaluations, {log.get('seconds', math.nan):.0f} s", file=sys.stderr)

    tut = _tutorial_run(content, style, steps, device, {"unconstrained": l0, "default": l1},
                        args.tutorial_layers)
    tut["time_ratio_to_default"] = (tut["reached_default"]["seconds"] / default.seconds
                                    if tut["reached_default"] else None)
    out["tutorial"] = tut
    print(f"  tutorial: loss {tut['loss']:.4f} by our measure, {tut['seconds']:.0f} s",
          file=sys.stderr)

    if has_bf16(device):
        logs: tuple[dict, dict] = ({}, {})
        t0 = time.perf_counter()
        first, second = _time_to(l0, logs[0], t0), _time_to(l1, logs[1], t0)

        def both(step, image, losses):
            first(step, image, losses)
            second(step, image, losses)

        fast_run = transfer.stylize(content, style, steps=steps, device=device, callback=both,
                                    **stylize_options("bf16"))
        out["bf16"] = {"loss": fast_run.final_losses["total"], "seconds": fast_run.seconds,
                       "reached_unconstrained": logs[0], "reached_default": logs[1],
                       "time_ratio_to_unconstrained": (logs[0]["seconds"] / t0_seconds
                                                       if logs[0] else None),
                       "time_ratio_to_default": (logs[1]["seconds"] / default.seconds
                                                 if logs[1] else None)}
        print(f"  bf16: loss {out['bf16']['loss']:.4f}, {fast_run.seconds:.0f} s",
              file=sys.stderr)

    sizes = coarse_to_fine_sizes(args.quality_size)
    per_scale = [args.coarse_steps] * (len(sizes) - 1) + [steps]
    log = {}
    t0 = time.perf_counter()
    c2f = stylize_multiscale(content, style, sizes=sizes, steps=per_scale, device=device,
                             callback=_time_to(l1, log, t0, only_size=args.quality_size),
                             **stylize_options("fp32"))
    out["coarse_to_fine"] = {"sizes": sizes, "steps": per_scale,
                             "loss": c2f.final_losses.get("total"), "seconds": c2f.seconds,
                             "reached_default": log,
                             "time_ratio": log["seconds"] / default.seconds if log else None}
    ratio = out["default"]["time_ratio"]
    out["goal_default_at_half_the_time_of_unconstrained"] = ratio is not None and ratio <= 0.5
    return out
