"""The training command (notebook 08): ``python -m nst_helpers.cli.train --style starry_night
--data photos/ -o mine.pt`` trains a network that paints in one pass with
:func:`nst_helpers.training.train`. Every flag is used as given or refused in one line (exit
2); the checkpoint keeps the last good step whatever happens, and the same command run again
resumes from it. Exit codes: 0 done, 2 bad input, 3 out of memory, 4 diverged, 130
interrupted.
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Sequence
from pathlib import Path

from .args import POSITIVE, POSITIVE_INT, WEIGHT, Parser, UsageError
from .run import is_out_of_memory

__all__ = ["main", "PROG"]

#: How the command is run, as its help, its error lines and a checkpoint's recipe say it.
PROG = "python -m nst_helpers.cli.train"


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m nst_helpers.cli.train ...``: :func:`~nst_helpers.training.train` from the
    command line. Returns the exit code (0 done, 2 bad input, 3 out of memory, 4 diverged, 130
    interrupted); the checkpoint keeps the last good step in every case."""
    import torch

    from .. import training
    from ..engine.precision import PRECISIONS
    from ..fast import load_network, network_dtype
    from ..io.images import ImageError, example_image, load_image
    from ..io.networks import NetworkError
    from ..io.photos import PhotoFolder, bundled_photos_dir
    from ..io.profiles import pick_device

    # train()'s defaults, read from it (training.train: a test may put another in its place)
    d = {k: v.default for k, v in inspect.signature(training.train).parameters.items()}
    d["style_size"] = 256
    parser = Parser(prog=PROG, description="Train a network that paints in one pass on a "
                    "folder of photos (notebook 08); use it with nst photo.jpg --fast "
                    "NETWORK.pt.", epilog="exit codes: 0 done, 2 bad input, 3 out of memory, "
                    "4 the loss diverged, 130 interrupted; the checkpoint keeps the last good "
                    "step, and the same command run again resumes from it.")
    add = parser.add_argument
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
    say = f"{PROG}: error:"
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
    recipe = {"command": " ".join([PROG, *map(str, argv or sys.argv[1:])]),
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


if __name__ == "__main__":
    raise SystemExit(main())
