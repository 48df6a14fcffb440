"""The GPU check: what a CUDA GPU (Colab's T4, or any other) does with this project, in one
command and one JSON file. Run it with ``bash benchmarks/gpu.sh`` (from a Colab cell:
``!bash benchmarks/gpu.sh``); no GPU has run it for this project yet.

    python benchmarks/gpu.py [--json gpu.json] [--size 512] [--steps 300] [--no-notebooks]

1. **Precision.** ``--size`` px (long side) x ``--steps`` steps, every step (no stopping
   rule), in float32, float16 (the dynamic loss scale) and bfloat16 where the GPU has it
   natively: seconds per step, peak memory, the final loss measured in float32, and whether
   each 16-bit run is within 1 % of float32's final loss (``precision="auto"`` stays float32
   on CUDA until this says one is, and is faster).
2. **Settings.** Seconds per step for each precision with channels-last and cuDNN
   autotuning on and off (``nst_helpers.engine.layout``; both off until this shows they help).
3. **Memory.** A run long enough to fill the L-BFGS history (60 steps, history 50) at twice
   ``--size``: its measured peak against ``estimate_peak_memory``, and the largest sizes the
   estimate gives for a T4's usable 14.7 GiB.
4. **Training.** Notebook 08's T4 recipe (``nst_helpers.fast.COCO_T4_RECIPE``: 8 crops of
   256 px a step), ``--train-steps`` steps with the photos decoded from disk at each batch, as
   COCO's 5,000 are (the bundled photos stand in for them: nothing is downloaded): seconds a
   step in float32 (what it trains in on CUDA) and float16 (opt-in, ``precision="fp16"``), the
   photos' share of it (read and cropped alone), peak memory, the losses after those steps,
   the minutes all the recipe's steps would take, and how many steps fit in its time budget
   (``max_minutes``, under the 15 minutes it should take on a T4).
5. **Notebooks.** Every notebook under nbval at the ``gpu`` profile, and tests/test_cuda.py:
   passed or failed, and the time each took.

Writes one JSON file and prints a short table. ``--device cpu`` with a small ``--size`` and
``--steps`` runs the same code on a CPU (the test suite does, so the script cannot rot).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONTENT, STYLE = "great_wave", "starry_night"  # the mission's pair: notebook 04's first result
SETTINGS = ("NST_CUDA_CHANNELS_LAST", "NST_CUDNN_BENCHMARK")


def timed_run(content, style, *, steps: int, precision: str, device) -> dict:
    """One ``stylize`` run, every step: its seconds per step (the median after 3 warm-up
    steps, synchronised), peak memory, final loss (float32) and warnings."""
    import torch

    from nst_helpers.transfer import stylize

    stamps: list[float] = []

    def stamp(*_):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        stamps.append(time.perf_counter())

    if device.type == "cuda":
        torch.cuda.empty_cache()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = stylize(content, style, steps=steps, device=device, precision=precision,
                         early_stop=None, callback=stamp)
    deltas = [b - a for a, b in zip(stamps, stamps[1:])][3:] or [result.seconds_per_step]
    return {"precision": result.precision, "steps": result.steps,
            "seconds": round(result.seconds, 3),
            "s_per_step": statistics.median(deltas),
            "peak_mib": result.peak_memory_mb,
            "final_loss": result.final_losses.get("total"),  # always measured in float32
            "stopped_reason": result.stopped_reason,
            "warnings": [str(w.message) for w in caught if w.category is RuntimeWarning]}


def precisions_here(device) -> list[str]:
    """fp32, and the 16-bit precisions this device runs natively."""
    from nst_helpers.engine.precision import autocast_dtype

    found = ["fp32"]
    for precision in ("fp16", "bf16"):
        try:
            autocast_dtype(precision, device)
            found.append(precision)
        except ValueError:
            pass
    return found


@contextlib.contextmanager
def with_settings(values: dict[str, str]):
    """Set the engine.layout environment variables for a block, then restore them."""
    before = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def check_precision(content, style, args, device) -> dict:
    rows = {}
    for precision in precisions_here(device):
        rows[precision] = timed_run(content, style, steps=args.steps, precision=precision,
                                    device=device)
        print(json.dumps({"precision": precision, **rows[precision]}), flush=True)
    reference = rows["fp32"]
    for precision, row in rows.items():
        row["loss_vs_fp32"] = row["final_loss"] / reference["final_loss"] - 1
        row["time_vs_fp32"] = row["s_per_step"] / reference["s_per_step"]
        row["within_1_percent"] = abs(row["loss_vs_fp32"]) <= 0.01
        row["stayed_in_precision"] = row["precision"] == precision
    return rows


def check_settings(content, style, args, device) -> list[dict]:
    rows = []
    steps = max(4, min(args.steps, args.settings_steps))
    for precision in precisions_here(device):
        for channels_last in ("0", "1"):
            for benchmark in ("0", "1"):
                with with_settings(dict(zip(SETTINGS, (channels_last, benchmark)))):
                    run = timed_run(content, style, steps=steps, precision=precision,
                                    device=device)
                rows.append({"precision": precision, "channels_last": channels_last == "1",
                             "cudnn_benchmark": benchmark == "1",
                             "s_per_step": run["s_per_step"], "peak_mib": run["peak_mib"]})
                print(json.dumps(rows[-1]), flush=True)
    return rows


def check_memory(args, device) -> dict:
    import torch

    from nst_helpers.engine.memory import T4_USABLE_BYTES, estimate_peak_memory, largest_size
    from nst_helpers.io.images import example_image, load_image

    side = 2 * args.size
    content = load_image(example_image(CONTENT), side)
    style = load_image(example_image(STYLE), side)
    run = timed_run(content, style, steps=args.memory_steps, precision="fp32", device=device)
    shape = tuple(content.shape[-2:])
    estimate = estimate_peak_memory(shape, device=device.type) / 2**20
    report = {"shape": list(shape), "steps": run["steps"], "measured_mib": run["peak_mib"],
              "estimate_mib": estimate,
              "estimate_error": (estimate / run["peak_mib"] - 1) if run["peak_mib"] else None,
              "t4_largest_fp32_px": largest_size(T4_USABLE_BYTES, device="cuda"),
              "t4_largest_fp16_px": largest_size(T4_USABLE_BYTES, device="cuda",
                                                 dtype=torch.float16)}
    print(json.dumps({"memory": report}), flush=True)
    return report


def check_training(args, device) -> dict:
    """Notebook 08's T4 recipe, timed for ``--train-steps`` steps after 3 to warm up: on CUDA
    in float16 (what ``precision="auto"`` trains in there) and float32; the seconds a step,
    and whether the recipe's steps fit its time budget."""
    import random

    import torch

    from nst_helpers.io.images import example_image, load_image
    from nst_helpers.io.photos import PhotoFolder, bundled_photos_dir
    from nst_helpers.training import COCO_T4_RECIPE, train
    from nst_helpers.vgg import load_vgg19

    batch = args.train_batch or COCO_T4_RECIPE["batch_size"]
    size = args.train_size or COCO_T4_RECIPE["size"]
    budget = COCO_T4_RECIPE["max_minutes"]
    photos = PhotoFolder(bundled_photos_dir(), in_memory=0, log=lambda line: None)
    crops = random.Random(0)
    began = time.perf_counter()
    for _ in range(args.train_steps):
        photos.batch(batch, size, crops)
    report = {"batch_size": batch, "size": size, "steps": args.train_steps,
              "data_s_per_batch": (time.perf_counter() - began) / args.train_steps,
              "recipe_steps": COCO_T4_RECIPE["steps"], "budget_minutes": budget,
              "precisions": {}}
    style = load_image(example_image(STYLE), 256)
    vgg = load_vgg19(device=device)
    for precision in ("fp16", "fp32") if device.type == "cuda" else ("auto",):
        quiet = dict(batch_size=batch, size=size, vgg=vgg, device=device, precision=precision,
                     log=lambda line: None)
        train(photos, style, steps=3, **quiet)  # warm-up: cuDNN picks its kernels
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        run = train(photos, style, steps=args.train_steps, log_every=args.train_steps, **quiet)
        seconds = run.seconds / args.train_steps  # the last step's .item() waited for the GPU
        row = {"s_per_step": seconds,
               "projected_minutes": COCO_T4_RECIPE["steps"] * seconds / 60,
               "steps_in_budget": min(COCO_T4_RECIPE["steps"], int(budget * 60 / seconds)),
               "fits_budget": COCO_T4_RECIPE["steps"] * seconds <= budget * 60,
               "peak_mib": (torch.cuda.max_memory_allocated(device) / 2**20
                            if device.type == "cuda" else None),
               "final_content": run.history[-1][1], "final_style": run.history[-1][2]}
        report["precisions"][precision] = row
        print(json.dumps({"training": {"precision": precision, **row}}), flush=True)
    return report


def check_notebooks(args) -> dict:
    """Every notebook at the gpu profile under nbval, and the CUDA tests."""
    env = {**os.environ, "NST_PROFILE": "gpu"}
    env.pop("NST_QUICK", None)
    started = time.perf_counter()
    report_file = ROOT / "gpu-pytest.txt"
    proc = subprocess.run([sys.executable, "-m", "pytest", "--nbval-lax", "-q", "-p",
                           "no:cacheprovider", "--durations=0", "notebooks",
                           "tests/test_cuda.py"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=args.notebook_timeout)
    report_file.write_text(proc.stdout + proc.stderr)
    lines = proc.stdout.strip().splitlines()
    report = {"exit_code": proc.returncode, "seconds": round(time.perf_counter() - started, 1),
              "summary": lines[-1] if lines else "", "log": report_file.name,
              "durations": [line for line in lines if line.strip().endswith(("call",))
                            or " call " in line][:20]}
    print(json.dumps({"notebooks": report}), flush=True)
    return report


def table(report: dict) -> str:
    rows = ["| check | result |", "|---|---|"]
    for precision, row in report["precision"].items():
        rows.append(f"| {precision}, {report['size']} px x {report['steps']} steps | "
                    f"{row['s_per_step']:.4f} s/step ({row['time_vs_fp32']:.2f}x fp32), loss "
                    f"{row['loss_vs_fp32']:+.2%} vs fp32, peak {row['peak_mib'] or 0:.0f} MiB, "
                    f"ended in {row['precision']} |")
    for row in report["settings"]:
        rows.append(f"| {row['precision']}, channels_last={int(row['channels_last'])}, "
                    f"cudnn_benchmark={int(row['cudnn_benchmark'])} | "
                    f"{row['s_per_step']:.4f} s/step |")
    memory = report["memory"]
    if memory:
        rows.append(f"| memory at {memory['shape']} px, {memory['steps']} steps | measured "
                    f"{memory['measured_mib'] or 0:.0f} MiB, estimate {memory['estimate_mib']:.0f}"
                    f" MiB |")
    training = report["training"]
    for precision, row in (training or {}).get("precisions", {}).items():
        rows.append(f"| notebook 08's T4 recipe in {precision}: {training['batch_size']} crops "
                    f"of {training['size']} px, photos read from disk | {row['s_per_step']:.3f}"
                    f" s/step (the photos alone {training['data_s_per_batch']:.3f} s/batch), "
                    f"peak {row['peak_mib'] or 0:.0f} MiB, losses {row['final_content']:.3f} / "
                    f"{row['final_style']:.4f} after {training['steps']} steps: "
                    f"{training['recipe_steps']} steps would take "
                    f"{row['projected_minutes']:.1f} min; {row['steps_in_budget']} fit in its "
                    f"{training['budget_minutes']:g} |")
    notebooks = report["notebooks"]
    if notebooks:
        rows.append(f"| notebooks at the gpu profile, tests/test_cuda.py | {notebooks['summary']}"
                    f" in {notebooks['seconds']:.0f} s (exit {notebooks['exit_code']}) |")
    return "\n".join(rows)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="The GPU check (see this file's docstring).")
    parser.add_argument("--json", type=Path, default=ROOT / "gpu.json",
                        help="where to write the report (default: gpu.json at the root)")
    parser.add_argument("--size", type=int, default=512, help="long side in px (default 512)")
    parser.add_argument("--steps", type=int, default=300, help="steps per precision run")
    parser.add_argument("--settings-steps", type=int, default=40,
                        help="steps per run of the settings matrix (default 40)")
    parser.add_argument("--memory-steps", type=int, default=60,
                        help="steps of the memory run (default 60: fills the L-BFGS history)")
    parser.add_argument("--train-steps", type=int, default=30,
                        help="steps of the training check (default 30; 0 skips it)")
    parser.add_argument("--train-batch", type=int, default=None,
                        help="crops a step in the training check (default: the recipe's, 8)")
    parser.add_argument("--train-size", type=int, default=None,
                        help="crop side in the training check (default: the recipe's, 256)")
    parser.add_argument("--device", default="cuda", help="cuda (default), or cpu to try it")
    parser.add_argument("--no-notebooks", action="store_true",
                        help="skip the notebooks and tests/test_cuda.py")
    parser.add_argument("--notebook-timeout", type=float, default=420,
                        help="seconds for the notebooks (default 420)")
    args = parser.parse_args(argv)
    import torch

    from nst_helpers.io.images import example_image, load_image
    from nst_helpers.io.profiles import pick_device

    try:
        device = pick_device(args.device)
    except ValueError as err:
        print(f"gpu.py: {err}", file=sys.stderr)
        return 2
    started = time.perf_counter()
    content = load_image(example_image(CONTENT), args.size)
    style = load_image(example_image(STYLE), args.size)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor()
    report: dict = {"device": name or device.type, "torch": torch.__version__,
                    "size": args.size, "steps": args.steps, "content": CONTENT, "style": STYLE}
    report["precision"] = check_precision(content, style, args, device)
    report["settings"] = check_settings(content, style, args, device)
    report["memory"] = check_memory(args, device)
    report["training"] = check_training(args, device) if args.train_steps > 0 else None
    report["notebooks"] = None if args.no_notebooks else check_notebooks(args)
    report["seconds"] = round(time.perf_counter() - started, 1)
    args.json.write_text(json.dumps(report, indent=2) + "\n")
    print(table(report))
    print(f"wrote {args.json} ({report['seconds']:.0f} s in all)")
    failed = report["notebooks"] is not None and report["notebooks"]["exit_code"] != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
