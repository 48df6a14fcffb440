"""What every test shares: processes it starts are always ended and reaped; a blocked network.

The per-test time limit is pytest-timeout's ``timeout`` in pyproject.toml: a test that hangs
fails alone, with the stacks of where it hung, and the suite goes on.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

# The measurement tooling (benchmarks/subprocesses.py: measure_peak_memory) is not part of
# the package; tests that check the memory estimate against a real run import it from there.
sys.path.append(str(Path(__file__).resolve().parent.parent / "benchmarks"))
# Nor is the notebook tooling (tools/notebook_cells.py: the setup cell, the badges), which the
# notebook and Colab tests check.
sys.path.append(str(Path(__file__).resolve().parent.parent / "tools"))
from helpers import end_process, run_main, start


@pytest.fixture
def spawn():
    """``spawn(args, cwd=..., env=..., sigint="default"|"ignore", **popen)`` starts a process
    with the signal dispositions a terminal gives (see ``helpers.start``); whatever the test's
    outcome, every process it started is ended (SIGTERM, then SIGKILL) and reaped."""
    started = []

    def _spawn(args, **kwargs):
        proc = start(args, **kwargs)
        started.append(proc)
        return proc

    yield _spawn
    for proc in started:
        end_process(proc)


@pytest.fixture
def no_network(monkeypatch):
    """Block every network connection for one test: a connection attempt raises OSError (as
    offline) and is recorded in the returned list, so a test can say that a download was
    attempted and refused rather than made (a machine with a network must not download)."""
    import socket

    attempts: list = []

    def refuse(*args, **kwargs):
        attempts.append(args[1:] if args else kwargs)
        raise OSError("network blocked by the test (no_network fixture)")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    return attempts


@pytest.fixture
def cli(monkeypatch, capfd, tmp_path):
    """``cli(*args, cwd=tmp_path, **env)``: the command line, ``nst_helpers.cli.main``, run in
    this process (``helpers.run_main``) as a test's ``nst`` process would run it: in ``cwd``,
    with every ``NST_*`` variable of the caller's environment removed, ``NST_QUICK=1`` unless
    ``env`` says otherwise (``NST_QUICK=None``: not set), and ``env``. Returns a
    ``CompletedProcess``: ``returncode`` (the exit code ``main`` returned, or a
    ``SystemExit``'s), ``stdout``, ``stderr``."""
    from nst_helpers.cli import main

    def call(*args, cwd=None, **env):
        for name in [n for n in os.environ if n.startswith("NST_")]:
            monkeypatch.delenv(name)
        for name, value in {"NST_QUICK": "1", **env}.items():
            if value is not None:
                monkeypatch.setenv(name, str(value))
        monkeypatch.chdir(cwd or tmp_path)
        return run_main(main, args, capfd)

    return call
