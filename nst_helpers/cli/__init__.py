"""The command line: ``python -m nst_helpers`` (also installed as ``nst``).

    nst photo.jpg painting.jpg                       # one style
    nst photo.jpg --style a.jpg b.jpg --style-blend 0.7 0.3
    nst photo.jpg painting.jpg --preserve-color luminance --style-scale 0.5
    nst photo.jpg painting.jpg --size 1024 --coarse-to-fine   # 128 -> 256 -> 512 -> 1024

It never guesses: every argument is used as given or refused (exit 2, one line naming the
flag), and a bundled default image is announced when it is used. Exit codes: see
:data:`EXIT_CODES` (also printed by ``nst --help``).

Signals: Ctrl-C (SIGINT) and SIGTERM (what ``timeout``, schedulers and ``kill`` send) stop
the run, save the best image so far and exit 130 / 143 (:mod:`nst_helpers.cli.state`).

This module is the command's course, from the arguments to the image written; its parts
live beside it: :mod:`~nst_helpers.cli.args` (the parser and the checks of the arguments),
:mod:`~nst_helpers.cli.state` (the run's state, signals, the best image saved when one
stops it, the JSON output) and :mod:`~nst_helpers.cli.report` (what a run reports).
"""

from __future__ import annotations

import math
import signal
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from .args import (
    DEFAULT_CONTENT,
    DEFAULT_STYLE,
    EXIT_CODES,
    UsageError,
    build_parser,
    check_controls,
    next_free,
    output_problem,
    run_sizes,
    run_steps,
)
from .report import (
    done_line,
    is_out_of_memory,
    out_of_memory_advice,
    precision_line,
    summary,
)
from .state import Run, import_holding_signals, interrupted, print_json, signal_handlers

__all__ = ["main", "build_parser", "EXIT_CODES"]


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code (see :data:`EXIT_CODES`)."""
    argv = sys.argv[1:] if argv is None else [str(a) for a in argv]
    run = Run(json_out="--json" in argv)
    previous = {}
    try:
        try:
            # Inside the try: a Ctrl-C or SIGTERM right after the handlers are set still ends
            # in one line and exit 130 / 143, not a traceback.
            previous = signal_handlers(run)
            code = _main(argv, run)
        except KeyboardInterrupt:  # Ctrl-C or SIGTERM outside the optimisation
            code = interrupted(run)
        if run.json and not run.printed_json:
            print_json(run, {"error": run.error, "exit_code": code,
                             "output": str(run.saved) if run.saved else None,
                             "interrupted": code in (130, 143)})
    except KeyboardInterrupt:  # a second one while saying so: stop quietly
        code, _ = run.stopped_by()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return code


@dataclass
class _Job:
    """The run the arguments describe, once every one of them has passed its checks."""

    device: object = None
    precision: str = "fp32"  # --precision, "auto" resolved for the device
    size: int = 0
    steps: int = 0
    style_scale: float = 1.0
    content_src: str = ""
    style_srcs: list[str] = field(default_factory=list)
    sizes: list[int] = field(default_factory=list)  # long sides, coarse to fine
    schedule: list[int] = field(default_factory=list)  # the step ceiling at each size
    blend: list[float] | None = None
    output: Path | None = None
    content: object = None  # the images, loaded
    styles: list = field(default_factory=list)
    announce: list[str] = field(default_factory=list)  # said once every argument has passed
    notes: list[str] = field(default_factory=list)  # the loader's notes, also in --json

    @property
    def total_steps(self) -> int:
        """The ceiling on steps, all scales together."""
        return sum(self.schedule)


def _main(argv: list[str], run: Run) -> int:
    try:  # before importing PyTorch: --help, --version and a bad flag answer at once
        args = build_parser().parse_args(argv)
    except UsageError as err:
        return run.fail(str(err))
    import_holding_signals(run)
    run.json = args.json
    run.stage = "while starting"
    if args.fast:
        from .fast import run_fast

        return run_fast(args, run)
    try:
        job = _prepare(args, run)
    except UsageError as err:  # an error stays one line: nothing was said before it
        return run.fail(str(err))
    for text in job.announce:
        run.note(text)
    for text in job.notes:
        run.note(f"note: {text}")
    if not args.json:  # --json says it in its report; stdout is that one object
        print(precision_line(args.precision, job.precision, job.device), flush=True)
    return _stylize(args, run, job)


def _prepare(args, run: Run) -> _Job:
    """Check every argument and load the images; raises :class:`UsageError` (one line) for
    the first that cannot be used as given."""
    from ..engine.precision import resolve_precision
    from ..io.profiles import current_profile, pick_device

    job = _Job()
    try:
        job.device = pick_device(args.device)
    except ValueError as err:
        raise UsageError(f"--device: {err}") from None
    try:
        job.precision = resolve_precision(args.precision, job.device)
    except ValueError as err:
        raise UsageError(f"--precision: {err}") from None
    try:
        profile = current_profile(job.device)
    except ValueError as err:  # NST_PROFILE names no profile
        raise UsageError(str(err)) from None
    job.size = args.size or profile.size
    job.steps = args.steps or profile.steps
    job.style_scale = args.style_scale if args.style_scale is not None else 1.0

    _sources(args, job)
    problem = check_controls(args, len(job.style_srcs), job.size)
    if problem:
        raise UsageError(problem)
    if args.style_blend is not None:  # proportions: 1 1 is 0.5 0.5
        total = sum(args.style_blend)
        job.blend = [w / total for w in args.style_blend]

    if args.output:
        job.output = Path(args.output)
        problem = output_problem(job.output, (job.content_src, *job.style_srcs))
        if problem:
            raise UsageError(problem)
    else:
        job.output = next_free(Path("result.png"))
        if job.output.name != "result.png" and not args.json:
            job.announce.append(f"result.png exists; writing {job.output} instead")
    run.output = job.output

    run.stage = "while loading the images"
    _load_images(args, job)
    return job


def _sources(args, job: _Job) -> None:
    """The content and style images: as given, or the bundled ones, announced."""
    from ..io.images import ImageError, example_image

    if args.style and args.styles:
        raise UsageError(f"two ways of giving the style: {args.style!r} and --style; give the "
                         "style images either as the second argument or after --style, not both")
    if args.content is None and args.styles:
        raise UsageError(f"no content image: --style took all of {' '.join(args.styles)} as "
                         "style images; put the content image first: nst photo.jpg --style "
                         "a.jpg b.jpg")
    try:
        if args.content is None:
            job.content_src = str(example_image(DEFAULT_CONTENT))
            job.style_srcs = [str(example_image(DEFAULT_STYLE))]
            job.announce.append(f"no images given: stylizing the bundled example "
                                f"{DEFAULT_CONTENT}.jpg in the style of {DEFAULT_STYLE}.jpg "
                                "(nst photo.jpg painting.jpg for yours)")
        else:
            job.content_src = args.content
            job.style_srcs = args.styles or ([args.style] if args.style else None)
            if job.style_srcs is None:
                job.style_srcs = [str(example_image(DEFAULT_STYLE))]
                job.announce.append(f"no style image given: using the bundled {DEFAULT_STYLE}"
                                    f".jpg (nst {job.content_src} painting.jpg for another)")
    except ImageError as err:
        raise UsageError(str(err)) from None


def _load_images(args, job: _Job) -> None:
    """Each image loaded once, at the largest size needed (coarser scales are resized down);
    refuses a size that would make one smaller than VGG19 needs."""
    from ..io.images import MIN_SIDE, ImageError
    from ..multiscale import style_at_scale
    from .args import load_noting

    size, style_scale = job.size, job.style_scale
    style_size = max(1, round(size * style_scale))
    try:
        job.content, upscaled = load_noting(job.content_src, size)
        if upscaled and args.size:
            raise UsageError(f"--size {size} is too small for {job.content_src}: its short "
                             f"side would be under the {MIN_SIDE} px VGG19 needs; use --size >= "
                             f"{_needed_size(job.content.shape[-2:], MIN_SIDE)}")
        job.notes += [upscaled] if upscaled else []
        for src in job.style_srcs:
            style, upscaled = load_noting(src, style_size)
            if upscaled and (args.style_scale is not None or args.size):
                flag = (f"--style-scale {style_scale:g}" if args.style_scale is not None
                        else f"--size {size}")
                raise UsageError(f"{flag} makes the style image {src} smaller than the "
                                 f"{MIN_SIDE} px VGG19 needs on its short side; use a larger "
                                 f"{flag.split()[0]}")
            job.notes += [upscaled] if upscaled else []
            job.styles.append(style)
        job.sizes = run_sizes(args, job.content, job.styles, style_scale)
        job.schedule = run_steps(args, job.steps, len(job.sizes))
        for style in job.styles:  # the smallest scale: where a style is least
            try:
                style_at_scale(style, job.sizes[0], style_scale)
            except ValueError as err:
                flag = ("--scales" if args.scales else "--style-scale"
                        if args.style_scale is not None else "--size")
                raise UsageError(f"{flag}: {err}") from None
    except ImageError as err:
        hint = ("; a folder of photos can be painted with --fast NETWORK"
                if Path(job.content_src).is_dir() else "")
        raise UsageError(f"{err}{hint}") from None


def _needed_size(shape, least: int) -> int:
    """The smallest long side at which an image of ``shape``'s aspect has a short side of
    ``least`` px."""
    return math.ceil(least * max(shape) / min(shape))


def _stylize(args, run: Run, job: _Job) -> int:
    """Run the optimisation, write the result and report; returns the exit code."""
    from ..io.images import save_image
    from ..multiscale import stylize_multiscale
    from ..transfer import stylize
    from ..vgg import WeightSetError

    options = dict(style_weight=args.style_weight, content_weight=args.content_weight,
                   tv_weight=args.tv_weight, weights=args.weights, pooling=args.pooling,
                   optimizer=args.optimizer, lr=args.lr, init=args.init, seed=args.seed,
                   device=job.device, progress=not (args.quiet or args.json),
                   preserve_color=args.preserve_color, style_blend=job.blend,
                   content_layers=args.content_layers, style_layers=args.style_layers,
                   style_layer_weights=args.style_layer_weights, precision=job.precision,
                   tile=args.tile, early_stop=args.early_stop or None, callback=run.track)
    if args.preserve_color == "luminance":
        run.preserve_luminance_of = job.content
    run.stage = "before the first step"
    package = Path(__file__).resolve().parent.parent
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            if len(job.sizes) > 1:
                result = stylize_multiscale(job.content, job.styles, sizes=job.sizes,
                                            steps=job.schedule, style_scale=job.style_scale,
                                            **options)
            else:
                result = stylize(job.content, job.styles, steps=job.steps, **options)
        except (WeightSetError, ValueError) as err:  # ValueError: a combination the checks missed
            return run.fail(str(err))
        except (RuntimeError, MemoryError) as err:
            if not is_out_of_memory(err):
                raise
            message = out_of_memory_advice(job.device, job.size, args.tile)
            if run.save_partial() is not None:
                message += f"; saved the best image so far to {run.saved}"
            return run.fail(message, 3)
    run_notes = [str(w.message) for w in caught
                 if Path(w.filename).resolve().is_relative_to(package)]
    for text in run_notes:
        run.note(f"note: {text}")

    run.stage = "while saving the result"
    try:
        save_image(result.image, job.output)
    except OSError as err:
        return run.fail(f"-o: could not write {job.output}: {err.strerror or err}; choose "
                        "another -o path")
    run.saved = job.output

    code = 0
    if result.interrupted:
        code, what = run.stopped_by()
        run.note(f"{what} at step {result.steps} of {job.total_steps}; saved the best image so "
                 f"far to {job.output}")
    elif result.stopped_reason:
        code = 4
        run.note(f"stopped: {result.stopped_reason}; saved to {job.output}")

    if args.json:
        print_json(run, summary(args, job, result, code=code, signal=run.signal,
                                notes=job.notes + run_notes))
    elif code == 0:
        print(done_line(job, result))
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
