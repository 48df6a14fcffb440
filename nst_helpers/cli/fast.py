"""``nst PHOTO --fast NETWORK``: one forward pass of a trained network (part of
:mod:`nst_helpers.cli`; the network is :mod:`nst_helpers.fast`).

Same exit codes and one-line errors as the optimisation: 2 for bad input (an unknown network,
a corrupt network file, a style image given beside ``--fast``, an unreadable photo), 3 out of
memory, 130 / 143 when interrupted.
"""

from __future__ import annotations

import time
from pathlib import Path

__all__ = ["run_fast", "FAST_ONLY_CONFLICTS"]

#: Options of the optimisation that a network cannot honour: refused with ``--fast``.
FAST_ONLY_CONFLICTS = {"styles": "--style", "style_blend": "--style-blend",
                       "style_scale": "--style-scale", "scales": "--scales",
                       "coarse_to_fine": "--coarse-to-fine", "tile": "--tile"}


def run_fast(args, run) -> int:
    """Stylize ``args.content`` with the network ``args.fast``; returns the exit code."""
    from ..fast import NetworkError, load_network, network_dtype, stylize_fast
    from ..io.images import ImageError, example_image, load_image, save_image
    from ..io.profiles import pick_device
    from .args import DEFAULT_CONTENT, next_free, output_problem
    from .report import is_out_of_memory
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
    output = Path(args.output) if args.output else next_free(Path("result.png"))
    problem = output_problem(output, (content_src,))
    if problem:
        return run.fail(problem)
    run.output = output
    try:
        network = load_network(args.fast, device)
    except NetworkError as err:
        return run.fail(f"--fast: {err}")
    try:
        photo = load_image(content_src, args.size)
    except ImageError as err:
        return run.fail(str(err))
    for text in announce:
        run.note(text)
    precision = args.precision
    try:
        network_dtype(precision, device)  # refused in one line before any work
    except ValueError as err:
        return run.fail(f"--precision: {err}")
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
        return run.fail(f"out of memory at {photo.shape[-1]}x{photo.shape[-2]} px; use a smaller "
                        "--size", 3)
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
