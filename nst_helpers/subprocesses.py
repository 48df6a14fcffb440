"""Run Python in a fresh process and read back the one JSON object it prints.

A run's peak memory and its time are only its own in a process of its own: the caller's
imports, caches and allocator state would otherwise count. :func:`run_json` is how
:func:`nst_helpers.engine.memory.measure_peak_memory` and ``benchmarks/`` start such a process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence

__all__ = ["run_json"]

#: The folder that holds ``nst_helpers``: put on the child's ``PYTHONPATH`` so that it
#: imports this very copy (a checkout that is not installed, or an editable install).
_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_json(args: Sequence[str], *, timeout: float, what: str = "child process") -> dict:
    """Run ``python *args`` and return the JSON object on the last line of its output.

    Args:
        args: the interpreter's arguments (``["-c", code, spec]``, ``[script, "--flag"]``).
        timeout: seconds before the child is killed (``subprocess.TimeoutExpired``).
        what: names the child in the error message.

    Raises:
        RuntimeError: the child exited with an error; the message ends with its stderr.
    """
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [_ROOT, env.get("PYTHONPATH")]))
    proc = subprocess.run([sys.executable, *args], capture_output=True, text=True,
                          timeout=timeout, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"{what} failed: {proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])
