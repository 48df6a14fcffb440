"""Smoke test of benchmarks/run.py: it runs end to end and its JSON has sane figures.

Speed goals are judged from the benchmark's own figures, not here.
"""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_quick_benchmark_json(tmp_path):
    out = tmp_path / "bench.json"
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "run.py"), "--quick",
                           "--size", "48", "--json", str(out), "--json-only",
                           "--to-quality", "--quality-size", "64", "--quality-steps", "6",
                           "--coarse-steps", "2", "--tiles", "--memory-check"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(out.read_text())
    assert report["machine"]["cores"] >= 1 and report["machine"]["torch"]
    assert report["settings"]["evals"] == 3 and report["settings"]["size"][1] == 48
    for name in ("ours", "reference", "peer"):
        row = report["results"][name]
        assert 0 < row["s_per_eval"] < 60, (name, row)
        assert row["peak_mib"] > 0, (name, row)
        assert row["gflops"] > 0
    for key in ("ours_over_reference", "ours_over_peer", "memory_ours_over_reference"):
        assert report["ratios"][key] > 0
    flops = report["flops"]
    assert flops["conv_gflop_per_eval"] > 0
    assert all(v > 0 for v in flops["convs_only_s_per_eval"].values())
    profile = report["profile"]
    assert profile["wall_s"] > 0 and profile["seconds"]["conv (fwd + bwd to input)"] > 0
    assert set(report["goals"]) >= {"speed_vs_reference_le_0.9", "memory_le_reference"}
    assert [row["tile"] for row in report["memory_check"]] == [None, 64]
    assert all(row["measured_mib"] > 0 and row["estimated_mib"] > 0
               for row in report["memory_check"])
    tiles = report["tiles"]
    assert [row["tile"] for row in tiles["runs"]] == [None, 64]
    for row in tiles["runs"]:
        assert row["seconds_per_step"] > 0 and row["peak_mib"] > 0 and row["memory_ratio"] > 0
    quality = report["to_quality"]
    assert quality["unconstrained"]["evals"] == 6 and quality["unconstrained"]["loss"] > 0
    assert quality["unconstrained"]["loss_optimised"] > 0
    assert quality["default"]["loss"] > 0 and quality["coarse_to_fine"]["sizes"] == [64]
    if "ours_bf16" in report["results"]:
        assert report["results"]["ours_bf16"]["final_loss"] > 0
        assert quality["bf16"]["loss"] > 0
