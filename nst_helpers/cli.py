"""The command line: ``python -m nst_helpers`` (also installed as ``nst``).

Exit codes: 0 done, 2 bad input (one line on stderr), 130 interrupted by
Ctrl-C (the best image so far is saved first).
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path

__all__ = ["main", "build_parser"]

DEFAULT_CONTENT = "chelsea"
DEFAULT_STYLE = "swirls"


class _UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, no usage dump
        raise _UsageError(f"{message} (see nst --help)")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {value}")
    return value


def _non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a finite number >= 0, got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    from .transfer import DEFAULT_STYLE_WEIGHT
    from .vgg import WEIGHTS

    p = _Parser(prog="nst", description="Neural style transfer (Gatys, Ecker and Bethge, 2015) "
                "with the original VGG19 weights. With no arguments, stylizes the bundled "
                f"example ({DEFAULT_CONTENT} in the style of {DEFAULT_STYLE}).")
    p.add_argument("content", nargs="?", help="content image: path or http(s) URL "
                   f"(default: the bundled {DEFAULT_CONTENT}.jpg)")
    p.add_argument("style", nargs="?", help="style image: path or http(s) URL "
                   f"(default: the bundled {DEFAULT_STYLE}.jpg)")
    p.add_argument("-o", "--output", help="where to write the result (default: result.png, "
                   "or the next free result-N.png; an explicit path is overwritten)")
    p.add_argument("--size", type=_positive_int, help="long side of the result in px "
                   "(default: 512 on a GPU, 256 on a CPU, 64 with NST_QUICK=1)")
    p.add_argument("--steps", type=_positive_int, help="loss evaluations (default: 300 on a "
                   "GPU, 150 on a CPU, 8 with NST_QUICK=1)")
    p.add_argument("--style-weight", type=_non_negative_float, default=DEFAULT_STYLE_WEIGHT,
                   help="weight of the style loss (default %(default)g)")
    p.add_argument("--content-weight", type=_non_negative_float, default=1.0,
                   help="weight of the content loss (default %(default)g)")
    p.add_argument("--tv-weight", type=_non_negative_float, default=0.0,
                   help="weight of the total-variation smoothness loss (default %(default)g)")
    p.add_argument("--weights", choices=WEIGHTS, default="original",
                   help="VGG19 weights: original (bundled, offline; default), torchvision "
                   "(548 MB download, cached) or random")
    p.add_argument("--pooling", choices=("max", "avg"), default="max",
                   help="pooling in VGG19 (default max; the paper prefers avg)")
    p.add_argument("--optimizer", choices=("lbfgs", "adam"), default="lbfgs")
    p.add_argument("--lr", type=_non_negative_float, help="learning rate (default: 1 for "
                   "L-BFGS, 0.02 for Adam)")
    p.add_argument("--init", choices=("content", "noise"), default="content",
                   help="start from the content image or from noise (default content)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--device", help="cpu, cuda, cuda:N or mps (default: the best available)")
    p.add_argument("--json", action="store_true",
                   help="print one JSON object with the run's figures on stdout at the end")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    return p


def _fail(message: str, code: int = 2):
    print(f"nst: error: {message}", file=sys.stderr)
    return code


def _next_free(path: Path) -> Path:
    if not path.exists():
        return path
    n = 2
    while True:
        candidate = path.with_name(f"{path.stem}-{n}{path.suffix}")
        if not candidate.exists():
            return candidate
        n += 1


def _peak_memory_mb(device, result) -> float:
    if result.peak_memory_mb is not None:
        return round(result.peak_memory_mb, 1)
    try:
        import resource

        kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kilobytes on Linux
        return round(kb / (2**20 if sys.platform == "darwin" else 1024), 1)
    except ImportError:  # Windows
        return float("nan")


def _same_file(a: Path, b: str | None) -> bool:
    if b is None or b.startswith(("http://", "https://")):
        return False
    try:
        return a.resolve() == Path(b).resolve()
    except OSError:
        return False


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code (0, 2 or 130)."""
    try:
        args = build_parser().parse_args(argv)
    except _UsageError as err:
        return _fail(str(err))

    from .images import ImageError, example_image, load_image, save_image
    from .profiles import current_profile, pick_device
    from .transfer import stylize
    from .vgg import WeightsError

    try:
        device = pick_device(args.device)
    except ValueError as err:
        return _fail(str(err))
    profile = current_profile(device)
    size = args.size or profile.size
    steps = args.steps or profile.steps

    try:
        content_src = args.content or str(example_image(DEFAULT_CONTENT))
        style_src = args.style or str(example_image(DEFAULT_STYLE))
    except ImageError as err:
        return _fail(str(err))

    if args.output:
        output = Path(args.output)
        for src in (content_src, style_src):
            if _same_file(output, src):
                return _fail(f"output {output} is one of the input images; choose another "
                             "-o path")
        if output.suffix.lower() not in (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif",
                                         ".tiff"):
            return _fail(f"output {output}: unknown image type {output.suffix!r}; "
                         "use .png or .jpg")
    else:
        output = _next_free(Path("result.png"))
        if output.name != "result.png" and not args.json:
            print(f"nst: result.png exists; writing {output} instead", file=sys.stderr)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            content = load_image(content_src, size=size)
            style = load_image(style_src, size=size)
        except ImageError as err:
            return _fail(str(err))
    for w in caught:
        if issubclass(w.category, UserWarning):
            print(f"nst: note: {w.message}", file=sys.stderr)

    try:
        result = stylize(content, style, steps=steps, style_weight=args.style_weight,
                         content_weight=args.content_weight, tv_weight=args.tv_weight,
                         weights=args.weights, pooling=args.pooling, optimizer=args.optimizer,
                         lr=args.lr, init=args.init, seed=args.seed, device=device,
                         progress=not (args.quiet or args.json))
    except WeightsError as err:
        return _fail(str(err))
    except KeyboardInterrupt:  # before the optimisation started: nothing to keep
        print("nst: interrupted before the first step; nothing saved", file=sys.stderr)
        return 130

    try:
        save_image(result.image, output)
    except OSError as err:
        return _fail(f"could not write {output}: {err.strerror or err}; choose another -o path")

    if result.interrupted:
        print(f"nst: interrupted at step {result.steps} of {steps}; saved the best image so far "
              f"to {output}", file=sys.stderr)
    elif result.stopped_reason:
        print(f"nst: stopped early: {result.stopped_reason}; saved to {output}", file=sys.stderr)

    history = result.history
    summary = {
        "output": str(output),
        "size": [int(result.image.shape[-1]), int(result.image.shape[-2])],
        "steps": result.steps,
        "seconds": round(result.seconds, 3),
        "seconds_per_step": round(result.seconds_per_step, 4),
        "initial_content_loss": history["content"][0] if history["content"] else None,
        "initial_style_loss": history["style"][0] if history["style"] else None,
        "content_loss": history["content"][-1] if history["content"] else None,
        "style_loss": history["style"][-1] if history["style"] else None,
        "total_loss": history["total"][-1] if history["total"] else None,
        "style_weight": args.style_weight,
        "content_weight": args.content_weight,
        "device": str(device),
        "weights": args.weights,
        "peak_memory_mb": _peak_memory_mb(device, result),
        "interrupted": result.interrupted,
        "stopped_reason": result.stopped_reason,
    }
    if args.json:
        print(json.dumps(summary))
    elif not result.interrupted:
        print(f"wrote {output} ({summary['size'][0]}x{summary['size'][1]}, {result.steps} steps, "
              f"{result.seconds:.1f} s)")
    return 130 if result.interrupted else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
