"""The command line's arguments: the parser, its exit codes, and the checks that refuse a bad
argument in one line that names it (part of :mod:`nst_helpers.cli`).

Imports nothing of the package at module level, and nothing of the other ``cli`` modules.
Building and parsing the arguments imports no PyTorch either, so ``nst --help`` and
``nst --version`` answer in a fraction of a second: the defaults the help shows are read from
the modules' source (:func:`package_defaults`), not imported.
"""

from __future__ import annotations

import argparse
import ast
from pathlib import Path

__all__ = ["EXIT_CODES", "DEFAULT_CONTENT", "DEFAULT_STYLE", "UsageError", "build_parser",
           "check_controls", "run_sizes", "run_steps", "output_problem", "next_free"]

#: Every exit code ``nst`` uses, with what it means (also in ``nst --help`` and the README).
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

DEFAULT_CONTENT = "chelsea"
DEFAULT_STYLE = "starry_night"

#: The image types ``-o`` may name.
OUTPUT_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")


class UsageError(Exception):
    """A bad argument, as the one line ``nst`` prints."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, no usage dump
        raise UsageError(f"{message} (see nst --help)")


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


#: The package's constants the help shows, by the module (a path under ``nst_helpers/``) that
#: defines each: the one place each value is written.
HELP_DEFAULTS = {
    "color.py": ("PRESERVE_COLOR",),
    "loop.py": ("EARLY_STOP", "STOP_WINDOW"),
    "multiscale.py": ("SMALLEST_SCALE",),
    "transfer.py": ("DEFAULT_STYLE_WEIGHT",),
    "engine/precision.py": ("PRECISIONS",),
    "vgg.py": ("CONTENT_LAYERS", "POOLINGS", "STYLE_LAYERS", "WEIGHT_SETS"),
}


def package_defaults() -> dict[str, object]:
    """The constants of :data:`HELP_DEFAULTS`, read from the modules' source with
    :func:`ast.literal_eval` instead of imported: importing any of those modules imports
    PyTorch (seconds), which ``nst --help`` does not need. Each must be assigned a literal at
    module level; tests/test_cli.py checks that the values equal the imported ones."""
    package = Path(__file__).resolve().parent.parent
    values: dict[str, object] = {}
    for module, names in HELP_DEFAULTS.items():
        tree = ast.parse((package / module).read_text(encoding="utf-8"))
        for node in tree.body:
            target = node.target if isinstance(node, ast.AnnAssign) else \
                node.targets[0] if isinstance(node, ast.Assign) else None
            if isinstance(target, ast.Name) and target.id in names and node.value is not None:
                values[target.id] = ast.literal_eval(node.value)
        missing = set(names) - set(values)
        if missing:
            raise RuntimeError(f"nst_helpers/{module} assigns no literal {sorted(missing)}")
    return values


def build_parser() -> argparse.ArgumentParser:
    """The ``nst`` argument parser (imports no PyTorch; see :func:`package_defaults`)."""
    from .. import __version__

    d = package_defaults()
    PRESERVE_COLOR, EARLY_STOP, STOP_WINDOW = d["PRESERVE_COLOR"], d["EARLY_STOP"], d["STOP_WINDOW"]
    SMALLEST_SCALE, DEFAULT_STYLE_WEIGHT = d["SMALLEST_SCALE"], d["DEFAULT_STYLE_WEIGHT"]
    PRECISIONS, CONTENT_LAYERS, POOLINGS = d["PRECISIONS"], d["CONTENT_LAYERS"], d["POOLINGS"]
    STYLE_LAYERS, WEIGHT_SETS = d["STYLE_LAYERS"], d["WEIGHT_SETS"]

    epilog = "exit codes:\n" + "\n".join(f"  {code:<4} {text}" for code, text in
                                         EXIT_CODES.items())
    epilog += ("\n\nsignals: Ctrl-C (SIGINT) or SIGTERM saves the best image so far. Started "
               "with SIGINT ignored\n(nohup, a background job), nst keeps ignoring it; use "
               "SIGTERM (kill PID) to stop it.")
    p = _Parser(prog="nst", description="Neural style transfer (Gatys, Ecker and Bethge, 2015) "
                "with the VGG19 weights the paper used (8-bit quantised, bundled). With no "
                "arguments, stylizes the bundled "
                f"example ({DEFAULT_CONTENT} in the style of {DEFAULT_STYLE}) and says so.",
                epilog=epilog, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--version", action="version", version=f"nst {__version__}")
    p.add_argument("content", nargs="?", help="content image: path or http(s) URL "
                   f"(default, announced when used: the bundled {DEFAULT_CONTENT}.jpg, only "
                   "when no image at all is given); with --fast, also a folder of photos, "
                   "painted into the folder -o names")
    p.add_argument("style", nargs="?", help="style image: path or http(s) URL "
                   f"(default, announced when used: the bundled {DEFAULT_STYLE}.jpg)")
    p.add_argument("--style", dest="styles", nargs="+", metavar="STYLE",
                   help="one or more style images, instead of the STYLE argument (put the content "
                   "image first: nst photo.jpg --style a.jpg b.jpg)")
    p.add_argument("--style-blend", nargs="+", type=_non_negative_float, metavar="W",
                   help="one weight per style image: proportions, normalised to sum to 1 (1 1 is "
                   "0.5 0.5 and does not double the style weight; 7 3 is 0.7 0.3); default: "
                   "equal")
    p.add_argument("--style-scale", type=_positive_float, metavar="S",
                   help="the style image's long side relative to the content's (default "
                   "1); it sets the size of the brush strokes: 0.5 smaller, 2 larger")
    p.add_argument("--preserve-color", choices=PRESERVE_COLOR, default="none",
                   help="keep the content's colours: luminance (transfer on luminance only, "
                   "then the content's colours) or histogram (match the style's colours to the "
                   "content's first); default none")
    p.add_argument("-o", "--output", help="where to write the result (default: result.png, "
                   "or the next free result-N.png; an explicit path is overwritten)")
    p.add_argument("--size", type=_positive_int, help="long side of the result in px "
                   "(default: 512 on a GPU, 256 on a CPU, 64 with NST_QUICK=1)")
    p.add_argument("--steps", type=_positive_int, help="the most loss evaluations (with "
                   "--coarse-to-fine at the smallest size, then half as many, at least 50, at "
                   "each size up): a ceiling, the run ends sooner once the loss has stopped "
                   "falling (see --early-stop); default: 300 on a GPU, 150 on a CPU, 8 with "
                   "NST_QUICK=1")
    stop = p.add_mutually_exclusive_group()
    stop.add_argument("--early-stop", type=_non_negative_float, default=EARLY_STOP,
                      metavar="FRACTION",
                      help="end the run when its best loss fell by less than this fraction over "
                      f"the last {STOP_WINDOW} steps (default %(default)g; 0 runs every step)")
    stop.add_argument("--no-early-stop", dest="early_stop", action="store_const", const=0.0,
                      default=EARLY_STOP, help="run every step (the same as --early-stop 0)")
    p.add_argument("--style-weight", type=_non_negative_float, default=DEFAULT_STYLE_WEIGHT,
                   help="weight of the style loss (default %(default)g)")
    p.add_argument("--content-weight", type=_non_negative_float, default=1.0,
                   help="weight of the content loss (default %(default)g)")
    p.add_argument("--tv-weight", type=_non_negative_float, default=0.0,
                   help="weight of the total-variation smoothness loss (default %(default)g)")
    p.add_argument("--weights", choices=WEIGHT_SETS, default="original",
                   help="VGG19 weights: original (bundled, offline; default), torchvision "
                   "(548 MB download, cached) or random")
    p.add_argument("--pooling", choices=POOLINGS, default="max",
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
                   help="coarse to fine at sizes you choose: first run at these increasing long "
                   "sides, each from the last result upscaled, then at --size; up to --steps "
                   "steps at every size (e.g. --size 512 --scales 128 256)")
    p.add_argument("--coarse-to-fine", action="store_true",
                   help="coarse to fine with sizes and steps picked for you: --size halved "
                   f"down to >= {SMALLEST_SCALE} px (512 -> 128 256 512), up to --steps steps "
                   "at the smallest and half as many (at least 50) at each size up; faster to "
                   "a low loss, but larger structures that can paint over the content")
    p.add_argument("--optimizer", choices=("lbfgs", "adam"), default="lbfgs",
                   help="lbfgs (default: the paper's, fewest steps to a low loss) or adam (two "
                   "image-sized buffers instead of L-BFGS's history: less memory at large "
                   "sizes)")
    p.add_argument("--lr", type=_positive_float, help="learning rate, > 0 (default: 1 for "
                   "L-BFGS, 0.02 for Adam)")
    p.add_argument("--precision", choices=PRECISIONS, default="auto",
                   help="precision VGG19 runs in: auto (default: bf16 on a CPU that runs it "
                        "natively, else fp32; the run says which), fp32, bf16 (a CPU with "
                        "AVX512-BF16 or AMX: about 0.6x the time per step) or fp16 (a CUDA "
                        "GPU, opt-in: if it overflows, the run says so and goes on in fp32); "
                        "the Gram matrices, losses and image stay fp32")
    p.add_argument("--tile", type=_positive_int, metavar="PX",
                   help="evaluate images larger than PX px a side in tiles of PX px (a "
                   "multiple of 16, e.g. 512): the same result in the memory of one tile, "
                   "about 2 to 2.5 times slower per step; for sizes that do not fit otherwise")
    p.add_argument("--init", choices=("content", "noise"), default="content",
                   help="start from the content image or from noise (default content)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--device", help="cpu, cuda, cuda:N or mps (default: the best available)")
    p.add_argument("--fast", metavar="NETWORK",
                   help="stylize in one forward pass of a trained network instead of an "
                   "optimisation: a shipped name (starry_night, great_wave) or the path of a .pt "
                   "file from 'python -m nst_helpers.fast train'; --size defaults to the "
                   "size the network was trained at (512 px for the shipped ones)")
    p.add_argument("--json", action="store_true",
                   help="print one JSON object with the run's figures on stdout at the end "
                   "(its size is [width, height], as image files give it)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    return p


def check_controls(args, num_styles: int, size: int) -> str | None:
    """The first problem with the style, layer and scale options, as one line; None if fine."""
    from ..losses import check_style_blend
    from ..model import check_style_layer_weights
    from ..multiscale import check_sizes
    from ..vgg import layer_index

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
    try:
        check_style_layer_weights(args.style_layer_weights, args.style_layers)
    except ValueError as err:
        return f"--style-layer-weights: {err}"
    if args.tile is not None:
        from ..engine.tiles import check_tile

        try:
            check_tile(args.tile)
        except ValueError as err:
            return f"--tile: {err}"
    if args.scales and args.coarse_to_fine:
        return "--scales and --coarse-to-fine both given; use one (--coarse-to-fine picks scales)"
    if args.scales:
        try:
            check_sizes([*args.scales, size])
        except ValueError as err:
            return f"--scales {' '.join(map(str, args.scales))} with --size {size}: {err}"
    return None


def run_sizes(args, content, styles, style_scale: float) -> list[int]:
    """The long sides to run at, coarse to fine, ending at the content's (loaded at --size):
    ``--scales``, ``--coarse-to-fine`` (:func:`~nst_helpers.multiscale.auto_sizes`) or one."""
    from ..multiscale import auto_sizes

    size = max(content.shape[-2:])
    if args.coarse_to_fine:
        return auto_sizes(content, styles, style_scale)
    return [*(args.scales or []), size]


def run_steps(args, steps: int, count: int) -> list[int]:
    """The step ceiling at each of ``count`` sizes: with ``--coarse-to-fine`` its schedule
    (:func:`~nst_helpers.multiscale.coarse_to_fine_steps`), else ``steps`` at each."""
    from ..multiscale import coarse_to_fine_steps

    if args.coarse_to_fine:
        return coarse_to_fine_steps(steps, count)
    return [steps] * count


def output_problem(output: Path, sources) -> str | None:
    """What is wrong with ``-o output`` given the input images ``sources``, as one line; None
    if fine."""
    for src in sources:
        if _same_file(output, src):
            return f"-o: output {output} is one of the input images; choose another -o path"
    if output.suffix.lower() not in OUTPUT_SUFFIXES:
        return f"-o: output {output}: unknown image type {output.suffix!r}; use .png or .jpg"
    return None


def next_free(path: Path) -> Path:
    """``path``, or the first of ``stem-2``, ``stem-3``... that does not exist yet."""
    if not path.exists():
        return path
    n = 2
    while True:
        candidate = path.with_name(f"{path.stem}-{n}{path.suffix}")
        if not candidate.exists():
            return candidate
        n += 1


def _same_file(a: Path, b: str | None) -> bool:
    if b is None or b.startswith(("http://", "https://")):
        return False
    try:
        return a.resolve() == Path(b).resolve()
    except OSError:
        return False


def load_noting(src: str, size: int | None):
    """``load_image(src, size)`` and, if it had to upscale a side to VGG19's least, its
    warning's text (a note to print in one line), else None. Raises what ``load_image``
    raises."""
    import warnings

    from ..io.images import load_image

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        image = load_image(src, size=size)
    notes = [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
    return image, (notes[0] if notes else None)
