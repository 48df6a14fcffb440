"""The command line: ``python -m nst_helpers`` (also installed as ``nst``).

    nst photo.jpg painting.jpg                       # one style
    nst photo.jpg --style a.jpg b.jpg --style-blend 0.7 0.3
    nst photo.jpg painting.jpg --preserve-color luminance --style-scale 0.5
    nst photo.jpg painting.jpg --size 1024 --coarse-to-fine   # 128 -> 256 -> 512 -> 1024

It never guesses: every argument is used as given or refused (exit 2, one line naming the
flag), and a bundled default image is announced when it is used. Exit codes: see
:data:`EXIT_CODES` (also printed by ``nst --help``).

Signals: Ctrl-C (SIGINT) and SIGTERM (what ``timeout``, schedulers and ``kill`` send) stop
the run, save the best image so far and exit 130 / 143. A process started with SIGINT
ignored (``nohup``, or a background job of a non-interactive shell) keeps ignoring it, as
``nohup`` users expect; SIGTERM still stops it the same way.
"""

from __future__ import annotations

import argparse
import json
import math
import signal
import sys
import warnings
from pathlib import Path

__all__ = ["main", "build_parser", "EXIT_CODES"]

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
    from . import __version__
    from .color import PRESERVE_COLOR
    from .multiscale import SMALLEST_SCALE
    from .transfer import DEFAULT_STYLE_WEIGHT, PRECISIONS
    from .vgg import CONTENT_LAYERS, POOLINGS, STYLE_LAYERS, WEIGHT_SETS

    epilog = "exit codes:\n" + "\n".join(f"  {code:<4} {text}" for code, text in
                                         EXIT_CODES.items())
    epilog += ("\n\nsignals: Ctrl-C (SIGINT) or SIGTERM saves the best image so far. Started "
               "with SIGINT ignored\n(nohup, a background job), nst keeps ignoring it; use "
               "SIGTERM (kill PID) to stop it.")
    p = _Parser(prog="nst", description="Neural style transfer (Gatys, Ecker and Bethge, 2015) "
                "with the original VGG19 weights. With no arguments, stylizes the bundled "
                f"example ({DEFAULT_CONTENT} in the style of {DEFAULT_STYLE}) and says so.",
                epilog=epilog, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--version", action="version", version=f"nst {__version__}")
    p.add_argument("content", nargs="?", help="content image: path or http(s) URL "
                   f"(default, announced when used: the bundled {DEFAULT_CONTENT}.jpg, only "
                   "when no image at all is given)")
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
    p.add_argument("--steps", type=_positive_int, help="loss evaluations (default: 300 on a "
                   "GPU, 150 on a CPU, 8 with NST_QUICK=1)")
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
                   help="coarse to fine: first run at these increasing long sides, each from "
                   "the last result upscaled, then at --size; --steps steps at every size "
                   "(e.g. --size 512 --scales 128 256)")
    p.add_argument("--coarse-to-fine", action="store_true",
                   help="coarse to fine with sizes picked for you: --size halved down to >= "
                   f"{SMALLEST_SCALE} px (1024 -> 128 256 512 1024)")
    p.add_argument("--optimizer", choices=("lbfgs", "adam"), default="lbfgs")
    p.add_argument("--lr", type=_positive_float, help="learning rate, > 0 (default: 1 for "
                   "L-BFGS, 0.02 for Adam)")
    p.add_argument("--precision", choices=PRECISIONS, default="fp32",
                   help="precision VGG19 runs in: fp32 (default, also on a GPU), bf16 (a CPU with "
                        "AVX512-BF16 or AMX: about twice as fast) or fp16 (a CUDA GPU, opt-in: "
                        "if it overflows, the run says so and goes on in fp32); the Gram "
                        "matrices, losses and image stay fp32")
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
    from .multiscale import check_sizes
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
    layer_weights = args.style_layer_weights
    if layer_weights is not None:
        if len(layer_weights) != len(args.style_layers):
            return (f"--style-layer-weights: {len(layer_weights)} weights for "
                    f"{len(args.style_layers)} style layers ({' '.join(args.style_layers)}); "
                    "give one weight per layer")
        if not any(layer_weights):
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
        try:
            check_sizes([*args.scales, size])
        except ValueError as err:
            return f"--scales {' '.join(map(str, args.scales))} with --size {size}: {err}"
    return None


def _sizes(args, size: int) -> list[int]:
    """The long sides to run at, coarse to fine, ending at ``size``."""
    from .multiscale import coarse_to_fine_sizes

    if args.coarse_to_fine:
        return coarse_to_fine_sizes(size)
    return [*(args.scales or []), size]


class _Terminated(KeyboardInterrupt):
    """SIGTERM, raised where Ctrl-C raises KeyboardInterrupt, so it stops a run the same way:
    ``stylize`` catches it and returns the best image so far."""


class _Run:
    """What the command has done so far: for the handlers of a signal, an error or ``--json``."""

    def __init__(self, json_out: bool):
        self.json = json_out
        self.signal: str | None = None  # "SIGTERM" once one arrived (Ctrl-C leaves it None)
        self.stage = "while starting"  # what it was doing: for the one line an interrupt prints
        self.output: Path | None = None  # where the result goes
        self.saved: Path | None = None  # written
        self.best = None  # (long side, loss, image): the best image a step has shown so far
        self.preserve_luminance_of = None  # the content, when colours are put back at the end
        self.error: str | None = None
        self.printed_json = False

    def fail(self, message: str, code: int = 2) -> int:
        self.error = message
        print(f"nst: error: {message}", file=sys.stderr)
        return code

    def note(self, message: str) -> None:
        print(f"nst: {message}", file=sys.stderr)

    def track(self, step, image, losses) -> None:
        """``stylize``'s callback: keep the best image seen at the largest size so far."""
        side, loss = max(image.shape[-2:]), losses["total"]
        if not math.isfinite(loss):
            return
        if self.best is None or side > self.best[0] or (side == self.best[0]
                                                        and loss < self.best[1]):
            self.best = (side, loss, image)

    def save_partial(self) -> Path | None:
        """Save the best image a step has shown, if any and nothing is saved yet."""
        if self.saved is not None or self.best is None or self.output is None:
            return None
        from .images import resize_to, save_image

        image = self.best[2].detach().float().cpu().clamp(0, 1)
        if self.preserve_luminance_of is not None:  # a grey luminance image: colours back
            from .color import combine_luminance_chroma

            image = combine_luminance_chroma(
                image, resize_to(self.preserve_luminance_of, image.shape[-2:]))
        try:
            save_image(image, self.output)
        except OSError:
            return None
        self.saved = self.output
        return self.saved


def _signal_handlers(run: _Run) -> dict:
    """SIGTERM raises :class:`_Terminated` (unless it was ignored when nst started). SIGINT is
    left as Python set it: KeyboardInterrupt, or ignored if nst was started with it ignored."""

    def on_sigterm(signum, frame):
        run.signal = "SIGTERM"
        raise _Terminated

    previous = {}
    try:
        if signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
            previous[signal.SIGTERM] = signal.signal(signal.SIGTERM, on_sigterm)
    except ValueError:  # main() called from a thread other than the main one: leave signals be
        pass
    return previous


def _finite(value):
    """``value`` with every NaN or infinity replaced by None: JSON has neither."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def _print_json(run: _Run, report: dict) -> None:
    print(json.dumps(_finite(report), allow_nan=False), flush=True)
    run.printed_json = True


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code (see :data:`EXIT_CODES`)."""
    argv = sys.argv[1:] if argv is None else [str(a) for a in argv]
    run = _Run(json_out="--json" in argv)
    previous = _signal_handlers(run)
    try:
        try:
            code = _main(argv, run)
        except KeyboardInterrupt:  # Ctrl-C or SIGTERM outside the optimisation
            code = _interrupted(run)
        if run.json and not run.printed_json:
            _print_json(run, {"error": run.error, "exit_code": code,
                              "output": str(run.saved) if run.saved else None,
                              "interrupted": code in (130, 143)})
    except KeyboardInterrupt:  # a second one while saying so: stop quietly
        code = 143 if run.signal == "SIGTERM" else 130
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return code


def _interrupted(run: _Run) -> int:
    what = "terminated by SIGTERM" if run.signal == "SIGTERM" else "interrupted"
    code = 143 if run.signal == "SIGTERM" else 130
    if run.saved is not None:
        run.note(f"{what}; {run.saved} was written before")
    elif run.save_partial() is not None:
        run.note(f"{what} {run.stage}; saved the best image so far to {run.saved}")
    else:
        run.note(f"{what} {run.stage}; nothing saved")
    return code


def _is_out_of_memory(err: BaseException) -> bool:
    if isinstance(err, MemoryError):
        return True
    import torch

    if isinstance(err, torch.cuda.OutOfMemoryError):
        return True
    text = str(err)
    return isinstance(err, RuntimeError) and (
        "out of memory" in text.lower() or "can't allocate memory" in text
        or "DefaultCPUAllocator" in text)


def _out_of_memory_advice(device, size: int, tile: int | None) -> str:
    """One line: which of --tile, --size or the device would help."""
    smaller = max(64, size // 2)
    if tile is None:
        suggestion = max(64, min(512, size // 2) // 16 * 16)
        first = f"add --tile {suggestion} (the same result in less memory, about 2x slower)"
    else:
        first = f"use a smaller --tile (e.g. {max(64, tile // 2 // 16 * 16)})"
    where = "the CPU" if device.type == "cpu" else str(device)
    line = f"out of memory on {where} at --size {size}: {first}, or a smaller --size " \
           f"(e.g. {smaller})"
    if device.type != "cpu":
        line += ", or --device cpu (uses the computer's memory; much slower)"
    return line


def _load(load_image, src: str, size: int):
    """``load_image(src, size)`` and, if it had to upscale a side to VGG19's least, its note."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        image = load_image(src, size=size)
    notes = [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
    return image, (notes[0] if notes else None)


def _needed_size(shape, least: int) -> int:
    """The smallest long side at which an image of ``shape``'s aspect has a short side of
    ``least`` px."""
    return math.ceil(least * max(shape) / min(shape))


def _import_holding_signals(run: _Run) -> None:
    """Import PyTorch and the package with Ctrl-C and SIGTERM held until the imports are done,
    then act on them: a KeyboardInterrupt raised inside an import can be swallowed by the
    library being imported (measured: numpy's, under torch, went on to a full run and exit 0)
    or turned into another error. The imports take a few seconds; a signal waits that long."""
    held: list[int] = []

    def hold(signum, frame):
        held.append(signum)

    saved = {}
    for signum in (signal.SIGINT, signal.SIGTERM):
        try:
            if signal.getsignal(signum) not in (signal.SIG_IGN, None):
                saved[signum] = signal.signal(signum, hold)
        except ValueError:  # not the main thread
            pass
    try:
        import tqdm.auto  # noqa: F401  (the progress bar's, imported later otherwise)
        from PIL import Image

        from . import color, images, multiscale, profiles, transfer, vgg  # noqa: F401

        Image.init()  # Pillow imports its format plugins on first use
    finally:
        for signum, handler in saved.items():
            signal.signal(signum, handler)
    if signal.SIGTERM in held:
        run.signal = "SIGTERM"
        raise _Terminated
    if held:
        raise KeyboardInterrupt


def _main(argv: list[str], run: _Run) -> int:
    _import_holding_signals(run)
    try:
        args = build_parser().parse_args(argv)
    except _UsageError as err:
        return run.fail(str(err))
    run.json = args.json

    run.stage = "while starting"
    from .images import MIN_SIDE, ImageError, example_image, load_image, save_image
    from .multiscale import style_at_scale, stylize_multiscale
    from .profiles import current_profile, pick_device
    from .transfer import autocast_dtype, stylize
    from .vgg import WeightSetError

    try:
        device = pick_device(args.device)
    except ValueError as err:
        return run.fail(f"--device: {err}")
    try:
        autocast_dtype(args.precision, device)
    except ValueError as err:
        return run.fail(f"--precision: {err}")
    try:
        profile = current_profile(device)
    except ValueError as err:  # NST_PROFILE names no profile
        return run.fail(str(err))
    size = args.size or profile.size
    steps = args.steps or profile.steps
    style_scale = args.style_scale if args.style_scale is not None else 1.0

    if args.style and args.styles:
        return run.fail(f"two ways of giving the style: {args.style!r} and --style; give the "
                        "style images either as the second argument or after --style, not both")
    if args.content is None and args.styles:
        return run.fail(f"no content image: --style took all of {' '.join(args.styles)} as style "
                        "images; put the content image first: nst photo.jpg --style a.jpg b.jpg")
    announce = []  # said once every argument has passed: an error stays one line
    try:
        if args.content is None:
            content_src = str(example_image(DEFAULT_CONTENT))
            style_srcs = [str(example_image(DEFAULT_STYLE))]
            announce.append(f"no images given: stylizing the bundled example {DEFAULT_CONTENT}"
                            f".jpg in the style of {DEFAULT_STYLE}.jpg (nst photo.jpg "
                            "painting.jpg for yours)")
        else:
            content_src = args.content
            style_srcs = args.styles or ([args.style] if args.style else None)
            if style_srcs is None:
                style_srcs = [str(example_image(DEFAULT_STYLE))]
                announce.append(f"no style image given: using the bundled {DEFAULT_STYLE}.jpg "
                                f"(nst {content_src} painting.jpg for another)")
    except ImageError as err:
        return run.fail(str(err))
    problem = _check_controls(args, len(style_srcs), size)
    if problem:
        return run.fail(problem)
    sizes = _sizes(args, size)
    blend = None
    if args.style_blend is not None:  # proportions: 1 1 is 0.5 0.5
        total = sum(args.style_blend)
        blend = [w / total for w in args.style_blend]

    if args.output:
        output = Path(args.output)
        for src in (content_src, *style_srcs):
            if _same_file(output, src):
                return run.fail(f"-o: output {output} is one of the input images; choose another "
                                "-o path")
        if output.suffix.lower() not in (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif",
                                         ".tiff"):
            return run.fail(f"-o: output {output}: unknown image type {output.suffix!r}; "
                            "use .png or .jpg")
    else:
        output = _next_free(Path("result.png"))
        if output.name != "result.png" and not args.json:
            announce.append(f"result.png exists; writing {output} instead")
    run.output = output

    # Each image is loaded once, at the largest size needed; coarser scales are resized down.
    run.stage = "while loading the images"
    style_size = max(1, round(size * style_scale))
    notes = []
    try:
        content, upscaled = _load(load_image, content_src, size)
        if upscaled and args.size:
            return run.fail(f"--size {size} is too small for {content_src}: its short side "
                            f"would be under the {MIN_SIDE} px VGG19 needs; use --size >= "
                            f"{_needed_size(content.shape[-2:], MIN_SIDE)}")
        notes += [upscaled] if upscaled else []
        styles = []
        for src in style_srcs:
            style, upscaled = _load(load_image, src, style_size)
            if upscaled and (args.style_scale is not None or args.size):
                flag = (f"--style-scale {style_scale:g}" if args.style_scale is not None
                        else f"--size {size}")
                return run.fail(f"{flag} makes the style image {src} smaller than the "
                                f"{MIN_SIDE} px VGG19 needs on its short side; use a larger "
                                f"{flag.split()[0]}")
            notes += [upscaled] if upscaled else []
            styles.append(style)
        for style in styles:  # the smallest scale: where a style is least
            try:
                style_at_scale(style, sizes[0], style_scale)
            except ValueError as err:
                flag = ("--scales" if args.scales else "--coarse-to-fine" if len(sizes) > 1
                        else "--style-scale" if args.style_scale is not None else "--size")
                return run.fail(f"{flag}: {err}")
    except ImageError as err:
        return run.fail(str(err))
    for text in announce:
        run.note(text)
    for text in notes:
        run.note(f"note: {text}")

    options = dict(style_weight=args.style_weight, content_weight=args.content_weight,
                   tv_weight=args.tv_weight, weights=args.weights, pooling=args.pooling,
                   optimizer=args.optimizer, lr=args.lr, init=args.init, seed=args.seed,
                   device=device, progress=not (args.quiet or args.json),
                   preserve_color=args.preserve_color, style_blend=blend,
                   content_layers=args.content_layers, style_layers=args.style_layers,
                   style_layer_weights=args.style_layer_weights, precision=args.precision,
                   tile=args.tile, callback=run.track)
    if args.preserve_color == "luminance":
        run.preserve_luminance_of = content
    total_steps = steps * len(sizes)
    run.stage = "before the first step"
    package = Path(__file__).resolve().parent
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            if len(sizes) > 1:
                result = stylize_multiscale(content, styles, sizes=sizes, steps=steps,
                                            style_scale=style_scale, **options)
            else:
                result = stylize(content, styles, steps=steps, **options)
        except (WeightSetError, ValueError) as err:  # ValueError: a combination the checks missed
            return run.fail(str(err))
        except (RuntimeError, MemoryError) as err:
            if not _is_out_of_memory(err):
                raise
            message = _out_of_memory_advice(device, size, args.tile)
            if run.save_partial() is not None:
                message += f"; saved the best image so far to {run.saved}"
            return run.fail(message, 3)
    run_notes = [str(w.message) for w in caught
                 if Path(w.filename).resolve().parent == package]
    for text in run_notes:
        run.note(f"note: {text}")

    run.stage = "while saving the result"
    try:
        save_image(result.image, output)
    except OSError as err:
        return run.fail(f"-o: could not write {output}: {err.strerror or err}; choose another "
                        "-o path")
    run.saved = output

    code = 0
    if result.interrupted:
        code = 143 if run.signal == "SIGTERM" else 130
        what = "terminated by SIGTERM" if run.signal == "SIGTERM" else "interrupted"
        run.note(f"{what} at step {result.steps} of {total_steps}; saved the best image so far "
                 f"to {output}")
    elif result.stopped_reason:
        code = 4
        run.note(f"stopped: {result.stopped_reason}; saved to {output}")

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
        "style_blend": blend,  # as used: normalised to sum to 1
        "style_scale": style_scale,
        "preserve_color": args.preserve_color,
        "pooling": args.pooling,
        "precision": args.precision,
        "scales": sizes,
        "tile": args.tile,
        "content_layers": args.content_layers,
        "style_layers": args.style_layers,
        "style_layer_weights": args.style_layer_weights,
        "exit_code": code,
        "signal": run.signal or ("SIGINT" if result.interrupted else None),
        "notes": notes + run_notes,
    }
    if args.json:
        _print_json(run, summary)
    elif code == 0:
        print(f"wrote {output} ({summary['size'][0]}x{summary['size'][1]}, {result.steps} steps, "
              f"{result.seconds:.1f} s)")
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
