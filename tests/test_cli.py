"""The command line, on real images with the real weights: in this process
(``nst_helpers.cli.main``, the ``cli`` fixture) for what is not about the process (argument
checks, exit codes, the JSON report, the files written); a real subprocess, run as a user runs
it, for what only a process shows (a signal, an address-space limit: ``nst_process``)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import child_env, run
from PIL import Image

from nst_helpers.cli import precision_line
from nst_helpers.engine.precision import resolve_precision
from nst_helpers.loop import EARLY_STOP, STOP_WINDOW

ROOT = Path(__file__).resolve().parent.parent
NST = [sys.executable, "-m", "nst_helpers"]


def nst_process(*args, cwd, timeout=300, memory_bytes=None, **env):
    """Run the CLI in a process to its end as from a terminal (NST_QUICK=1 unless ``env``
    says otherwise): only for what a process shows (an address-space limit, the entry)."""
    return run([*NST, *args], cwd=cwd, env=child_env(**{"NST_QUICK": "1", **env}),
               timeout=timeout, memory_bytes=memory_bytes)


class Stderr:
    """Collects a running process's stderr on a thread; ``wait_for`` a piece of text: the
    run saying it has reached a point (a progress line), not a number of seconds."""

    def __init__(self, proc):
        self.proc = proc
        self.seen: list[str] = []
        self.changed = threading.Condition()
        self.thread = threading.Thread(target=self._read, args=(proc.stderr,), daemon=True)
        self.thread.start()

    def _read(self, stream):
        for chunk in iter(lambda: stream.read(1), ""):
            with self.changed:
                self.seen.append(chunk)
                self.changed.notify_all()
        with self.changed:  # the end of the stream: no more text will come
            self.changed.notify_all()

    @property
    def text(self) -> str:
        with self.changed:
            return "".join(self.seen)

    def wait_for(self, piece: str, timeout: float = 120) -> None:
        """Return as soon as ``piece`` has appeared; fail, with what was said, if the process
        ends first or ``timeout`` seconds pass (a limit for a hang, not a delay)."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while piece not in "".join(self.seen):
                left = deadline - time.monotonic()
                ended = not self.thread.is_alive()
                assert left > 0 and not ended, (
                    f"{piece!r} never appeared ({'the process ended' if ended else 'timed out'}"
                    f", exit {self.proc.poll()}): {''.join(self.seen)[-3000:]}")
                self.changed.wait(min(left, 1.0))

    def close(self) -> str:
        self.thread.join(timeout=10)
        return self.text


def start_long_run(spawn, content, style, out, cwd, sigint="default"):
    """The CLI on a run far longer than any test: 100000 steps at 128 px, every one of them
    (no stop when the loss stops falling)."""
    proc = spawn([*NST, content, style, "-o", out, "--size", "128", "--steps", "100000",
                  "--no-early-stop"],
                 cwd=cwd, env=child_env(NST_QUICK="1", PYTHONUNBUFFERED="1"), sigint=sigint,
                 stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                 text=True)
    return proc, Stderr(proc)


def one_line_error(proc, *words):
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    for word in words:
        assert word in lines[0], lines[0]


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    """A content photo and a style image that are not in the repository."""
    folder = tmp_path_factory.mktemp("pair")
    y, x = np.mgrid[0:90, 0:120]
    photo = np.stack([x * 2, y * 2, 255 - x - y], axis=-1).clip(0, 255).astype(np.uint8)
    photo[30:60, 40:80] = (250, 220, 40)  # a yellow block: something to keep
    Image.fromarray(photo).save(folder / "photo.jpg", quality=95)
    stripes = ((np.sin((x + y) / 3.0) > 0)[..., None] * np.array([200, 30, 160])).astype(np.uint8)
    Image.fromarray(stripes[:80, :80]).save(folder / "painting.png")
    return folder / "photo.jpg", folder / "painting.png"


def test_json_run_on_images_not_in_the_repo(pair, tmp_path, cli):
    content, style = pair
    out = tmp_path / "out.png"
    proc = cli(content, style, "-o", out, "--size", "96", "--steps", "30", "--json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    for key in ("output", "size", "steps", "seconds", "seconds_per_step", "initial_content_loss",
                "initial_style_loss", "content_loss", "style_loss", "device", "weights",
                "peak_memory_mb"):
        assert key in report, key
    assert report["output"] == str(out) and out.exists()
    assert report["size"] == [96, 72] and Image.open(out).size == (96, 72)
    assert report["steps"] == 30 and report["weights"] == "original"
    # Still falling after 30 steps: the stopping rule, on by default, let it run them all.
    assert report["early_stop"] == EARLY_STOP and report["stopped_early"] is False
    assert report["precision"] == resolve_precision("auto", report["device"])
    expected = "cuda" if torch.cuda.is_available() else "cpu"  # the default device
    assert report["device"] == expected and report["peak_memory_mb"] > 0
    assert report["style_loss"] < report["initial_style_loss"] / 3
    # Still the content: the photo's yellow block is still there, brighter in yellow
    # (red + green - blue) than the rest of the picture.
    result = np.asarray(Image.open(out).convert("RGB"), dtype=float)
    yellow = result[..., 0] + result[..., 1] - result[..., 2]
    block = yellow[24:48, 32:64].mean()
    assert block > yellow.mean() + 60, (block, yellow.mean())


def test_no_arguments_stylizes_the_bundled_pair_and_never_replaces_a_result(tmp_path, cli):
    first = cli(cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert (tmp_path / "result.png").exists()
    before = (tmp_path / "result.png").read_bytes()
    second = cli("--steps", "2", cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    assert "result-2.png" in second.stderr
    assert (tmp_path / "result-2.png").exists()
    assert (tmp_path / "result.png").read_bytes() == before


def test_explicit_output_is_overwritten(pair, tmp_path, cli):
    out = tmp_path / "mine.png"
    out.write_bytes(b"old")
    proc = cli(*pair, "-o", out, "--steps", "2", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert Image.open(out).size[0] > 0


def test_never_overwrites_an_input(pair, tmp_path, cli):
    content, style = pair
    before = content.read_bytes()
    proc = cli(content, style, "-o", content, "--steps", "2", cwd=tmp_path)
    one_line_error(proc, "input")
    assert content.read_bytes() == before


@pytest.mark.parametrize("case", ["missing", "not_an_image", "weights", "optimizer", "steps",
                                  "size", "style_weight", "device", "init", "suffix",
                                  "precision"])
def test_bad_input_gives_exit_2_and_one_line(case, pair, tmp_path, cli):
    content, style = pair
    text = tmp_path / "notes.jpg"
    text.write_text("not an image")
    args = {
        "missing": ([tmp_path / "nope.jpg", style], "nope.jpg"),
        "not_an_image": ([text, style], "notes.jpg"),
        "weights": ([content, style, "--weights", "vgg16"], "--weights"),
        "optimizer": ([content, style, "--optimizer", "sgd"], "--optimizer"),
        "steps": ([content, style, "--steps", "ten"], "--steps"),
        "size": ([content, style, "--size", "0"], "--size"),
        "style_weight": ([content, style, "--style-weight", "-1"], "--style-weight"),
        # Refused where there is no CUDA; where there is, a GPU it does not have.
        "device": ([content, style, "--device", "cuda:99" if torch.cuda.is_available()
                    else "cuda"], "--device"),
        "init": ([content, style, "--init", "zeros"], "--init"),
        "suffix": ([content, style, "-o", tmp_path / "out.txt"], ".txt"),
        "precision": ([content, style, "--device", "cpu", "--precision", "fp16"], "--precision"),
    }[case]
    one_line_error(cli(*args[0], cwd=tmp_path), args[1])


@pytest.mark.slow
def test_ctrl_c_saves_the_best_image_so_far_and_exits_130(pair, tmp_path, spawn):
    """A process, started as from a terminal (SIGINT at its default, whatever this suite
    inherited); the signal is sent once the progress bar shows step 3, not after a delay."""
    content, style = pair
    out = tmp_path / "interrupted.png"
    proc, stderr = start_long_run(spawn, content, style, out, tmp_path)
    stderr.wait_for(" 3/100000")  # a few steps have run
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=60) == 130
    text = stderr.close()
    assert "interrupted at step" in text and str(out) in text
    assert "Traceback" not in text
    assert Image.open(out).size == (128, 96)


def test_auto_precision_is_the_default_and_the_run_says_which_it_used(pair, tmp_path, cli):
    """With no --precision the run uses "auto" resolved for the device (bf16 on a CPU that
    runs it natively, else fp32): one line says so, and --json carries the resolved value.
    An explicit precision is used as given."""
    auto = resolve_precision("auto", "cpu")
    common = [*pair, "--device", "cpu", "--steps", "1", "-o", tmp_path / "o.png"]
    plain = cli(*common, cwd=tmp_path)
    assert plain.returncode == 0, plain.stderr
    lines = plain.stdout.splitlines()
    assert lines[0] == precision_line("auto", auto, torch.device("cpu")), plain.stdout
    assert lines[1].startswith("wrote ")
    report = json.loads(cli(*common, "--json", cwd=tmp_path).stdout)
    assert report["precision"] == auto
    explicit = cli(*common, "--precision", "fp32", cwd=tmp_path)
    assert explicit.stdout.splitlines()[0] == "precision: fp32", explicit.stdout


def test_the_precision_line_gives_this_machines_reason_only_for_auto():
    """The reason the line gives for "auto" is this CPU's: "natively" exactly where PyTorch
    says the CPU runs bfloat16 natively (and auto then picks bf16). A precision asked for is
    said as given, with no reason; on a GPU "auto" claims nothing about the CPU."""
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    native = bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    auto = resolve_precision("auto", cpu)
    assert (auto == "bf16") == native
    line = precision_line("auto", auto, cpu)
    assert line.startswith(f"precision: {auto} (auto: ")
    assert ("no native bfloat16" in line) == (not native), line
    assert ("runs bfloat16 natively" in line) == native, line
    for asked in ("fp32", "bf16"):
        assert precision_line(asked, asked, cpu) == f"precision: {asked}"
    assert "CPU" not in precision_line("auto", "fp32", cuda)


@pytest.mark.parametrize("value", [["-1"], ["nan"], ["inf"], ["-inf"], ["1%"], [],
                                   ["0.1", "--no-early-stop"]])
def test_bad_early_stop_gives_exit_2_and_one_line(value, pair, tmp_path, cli):
    """A fraction must be a finite number >= 0; --no-early-stop with --early-stop is refused
    rather than one of them silently winning."""
    proc = cli(*pair, "-o", tmp_path / "o.png", "--early-stop", *value, cwd=tmp_path)
    one_line_error(proc, "--early-stop")
    assert not (tmp_path / "o.png").exists()


def test_the_stopping_rule_ends_a_run_early_and_can_be_turned_off(pair, tmp_path, cli):
    """The rule can end a run only once it has STOP_WINDOW steps to look back over. A fraction
    no improvement can reach ends it at the first step it may; --no-early-stop and
    --early-stop 0 run every step of the same run."""
    asked = STOP_WINDOW + 3
    common = [*pair, "--size", "48", "--steps", str(asked), "-o", tmp_path / "o.png"]
    stopped = cli(*common, "--early-stop", "1e9", "--json", cwd=tmp_path)
    assert stopped.returncode == 0, stopped.stderr
    report = json.loads(stopped.stdout)
    assert report["stopped_early"] is True and report["steps"] == STOP_WINDOW + 1 < asked
    assert report["exit_code"] == 0 and report["stopped_reason"] is None
    assert not report["interrupted"] and Image.open(tmp_path / "o.png").size == (48, 36)
    said = cli(*common, "--early-stop", "1e9", cwd=tmp_path)
    assert said.returncode == 0, said.stderr
    assert f"{STOP_WINDOW + 1} of {asked} steps" in said.stdout, said.stdout
    assert "the loss had stopped falling" in said.stdout
    for off in (["--no-early-stop"], ["--early-stop", "0"]):
        proc = cli(*common, *off, "--json", cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        report = json.loads(proc.stdout)
        assert report["steps"] == asked and report["stopped_early"] is False, off
        assert report["early_stop"] == 0
