"""Training the network that paints in one pass (notebook 08): :func:`train`, and its command
line :func:`main` (``python -m nst_helpers.fast train --style images/starry_night.jpg -o a.pt``).
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from .engine.layout import in_preferred_layout
from .engine.precision import PRECISIONS, autocast
from .fast import DEFAULT_STYLE_WEIGHT, PerceptualLoss, TransformerNet, network_dtype
from .io.networks import phases_after_resume, read_checkpoint, save_network
from .io.photos import PhotoFolder
from .loop import LossWeights

__all__ = ["TrainResult", "train", "COCO_T4_RECIPE", "main"]

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


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m nst_helpers.fast train ...``: :func:`train` from the command line. Returns
    the exit code (0 done, 2 bad input, 3 out of memory, 4 diverged, 130 interrupted); the
    checkpoint keeps the last good step in every case."""
    import inspect
    import sys

    from . import training
    from .cli.args import POSITIVE, POSITIVE_INT, WEIGHT, Parser, UsageError
    from .cli.run import is_out_of_memory
    from .fast import load_network
    from .io.images import ImageError, example_image, load_image
    from .io.networks import NetworkError
    from .io.photos import bundled_photos_dir
    from .io.profiles import pick_device

    # train()'s defaults, read from it (training.train: a test may put another in its place)
    d = {k: v.default for k, v in inspect.signature(training.train).parameters.items()}
    d["style_size"] = 256
    parser = Parser(prog="python -m nst_helpers.fast",
                    description="Train a network that paints in one pass.")
    p = parser.add_subparsers(dest="command", required=True).add_parser(
        "train", help="train a network on a folder of photos")
    add = p.add_argument
    add("--style", required=True, help="the style image (a path or a bundled name)")
    add("--data", help="folder of training photos (default: the photos bundled in images/)")
    add("-o", "--output", required=True, help="checkpoint to write (and resume)")
    for flag, what in (("steps", "optimizer steps in all; a resumed run goes on up to this"),
                       ("batch_size", "photo crops per step"), ("size", "crop side in px"),
                       ("style_size", "the style image's long side in px"),
                       ("checkpoint_every", "save the checkpoint every this many steps")):
        add(f"--{flag.replace('_', '-')}", type=POSITIVE_INT, default=d[flag],
            help=f"{what} (default {d[flag]})")
    add("--style-weight", type=WEIGHT, default=d["style_weight"],
        help=f"weight of the style loss against the content loss (default {d['style_weight']:g})")
    add("--lr", type=POSITIVE, default=d["lr"], help=f"Adam's learning rate (default {d['lr']:g})")
    add("--seed", type=int, default=0, help="seeds the initial weights and the crops (default 0)")
    add("--precision", choices=PRECISIONS, default="auto",
        help="auto (default): bf16 where the CPU has it natively, fp16 on CUDA, else fp32")
    add("--device", help="cpu, cuda, mps... (default: the best one here)")
    add("--threads", type=POSITIVE_INT, help="CPU threads (torch.set_num_threads)")
    add("--minutes", type=POSITIVE, help="stop after this many minutes (saved; the same command "
        "goes on)")
    add("--no-resume", action="store_true", help="start afresh even if -o exists")
    add("--init", help="start from this network's weights (a shipped name or a file), not "
        "random ones (used only when -o is not resumed)")
    say = "python -m nst_helpers.fast: error:"
    try:  # a bad flag or input: one line and exit 2, before any training
        args = parser.parse_args(argv)
        if args.threads:
            torch.set_num_threads(args.threads)
        device = pick_device(args.device)
        network_dtype(args.precision, device)
        photos = PhotoFolder(args.data or bundled_photos_dir())
        style_path = args.style if Path(args.style).exists() else example_image(args.style)
        style = load_image(style_path, args.style_size)
        network = load_network(args.init, device) if args.init is not None else None
        output = Path(args.output)
        if output.is_dir():
            raise ValueError(f"-o {output} is a folder; give a .pt file")
    except (UsageError, ValueError, ImageError, NetworkError) as err:
        print(f"{say} {err}", file=sys.stderr)
        return 2
    recipe = {"command": " ".join(["python -m nst_helpers.fast", *(argv or sys.argv[1:])]),
              "data": str(args.data) if args.data else "the photos bundled in images/",
              "photos": photos.names, "batch_size": args.batch_size, "size": args.size,
              "style": Path(style_path).name, "style_size": args.style_size,
              "style_weight": args.style_weight, "lr": args.lr, "seed": args.seed,
              **({"init": str(args.init)} if args.init else {})}
    print(f"{len(photos)} photos from {args.data or bundled_photos_dir()}; style "
          f"{Path(style_path).name}; device {device}; {torch.get_num_threads()} threads")
    try:
        result = training.train(
            photos, style, steps=args.steps, batch_size=args.batch_size, size=args.size,
            lr=args.lr, style_weight=args.style_weight, checkpoint=output,
            checkpoint_every=args.checkpoint_every, resume=not args.no_resume, seed=args.seed,
            precision=args.precision, device=device, recipe=recipe, max_minutes=args.minutes,
            network=network)
    except NetworkError as err:  # -o is not a checkpoint it can resume
        print(f"{say} {err}", file=sys.stderr)
        return 2
    except FloatingPointError as err:  # diverged
        print(f"{say} {err}", file=sys.stderr)
        return 4
    except (RuntimeError, MemoryError) as err:
        if not is_out_of_memory(err):
            raise
        print(f"{say} out of memory with {args.batch_size} crops of {args.size} px; lower "
              "--batch-size or --size and run the same command again (it resumes from the "
              "checkpoint)", file=sys.stderr)
        return 3
    ended = "stopped" if result.interrupted or result.out_of_time else "done"
    print(f"{ended} at step {result.steps} in {result.seconds:.0f} s; network in {output}")
    return 130 if result.interrupted else 0
