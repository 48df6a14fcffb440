"""The command line, ``nst`` (also ``python -m nst_helpers``): ``nst photo.jpg painting.jpg``,
``nst photo.jpg --style a.jpg b.jpg --style-blend 0.7 0.3``, ``nst photo.jpg --fast
starry_night``. Every argument is used as given or refused in one line naming it (exit 2);
Ctrl-C and SIGTERM save the best image so far (exit 130 / 143). Exit codes: :data:`EXIT_CODES`.

The training command of notebook 08 is :mod:`nst_helpers.cli.train` (``python -m
nst_helpers.cli.train --style starry_night -o mine.pt``). This folder sits on top of the
package: it may import any module, and none outside it imports it but ``python -m
nst_helpers`` (``nst_helpers/__main__.py``).
"""

from __future__ import annotations

import math
import signal
import sys
import warnings
from pathlib import Path

from .args import (
    DEFAULT_CONTENT,
    DEFAULT_STYLE,
    EXIT_CODES,
    UsageError,
    build_parser,
    check_controls,
    check_output,
    load_noting,
    next_free,
    refuse,
    write,
)
from .run import Run, Terminated, is_out_of_memory

__all__ = ["main", "build_parser", "EXIT_CODES"]


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code (see :data:`EXIT_CODES`)."""
    argv = sys.argv[1:] if argv is None else [str(a) for a in argv]
    run = Run(json_out="--json" in argv)
    previous = None

    def on_sigterm(signum, frame):
        run.signal = "SIGTERM"
        raise Terminated

    try:
        try:
            try:  # SIGTERM raises Terminated, unless nst was started with it ignored
                if signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
                    previous = signal.signal(signal.SIGTERM, on_sigterm)
            except ValueError:  # not the main thread: leave signals be
                pass
            code = _main(argv, run)
        except UsageError as err:  # one line naming the argument; nothing was said before it
            code = run.fail(str(err), err.code)
        except KeyboardInterrupt:  # Ctrl-C or SIGTERM outside the optimisation
            code = run.interrupted()
        if run.json and not run.printed_json:
            run.print_json({"error": run.error, "exit_code": code,
                            "output": str(run.saved) if run.saved else None,
                            "interrupted": code in (130, 143)})
    except KeyboardInterrupt:  # a second one while saying so: stop quietly
        code, _ = run.stopped_by()
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    return code


#: Imported on first use by PyTorch (an optimizer's first step, VGG19's first ``.to``) or by
#: the package: imported up front, with signals held, so that no Ctrl-C lands inside them.
LAZY_IMPORTS = ("torch._dynamo", "torch.fx.experimental.symbolic_shapes", "pastiche",
                "tqdm.auto")


def _import_holding_signals() -> None:
    """Import PyTorch and the package with SIGINT and SIGTERM blocked: a KeyboardInterrupt
    raised inside a library's import can be swallowed by it (numpy's was, under torch, and the
    run went on). A signal that arrives meanwhile is delivered when the imports are done."""
    import importlib

    held = {signal.SIGINT, signal.SIGTERM}
    blocked = hasattr(signal, "pthread_sigmask")
    old = signal.pthread_sigmask(signal.SIG_BLOCK, held) if blocked else None
    try:
        from PIL import Image

        from .. import color, multiscale, transfer, vgg  # noqa: F401
        from ..io import images, profiles  # noqa: F401

        Image.init()  # Pillow's format plugins, otherwise imported on first use
        for name in LAZY_IMPORTS:
            try:
                importlib.import_module(name)
            except ImportError:
                pass
    finally:
        if blocked:
            signal.pthread_sigmask(signal.SIG_SETMASK, old)


def _main(argv: list[str], run: Run) -> int:
    args = build_parser().parse_args(argv)  # before PyTorch: --help or a bad flag at once
    _import_holding_signals()
    run.json = args.json
    if args.fast:
        from .fast import run_fast

        return run_fast(args, run)
    job = _prepare(args, run)
    for text in job["say"]:
        run.note(text)
    if not args.json:  # --json says it in its report
        print(precision_line(args.precision, job["precision"], job["device"]), flush=True)
    return _stylize(args, run, job)


def precision_line(requested: str, used: str, device) -> str:
    """The line that says which precision the run uses (``requested``, resolved)."""
    if requested != "auto":
        return f"precision: {used}"
    if device.type != "cpu":
        return f"precision: {used} (auto)"
    why = "runs bfloat16 natively" if used == "bf16" else "has no native bfloat16"
    return f"precision: {used} (auto: this CPU {why})"


def _prepare(args, run: Run) -> dict:
    """Check every argument and load the images: the run they describe. Raises
    :class:`UsageError` for the first that cannot be used as given."""
    from ..engine.precision import resolve_precision
    from ..io.images import ImageError, example_image
    from ..io.profiles import current_profile, pick_device

    device = refuse("--device", pick_device, args.device)
    job = {"device": device, "say": [], "notes": [],
           "precision": refuse("--precision", resolve_precision, args.precision, device)}
    profile = refuse("", current_profile, device)  # NST_PROFILE names no profile
    size, steps = args.size or profile.size, args.steps or profile.steps

    if args.style and args.styles:
        raise UsageError(f"two ways of giving the style: {args.style!r} and --style; give the "
                         "style images either as the second argument or after --style, not both")
    if args.content is None and args.styles:
        raise UsageError(f"no content image: --style took all of {' '.join(args.styles)} as "
                         "style images; put the content image first: nst photo.jpg --style "
                         "a.jpg b.jpg")
    content_src, styles = args.content, args.styles or ([args.style] if args.style else [])
    if content_src is None:
        content_src = str(example_image(DEFAULT_CONTENT))
        job["say"].append(f"no images given: stylizing the bundled example {DEFAULT_CONTENT}"
                          f".jpg in the style of {DEFAULT_STYLE}.jpg (nst photo.jpg "
                          "painting.jpg for yours)")
    elif not styles:
        job["say"].append(f"no style image given: using the bundled {DEFAULT_STYLE}.jpg (nst "
                          f"{content_src} painting.jpg for another)")
    job["styles"] = styles = styles or [str(example_image(DEFAULT_STYLE))]
    check_controls(args, len(styles), size)
    if args.style_blend is not None:  # proportions: 1 1 is 0.5 0.5
        job["blend"] = [w / sum(args.style_blend) for w in args.style_blend]
    output = Path(args.output) if args.output else next_free(Path("result.png"))
    check_output(output, (content_src, *styles))
    if output.name != "result.png" and not args.output and not args.json:
        job["say"].append(f"result.png exists; writing {output} instead")
    job["output"] = run.output = output

    run.stage = "while loading the images"
    try:
        _load_images(args, job, content_src, size, steps)
    except ImageError as err:
        hint = ("; a folder of photos can be painted with --fast NETWORK"
                if Path(content_src).is_dir() else "")
        raise UsageError(f"{err}{hint}") from None
    job["say"] += [f"note: {text}" for text in job["notes"]]
    return job


def _load_images(args, job: dict, content_src: str, size: int, steps: int) -> None:
    """Each image loaded once, at the largest size needed; refuses a size that would make one
    smaller than VGG19 needs."""
    from ..io.images import MIN_SIDE
    from ..multiscale import auto_sizes, coarse_to_fine_steps, style_at_scale

    scale = args.style_scale or 1.0
    content, upscaled = load_noting(content_src, size)
    if upscaled and args.size:
        h, w = content.shape[-2:]
        raise UsageError(f"--size {size} is too small for {content_src}: its short side would "
                         f"be under the {MIN_SIDE} px VGG19 needs; use --size >= "
                         f"{math.ceil(MIN_SIDE * max(h, w) / min(h, w))}")
    job["notes"] += [upscaled] if upscaled else []
    job["content"], job["style_images"] = content, []
    for src in job["styles"]:
        style, upscaled = load_noting(src, max(1, round(size * scale)))
        if upscaled and (args.style_scale is not None or args.size):
            flag = f"--style-scale {scale:g}" if args.style_scale is not None else f"--size {size}"
            raise UsageError(f"{flag} makes the style image {src} smaller than the {MIN_SIDE} "
                             f"px VGG19 needs on its short side; use a larger {flag.split()[0]}")
        job["notes"] += [upscaled] if upscaled else []
        job["style_images"].append(style)
    if args.coarse_to_fine:
        job["sizes"] = auto_sizes(content, job["style_images"], scale)
        job["schedule"] = coarse_to_fine_steps(steps, len(job["sizes"]))
    else:
        job["sizes"] = [*(args.scales or []), max(content.shape[-2:])]
        job["schedule"] = [steps] * len(job["sizes"])
    flag = ("--scales" if args.scales else "--style-scale" if args.style_scale is not None
            else "--size")
    for style in job["style_images"]:  # at the smallest scale, where a style is least
        refuse(flag, style_at_scale, style, job["sizes"][0], scale)


def _out_of_memory_advice(device, size: int, tile: int | None) -> str:
    """One line: which of --tile, --size or the device would help."""
    if tile is None:
        first = (f"add --tile {max(64, min(512, size // 2) // 16 * 16)} (the same result in "
                 "less memory, about 2x slower)")
    else:
        first = f"use a smaller --tile (e.g. {max(64, tile // 2 // 16 * 16)})"
    where = "the CPU" if device.type == "cpu" else str(device)
    line = (f"out of memory on {where} at --size {size}: {first}, or a smaller --size "
            f"(e.g. {max(64, size // 2)})")
    if device.type != "cpu":
        line += ", or --device cpu (uses the computer's memory; much slower)"
    return line


def _stylize(args, run: Run, job: dict) -> int:
    """Run the optimisation, write the result and report; returns the exit code."""
    from ..multiscale import stylize_multiscale
    from ..vgg import WeightSetError

    options = dict(style_weight=args.style_weight, content_weight=args.content_weight,
                   tv_weight=args.tv_weight, weights=args.weights, pooling=args.pooling,
                   optimizer=args.optimizer, lr=args.lr, init=args.init, seed=args.seed,
                   device=job["device"], progress=not (args.quiet or args.json),
                   preserve_color=args.preserve_color, style_blend=job.get("blend"),
                   content_layers=args.content_layers, style_layers=args.style_layers,
                   style_layer_weights=args.style_layer_weights, precision=job["precision"],
                   tile=args.tile, early_stop=args.early_stop or None, callback=run.track)
    if args.preserve_color == "luminance":
        run.luminance_of = job["content"]
    run.stage = "before the first step"
    package = Path(__file__).resolve().parent.parent
    size = max(job["content"].shape[-2:])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = stylize_multiscale(job["content"], job["style_images"], sizes=job["sizes"],
                                        steps=job["schedule"], style_scale=args.style_scale or 1.0,
                                        **options)  # one size: one stylize run
        except WeightSetError as err:  # --weights torchvision offline, say
            return run.fail(str(err))
        except (RuntimeError, MemoryError) as err:
            if not is_out_of_memory(err):
                raise
            message = _out_of_memory_advice(job["device"], size, args.tile)
            if run.save_partial() is not None:
                message += f"; saved the best image so far to {run.saved}"
            return run.fail(message, 3)
    notes = job["notes"] + [str(w.message) for w in caught
                            if Path(w.filename).resolve().is_relative_to(package)]
    for text in notes[len(job["notes"]):]:
        run.note(f"note: {text}")

    run.stage = "while saving the result"
    output = job["output"]
    write(result.image, output)
    run.saved = output
    code, total = 0, sum(job["schedule"])
    if result.interrupted:
        code, what = run.stopped_by()
        run.note(f"{what} at step {result.steps} of {total}; saved the best image so far to "
                 f"{output}")
    elif result.stopped_reason:
        code = 4
        run.note(f"stopped: {result.stopped_reason}; saved to {output}")
    width, height = int(result.image.shape[-1]), int(result.image.shape[-2])
    if args.json:
        run.print_json(_summary(args, job, result, code, run.signal, notes, [width, height]))
    elif code == 0:
        how = (f"{result.steps} of {total} steps, {result.seconds:.1f} s; the loss had stopped "
               "falling" if result.stopped_early else
               f"{result.steps} steps, {result.seconds:.1f} s")
        print(f"wrote {output} ({width}x{height}, {how})")
    return code


def _summary(args, job, result, code, signal_name, notes, size) -> dict:
    """The figures ``--json`` prints for a run that reached its end or was stopped in it.
    A field is never renamed or reordered: scripts read them."""
    from ..engine.memory import peak_rss_bytes

    history, final = result.history, result.final_losses
    peak = result.peak_memory_mb
    if peak is None:
        peak = (peak_rss_bytes() or math.nan) / 2**20
    return {
        "output": str(job["output"]), "size": size,  # [width, height], as image files give it
        "steps": result.steps, "seconds": round(result.seconds, 3),
        "seconds_per_step": round(result.seconds_per_step, 4),
        "initial_content_loss": history["content"][0] if history["content"] else None,
        "initial_style_loss": history["style"][0] if history["style"] else None,
        # the losses of the image written
        "content_loss": final.get("content"), "style_loss": final.get("style"),
        "total_loss": final.get("total"),
        "style_weight": args.style_weight, "content_weight": args.content_weight,
        "device": str(job["device"]), "weights": args.weights,
        "peak_memory_mb": round(peak, 1),
        "interrupted": result.interrupted, "stopped_reason": result.stopped_reason,
        "styles": [str(src) for src in job["styles"]],
        "style_blend": job.get("blend"),  # normalised to sum to 1
        "style_scale": args.style_scale or 1.0, "preserve_color": args.preserve_color,
        "pooling": args.pooling,
        "precision": result.precision,  # "auto" resolved; fp32 if fp16 fell back
        "scales": job["sizes"], "tile": args.tile,
        "content_layers": args.content_layers, "style_layers": args.style_layers,
        "style_layer_weights": args.style_layer_weights,
        "early_stop": args.early_stop,  # 0: off
        "stopped_early": result.stopped_early, "exit_code": code,
        "signal": signal_name or ("SIGINT" if result.interrupted else None), "notes": notes,
    }


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
