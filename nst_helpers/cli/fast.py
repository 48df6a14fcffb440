"""``nst PHOTO --fast NETWORK``: one forward pass of a trained network (:mod:`nst_helpers.fast`).

``nst FOLDER --fast NETWORK -o OUT_FOLDER`` paints every file of ``FOLDER`` (not its
subfolders), in name order, into ``OUT_FOLDER/<name>.png``; a file that is not an image is
skipped with a line, and an interruption keeps the images already written. Exit codes as
``nst``'s: 2 bad input, 3 out of memory, 130 / 143 interrupted.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from .args import (
    DEFAULT_CONTENT,
    OUTPUT_SUFFIXES,
    UsageError,
    check_output,
    load_noting,
    next_free,
    refuse,
    write,
)
from .run import Run, is_out_of_memory

#: Options of the optimisation a network cannot honour: refused with ``--fast``.
FAST_ONLY_CONFLICTS = {"styles": "--style", "style_blend": "--style-blend",
                       "style_scale": "--style-scale", "scales": "--scales",
                       "coarse_to_fine": "--coarse-to-fine", "tile": "--tile"}


def run_fast(args, run: Run) -> int:
    """Paint ``args.content`` (a photo or a folder) with the network ``args.fast``; returns
    the exit code."""
    from ..fast import NetworkError, load_network, network_dtype, trained_size
    from ..io.images import ImageError, example_image
    from ..io.profiles import pick_device

    images, skipped, code = [], [], 0
    try:
        if args.style:
            raise UsageError(f"--fast paints in its network's style: drop the style image "
                             f"{args.style!r} (or drop --fast to use it)")
        for name, flag in FAST_ONLY_CONFLICTS.items():
            if getattr(args, name, None):
                raise UsageError(f"{flag} cannot be used with --fast: the network's style and "
                                 "scale are fixed when it is trained")
        device = refuse("--device", pick_device, args.device)
        text = args.content or str(example_image(DEFAULT_CONTENT))  # a path or a URL
        src = Path(text)
        if args.content is None:
            run.note(f"no image given: stylizing the bundled example {DEFAULT_CONTENT}.jpg "
                     "(nst photo.jpg --fast NETWORK for yours)")
        folder = src.is_dir()
        files = _folder_files(src) if folder else [text]
        out = _output(args, src if folder else text, folder)
        network = refuse("--fast", load_network, args.fast, device, errors=NetworkError)
        refuse("--precision", network_dtype, args.precision, device)
        size = args.size
        if size is None:
            size = trained_size(network)
            run.note(f"note: painted at {size} px, the size the network learned its strokes "
                     "at (--size PX for another)")
        run.output = None if folder else out
        began = time.perf_counter()
        for path in files:
            try:
                photo, upscaled = load_noting(str(path), size)
            except ImageError as err:
                if not folder:
                    raise UsageError(str(err)) from None
                skipped.append(path.name)
                run.note(f"skipped {err}")
                continue
            if upscaled:
                run.note(f"note: {path.name}: {upscaled}" if folder else f"note: {upscaled}")
            output = out / f"{path.stem}.png" if folder else out
            try:
                image, seconds = _paint(photo, network, args.precision, device, output, folder)
            except UsageError as err:
                if folder and err.code == 3:
                    err.args = (f"{path.name}: {err}",)
                raise
            run.saved = out  # from the first image on, an error or a signal keeps them
            h, w = image.shape[-2:]
            images.append({"content": str(path), "output": str(output), "width": w,
                           "height": h, "seconds": round(seconds, 4)})
            if folder:  # progress, in one write: a Ctrl-C cannot split a line
                sys.stderr.write(f"{len(images) + len(skipped)}/{len(files)} {output} ({w}x{h} "
                                 f"px, {seconds:.2f} s)\n")
                sys.stderr.flush()
    except KeyboardInterrupt:
        if not folder:
            raise
        code, what = run.stopped_by()
        run.note(f"{what} after {len(images)} of {len(files)} files; the {len(images)} "
                 f"image(s) written are in {out}")
    if not images and code == 0:
        return run.fail(f"{src}: none of its {len(files)} files is an image nst can read; "
                        "give a folder of photos")
    report = {"output": str(out), "network": str(args.fast),
              "content": str(src) if folder else text}
    if folder:
        report.update(images=images, skipped=skipped,
                      seconds=round(time.perf_counter() - began, 4))
    else:
        report.update({k: images[0][k] for k in ("width", "height", "seconds")})
    if args.json:
        run.print_json({**report, "device": str(device), "exit_code": code, "error": None,
                        "interrupted": code != 0})
    elif code == 0 and folder:
        print(f"painted {len(images)} of {len(files)} files into {out} with the network "
              f"{args.fast}" + (f" ({len(skipped)} skipped)" if skipped else ""))
    elif code == 0:
        print(f"wrote {out} ({report['width']}x{report['height']} px) in "
              f"{report['seconds']:.2f} s with the network {args.fast}")
    return code


def _folder_files(folder: Path) -> list[Path]:
    files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
    if not files:
        raise UsageError(f"{folder}: the folder has no files in it; give a folder of photos")
    return files


def _output(args, src, folder: bool) -> Path:
    """The ``-o`` path: for a folder of photos a folder (default ``<folder>-<network>``, new),
    else an image file (default the next free ``result.png``)."""
    if not folder:
        out = Path(args.output) if args.output else next_free(Path("result.png"))
        check_output(out, (src,))
        return out
    if not args.output:
        return next_free(Path(f"{src.resolve().name}-{Path(str(args.fast)).stem}"))
    out = Path(args.output)
    if out.suffix.lower() in OUTPUT_SUFFIXES or out.is_file():
        raise UsageError(f"-o: {out} is a file; with a folder of photos, -o names a folder for "
                         "the results")
    if out.resolve() == src.resolve():
        raise UsageError(f"-o: {out} is the folder of photos; choose another folder")
    return out


def _paint(photo, network, precision: str, device, output: Path, make_folder: bool):
    """One forward pass, timed, and the image written: (image, seconds)."""
    from ..fast import stylize_fast

    try:
        began = time.perf_counter()
        image = stylize_fast(photo.to(device), network, precision=precision)
        if device.type == "cuda":
            import torch

            torch.cuda.synchronize(device)
        seconds = time.perf_counter() - began
    except (RuntimeError, MemoryError) as err:
        if not is_out_of_memory(err):
            raise
        raise UsageError(f"out of memory at {photo.shape[-1]}x{photo.shape[-2]} px; use a "
                         "smaller --size", 3) from None
    write(image, output, make_folder)  # a folder is made once there is an image for it
    return image, seconds
