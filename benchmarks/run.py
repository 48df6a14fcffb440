"""Benchmark: our style transfer against the PyTorch tutorial's and the pastiche package's.

The one entry point. What each part measures lives in its own module:

* :mod:`per_step`: seconds per evaluation and peak memory, side by side, in one run, on the
  same images, weights, size and number of loss evaluations, of

  * ``ours``: :func:`nst_helpers.transfer.stylize`, float32;
  * ``ours_bf16``: the same with ``precision="bf16"``, on a CPU with native bfloat16
    (leave it out with ``--no-bf16``);
  * ``reference``: the PyTorch tutorial's algorithm as the tutorial writes it
    (:mod:`tutorial`), fed the Oxford VGG19 (pastiche's 8-bit copy) and, by default, our layers;
  * ``peer``: the ``pastiche`` package's own implementation;
  * ``convs``: the same convolutions alone, weights and input in ours' layout (and in the
    contiguous one): the machine's limit;

  then, once, the profile of ours (:mod:`profile_ops`), the memory of ours and the reference
  by part (:mod:`memory_parts`), and the loss each final image reached by two measures.
  Each run is a subprocess of its own (:mod:`workers`, :mod:`common`);
* :mod:`quality` (``--to-quality``): time to a given loss at 512 px;
* :mod:`memory_checks` (``--memory-check``, ``--tiles``): the memory estimate against
  measured peaks, and tiled evaluation against the whole image;
* ``gpu.py`` (``--gpu``): the CUDA checks.

    python benchmarks/run.py                      # 256 px, 30 evaluations, 3 rounds
    python benchmarks/run.py --size 512 --json out.json
    python benchmarks/run.py --quick              # seconds: a smoke test
    python benchmarks/run.py --to-quality         # + time to the loss of 300 steps, 512 px
    python benchmarks/run.py --gpu                # the GPU figures (CUDA only)

See benchmarks/README.md for what is measured and the figures.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

_HERE = Path(__file__).resolve().parent
for _path in (str(_HERE.parent), str(_HERE)):  # nst_helpers from a checkout; the parts here
    if _path not in sys.path:
        sys.path.insert(0, _path)

from common import DEFAULT_CONTENT, DEFAULT_STYLE  # noqa: E402  (after the path is set)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--size", type=int, default=256, help="long side in px (default 256)")
    p.add_argument("--evals", type=int, default=30, help="loss evaluations per run (default 30)")
    p.add_argument("--warmup", type=int, default=3,
                   help="first evaluations left out of the timing (default 3)")
    p.add_argument("--reps", type=int, default=3, help="interleaved rounds (default 3)")
    p.add_argument("--content", type=Path, default=DEFAULT_CONTENT)
    p.add_argument("--style", type=Path, default=DEFAULT_STYLE)
    p.add_argument("--device", help="cpu or cuda (default: cuda if available)")
    p.add_argument("--threads", type=int, help="torch threads (default: torch's)")
    p.add_argument("--json", type=Path, help="also write the figures here")
    p.add_argument("--json-only", action="store_true", help="no progress lines")
    p.add_argument("--quick", action="store_true",
                   help="smoke test: 64 px, 3 evaluations, 1 round")
    p.add_argument("--no-peer", action="store_true", help="leave pastiche out")
    p.add_argument("--no-bf16", action="store_true", help="leave ours_bf16 out")
    p.add_argument("--no-profile", action="store_true")
    p.add_argument("--profile-evals", type=int, default=5)
    p.add_argument("--tutorial-layers", action="store_true",
                   help="give the reference the tutorial's own (shallower) layers")
    p.add_argument("--to-quality", action="store_true",
                   help="also time coarse-to-fine to the loss of a single-scale run")
    p.add_argument("--quality-size", type=int, default=512)
    p.add_argument("--quality-steps", type=int, default=300)
    p.add_argument("--coarse-steps", type=int, default=100)
    p.add_argument("--memory-check", action="store_true",
                   help="also compare nst_helpers.engine.memory's estimate with measured peaks")
    p.add_argument("--memory-sizes", type=int, nargs="+", default=[128, 256, 384, 512])
    p.add_argument("--memory-steps", type=int, default=60,
                   help="steps per measured run (default 60: L-BFGS's 50-pair history full)")
    p.add_argument("--memory-tiles", nargs="*", default=["512:128", "768:256"],
                   metavar="SIZE:TILE", help="tiled runs for --memory-check")
    p.add_argument("--tiles", action="store_true",
                   help="also measure tiled evaluation against the whole image")
    p.add_argument("--tiles-size", type=int, default=1024)
    p.add_argument("--tile-sides", type=int, nargs="+", default=[512, 256])
    p.add_argument("--tiles-steps", type=int, default=10)
    p.add_argument("--gpu", action="store_true",
                   help="run benchmarks/gpu.py's checks instead (CUDA only)")
    p.add_argument("--timeout", type=float, default=1800, help="per subprocess, s")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    return p


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    if args.worker:
        from workers import worker

        print(json.dumps(worker(json.loads(args.worker))))
        return 0
    if args.gpu:
        import gpu

        return gpu.main([] if args.json is None else ["--json", str(args.json)])
    if args.quick:
        args.size, args.evals, args.warmup, args.reps = min(args.size, 64), 3, 1, 1
        args.threads = args.threads or 1  # a tiny run: threads only wait on each other
        args.profile_evals = 2
        args.memory_sizes, args.memory_steps, args.memory_tiles = [64], 2, ["160:64"]
        args.tiles_size, args.tile_sides, args.tiles_steps = 160, [64], 2

    from memory_checks import memory_check, print_memory_check, print_tiles, tiles_check
    from per_step import benchmark, print_table
    from quality import to_quality

    report = benchmark(args)
    if not args.json_only:
        print_table(report)  # before the long optional parts, so a failure there loses nothing
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    if args.to_quality:
        report["to_quality"] = to_quality(args)
    if args.memory_check:
        report["memory_check"] = memory_check(args)
    if args.tiles:
        report["tiles"] = tiles_check(args)
    if not args.json_only:
        if "to_quality" in report:
            print("to quality: " + json.dumps(report["to_quality"], indent=1))
        if "memory_check" in report:
            print_memory_check(report["memory_check"])
        if "tiles" in report:
            print_tiles(report["tiles"])
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
