"""Signals, as a terminal, a background job, ``nohup``, ``timeout`` and schedulers send them.

Each process here is started with stated signal dispositions (``helpers.start``) and ended
and reaped by the ``spawn`` fixture whatever happens, so that these tests pass the same when
the suite itself runs with SIGINT ignored (a background job), and never leave a run behind.

No test waits a number of seconds before it sends a signal: each waits for the run to show it
has reached the point to interrupt (a progress line, a connection, a request read, a handler
or a library the process has loaded, as Linux's /proc shows them), with a limit that fails
the test, saying what never came, if it does not get there.
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import child_env
from PIL import Image
from test_cli import NST, Stderr, pair, start_long_run  # noqa: F401  (pair: a fixture)

# Each test starts a process (the torch import alone is seconds): the full lane only.
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent


def one_line(text: str) -> str:
    lines = [line for line in text.replace("\r", "\n").splitlines()
             if line.startswith("nst:")]
    assert len(lines) == 1, text
    assert "Traceback" not in text, text
    return lines[0]


def test_sigterm_saves_the_best_image_so_far_and_exits_143(pair, tmp_path, spawn):  # noqa: F811
    content, style = pair
    out = tmp_path / "terminated.png"
    proc, stderr = start_long_run(spawn, content, style, out, tmp_path)
    stderr.wait_for(" 3/100000")
    proc.send_signal(signal.SIGTERM)  # what timeout(1), kill and schedulers send
    assert proc.wait(timeout=60) == 143
    line = one_line(stderr.close())
    assert "terminated by SIGTERM at step" in line and str(out) in line
    assert Image.open(out).size == (128, 96)


def test_started_with_sigint_ignored_it_keeps_ignoring_it_and_sigterm_still_saves(
        pair, tmp_path, spawn):  # noqa: F811
    """A background job of a non-interactive shell (or nohup) starts with SIGINT ignored.
    nst respects that, as nohup users expect: Ctrl-C meant for the terminal does not stop
    it. SIGTERM does, and saves the best image like Ctrl-C would."""
    content, style = pair
    out = tmp_path / "background.png"
    proc, stderr = start_long_run(spawn, content, style, out, tmp_path, sigint="ignore")
    stderr.wait_for(" 3/100000")
    proc.send_signal(signal.SIGINT)
    stderr.wait_for(" 6/100000")  # three more steps after it: SIGINT changed nothing
    assert proc.poll() is None and not out.exists()
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 143
    line = one_line(stderr.close())
    assert "terminated by SIGTERM" in line and Image.open(out).size == (128, 96)


def test_ctrl_c_while_the_images_load_says_so_in_one_line(pair, tmp_path, spawn):  # noqa: F811
    """The content is a URL on a local server that accepts the connection and never answers:
    the command is loading images, for as long as the test likes."""
    _, style = pair
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        server.settimeout(120)
        url = f"http://127.0.0.1:{server.getsockname()[1]}/photo.jpg"
        proc = spawn([*NST, url, style, "-o", tmp_path / "out.png"], cwd=tmp_path,
                     env=child_env(NST_QUICK="1", NST_CACHE_DIR=str(tmp_path / "cache")),
                     stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                     text=True)
        connection, _ = server.accept()
        with connection:  # nst has sent its request and waits for the image: Ctrl-C
            connection.settimeout(120)
            request = b""
            while b"\r\n\r\n" not in request:
                chunk = connection.recv(4096)
                assert chunk, f"nst closed the connection: {request!r}"
                request += chunk
            proc.send_signal(signal.SIGINT)
            assert proc.wait(timeout=60) == 130
    line = one_line(proc.stderr.read())
    assert "interrupted while loading the images; nothing saved" in line
    assert not (tmp_path / "out.png").exists()


def _caught(pid: int, signum: int) -> bool:
    """Whether process ``pid`` has a handler of its own for ``signum`` (/proc's SigCgt)."""
    with open(f"/proc/{pid}/status") as status:
        mask = next(line for line in status if line.startswith("SigCgt:")).split()[1]
    return bool(int(mask, 16) >> (signum - 1) & 1)


def _mapped(pid: int, folder: str) -> bool:
    """Whether process ``pid`` has loaded a shared library from ``folder`` (/proc's maps)."""
    with open(f"/proc/{pid}/maps") as maps:
        return any(folder in line for line in maps)


def _package_folder(name: str) -> str:
    """The installed folder of package ``name``, as its libraries' paths in /proc start."""
    return os.path.realpath(importlib.util.find_spec(name).submodule_search_locations[0]) + "/"


#: Where a Ctrl-C lands, each known from outside the process, none a number of seconds:
#: "imports": nst's main() has set its SIGTERM handler and begun importing (Pillow's library
#: is loaded, first of those it holds signals for, before PyTorch); "torch": inside PyTorch's
#: import, where numpy's import once swallowed the KeyboardInterrupt and the run went on to
#: exit 0. The images' loading and the steps have tests of their own (above; test_cli.py).
MOMENTS = {
    "imports": lambda pid: _caught(pid, signal.SIGTERM) and _mapped(pid, _package_folder("PIL")),
    "torch": lambda pid: _mapped(pid, _package_folder("torch")),
}


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="needs Linux's /proc")
@pytest.mark.parametrize("moment", MOMENTS)
def test_ctrl_c_at_any_moment_exits_130_with_one_line(pair, tmp_path, spawn, moment):  # noqa: F811
    """Ctrl-C while Python and PyTorch load (where numpy's import once swallowed the
    KeyboardInterrupt and the run went on to exit 0): exit 130, one line, no traceback, and
    stdout, with --json, one valid JSON object. The moment is seen from outside (/proc), the
    signal sent as soon as it is."""
    content, style = pair
    proc = spawn([*NST, content, style, "-o", tmp_path / "out.png", "--json", "--steps",
                  "100000", "--no-early-stop"], cwd=tmp_path,
                 env=child_env(NST_QUICK="1"), stdin=subprocess.DEVNULL,
                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    reached, deadline = MOMENTS[moment], time.monotonic() + 120
    while True:
        assert proc.poll() is None, f"nst ended ({proc.returncode}) before {moment}"
        try:
            if reached(proc.pid):
                break
        except (FileNotFoundError, ProcessLookupError):  # it ended meanwhile: said above
            continue
        assert time.monotonic() < deadline, f"nst did not reach {moment} in 120 s"
        time.sleep(0.002)  # a poll of /proc, not a delay before the signal
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "interrupted" in one_line(err)
    assert json.loads(out)["exit_code"] == 130  # --json: one valid JSON object
    assert not (tmp_path / "out.png").exists()


def test_the_suites_ctrl_c_test_passes_in_a_background_job(tmp_path, spawn):
    """The README's test command started from a script in the background: pytest itself runs
    with SIGINT ignored. The Ctrl-C test still passes, because it states its child's signals."""
    proc = spawn([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                  "tests/test_cli.py::test_ctrl_c_saves_the_best_image_so_far_and_exits_130"],
                 cwd=ROOT, env=child_env(), sigint="ignore", stdin=subprocess.DEVNULL,
                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    out, _ = proc.communicate(timeout=300)
    assert proc.returncode == 0, out
    assert "1 passed" in out, out


def test_ctrl_c_while_a_folder_is_painted_keeps_what_was_written(tmp_path, spawn):
    """nst FOLDER --fast: Ctrl-C after the first image exits 130 with one line that says how
    many were written, and those images are whole; --json still prints one object."""
    from helpers import photo_like

    from nst_helpers.io.images import save_image

    folder, out = tmp_path / "photos", tmp_path / "painted"
    folder.mkdir()
    save_image(photo_like(192, 256), folder / "p000.png")
    for i in range(1, 200):  # far more than are painted before the signal arrives
        (folder / f"p{i:03d}.png").write_bytes((folder / "p000.png").read_bytes())
    proc = spawn([*NST, folder, "--fast", "starry_night", "--size", "256", "-o", out, "--json"],
                 cwd=tmp_path,
                 env=child_env(PYTHONUNBUFFERED="1"), stdin=subprocess.DEVNULL,
                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    stderr = Stderr(proc)
    stderr.wait_for("1/200 ")
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=120) == 130
    line = one_line(stderr.close())
    written = sorted(out.glob("*.png"))
    assert "interrupted after" in line and f"{len(written)} image(s) written" in line
    assert 1 <= len(written) < 200
    assert all(Image.open(p).size == (256, 192) for p in written)  # whole, not half-written
    report = json.loads(proc.stdout.read())
    assert report["exit_code"] == 130 and report["interrupted"]
    assert [Path(i["output"]).name for i in report["images"]] == [p.name for p in written]
