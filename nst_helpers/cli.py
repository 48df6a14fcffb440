"""The command line: ``python -m nst_helpers`` (also installed as ``nst``).

    nst photo.jpg painting.jpg                       # one style
    nst photo.jpg --style a.jpg b.jpg --style-blend 0.7 0.3
    nst photo.jpg painting.jpg --preserve-color luminance --style-scale 0.5
    nst photo.jpg painting.jpg --size 1024 --coarse-to-fine   # 128 -> 256 -> 512 -> 1024

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


def _positive_float(text: str) -> float:
    value = _non_negative_float(text)
    if value == 0:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    from .color import PRESERVE_COLOR
    from .multiscale import SMALLEST_SCALE
    from .transfer import DEFAULT_STYLE_WEIGHT, PRECISIONS
    from .vgg import CONTENT_LAYERS, STYLE_LAYERS, WEIGHTS

    p = _Parser(prog="nst", description="Neural style transfer (Gatys, Ecker and Bethge, 2015) "
                "with the original VGG19 weights. With no arguments, stylizes the bundled "
                f"example ({DEFAULT_CONTENT} in the style of {DEFAULT_STYLE}).")
    p.add_argument("content", nargs="?", help="content image: path or http(s) URL "
                   f"(default: the bundled {DEFAULT_CONTENT}.jpg)")
    p.add_argument("style", nargs="?", help="style image: path or http(s) URL "
                   f"(default: the bundled {DEFAULT_STYLE}.jpg)")
    p.add_argument("--style", dest="styles", nargs="+", metavar="STYLE",
                   help="one or more style images, instead of the STYLE argument (put the content "
                   "image first: nst photo.jpg --style a.jpg b.jpg)")
    p.add_argument("--style-blend", nargs="+", type=_non_negative_float, metavar="W",
                   help="one weight per style image, e.g. 0.7 0.3 (default: equal)")
    p.add_argument("--style-scale", type=_positive_float, default=1.0, metavar="S",
                   help="the style image's long side relative to the content's (default "
                   "%(default)g); it sets the size of the brush strokes: 0.5 smaller, 2 larger")
    p.add_argument("--preserve-color", choices=PRESERVE_COLOR, default="none",
                   help="keep the content's colours: luminance (transfer on luminance only, "
                   "then the content's colours) or histogram (match the style's colours to the "
                   "content's first); default none")
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
                   help="pooling in VGG19: max (VGG's own, default) or avg, which Gatys et al. "
                   "use: smoother, less speckled results")
    p.add_argument("--content-layers", nargs="+", metavar="LAYER",
                   default=list(CONTENT_LAYERS),
                   help="VGG19 layers for the content loss, in the paper's names (default: "
                   f"{' '.join(CONTENT_LAYERS)})")
    p.add_argument("--style-layers", nargs="+", metavar="LAYER", default=list(STYLE_LAYERS),
                   help=f"VGG19 layers for the style loss (default: {' '.join(STYLE_LAYERS)})")
    p.add_argument("--style-layer-weights", nargs="+", type=_non_negative_float, metavar="W",
                   help="one weight per style layer (default: 1 / number of layers each)")
    p.add_argument("--scales", nargs="+", type=_positive_int, metavar="PX",
                   help="coarse to fine: first run at these increasing long sides, each from "
                   "the last result upscaled, then at --size; --steps steps at every size "
                   "(e.g. --size 512 --scales 128 256)")
    p.add_argument("--coarse-to-fine", action="store_true",
                   help="coarse to fine with sizes picked for you: --size halved down to >= "
                   f"{SMALLEST_SCALE} px (1024 -> 128 256 512 1024)")
    p.add_argument("--optimizer", choices=("lbfgs", "adam"), default="lbfgs")
    p.add_argument("--lr", type=_non_negative_float, help="learning rate (default: 1 for "
                   "L-BFGS, 0.02 for Adam)")
    p.add_argument("--precision", choices=PRECISIONS, default="fp32",
                   help="precision VGG19 runs in: fp32 (default), bf16 (a CPU with AVX512-BF16 "
                        "or AMX: about twice as fast) or fp16 (a CUDA GPU); the Gram matrices, "
                        "losses and image stay fp32")
    p.add_argument("--tile", type=_positive_int, metavar="PX",
                   help="evaluate images larger than PX px a side in tiles of PX px (a "
                   "multiple of 16, e.g. 512): the same result in the memory of one tile, "
                   "about 2 to 2.5 times slower per step; for sizes that do not fit otherwise")
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
    from .memory import peak_rss_bytes

    peak = peak_rss_bytes()
    return round(peak / 2**20, 1) if peak else float("nan")


def _same_file(a: Path, b: str | None) -> bool:
    if b is None or b.startswith(("http://", "https://")):
        return False
    try:
        return a.resolve() == Path(b).resolve()
    except OSError:
        return False


def _check_controls(args, num_styles: int, size: int) -> str | None:
    """The first problem with the style, layer and scale options, as one line; None if fine."""
    from .transfer import check_style_blend
    from .vgg import layer_index

    if args.style_blend is not None:
        try:
            check_style_blend(args.style_blend, num_styles)
        except ValueError as err:
            return f"--style-blend: {err}"
    for flag, names in (("--content-layers", args.content_layers),
                        ("--style-layers", args.style_layers)):
        for name in names:
            try:
                layer_index(name)
            except ValueError as err:
                return f"{flag}: {err}"
        if len(set(names)) != len(names):
            return f"{flag}: a layer is named twice in {' '.join(names)}"
    weights = args.style_layer_weights
    if weights is not None:
        if len(weights) != len(args.style_layers):
            return (f"--style-layer-weights: {len(weights)} weights for {len(args.style_layers)} "
                    f"style layers ({' '.join(args.style_layers)}); give one weight per layer")
        if not any(weights):
            return "--style-layer-weights: all weights are 0; give at least one > 0"
    if args.tile is not None:
        from .tiles import check_tile

        try:
            check_tile(args.tile)
        except ValueError as err:
            return f"--tile: {err}"
    if args.scales and args.coarse_to_fine:
        return "--scales and --coarse-to-fine both given; use one (--coarse-to-fine picks scales)"
    if args.scales:
        if any(a >= b for a, b in zip(args.scales, args.scales[1:])) or args.scales[-1] >= size:
            return (f"--scales {' '.join(map(str, args.scales))}: give increasing sizes below "
                    f"--size {size}, e.g. --size 512 --scales 128 256")
        if args.scales[0] < 32:
            return f"--scales: {args.scales[0]} px is too small; VGG19 needs >= 32 px"
    return None


def _sizes(args, size: int) -> list[int]:
    """The long sides to run at, coarse to fine, ending at ``size``."""
    from .multiscale import coarse_to_fine_sizes

    if args.coarse_to_fine:
        return coarse_to_fine_sizes(size)
    return [*(args.scales or []), size]


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code (0, 2 or 130)."""
    try:
        args = build_parser().parse_args(argv)
    except _UsageError as err:
        return _fail(str(err))

    from .images import ImageError, example_image, load_image, save_image
    from .multiscale import style_at_scale, stylize_multiscale
    from .profiles import current_profile, pick_device
    from .transfer import autocast_dtype, stylize
    from .vgg import WeightsError

    try:
        device = pick_device(args.device)
    except ValueError as err:
        return _fail(str(err))
    try:
        autocast_dtype(args.precision, device)
    except ValueError as err:
        return _fail(f"--precision: {err}")
    profile = current_profile(device)
    size = args.size or profile.size
    steps = args.steps or profile.steps

    if args.style and args.styles:
        return _fail(f"two ways of giving the style: {args.style!r} and --style; give the style "
                     "images either as the second argument or after --style, not both")
    try:
        content_src = args.content or str(example_image(DEFAULT_CONTENT))
        style_srcs = args.styles or [args.style or str(example_image(DEFAULT_STYLE))]
    except ImageError as err:
        return _fail(str(err))
    problem = _check_controls(args, len(style_srcs), size)
    if problem:
        return _fail(problem)
    sizes = _sizes(args, size)

    if args.output:
        output = Path(args.output)
        for src in (content_src, *style_srcs):
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

    # Each image is loaded once, at the largest size needed; coarser scales are resized down.
    style_size = max(1, round(size * args.style_scale))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            content = load_image(content_src, size=size)
            styles = [load_image(src, size=style_size) for src in style_srcs]
            for style in styles:  # the smallest scale is where a style is smallest
                style_at_scale(style, sizes[0], args.style_scale)
        except ValueError as err:  # ImageError is a ValueError
            return _fail(f"--style-scale: {err}" if not isinstance(err, ImageError) else str(err))
    for w in caught:
        if issubclass(w.category, UserWarning):
            print(f"nst: note: {w.message}", file=sys.stderr)

    options = dict(style_weight=args.style_weight, content_weight=args.content_weight,
                   tv_weight=args.tv_weight, weights=args.weights, pooling=args.pooling,
                   optimizer=args.optimizer, lr=args.lr, init=args.init, seed=args.seed,
                   device=device, progress=not (args.quiet or args.json),
                   preserve_color=args.preserve_color, style_blend=args.style_blend,
                   content_layers=args.content_layers, style_layers=args.style_layers,
                   style_layer_weights=args.style_layer_weights, precision=args.precision,
                   tile=args.tile)
    total_steps = steps * len(sizes)
    try:
        if len(sizes) > 1:
            result = stylize_multiscale(content, styles, sizes=sizes, steps=steps,
                                        style_scale=args.style_scale, **options)
        else:
            result = stylize(content, styles, steps=steps, **options)
    except (WeightsError, ValueError) as err:  # ValueError: a combination the checks missed
        return _fail(str(err))
    except KeyboardInterrupt:  # before the optimisation started: nothing to keep
        print("nst: interrupted before the first step; nothing saved", file=sys.stderr)
        return 130

    try:
        save_image(result.image, output)
    except OSError as err:
        return _fail(f"could not write {output}: {err.strerror or err}; choose another -o path")

    if result.interrupted:
        print(f"nst: interrupted at step {result.steps} of {total_steps}; saved the best image "
              f"so far to {output}", file=sys.stderr)
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
        # The losses of the image written, not of the last one evaluated.
        "content_loss": result.final_losses.get("content"),
        "style_loss": result.final_losses.get("style"),
        "total_loss": result.final_losses.get("total"),
        "style_weight": args.style_weight,
        "content_weight": args.content_weight,
        "device": str(device),
        "weights": args.weights,
        "peak_memory_mb": _peak_memory_mb(device, result),
        "interrupted": result.interrupted,
        "stopped_reason": result.stopped_reason,
        "styles": [str(src) for src in style_srcs],
        "style_blend": args.style_blend,
        "style_scale": args.style_scale,
        "preserve_color": args.preserve_color,
        "pooling": args.pooling,
        "precision": args.precision,
        "scales": sizes,
        "tile": args.tile,
        "content_layers": args.content_layers,
        "style_layers": args.style_layers,
        "style_layer_weights": args.style_layer_weights,
    }
    if args.json:
        print(json.dumps(summary))
    elif not result.interrupted:
        print(f"wrote {output} ({summary['size'][0]}x{summary['size'][1]}, {result.steps} steps, "
              f"{result.seconds:.1f} s)")
    return 130 if result.interrupted else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
