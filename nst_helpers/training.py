"""Training the network that paints in one pass (notebook 08): :func:`train`. Its command line
is :mod:`nst_helpers.cli.train` (``python -m nst_helpers.cli.train --style starry_night -o
a.pt``); this module imports :mod:`nst_helpers.fast`'s network and loss, never the command line.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from .engine.layout import in_preferred_layout
from .engine.precision import autocast
from .fast import DEFAULT_STYLE_WEIGHT, PerceptualLoss, TransformerNet, network_dtype
from .io.networks import phases_after_resume, read_checkpoint, save_network
from .io.photos import PhotoFolder
from .loop import LossWeights

__all__ = ["TrainResult", "train", "COCO_T4_RECIPE"]

#: Notebook 08's recipe for a Colab T4, on COCO's validation photos: optimizer steps, crops
#: per step, crop side in px, and a time budget in minutes.
COCO_T4_RECIPE = {"steps": 4000, "batch_size": 8, "size": 256, "max_minutes": 14.0}


def _grad_scaler(device: torch.device):
    """A gradient scaler for float16 training (``torch.cuda.amp`` before torch 2.3)."""
    if hasattr(torch.amp, "GradScaler"):
        return torch.amp.GradScaler(device.type)
    return torch.cuda.amp.GradScaler()


@dataclass
class TrainResult:
    """What :func:`train` returns.

    ``network`` (in eval mode), ``steps`` taken in all (including before a resume),
    ``history`` (``(step, content_loss, style_loss)`` every ``log_every`` steps), ``seconds`` of
    this call, ``interrupted`` (by Ctrl-C) and ``out_of_time`` (``max_minutes`` ran out).
    """

    network: TransformerNet
    steps: int
    history: list[tuple[int, float, float]]
    seconds: float
    interrupted: bool = False
    out_of_time: bool = False


def train(photos: PhotoFolder, style_image: torch.Tensor, *, steps: int = 2000,
          batch_size: int = 4, size: int = 128, lr: float = 1e-3,
          style_weight: float = DEFAULT_STYLE_WEIGHT, vgg: nn.Sequential | None = None,
          network: TransformerNet | None = None, checkpoint: str | Path | None = None,
          checkpoint_every: int = 100, resume: bool = True, seed: int = 0,
          precision: str = "auto", device: torch.device | str | None = None,
          log_every: int = 10, max_minutes: float | None = None,
          log: Callable[[str], object] = print, recipe: dict | None = None) -> TrainResult:
    """Train a :class:`TransformerNet` to paint in ``style_image``'s style (``(1, 3, h, w)`` in
    [0, 1]): Adam on ``batch_size`` random crops of ``size`` px from ``photos`` per step,
    minimising ``content + style_weight * style``, up to ``steps`` steps in all.

    ``checkpoint`` is saved (atomically) every ``checkpoint_every`` steps and at the end; with
    ``resume``, training continues from it. ``precision``: as
    :func:`~nst_helpers.fast.network_dtype` (fp16 on CUDA); ``max_minutes``: a time budget.
    Ctrl-C stops training and returns the :class:`TrainResult`.
    """
    from .io.profiles import pick_device
    from .vgg import load_vgg19

    device = pick_device(device)
    torch.manual_seed(seed)
    network = (network or TransformerNet()).to(device)
    vgg = vgg if vgg is not None else in_preferred_layout(load_vgg19(device=device), device)
    loss_fn = PerceptualLoss(vgg, style_image.to(device))
    weights = LossWeights(content=1.0, style=style_weight)
    optimizer = torch.optim.Adam(network.parameters(), lr=lr)
    crops = random.Random(seed)
    start, history = 0, []
    phases = [{**(recipe or {}), "from_step": 0}]  # the recipe of each stretch of training
    if checkpoint is not None and resume and Path(checkpoint).is_file():
        state = read_checkpoint(checkpoint)
        network.load_state_dict(state["state_dict"])
        if "optimizer" in state:
            optimizer.load_state_dict(state["optimizer"])
        start, history = int(state.get("step", 0)), [tuple(h) for h in state.get("history", [])]
        crops.seed(seed + start)
        phases = phases_after_resume(state, recipe or {}, start)
        log(f"resumed from {checkpoint} at step {start}")
    dtype = network_dtype(precision, device)
    scaler = _grad_scaler(device) if dtype == torch.float16 else None
    earlier_seconds = float(phases[-1].get("train_seconds", 0))  # this stretch's earlier runs

    def save(step: int) -> None:
        phases[-1]["train_seconds"] = round(earlier_seconds + time.perf_counter() - began, 1)
        if checkpoint is not None:
            save_network(checkpoint, network, step=step, history=[list(h) for h in history],
                         optimizer=optimizer.state_dict(), recipe=dict(recipe or {}),
                         phases=phases)

    network.train()
    on_gpu = device.type == "cuda"
    cudnn_before = torch.backends.cudnn.benchmark
    if on_gpu:  # one crop size all along: let cuDNN pick its fastest kernels once
        torch.backends.cudnn.benchmark = True
    # On a GPU, a thread reads and crops the next photos while the GPU trains on these.
    batches = photos.batches(batch_size, size, crops, prefetch=2 if on_gpu else 0,
                             pin_memory=on_gpu)
    began, step, interrupted, out_of_time = time.perf_counter(), start, False, False
    deadline = None if max_minutes is None else began + 60 * max_minutes
    try:
        for step in range(start + 1, steps + 1):
            batch = next(batches).to(device, non_blocking=on_gpu)
            with autocast(device.type, dtype):
                content, style = loss_fn(network(batch), batch)
            total = weights.total(content, style, batch)
            optimizer.zero_grad(set_to_none=True)
            if scaler is None:
                total.backward()
                optimizer.step()
            else:
                scaler.scale(total).backward()
                scaler.step(optimizer)  # skipped if a gradient overflowed
                scaler.update()
            out_of_time = deadline is not None and time.perf_counter() >= deadline
            last = step == steps or out_of_time
            logging, saving = step % log_every == 0 or last, step % checkpoint_every == 0 or last
            if not (logging or saving):
                continue  # no .item() here: on a GPU it would wait for the step to finish
            if not math.isfinite(total.item()):  # before saving: never a checkpoint of NaNs
                raise FloatingPointError(f"the loss became {total.item()} by step {step}; "
                                         "lower lr and resume from the checkpoint")
            if logging:
                history.append((step, content.item(), style.item()))
                elapsed = time.perf_counter() - began
                log(f"step {step}/{steps}  content {content.item():.4f}  style {style.item():.4f}"
                    f"  {elapsed / (step - start):.2f} s/step")
            if saving:
                save(step)
            if out_of_time:
                log(f"stopped at step {step}: the {max_minutes:g} minutes are up"
                    + (f"; {checkpoint} holds this step" if checkpoint else ""))
                break
    except KeyboardInterrupt:
        interrupted = True
        kept = f"; the checkpoint {checkpoint} keeps the last saved step" if checkpoint else ""
        log(f"interrupted at step {step}{kept}")
    finally:
        batches.close()  # stops the reading thread
        torch.backends.cudnn.benchmark = cudnn_before
    network.eval()
    return TrainResult(network, step, history, time.perf_counter() - began, interrupted,
                       out_of_time)

