"""GPU checks (CUDA only). NOT YET RUN: no GPU was available when this was written.

    python benchmarks/gpu.py [--json gpu.json] [--steps 100]
    (or: python benchmarks/run.py --gpu, or: sh benchmarks/gpu.sh)

1. fp32 against fp16 autocast (``stylize(precision="fp16")``; Gram matrices and losses
   in fp32, a fixed gradient scale against fp16 underflow; ``fell_back_to_fp32`` says whether
   float16 overflowed and the run went on in fp32) at 512 and 1024 px,
   with cudnn.benchmark on: seconds per evaluation, peak memory, and the final loss;
   goal: fp16's final loss within 2 % of fp32's.
2. The largest size that fits a Colab T4's 14.7 GiB: the card is limited to that with
   ``torch.cuda.set_per_process_memory_fraction``, sizes are tried upwards from
   :func:`nst_helpers.memory.largest_size`'s estimate, and the estimate is compared with
   the measured peaks.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import warnings
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def run(content, style, steps: int, precision: str) -> dict:
    """``steps`` evaluations of stylize on CUDA in ``precision`` ("fp32" or "fp16")."""
    from nst_helpers.transfer import stylize

    torch.cuda.empty_cache()
    stamps: list[float] = []
    with warnings.catch_warnings(record=True) as caught:  # fp16 that overflowed says so
        warnings.simplefilter("always")
        result = stylize(content, style, steps=steps, device="cuda", precision=precision,
                         callback=lambda *_: stamps.append(time.perf_counter()))  # synced
    notes = [str(w.message) for w in caught if "float32" in str(w.message)]
    deltas = [b - a for a, b in zip(stamps, stamps[1:])][3:]
    return {"fell_back_to_fp32": bool(notes), "notes": notes,
            "stopped_reason": result.stopped_reason,
            "s_per_eval": statistics.median(deltas) if deltas else None,
            "peak_mib": result.peak_memory_mb,
            "final_loss_fp32": result.final_losses["total"],  # always measured in fp32
            "best_loss": min(result.history["total"]), "evals": result.steps}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="GPU checks (CUDA only)")
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--sizes", type=int, nargs="+", default=[512, 1024])
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    if not torch.cuda.is_available():
        print("no CUDA GPU here: nothing to do", file=sys.stderr)
        return 1
    from nst_helpers.images import example_image, load_image
    from nst_helpers.memory import T4_USABLE_BYTES, estimate_peak_memory, largest_size

    torch.backends.cudnn.benchmark = True
    report: dict = {"gpu": torch.cuda.get_device_name(), "torch": torch.__version__,
                    "steps": args.steps, "precision": {}, "fits": {}}
    for size in args.sizes:
        content = load_image(example_image("astronaut"), size)  # square, 512 px: upsampled
        style = load_image(example_image("swirls"), size)
        row = {}
        for name, dtype in (("fp32", None), ("fp16", torch.float16)):
            row[name] = run(content, style, args.steps, name)
            row[name]["estimate_mib"] = estimate_peak_memory(
                tuple(content.shape[-2:]), device="cuda",
                dtype=dtype or torch.float32) / 2**20
        row["speedup_fp16"] = row["fp32"]["s_per_eval"] / row["fp16"]["s_per_eval"]
        row["loss_difference"] = (row["fp16"]["final_loss_fp32"]
                                  / row["fp32"]["final_loss_fp32"] - 1)
        row["fp16_within_2_percent"] = abs(row["loss_difference"]) <= 0.02
        report["precision"][size] = row
        print(json.dumps({size: row}), flush=True)

    total = torch.cuda.get_device_properties(0).total_memory
    torch.cuda.set_per_process_memory_fraction(min(1.0, T4_USABLE_BYTES / total))
    for name, dtype in (("fp32", None), ("fp16", torch.float16)):
        guess = largest_size(T4_USABLE_BYTES, device="cuda", dtype=dtype or torch.float32)
        fitted, side, tried = 0, guess - 256, []
        while True:
            content = load_image(example_image("astronaut"), side)
            style = load_image(example_image("swirls"), min(side, 1024))
            try:
                r = run(content, style, 5, name)
                tried.append({"size": side, "peak_mib": r["peak_mib"],
                              "estimate_mib": estimate_peak_memory(
                                  side, device="cuda", dtype=dtype or torch.float32) / 2**20})
                fitted, side = side, side + 128
            except torch.cuda.OutOfMemoryError:  # torch.OutOfMemoryError is new in 2.4
                tried.append({"size": side, "oom": True})
                break
            finally:
                torch.cuda.empty_cache()
        report["fits"][name] = {"estimated_largest": guess, "measured_largest_step_128": fitted,
                                "tried": tried}
        print(json.dumps({name: report["fits"][name]}), flush=True)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
