"""Run Python in a fresh process and read back the one JSON object it prints.

A run's peak memory and its time are only its own in a process of its own: the caller's
imports, caches and allocator state would otherwise count. :func:`run_json` is how
:func:`measure_peak_memory` and the other benchmarks start such a process. Measurement
tooling, used by ``benchmarks/`` and ``tests/`` (which put this folder on ``sys.path``); not
part of the package.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence

__all__ = ["run_json", "measure_peak_memory"]

#: The repository, the folder that holds ``nst_helpers``: put on the child's ``PYTHONPATH`` so
#: that it imports this very copy (a checkout that is not installed, or an editable install).
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


_MEASURE = r"""
import json, os, sys, torch
spec = json.loads(sys.argv[1])
if os.environ.get("NST_SIMULATED_ACCELERATOR"):  # tests/test_device.py's, as in the parent
    sys.path.insert(0, os.environ["NST_SIMULATED_ACCELERATOR"])
    __import__("simulated_accelerator").activate()
if spec["threads"]:
    torch.set_num_threads(spec["threads"])
from nst_helpers.io.images import load_image
from nst_helpers.engine.memory import peak_rss_bytes
from nst_helpers.transfer import stylize
device = torch.device(spec["device"])
content = load_image(spec["content"], spec["size"])
style = load_image(spec["style"], spec["size"])
if device.type == "cuda":
    torch.cuda.init()
    torch.cuda.reset_peak_memory_stats(device)
base = peak_rss_bytes()
layers = {k: spec[k] for k in ("content_layers", "style_layers") if spec[k] is not None}
# The run the estimate describes: float32 (its dtype's default), every step taken.
result = stylize(content, style, steps=spec["steps"], device=device, tile=spec["tile"],
                 precision=spec["precision"], early_stop=None, **layers)
if device.type == "cuda":
    peak = torch.cuda.max_memory_allocated(device)
else:
    peak = peak_rss_bytes() - base
print(json.dumps({"peak_bytes": peak, "shape": list(content.shape[-2:]),
                  "seconds_per_step": result.seconds_per_step}))
"""


def measure_peak_memory(size: int, *, steps: int = 5, content=None, style=None,
                        device: str = "cpu", threads: int | None = None,
                        tile: int | None = None, timeout: float = 900,
                        content_layers: Sequence[str] | None = None,
                        style_layers: Sequence[str] | None = None,
                        precision: str = "fp32") -> dict:
    """Run a :func:`~nst_helpers.transfer.stylize` of ``steps`` steps (default settings, but
    float32 and no early stop, as :func:`estimate_peak_memory` assumes) at long side
    ``size`` in a fresh Python process and return ``{"peak_bytes": int, "shape": [h, w],
    "seconds_per_step": float}``: what the run added to the process's peak (see the
    module's docstring), and its time per step (model building included). L-BFGS's
    history fills up over the first 50 steps: measure 55 or more to see all of it.

    ``precision`` is stylize's (float32 by default, which the estimate's ``dtype`` default
    describes). ``content`` and ``style`` are image paths (default: the bundled chelsea.jpg and
    swirls.jpg); ``tile``, ``content_layers`` and ``style_layers`` (default: stylize's)
    are passed to ``stylize``.
    """
    from nst_helpers.io.images import example_image

    spec = {"size": int(size), "steps": int(steps), "device": str(device), "threads": threads,
            "tile": tile, "precision": precision,
            "content_layers": None if content_layers is None else list(content_layers),
            "style_layers": None if style_layers is None else list(style_layers),
            "content": str(content or example_image("chelsea")),
            "style": str(style or example_image("swirls"))}
    return run_json(["-c", _MEASURE, json.dumps(spec)], timeout=timeout, what="measuring run")
