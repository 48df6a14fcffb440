"""Time to a finished image: the default run against a 300-step float32 run, per gallery pair.

What a user waits for is a finished image, not one loss evaluation. For each pair of the
gallery (tools/make_gallery.py) at one size, in one process, side by side:

* ``fp32 x300``: float32, one scale, every one of ``--steps`` steps (the stopping rule off): the
  baseline, its final total loss ``L`` and its time ``T``;
* ``bf16 x300``: the same in bfloat16 (on a CPU that has it natively): the final loss,
  measured in float32, against the baseline's: the parity that ``precision="auto"`` rests on;
* ``default``: :func:`~nst_helpers.transfer.stylize` with its defaults (``precision="auto"``,
  the stopping rule), ``--steps`` as its ceiling: what ``nst --size N`` runs;
* ``coarse to fine``: :func:`~nst_helpers.multiscale.stylize_multiscale` with its defaults
  (``nst --coarse-to-fine``): from 128 px (``[128, 256, 512]`` at 512 px) with step
  ceilings ``--steps`` halving at each size up (``[300, 150, 75]``), the same precision and
  stopping rule.

For each run: its final total loss (of the image it returns, measured in float32), its wall
time, its steps, the time at which its best loss at the final size first reached the
baseline's ``L`` (``-`` if it never did), as a fraction of ``T``, and the best loss it had at
the final size by ``--budget`` x ``T`` (default 0.25, the goal of issue 15), against ``L``: how
far from ``L`` the time budget leaves it.

    python benchmarks/finish.py --size 256 --json finish_256.json
    python benchmarks/finish.py --size 512 --pairs chelsea:starry_night --images out/

``--images DIR`` also writes each run's image (``DIR/<content>_<style>_<size>_<run>.png``),
for the side-by-side figure of tools/finish_figure.py.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]


def gallery_pairs() -> list[tuple[str, str]]:
    """The gallery's (content, style) pairs, as tools/make_gallery.py makes them."""
    path = ROOT / "tools" / "make_gallery.py"
    spec = importlib.util.spec_from_file_location("make_gallery", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return list(module.PAIRS)


def timed(run, **kwargs) -> dict:
    """Call ``run(callback=..., **kwargs)``; the result, its wall time and the time (from the
    start) and total loss of each step."""
    stamps, losses = [], []
    started = time.perf_counter()

    def callback(step, image, step_losses):
        stamps.append(time.perf_counter() - started)
        losses.append(step_losses["total"])

    result = run(callback=callback, **kwargs)
    return {"result": result, "seconds": time.perf_counter() - started, "stamps": stamps,
            "losses": losses}


def bests_at_final_size(run: dict):
    """``(seconds, best loss so far)`` at each of the run's steps at its final size. A
    coarse-to-fine run's steps at smaller sizes do not count: their losses are those of
    smaller images."""
    sizes = run["result"].history.get("size")
    best = math.inf
    for i, (stamp, value) in enumerate(zip(run["stamps"], run["losses"])):
        if sizes is None or sizes[i] == sizes[-1]:
            best = min(best, value)
            yield stamp, best


def reached(run: dict, target: float) -> float | None:
    """Seconds until the run's best loss at the final size was <= ``target`` (or its final
    image's was)."""
    for stamp, best in bests_at_final_size(run):
        if best <= target:
            return stamp
    if run["result"].final_losses.get("total", math.inf) <= target:
        return run["seconds"]
    return None


def best_by(run: dict, seconds: float) -> float | None:
    """The run's best loss at the final size by ``seconds`` from its start, its final image's
    included if it ended by then; ``None`` if it had no step at the final size by then."""
    best = min((b for stamp, b in bests_at_final_size(run) if stamp <= seconds),
               default=math.inf)
    if run["seconds"] <= seconds:
        best = min(best, run["result"].final_losses.get("total", math.inf))
    return None if best == math.inf else best


def steps_per_size(run: dict) -> dict[str, list]:
    """``{long side: [steps, seconds]}`` of a run, in the order it ran them (one size for a
    single-scale run)."""
    sizes = run["result"].history.get("size") or [None] * len(run["stamps"])
    out: dict[str, list] = {}
    previous = 0.0
    for size, stamp in zip(sizes, run["stamps"]):
        steps, seconds = out.get(str(size), [0, 0.0])
        out[str(size)] = [steps + 1, round(seconds + stamp - previous, 2)]
        previous = stamp
    return out


def measure_pair(content_name: str, style_name: str, size: int, steps: int,
                 bf16: bool, images: Path | None = None, budget: float = 0.25) -> dict:
    from nst_helpers.io.images import example_image, load_image, save_image
    from nst_helpers.multiscale import (
        coarse_to_fine_sizes,
        coarse_to_fine_steps,
        stylize_multiscale,
    )
    from nst_helpers.transfer import stylize

    content = load_image(example_image(content_name), size=size)
    style = load_image(example_image(style_name), size=size)
    runs = {"fp32 x300": timed(stylize, content=content, style=style, steps=steps,
                               precision="fp32", early_stop=None)}
    if bf16:
        runs["bf16 x300"] = timed(stylize, content=content, style=style, steps=steps,
                                  precision="bf16", early_stop=None)
    runs["default"] = timed(stylize, content=content, style=style, steps=steps)
    sizes = coarse_to_fine_sizes(size)
    runs["coarse to fine"] = timed(stylize_multiscale, content=content, style=style, sizes=sizes,
                            steps=coarse_to_fine_steps(steps, len(sizes)))
    base = runs["fp32 x300"]
    target, base_time = base["result"].final_losses["total"], base["seconds"]
    rows = {}
    for name, run in runs.items():
        r = run["result"]
        when = reached(run, target)
        by_budget = best_by(run, budget * base_time)
        rows[name] = {"loss": r.final_losses["total"], "loss_vs_fp32": r.final_losses["total"]
                      / target - 1, "seconds": run["seconds"], "time_vs_fp32":
                      run["seconds"] / base_time, "steps": r.steps,
                      "stopped_early": getattr(r, "stopped_early", False),
                      "precision": getattr(r, "precision", None),
                      "reached_at": None if when is None else when / base_time,
                      "best_by_budget_vs_fp32": None if by_budget is None
                      else by_budget / target - 1,
                      "steps_per_size": steps_per_size(run)}
        if images is not None:
            images.mkdir(parents=True, exist_ok=True)
            save_image(r.image, images / f"{content_name}_{style_name}_{size}_"
                       f"{name.replace(' ', '_')}.png")
    return {"content": content_name, "style": style_name, "size": size, "budget": budget,
            "shape": list(content.shape[-2:]), "runs": rows}


def print_pair(report: dict) -> None:
    print(f"{report['content']} x {report['style']}, {report['shape'][0]}x{report['shape'][1]} px",
          flush=True)
    for name, row in report["runs"].items():
        at = "-" if row["reached_at"] is None else f"{row['reached_at']:.2f}"
        by = row["best_by_budget_vs_fp32"]
        by = "-" if by is None else f"{by:+.1%}"
        print(f"  {name:15s} loss {row['loss']:.4f} ({row['loss_vs_fp32']:+.1%})  "
              f"{row['seconds']:6.1f} s ({row['time_vs_fp32']:.2f}x)  {row['steps']:3d} steps"
              f"{' (stopped early)' if row['stopped_early'] else ''}  reached the fp32 loss at "
              f"{at} of its time; best by {report['budget']:g} of it {by}", flush=True)
        if len(row["steps_per_size"]) > 1:
            print("    " + ", ".join(f"{size} px: {n} steps, {t:.1f} s"
                                     for size, (n, t) in row["steps_per_size"].items()),
                  flush=True)


def bundled_pair(text: str) -> tuple[str, str]:
    """``--pairs``' ``CONTENT:STYLE``, two bundled images (``rocket:great_wave``, or with their
    file names' extensions); a wrong one is argparse's one line, before any run starts."""
    from nst_helpers.io.files import ImageError
    from nst_helpers.io.images import example_image

    names = text.split(":")
    if len(names) != 2 or not all(names):
        raise argparse.ArgumentTypeError("expected CONTENT:STYLE, two bundled images such as "
                                         f"chelsea:starry_night; got {text!r}")
    try:
        content, style = (example_image(name).stem for name in names)
    except ImageError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return content, style


def main(argv=None) -> int:
    from nst_helpers.cli.args import POSITIVE  # the command line's check of a number > 0

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=512, help="long side, px (default 512)")
    parser.add_argument("--steps", type=int, default=300, help="step budget (default 300)")
    parser.add_argument("--pairs", nargs="*", type=bundled_pair, metavar="CONTENT:STYLE",
                        help="default: every gallery pair")
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's)")
    parser.add_argument("--budget", type=POSITIVE, default=0.25,
                        help="report each run's best loss by this fraction of the fp32 run's "
                        "time (default 0.25)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--images", type=Path, help="also write each run's image to this folder")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    pairs = args.pairs or gallery_pairs()
    from nst_helpers.engine.precision import resolve_precision

    bf16 = resolve_precision("auto", "cpu") == "bf16"
    reports = []
    for content_name, style_name in pairs:
        report = measure_pair(content_name, style_name, args.size, args.steps, bf16,
                              args.images, args.budget)
        print_pair(report)
        reports.append(report)
        if args.json:
            args.json.write_text(json.dumps({"size": args.size, "steps": args.steps,
                                             "threads": torch.get_num_threads(),
                                             "pairs": reports}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
