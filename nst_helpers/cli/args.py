"""The ``nst`` arguments: the parser, the exit codes, and the checks that refuse a bad argument
in one line that names it.

Imports no PyTorch, so ``nst --help`` answers at once. The defaults and choices below are the
command's own contract; tests/test_layout.py checks that they equal the package's constants.
"""

from __future__ import annotations

import argparse
from pathlib import Path

#: Every exit code ``nst`` uses (also in ``nst --help`` and docs/package.md).
EXIT_CODES = {
    0: "done: the result is written",
    1: "an unexpected error (a bug: please report it with the traceback)",
    2: "bad input: one line on stderr names the argument at fault; nothing is written",
    3: "out of memory: one line says which of --size, --tile or --device would help; the best "
       "image so far, if any, is saved",
    4: "the run diverged (the loss became NaN or infinite); the last good image is saved",
    130: "interrupted by Ctrl-C (SIGINT); the best image so far is saved",
    143: "terminated by SIGTERM (timeout, a scheduler, kill); the best image so far is saved",
}

DEFAULT_CONTENT, DEFAULT_STYLE = "chelsea", "starry_night"
OUTPUT_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")

#: The package's constants as the command shows them, by the module that defines each.
CHOICES = {
    "color.PRESERVE_COLOR": ("none", "luminance", "histogram"),
    "engine.precision.PRECISIONS": ("auto", "fp32", "bf16", "fp16"),
    "vgg.POOLINGS": ("max", "avg"),
    "vgg.WEIGHT_SETS": ("original", "torchvision", "random"),
    "vgg.CONTENT_LAYERS": ("relu4_2",),
    "vgg.STYLE_LAYERS": ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"),
    "transfer.DEFAULT_STYLE_WEIGHT": 20.0,
    "loop.EARLY_STOP": 0.01,
    "loop.STOP_WINDOW": 20,
    "multiscale.SMALLEST_SCALE": 128,
}


class UsageError(Exception):
    """A bad argument, as the one line ``nst`` prints, and its exit code (2; 3: out of memory)."""

    def __init__(self, message: str, code: int = 2):
        super().__init__(message)
        self.code = code


def refuse(flag: str, call, *args, errors=ValueError):
    """``call(*args)``, with ``errors`` turned into the one line ``flag: why``."""
    try:
        return call(*args)
    except errors as err:
        raise UsageError(f"{flag}: {err}" if flag else str(err)) from None


class Parser(argparse.ArgumentParser):
    """An argument parser whose errors are the one line of a :class:`UsageError`."""

    def error(self, message: str):  # one line, no usage dump
        raise UsageError(f"{message} (see {self.prog} --help)")


def number(kind=float, least: float = 0, above: bool = False):
    """An argparse type: a finite ``kind`` >= ``least`` (> ``least`` if ``above``)."""
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            what = "a whole number" if kind is int else "a number"
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        if not (value > least if above else value >= least) or value == float("inf"):
            what = "a whole number" if kind is int else "a finite number"
            raise argparse.ArgumentTypeError(f"expected {what} {'>' if above else '>='} "
                                             f"{least:g}, got {text}")
        return value
    return parse


POSITIVE_INT, WEIGHT, POSITIVE = number(int, 0, True), number(), number(above=True)


def build_parser() -> argparse.ArgumentParser:
    """The ``nst`` argument parser."""
    from .. import __version__

    c = {key.rsplit(".", 1)[1]: value for key, value in CHOICES.items()}
    epilog = "exit codes:\n" + "\n".join(f"  {k:<4} {v}" for k, v in EXIT_CODES.items())
    epilog += ("\n\nsignals: Ctrl-C (SIGINT) or SIGTERM saves the best image so far. Started "
               "with SIGINT ignored\n(nohup, a background job), nst keeps ignoring it; use "
               "SIGTERM (kill PID) to stop it.")
    p = Parser(prog="nst", epilog=epilog, formatter_class=argparse.RawDescriptionHelpFormatter,
               description="Neural style transfer (Gatys, Ecker and Bethge, 2015) with the "
               "VGG19 weights the paper used (8-bit quantised, bundled). With no arguments, "
               f"stylizes the bundled example ({DEFAULT_CONTENT} in the style of "
               f"{DEFAULT_STYLE}) and says so.")
    add = p.add_argument
    add("--version", action="version", version=f"nst {__version__}")
    add("content", nargs="?", help="content image: path or http(s) URL (default, announced: "
        f"the bundled {DEFAULT_CONTENT}.jpg, only when no image is given); with --fast, also "
        "a folder of photos, painted into the folder -o names")
    add("style", nargs="?", help="style image: path or http(s) URL (default, announced: the "
        f"bundled {DEFAULT_STYLE}.jpg)")
    add("--style", dest="styles", nargs="+", metavar="STYLE", help="one or more style images, "
        "instead of STYLE (content first: nst photo.jpg --style a.jpg b.jpg)")
    add("--style-blend", nargs="+", type=WEIGHT, metavar="W", help="one weight per style "
        "image, as proportions (1 1 is 0.5 0.5; 7 3 is 0.7 0.3); default: equal")
    add("--style-scale", type=POSITIVE, metavar="S", help="the style image's long side "
        "relative to the content's (default 1): the size of the brush strokes")
    add("--preserve-color", choices=c["PRESERVE_COLOR"], default="none", help="keep the "
        "content's colours: luminance (transfer on luminance only) or histogram (match the "
        "style's colours to the content's first); default none")
    add("-o", "--output", help="where to write the result (default: result.png, or the next "
        "free result-N.png; an explicit path is overwritten)")
    add("--size", type=POSITIVE_INT, help="long side of the result in px (default: the "
        "device profile's; NST_QUICK=1 for the quick one)")
    add("--steps", type=POSITIVE_INT, help="the most loss evaluations, a ceiling (default: the "
        "device profile's); with --coarse-to-fine at the smallest size, half as many (at "
        "least 50) at each size up")
    stop = p.add_mutually_exclusive_group()
    stop.add_argument("--early-stop", type=WEIGHT, default=c["EARLY_STOP"], metavar="FRACTION",
                      help="end the run when its best loss fell by less than this fraction "
                      f"over the last {c['STOP_WINDOW']} steps (default %(default)g; 0: off)")
    stop.add_argument("--no-early-stop", dest="early_stop", action="store_const", const=0.0,
                      help="run every step (the same as --early-stop 0)")
    add("--style-weight", type=WEIGHT, default=c["DEFAULT_STYLE_WEIGHT"],
        help="weight of the style loss (default %(default)g)")
    add("--content-weight", type=WEIGHT, default=1.0, help="weight of the content loss "
        "(default %(default)g)")
    add("--tv-weight", type=WEIGHT, default=0.0, help="weight of the total-variation "
        "smoothness loss (default %(default)g)")
    add("--weights", choices=c["WEIGHT_SETS"], default="original", help="VGG19 weights: "
        "original (bundled, offline; default), torchvision (a download, cached) or random")
    add("--pooling", choices=c["POOLINGS"], default="max", help="pooling in VGG19: max "
        "(default) or avg, as Gatys et al. use: smoother results")
    add("--content-layers", nargs="+", metavar="LAYER", default=list(c["CONTENT_LAYERS"]),
        help=f"VGG19 layers for the content loss (default: {' '.join(c['CONTENT_LAYERS'])})")
    add("--style-layers", nargs="+", metavar="LAYER", default=list(c["STYLE_LAYERS"]),
        help=f"VGG19 layers for the style loss (default: {' '.join(c['STYLE_LAYERS'])})")
    add("--style-layer-weights", nargs="+", type=WEIGHT, metavar="W", help="one weight per "
        "style layer (default: 1 / number of layers each)")
    add("--scales", nargs="+", type=POSITIVE_INT, metavar="PX", help="coarse to fine: first "
        "run at these increasing long sides, each from the last result upscaled, then at "
        "--size (e.g. --size 512 --scales 128 256)")
    add("--coarse-to-fine", action="store_true", help="coarse to fine with sizes picked for "
        f"you: --size halved down to >= {c['SMALLEST_SCALE']} px (512 -> 128 256 512)")
    add("--optimizer", choices=("lbfgs", "adam"), default="lbfgs", help="lbfgs (default: the "
        "paper's) or adam (less memory at large sizes)")
    add("--lr", type=POSITIVE, help="learning rate, > 0 (default: 1 for L-BFGS, 0.02 for Adam)")
    add("--precision", choices=c["PRECISIONS"], default="auto", help="precision VGG19 runs in: "
        "auto (default: bf16 on a CPU that runs it natively, fp16 for --fast on CUDA, else "
        "fp32; the run says which), fp32, bf16 or fp16 (a CUDA GPU)")
    add("--tile", type=POSITIVE_INT, metavar="PX", help="evaluate images larger than PX px a "
        "side in tiles of PX px (a multiple of 16): the same result in less memory, slower")
    add("--init", choices=("content", "noise"), default="content", help="start from the "
        "content image or from noise (default content)")
    add("--seed", type=int, default=0, help="random seed (default 0)")
    add("--device", help="cpu, cuda, cuda:N or mps (default: the best available)")
    add("--fast", metavar="NETWORK", help="paint in one forward pass of a trained network "
        "instead: a shipped name (starry_night, great_wave) or a .pt file from 'python -m "
        "nst_helpers.cli.train'; --size defaults to the size it was trained at")
    add("--json", action="store_true", help="print one JSON object with the run's figures on "
        "stdout at the end (its size is [width, height])")
    add("-q", "--quiet", action="store_true", help="no progress bar")
    return p


def check_controls(args, num_styles: int, size: int) -> None:
    """Refuse the first bad style, layer, tile or scale option in one line naming its flag;
    each check is the package's own."""
    from ..engine.tiles import check_tile
    from ..losses import check_style_blend
    from ..model import check_style_layer_weights
    from ..multiscale import check_sizes
    from ..vgg import check_layers

    if args.scales and args.coarse_to_fine:
        raise UsageError("--scales and --coarse-to-fine both given; use one (--coarse-to-fine "
                         "picks scales)")
    refuse("--style-blend", check_style_blend, args.style_blend, num_styles)
    refuse("--content-layers", check_layers, args.content_layers)
    refuse("--style-layers", check_layers, args.style_layers)
    refuse("--style-layer-weights", check_style_layer_weights, args.style_layer_weights,
           args.style_layers)
    refuse("--tile", check_tile, args.tile)
    if args.scales:
        refuse(f"--scales {' '.join(map(str, args.scales))} with --size {size}", check_sizes,
               [*args.scales, size])


def check_output(output: Path, sources) -> None:
    """Refuse ``-o output`` if it is one of the input paths ``sources`` or not an image type."""
    for src in sources:
        if src and not src.startswith(("http://", "https://")) and \
                output.resolve() == Path(src).resolve():
            raise UsageError(f"-o: output {output} is one of the input images; choose another "
                             "-o path")
    if output.suffix.lower() not in OUTPUT_SUFFIXES:
        raise UsageError(f"-o: output {output}: unknown image type {output.suffix!r}; use .png "
                         "or .jpg")


def next_free(path: Path) -> Path:
    """``path``, or the first of ``stem-2``, ``stem-3``... that does not exist yet."""
    n = 1
    candidate = path
    while candidate.exists():
        n += 1
        candidate = path.with_name(f"{path.stem}-{n}{path.suffix}")
    return candidate


def write(image, output: Path, make_folder: bool = False) -> None:
    """Save ``image`` ``(1, 3, H, W)`` to ``output`` (making its folder if ``make_folder``); a
    file that cannot be written is the one line ``-o: could not write ...``."""
    from ..io.images import save_image

    try:
        if make_folder:
            output.parent.mkdir(parents=True, exist_ok=True)
        save_image(image, output)
    except OSError as err:
        raise UsageError(f"-o: could not write {output}: {err.strerror or err}; choose another "
                         "-o path") from None


def load_noting(src: str, size: int | None):
    """``(load_image(src, size), note)``: the note is the loader's warning, if it had to upscale
    a side to VGG19's least, as a line to print; else None."""
    import warnings

    from ..io.images import load_image

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        image = load_image(src, size=size)
    notes = [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
    return image, (notes[0] if notes else None)
