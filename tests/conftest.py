"""What every test shares: processes it starts are always ended and reaped.

The per-test time limit is pytest-timeout's ``timeout`` in pyproject.toml: a test that hangs
fails alone, with the stacks of where it hung, and the suite goes on.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# The measurement tooling (benchmarks/subprocesses.py: measure_peak_memory) is not part of
# the package; tests that check the memory estimate against a real run import it from there.
sys.path.append(str(Path(__file__).resolve().parent.parent / "benchmarks"))
from helpers import end_process, start


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
