"""``nst PHOTO --fast NETWORK``: one forward pass of a trained network (part of
:mod:`nst_helpers.cli`; the network is :mod:`nst_helpers.fast`).

Same exit codes and one-line errors as the optimisation: 2 for bad input (an unknown network,
a corrupt network file, a style image given beside ``--fast``, an unreadable photo), 3 out of
memory, 130 / 143 when interrupted.

``nst FOLDER --fast NETWORK -o OUT_FOLDER`` paints every image in ``FOLDER`` (not its
subfolders), in name order, into ``OUT_FOLDER/<name>.png``: a file that is not an image is
skipped with a line; a folder with no image in it is refused (exit 2); an interruption keeps
the images already written and says how many.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

__all__ = ["run_fast", "FAST_ONLY_CONFLICTS"]

#: Options of the optimisation that a network cannot honour: refused with ``--fast``.
FAST_ONLY_CONFLICTS = {"styles": "--style", "style_blend": "--style-blend",
                       "style_scale": "--style-scale", "scales": "--scales",
                       "coarse_to_fine": "--coarse-to-fine", "tile": "--tile"}


def run_fast(args, run) -> int:
    """Stylize ``args.content`` with the network ``args.fast``; returns the exit code."""
    from ..io.images import ImageError, example_image, save_image
    from ..io.profiles import pick_device
    from .args import DEFAULT_CONTENT, load_noting, next_free, output_problem
    from .state import print_json

    if args.style:
        return run.fail(f"--fast paints in its network's style: drop the style image "
                        f"{args.style!r} (or drop --fast to use it)")
    for name, flag in FAST_ONLY_CONFLICTS.items():
        if getattr(args, name, None):
            return run.fail(f"{flag} cannot be used with --fast: the network's style and "
                            "scale are fixed when it is trained")
    try:
        device = pick_device(args.device)
    except ValueError as err:
        return run.fail(f"--device: {err}")
    announce = []
    content_src = args.content
    if content_src is None:
        content_src = str(example_image(DEFAULT_CONTENT))
        announce.append(f"no image given: stylizing the bundled example {DEFAULT_CONTENT}.jpg "
                        "(nst photo.jpg --fast NETWORK for yours)")
    if Path(content_src).is_dir():
        return _run_folder(args, run, Path(content_src), device)
    output = Path(args.output) if args.output else next_free(Path("result.png"))
    problem = output_problem(output, (content_src,))
    if problem:
        return run.fail(problem)
    run.output = output
    network, problem = _network(args, device)
    if problem:
        return run.fail(problem)
    size, scaled = _size(args, network)
    try:
        photo, upscaled = load_noting(content_src, size)
    except ImageError as err:
        return run.fail(str(err))
    for text in announce + [f"note: {t}" for t in (scaled, upscaled) if t]:
        run.note(text)
    try:
        image, seconds = _paint(photo, network, args.precision, device)
    except _OutOfMemory as err:
        return run.fail(str(err), 3)
    try:
        save_image(image, output)
    except OSError as err:
        return run.fail(f"-o: could not write {output}: {err.strerror or err}; choose "
                        "another -o path")
    run.saved = output
    h, w = image.shape[-2:]
    if args.json:
        print_json(run, {"output": str(output), "network": str(args.fast),
                         "content": content_src, "width": w, "height": h,
                         "seconds": round(seconds, 4), "device": str(device),
                         "exit_code": 0, "error": None, "interrupted": False})
    else:
        print(f"wrote {output} ({w}x{h} px) in {seconds:.2f} s with the network {args.fast}")
    return 0


def _network(args, device):
    """``(the network of --fast, None)``, its precision checked before any work, or
    ``(None, the one line that says what is wrong)``."""
    from ..fast import NetworkError, load_network, network_dtype

    try:
        network = load_network(args.fast, device)
    except NetworkError as err:
        return None, f"--fast: {err}"
    try:
        network_dtype(args.precision, device)
    except ValueError as err:
        return None, f"--precision: {err}"
    return network, None


def _size(args, network) -> tuple[int, str | None]:
    """``(long side to paint at, note)``: ``--size``, or else the size the network learned its
    strokes at (:func:`~nst_helpers.fast.trained_size`), with a note line that says so."""
    from ..fast import trained_size

    if args.size is not None:
        return args.size, None
    size = trained_size(network)
    return size, (f"painted at {size} px, the size the network learned its strokes at "
                  "(--size PX for another)")


class _OutOfMemory(Exception):
    """The device ran out of memory; the message says what would help."""


def _paint(photo, network, precision: str, device):
    """One forward pass, timed: (the image, seconds)."""
    from ..fast import stylize_fast
    from .report import is_out_of_memory

    try:
        began = time.perf_counter()
        image = stylize_fast(photo.to(device), network, precision=precision)
        if device.type == "cuda":
            import torch
            torch.cuda.synchronize(device)
        return image, time.perf_counter() - began
    except (RuntimeError, MemoryError) as err:
        if not is_out_of_memory(err):
            raise
        raise _OutOfMemory(f"out of memory at {photo.shape[-1]}x{photo.shape[-2]} px; use a "
                           "smaller --size") from None


def _run_folder(args, run, folder: Path, device) -> int:
    """Paint every image of ``folder`` into the folder ``-o`` (default ``<folder>-<network>``,
    a new one); returns the exit code."""
    from ..io.images import ImageError, save_image
    from .args import OUTPUT_SUFFIXES, load_noting, next_free
    from .state import print_json

    files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
    if not files:
        return run.fail(f"{folder}: the folder has no files in it; give a folder of photos")
    if args.output:
        out_dir = Path(args.output)
        if out_dir.suffix.lower() in OUTPUT_SUFFIXES or out_dir.is_file():
            return run.fail(f"-o: {out_dir} is a file; with a folder of photos, -o names a "
                            "folder for the results")
        if out_dir.resolve() == folder.resolve():
            return run.fail(f"-o: {out_dir} is the folder of photos; choose another folder")
    else:
        out_dir = next_free(Path(f"{folder.resolve().name}-{Path(str(args.fast)).stem}"))
    network, problem = _network(args, device)
    if problem:
        return run.fail(problem)
    size, scaled = _size(args, network)
    if scaled:
        run.note(f"note: {scaled}")
    images, skipped, code = [], [], 0
    began = time.perf_counter()
    try:
        for path in files:
            try:
                photo, upscaled = load_noting(str(path), size)
            except ImageError as err:
                skipped.append(path.name)
                run.note(f"skipped {err}")
                continue
            if upscaled:
                run.note(f"note: {path.name}: {upscaled}")
            try:
                image, seconds = _paint(photo, network, args.precision, device)
            except _OutOfMemory as err:
                return run.fail(f"{path.name}: {err}", 3)
            output = out_dir / f"{path.stem}.png"
            try:
                out_dir.mkdir(parents=True, exist_ok=True)  # made once there is an image for it
                save_image(image, output)
            except OSError as err:
                return run.fail(f"-o: could not write {output}: {err.strerror or err}; choose "
                                "another -o path")
            run.saved = out_dir  # from the first image on, an error or a signal keeps them
            h, w = image.shape[-2:]
            images.append({"content": str(path), "output": str(output), "width": w,
                           "height": h, "seconds": round(seconds, 4)})
            # Progress, as the optimisation's steps are; one write, so that a Ctrl-C cannot
            # land between a line and its newline.
            sys.stderr.write(f"{len(images) + len(skipped)}/{len(files)} {output} ({w}x{h} px, "
                             f"{seconds:.2f} s)\n")
            sys.stderr.flush()
    except KeyboardInterrupt:
        code, what = run.stopped_by()
        run.note(f"{what} after {len(images)} of {len(files)} files; the {len(images)} "
                 f"image(s) written are in {out_dir}")
    if not images and code == 0:
        return run.fail(f"{folder}: none of its {len(files)} files is an image nst can read; "
                        "give a folder of photos")
    if args.json:
        print_json(run, {"output": str(out_dir), "network": str(args.fast),
                         "content": str(folder), "images": images, "skipped": skipped,
                         "seconds": round(time.perf_counter() - began, 4),
                         "device": str(device), "exit_code": code,
                         "error": None, "interrupted": code != 0})
    elif code == 0:
        print(f"painted {len(images)} of {len(files)} files into {out_dir} with the network "
              f"{args.fast}" + (f" ({len(skipped)} skipped)" if skipped else ""))
    return code
