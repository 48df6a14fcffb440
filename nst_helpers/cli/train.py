"""``python -m nst_helpers.fast train``: train notebook 08's network from the command line
(the network and its training are :mod:`nst_helpers.fast`; the photos
:mod:`nst_helpers.io.photos`; the checkpoint :mod:`nst_helpers.io.networks`)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import torch

from ..io.photos import PhotoFolder, bundled_photos_dir

__all__ = ["main"]


def main(argv: Sequence[str] | None = None, *, train: Callable, style_weight: float,
         load_network: Callable) -> int:
    """``python -m nst_helpers.fast train ...``: train a network from the command line;
    returns the exit code, as ``nst``'s (0 done, 2 bad input, 3 out of memory, 4 the loss
    diverged, 130 interrupted; the checkpoint keeps the last good step in every case).
    ``train``, ``style_weight`` and ``load_network`` are :func:`nst_helpers.fast.train`, its
    default and :func:`nst_helpers.fast.load_network` (for ``--init``), passed in by
    ``nst_helpers.fast.main`` (the network's module runs its command line; this one does not
    import it back)."""

    parser = argparse.ArgumentParser(prog="python -m nst_helpers.fast",
                                     description="Train a network that paints in one pass.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("train", help="train a network on a folder of photos")
    p.add_argument("--style", required=True, help="the style image (a path or a bundled name)")
    p.add_argument("--data", default=None,
                   help="folder of training photos (default: the photos bundled in images/)")
    p.add_argument("-o", "--output", required=True, help="checkpoint to write (and resume)")
    p.add_argument("--steps", type=int, default=2000,
                   help="optimizer steps in all; a resumed run goes on up to this (default 2000)")
    p.add_argument("--batch-size", type=int, default=4, help="photo crops per step (default 4)")
    p.add_argument("--size", type=int, default=128, help="crop side in pixels (default 128)")
    p.add_argument("--style-size", type=int, default=256,
                   help="the style image's long side in pixels (default 256)")
    p.add_argument("--style-weight", type=float, default=style_weight,
                   help=f"weight of the style loss against the content loss (default "
                        f"{style_weight:g})")
    p.add_argument("--lr", type=float, default=1e-3, help="Adam's learning rate (default 0.001)")
    p.add_argument("--seed", type=int, default=0,
                   help="seeds the initial weights and the crops (default 0)")
    p.add_argument("--precision", choices=("auto", "fp32", "bf16", "fp16"), default="auto",
                   help="auto (default): bfloat16 where the CPU has it natively, else float32; "
                        "fp16: on a CUDA GPU, opt-in")
    p.add_argument("--device", default=None,
                   help="cpu, cuda, mps... (default: the best one here)")
    p.add_argument("--threads", type=int, default=None, help="CPU threads (torch.set_num_threads)")
    p.add_argument("--minutes", type=float, default=None,
                   help="stop after this many minutes even if --steps are not done (saved; "
                        "run the command again to go on)")
    p.add_argument("--checkpoint-every", type=int, default=100,
                   help="save the checkpoint every this many steps (default 100)")
    p.add_argument("--no-resume", action="store_true", help="start afresh even if -o exists")
    p.add_argument("--init", default=None,
                   help="start from this network's weights (a shipped name or a file), not "
                        "random ones: a new style learns faster from a network that already "
                        "keeps photos' content (used only when -o is not resumed)")
    args = parser.parse_args(argv)
    for name in ("steps", "batch_size", "size", "style_size", "checkpoint_every"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.minutes is not None and not args.minutes > 0:
        parser.error("--minutes must be more than 0")
    try:
        from ..io.images import ImageError, example_image, load_image
        from ..io.profiles import pick_device

        if args.threads:
            torch.set_num_threads(args.threads)
        device = pick_device(args.device)
        data = args.data or bundled_photos_dir()
        photos = PhotoFolder(data)
        style_path = args.style if Path(args.style).exists() else example_image(args.style)
        style = load_image(style_path, args.style_size)
        network = load_network(args.init, device) if args.init is not None else None
        recipe = {"command": " ".join(["python -m nst_helpers.fast", *(argv or sys.argv[1:])]),
                  "data": str(args.data) if args.data else "the photos bundled in images/",
                  "photos": photos.names, "batch_size": args.batch_size,
                  "size": args.size, "style": Path(style_path).name,
                  "style_size": args.style_size, "style_weight": args.style_weight,
                  "lr": args.lr, "seed": args.seed,
                  **({"init": str(args.init)} if args.init else {})}
        print(f"{len(photos)} photos from {data}; style {Path(style_path).name}; "
              f"device {device}; {torch.get_num_threads()} threads")
        result = train(photos, style, steps=args.steps, batch_size=args.batch_size,
                       size=args.size, lr=args.lr, style_weight=args.style_weight,
                       checkpoint=args.output, checkpoint_every=args.checkpoint_every,
                       resume=not args.no_resume, seed=args.seed, precision=args.precision,
                       device=device, recipe=recipe, max_minutes=args.minutes,
                       network=network)
    except (ValueError, ImageError, OSError) as err:  # bad input: one line, exit 2 as nst does
        print(f"python -m nst_helpers.fast: error: {err}", file=sys.stderr)
        return 2
    except FloatingPointError as err:  # the loss diverged; the checkpoint is the last good one
        print(f"python -m nst_helpers.fast: error: {err}", file=sys.stderr)
        return 4
    except (RuntimeError, MemoryError) as err:  # nst's test of what out of memory looks like
        from .report import is_out_of_memory

        if not is_out_of_memory(err):
            raise
        print(f"python -m nst_helpers.fast: error: out of memory with {args.batch_size} "
              f"crops of {args.size} px; lower --batch-size or --size and run the same command "
              "again (it resumes from the checkpoint)", file=sys.stderr)
        return 3
    ended = "stopped" if result.interrupted or result.out_of_time else "done"
    print(f"{ended} at step {result.steps} in {result.seconds:.0f} s; network in {args.output}")
    return 130 if result.interrupted else 0
