"""Smoke test of benchmarks/run.py, the one entry point of the benchmark's modules: it runs
end to end, each part in its own process, and its JSON has the fields benchmarks/README.md
documents, with figures that hold together.

Speed goals are judged from the benchmark's own figures, not here; nor does a test re-derive a
ratio from the figures it was computed from (a ratio's presence and sign are checked).
"""

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

# Each test starts a process (the torch import alone is seconds): the full lane only.
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
RUN = ROOT / "benchmarks" / "run.py"

# The flags scripts and benchmarks/README.md use: the split into modules keeps every one.
FLAGS = ("--size", "--evals", "--warmup", "--reps", "--content", "--style", "--device",
         "--threads", "--json", "--json-only", "--quick", "--no-peer", "--no-bf16",
         "--no-profile", "--profile-evals", "--tutorial-layers", "--to-quality",
         "--quality-size", "--quality-steps", "--coarse-steps", "--memory-check",
         "--memory-sizes", "--memory-steps", "--memory-tiles", "--tiles", "--tiles-size",
         "--tile-sides", "--tiles-steps", "--gpu", "--timeout")


def test_every_flag_is_still_there_and_a_wrong_one_exits_2():
    out = subprocess.run([sys.executable, str(RUN), "--help"], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    missing = [flag for flag in FLAGS if flag not in out.stdout.split()
               and f"[{flag}" not in out.stdout]
    assert not missing, missing
    wrong = subprocess.run([sys.executable, str(RUN), "--no-such-flag"], capture_output=True,
                           text=True, timeout=60)
    assert wrong.returncode == 2 and "unrecognized arguments" in wrong.stderr


def test_quick_benchmark_json(tmp_path):
    out = tmp_path / "bench.json"
    proc = subprocess.run([sys.executable, str(RUN), "--quick",
                           "--size", "48", "--json", str(out), "--json-only",
                           "--to-quality", "--quality-size", "64", "--quality-steps", "6",
                           "--coarse-steps", "2", "--tiles", "--memory-check"],
                          capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(out.read_text())
    assert report["machine"]["cores"] >= 1 and report["machine"]["torch"]
    assert "weights" in report["settings"]["reference_differs_from_the_tutorial_in"]
    for name in ("ours", "reference", "peer"):
        row = report["results"][name]
        assert 0 < row["s_per_eval"] < 60, (name, row)
        assert row["peak_mib"] > 0, (name, row)
        assert row["gflops"] > 0
    # the ratios are of the rows measured in this run (not of figures from elsewhere)
    results, ratios = report["results"], report["ratios"]
    for key, a, b in (("ours_over_reference", "ours", "reference"),
                      ("ours_over_peer", "ours", "peer")):
        assert ratios[key] == pytest.approx(results[a]["s_per_eval"] / results[b]["s_per_eval"],
                                            rel=0.02), key
    assert ratios["memory_ours_over_reference"] == pytest.approx(
        results["ours"]["peak_mib"] / results["reference"]["peak_mib"], rel=0.02)

    flops = report["flops"]
    assert flops["conv_gflop_per_eval"] > 0
    assert all(v > 0 for v in flops["convs_only_s_per_eval"].values())
    # ours is compared with the convolutions in its own layout, weights and input alike
    assert flops["convs_only_layout_compared"] == "channels_last"  # on a CPU
    assert flops["ours_fraction_of_convs_only"] > 0

    profile = report["profile"]
    assert profile["wall_s"] > 0 and profile["seconds"]["conv (fwd + bwd to input)"] > 0
    assert set(report["goals"]) >= {"speed_vs_reference_le_0.9", "memory_le_reference"}

    # every final image under both measures, and each run lowered the loss it minimises
    scores = report["scores"]["images"]
    assert set(scores) >= {"start (the content)", "ours", "reference", "peer"}
    start = scores["start (the content)"]
    assert scores["ours"]["ours"] < start["ours"]
    assert scores["reference"]["tutorial"] < start["tutorial"]

    # the memory gap by part: the tutorial's deep copy is counted, ours has none
    parts = report["memory_parts"]
    assert parts["reference"]["weights_copy"] > 0 == parts["ours"]["weights_copy"]
    assert parts["ours"]["weights"] > 0 and parts["ours"]["weights_8bit"] > 0
    for name in ("ours", "reference"):
        row = parts[name]
        assert row["saved_feature_maps"] > 0 and row["optimizer"] > 0 and row["targets"] > 0
        assert row["measured_peak"] > 0 and row["counted"] > 0

    assert all(row["measured_mib"] > 0 and row["estimated_mib"] > 0
               for row in report["memory_check"])
    # each row's error is its own estimate against its own measurement, and the estimate does
    # not miss half of it (torch 2.1's smaller process reads up to +0.6 on a tiled row here)
    for row in report["memory_check"]:
        assert row["error"] == pytest.approx(row["estimated_mib"] / row["measured_mib"] - 1)
        assert row["error"] > -0.5, row
    for row in report["tiles"]["runs"]:
        assert row["seconds_per_step"] > 0 and row["peak_mib"] > 0 and row["memory_ratio"] > 0
    quality = report["to_quality"]
    assert 0 < quality["unconstrained"]["loss_optimised"]
    for name in ("unconstrained", "default", "tutorial"):
        assert 0 < quality[name]["loss"], name
    if "ours_bf16" in report["results"]:
        assert report["results"]["ours_bf16"]["final_loss"] > 0
        assert quality["bf16"]["loss"] > 0


def test_time_to_a_finished_image_table(tmp_path):
    """benchmarks/finish.py, tiny: every run of the table is there, the baseline reaches its
    own loss, the others' figures hold together."""
    out = tmp_path / "finish.json"
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "finish.py"), "--size", "128",
                           "--steps", "4", "--pairs", "chelsea:starry_night", "--json", str(out)],
                          capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(out.read_text())
    [pair] = report["pairs"]
    runs = pair["runs"]
    assert {"fp32 x300", "default", "coarse to fine"} <= set(runs)
    base = runs["fp32 x300"]
    assert base["reached_at"] <= 1  # the baseline reaches its own final loss
    assert base["steps"] == 4 and base["precision"] == "fp32"
    for row in runs.values():
        assert math.isfinite(row["loss"]) and row["seconds"] > 0 and 0 < row["steps"] <= 8
        assert row["reached_at"] is None or row["reached_at"] > 0
        by = row["best_by_budget_vs_fp32"]
        assert by is None or math.isfinite(by)
    # by a quarter of its time the float32 run was no lower than where it ended
    assert pair["budget"] == 0.25
    assert base["best_by_budget_vs_fp32"] is None or base["best_by_budget_vs_fp32"] >= -1e-6
    assert "chelsea x starry_night" in proc.stdout


@pytest.mark.parametrize("pairs, says", [("rocket:nope", "no bundled image 'nope'"),
                                         ("rocket", "expected CONTENT:STYLE")])
def test_finish_names_a_wrong_pair_in_one_line(tmp_path, pairs, says):
    """A pair that is not two bundled images: argparse's one line, exit 2, before any run
    (it was a traceback from inside the first pair's run)."""
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "finish.py"), "--pairs",
                           pairs], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    [error] = [line for line in proc.stderr.splitlines() if "error:" in line]
    assert says in error, error


def test_the_gpu_check_runs_its_code_on_a_cpu_and_writes_its_report(tmp_path):
    """benchmarks/gpu.sh waits for a GPU; its script runs here, small, so it cannot rot."""
    out = tmp_path / "gpu.json"
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "gpu.py"), "--device",
                           "cpu", "--size", "48", "--steps", "4", "--settings-steps", "4",
                           "--memory-steps", "3", "--train-steps", "2", "--train-batch", "1",
                           "--train-size", "32", "--no-notebooks", "--json", str(out)],
                          cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(out.read_text())
    assert "fp32" in report["precision"] and report["precision"]["fp32"]["steps"] == 4
    combos = {(r["precision"], r["channels_last"], r["cudnn_benchmark"])
              for r in report["settings"]}
    assert len(combos) == 4 * len(report["precision"])
    assert report["memory"]["shape"][1] == 96 and report["memory"]["estimate_mib"] > 0
    assert "| fp32, 48 px x 4 steps |" in proc.stdout
    training = report["training"]
    assert (training["batch_size"], training["size"], training["steps"]) == (1, 32, 2)
    [(precision, row)] = training["precisions"].items()  # a CPU: the precision it trains in
    assert precision == "auto" and row["s_per_step"] > 0 and training["data_s_per_batch"] > 0
    assert row["projected_minutes"] == pytest.approx(
        training["recipe_steps"] * row["s_per_step"] / 60)
    assert "notebook 08's T4 recipe in auto: 1 crops of 32 px" in proc.stdout
