"""What every part of the benchmark shares: paths, the worker protocol, the machine.

Each measured run happens in a fresh process (``python benchmarks/run.py --worker SPEC``,
see :mod:`workers`), started and read back by :func:`spawn`, so that its peak memory and
its time are its own.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
from pathlib import Path

from subprocesses import run_json

ROOT = Path(__file__).resolve().parents[1]
ENTRY_POINT = Path(__file__).resolve().parent / "run.py"
DEFAULT_CONTENT = ROOT / "images" / "chelsea.jpg"
DEFAULT_STYLE = ROOT / "images" / "swirls.jpg"


def spawn(spec: dict, timeout: float) -> dict:
    """Run one worker (``spec["which"]`` names it) in a fresh process; its JSON result."""
    return run_json([str(ENTRY_POINT), "--worker", json.dumps(spec)], timeout=timeout,
                    what=f"{spec['which']} worker")


def load_pair(spec: dict):
    """Content at ``size`` (long side) and the style resized to exactly the content's
    shape: the tutorial needs equal sizes."""
    from nst_helpers.io.images import load_image, resize_to

    content = load_image(spec["content"], spec["size"])
    style = resize_to(load_image(spec["style"]), content.shape[-2:]).clamp(0, 1)
    return content, style


def load_shape(content: Path, size: int) -> tuple[int, int]:
    """``(height, width)`` of the content at long side ``size``."""
    from nst_helpers.io.images import load_image

    shape = load_image(content, size).shape
    return int(shape[-2]), int(shape[-1])


def steady(times: list[float], warmup: int) -> list[float]:
    """Per-evaluation seconds from timestamps, dropping the first ``warmup`` ones."""
    deltas = [b - a for a, b in zip(times, times[1:])]
    return deltas[warmup:] if len(deltas) > warmup else deltas[-1:]


def has_bf16(device: str) -> bool:
    """Whether ``precision="bf16"`` runs fast on ``device`` (see nst_helpers.engine.precision)."""
    from nst_helpers.engine.precision import autocast_dtype

    try:
        autocast_dtype("bf16", device)
    except ValueError:
        return False
    return True


def stylize_options(precision: str) -> dict:
    """``stylize`` keyword arguments for a timed run: ``precision`` stated (the default,
    ``"auto"``, picks bfloat16 by itself on a CPU that has it) and every one of the
    ``steps`` evaluations taken (no early stop)."""
    return {"precision": precision, "early_stop": None}


def fast(model, device) -> None:
    """Give a model from ``build_model`` the speed settings ``stylize`` gives its own
    (:func:`nst_helpers.engine.speed.accelerate`), in float32."""
    from nst_helpers.engine.speed import accelerate

    accelerate(model, device)


def machine() -> dict:
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    info = {"cpu": cpu, "cores": os.cpu_count(), "torch": torch.__version__,
            "threads": torch.get_num_threads(), "python": platform.python_version(),
            "cpu_capability": torch.backends.cpu.get_cpu_capability(),
            "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds")}
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name()
    return info


def load_average() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None
