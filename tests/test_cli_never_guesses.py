"""The command line never guesses: every argument is used as given or refused in one line that
names it; a bundled default is announced; every failure a user can meet ends in one line and
a documented exit code, never a traceback; ``--json`` is always valid JSON."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest
from PIL import Image
from test_cli import nst_process, one_line_error, pair  # noqa: F401  (pair: a fixture)

from nst_helpers.cli import EXIT_CODES

# In this process (the ``cli`` fixture: nst_helpers.cli.main), but for the out-of-memory test,
# which needs a process of its own to limit its address space.

ROOT = Path(__file__).resolve().parent.parent


def strict_json(text: str) -> dict:
    """Parse one JSON object, refusing NaN and Infinity (which JSON does not have)."""
    def refuse(name):
        raise ValueError(f"{name} is not JSON")
    lines = text.strip().splitlines()
    assert len(lines) == 1, text
    return json.loads(lines[0], parse_constant=refuse)


def test_styles_after_style_do_not_swallow_the_content(pair, tmp_path, cli):  # noqa: F811
    content, style = pair
    proc = cli("--style", style, style, content, "-o", tmp_path / "o.png", cwd=tmp_path)
    one_line_error(proc, "--style", "no content image")
    assert not (tmp_path / "o.png").exists()


def test_a_bundled_style_is_announced_when_used(pair, tmp_path, cli):  # noqa: F811
    content, _ = pair
    proc = cli(content, "--steps", "1", "-o", tmp_path / "o.png", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "no style image given: using the bundled starry_night.jpg" in proc.stderr


@pytest.mark.parametrize("args, flag", [
    (["--lr", "0"], "--lr"),
    (["--lr", "-1"], "--lr"),
    (["--size", "16"], "--size"),  # not blamed on --style-scale, which was not given
    (["--size", "40"], "--size"),  # 40x30: its short side would be under 32 px
    (["--device", "tpu"], "--device"),
    (["--style-blend", "1", "2"], "--style-blend"),  # one style image, two weights
])
def test_arguments_are_used_as_given_or_refused(args, flag, pair, tmp_path, cli):  # noqa: F811
    proc = cli(*pair, *args, "-o", tmp_path / "o.png", cwd=tmp_path)
    one_line_error(proc, flag)
    assert "--style-scale" not in proc.stderr


def test_size_refusal_names_the_least_size_that_works(pair, tmp_path, cli):  # noqa: F811
    proc = cli(*pair, "--size", "40", "-o", tmp_path / "o.png", cwd=tmp_path)
    least = int(re.search(r"--size >= (\d+)", proc.stderr)[1])
    assert least == 43  # 120x90 px: a short side of 32 needs a long side of 42.7
    ok = cli(*pair, "--size", str(least), "--steps", "1", "-o", tmp_path / "o.png",
             cwd=tmp_path)
    assert ok.returncode == 0 and "upscaled" not in ok.stderr, ok.stderr


def test_blend_weights_are_proportions(pair, tmp_path, cli):  # noqa: F811
    content, style = pair
    reports = []
    for blend in (["1", "1"], ["0.5", "0.5"]):
        proc = cli(content, "--style", style, style, "--style-blend", *blend, "--steps", "2",
                   "--json", "-o", tmp_path / "o.png", cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        reports.append(strict_json(proc.stdout))
    double, half = reports
    assert double["style_blend"] == half["style_blend"] == [0.5, 0.5]
    assert double["initial_style_loss"] == pytest.approx(half["initial_style_loss"], rel=1e-6)
    assert double["total_loss"] == pytest.approx(half["total_loss"], rel=1e-4)


def test_version_is_the_packages(cli):
    """One version string: nst_helpers.__version__, which pyproject.toml reads."""
    import nst_helpers

    assert 'dynamic = ["version"]' in (ROOT / "pyproject.toml").read_text()
    assert not re.search(r'^version = "', (ROOT / "pyproject.toml").read_text(), re.M)
    version = nst_helpers.__version__
    proc = cli("--version", cwd=ROOT)
    assert proc.returncode == 0 and proc.stdout.strip() == f"nst {version}"


def test_every_exit_code_is_documented_in_help_and_the_command_reference(cli):
    help_text = cli("--help", cwd=ROOT).stdout
    readme = (ROOT / "docs" / "command_line.md").read_text()  # linked from the README
    for code in EXIT_CODES:
        assert re.search(rf"^\s+{code}\s", help_text, re.M), (code, help_text)
        assert f"`{code}`" in readme, code
    for code in (0, 2, 130):  # the ones that existed before: kept
        assert code in EXIT_CODES


def test_a_diverged_run_exits_4_keeps_the_last_good_image_and_prints_valid_json(
        pair, tmp_path, cli):  # noqa: F811
    """A style weight past float32's range (3e38 x a style loss of about 2.5) overflows the
    loss at the first step: a real divergence, told as the weights' doing, not the lr's."""
    out = tmp_path / "o.png"
    proc = cli(*pair, "--style-weight", "3e38", "--steps", "5", "--json", "-o", out,
               cwd=tmp_path)
    assert proc.returncode == 4, proc.stderr
    report = strict_json(proc.stdout)  # no NaN or Infinity in it
    assert report["exit_code"] == 4 and report["stopped_reason"].startswith("the loss became")
    assert "--style-weight" in report["stopped_reason"]
    assert "L-BFGS" not in report["stopped_reason"]
    lines = [line for line in proc.stderr.splitlines() if "stopped" in line]
    assert len(lines) == 1 and str(out) in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr
    assert Image.open(out).size == (64, 48)  # the starting image: the last good one


@pytest.mark.slow
@pytest.mark.skipif(sys.platform != "linux", reason="address-space limit as on Linux")
def test_out_of_memory_is_one_line_that_says_what_would_help(pair, tmp_path):  # noqa: F811
    """A process of its own, limited to 5 GiB of address space (``ulimit -v``: a machine with
    that little memory), and a 4000 px run: PyTorch cannot allocate VGG19's first feature
    maps (2.7 GB). Really out of memory, not a mock."""
    proc = nst_process(*pair, "--size", "4000", "--steps", "2", "-o", tmp_path / "o.png",
                       "--json", "--device", "cpu", cwd=tmp_path, memory_bytes=5 * 2**30)
    assert proc.returncode == 3, proc.stderr
    line = proc.stderr.strip().splitlines()
    assert len(line) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert "out of memory on the CPU at --size 4000" in line[0]
    assert "--tile" in line[0] and "smaller --size" in line[0]
    assert strict_json(proc.stdout)["exit_code"] == 3


def test_json_errors_are_json_too(pair, tmp_path, cli):  # noqa: F811
    proc = cli(tmp_path / "missing.jpg", pair[1], "--json", cwd=tmp_path)
    assert proc.returncode == 2
    report = strict_json(proc.stdout)
    assert report["exit_code"] == 2 and "missing.jpg" in report["error"]


def test_json_never_carries_nan_or_infinity():
    """Whatever a run measured (a NaN peak where the platform cannot tell, an infinite loss),
    the report is JSON: those become null."""
    from nst_helpers.cli.run import finite

    report = {"peak_memory_mb": float("nan"), "losses": [1.0, float("inf")],
              "nested": {"x": float("-inf")}, "steps": 3}
    text = json.dumps(finite(report), allow_nan=False)
    assert strict_json(text) == {"peak_memory_mb": None, "losses": [1.0, None],
                                 "nested": {"x": None}, "steps": 3}
