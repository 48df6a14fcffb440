"""Small real images the core tests share (made here, not loaded from disk)."""

from __future__ import annotations

import math
import os
import signal
import subprocess

import torch


def photo_like(height: int = 64, width: int = 80, seed: int = 0) -> torch.Tensor:
    """A smooth, photo-like RGB image ``(1, 3, H, W)`` in [0, 1]: gradients and a disc."""
    g = torch.Generator().manual_seed(seed)
    y = torch.linspace(0, 1, height).view(height, 1)
    x = torch.linspace(0, 1, width).view(1, width)
    disc = (((x - 0.6) ** 2 + (y - 0.4) ** 2) < 0.05).float()
    r = 0.2 + 0.6 * x + 0.2 * disc
    gch = 0.3 + 0.5 * y * (1 - disc)
    b = 0.5 + 0.4 * torch.sin(3 * x + 2 * y) * 0.5
    image = torch.stack([r.expand(height, width), gch.expand(height, width),
                         b.expand(height, width)])
    image = image + 0.02 * torch.rand(image.shape, generator=g)
    return image.clamp(0, 1).unsqueeze(0)


def stripes(height: int = 72, width: int = 56, period: float = 9.0) -> torch.Tensor:
    """A high-contrast diagonal-stripe "painting" ``(1, 3, H, W)`` in [0, 1]."""
    y = torch.arange(height).view(height, 1).float()
    x = torch.arange(width).view(1, width).float()
    wave = 0.5 + 0.5 * torch.sin(2 * math.pi * (x + y) / period)
    image = torch.stack([wave, 0.2 + 0.0 * wave, 1 - wave])
    return image.unsqueeze(0)


# --- Processes a test starts -------------------------------------------------------------
# A process inherits its parent's signal dispositions and environment. A test suite started
# from a background job (or nohup, or some CI runners) has SIGINT ignored, and a child started
# from it would ignore Ctrl-C too; an NST_* variable in the caller's shell would change a run.
# So every process a test starts gets what a terminal gives (SIGINT, SIGTERM and SIGPIPE at
# their defaults) unless the test asks otherwise, and a stated environment.


def child_env(**extra: str) -> dict[str, str]:
    """The caller's environment less every ``NST_*`` variable, plus ``extra``: the run's
    conditions are those the test states."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NST_")}
    env.update(extra)
    return env


def terminal_signals(sigint: str = "default", memory_bytes: int | None = None):
    """A ``preexec_fn`` that sets the signal dispositions a terminal gives a command
    (``sigint="ignore"``: those of a background job or ``nohup``) and, if given, a limit on
    its address space (``ulimit -v``: a machine with that little memory)."""

    def setup():
        signal.signal(signal.SIGINT, signal.SIG_IGN if sigint == "ignore" else signal.SIG_DFL)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
        if memory_bytes is not None:
            import resource

            resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))

    return setup


def end_process(proc: subprocess.Popen, grace: float = 5.0) -> None:
    """Make sure ``proc`` (started in its own session) and its children are gone and reaped."""
    if proc.poll() is None:
        for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 30.0)):
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                break
            try:
                proc.wait(timeout=wait)
                break
            except subprocess.TimeoutExpired:
                continue
    else:  # it ended: its children (if any) must not outlive it
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    proc.wait()


def start(args, *, cwd, env: dict[str, str], sigint: str = "default",
          memory_bytes: int | None = None, **popen) -> subprocess.Popen:
    """``Popen`` with terminal-like signals, in a session of its own (so that
    :func:`end_process` reaches its children). End it with :func:`end_process`."""
    return subprocess.Popen([str(a) for a in args], cwd=cwd, env=env, start_new_session=True,
                            preexec_fn=terminal_signals(sigint, memory_bytes), **popen)


def run(args, *, cwd, env: dict[str, str], timeout: float = 300, sigint: str = "default",
        memory_bytes: int | None = None, stdin=subprocess.DEVNULL) -> subprocess.CompletedProcess:
    """Run to the end (at most ``timeout`` s) and return its output; never leaves it running."""
    proc = start(args, cwd=cwd, env=env, sigint=sigint, memory_bytes=memory_bytes, stdin=stdin,
                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    finally:
        end_process(proc)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


# --- The command line in this process ------------------------------------------------------
# What is not about the process (argument checks, exit codes, the JSON report, the files
# written) is tested by calling ``nst_helpers.cli.main`` here: a process pays the torch import
# again each time (6-9 s on 2 cores). What only a process shows (signals, the ``python -m``
# entry, an address-space limit, the wheel, --help without PyTorch) still starts one.

#: Python's warning filters when it starts with no -W option and no PYTHONWARNINGS: what a
#: process started by a test would show on its stderr (pytest's own filters record warnings
#: instead, which would hide one from a test that says stderr is one line).
_PROCESS_WARNING_FILTERS = (DeprecationWarning, PendingDeprecationWarning, ImportWarning,
                            ResourceWarning)


def run_main(main, args, capture) -> subprocess.CompletedProcess:
    """``main(args)`` in this process, as ``sys.exit(main(args))`` would end a process:
    returns its exit code (a ``SystemExit``'s too: --help, --version) and what it wrote, as
    a ``CompletedProcess``. ``capture`` is pytest's ``capfd`` (what C code writes to the file
    descriptors too) or ``capsys``. A warning that would reach a process's stderr (Python's
    default filters) is written there, as the process would write it."""
    import warnings

    capture.readouterr()  # what came before is not this run's
    with warnings.catch_warnings(record=True) as caught:
        warnings.resetwarnings()
        warnings.simplefilter("default")
        for category in _PROCESS_WARNING_FILTERS:
            warnings.simplefilter("ignore", category)
        try:
            code = main([str(a) for a in args])
        except SystemExit as done:  # what the interpreter makes of sys.exit(code)
            code = done.code
    out, err = capture.readouterr()
    if code is None:
        code = 0
    elif not isinstance(code, int):
        err, code = f"{err}{code}\n", 1
    err += "".join(warnings.formatwarning(w.message, w.category, w.filename, w.lineno)
                   for w in caught)
    return subprocess.CompletedProcess(["main", *map(str, args)], code, out, err)


def phone_jpeg(path, photo: str = "coffee", long_side: int = 4000, min_bytes: int = 5_000_000):
    """A JPEG of a phone camera's size and weight at ``path``: a bundled photo upscaled to
    ``long_side`` px, with a sensor's grain (seeded), saved at quality 95 with an EXIF block,
    at least ``min_bytes`` long (about 6.5 MB for the defaults: what a phone writes).
    The bundled photos are small and smooth, so upscaled alone they compress to about 1 MB."""
    import numpy as np
    from PIL import Image

    from nst_helpers.io.images import example_image

    with Image.open(example_image(photo)) as picture:
        size = (long_side, round(long_side * picture.height / picture.width))
        pixels = np.asarray(picture.convert("RGB").resize(size, Image.Resampling.BICUBIC),
                            dtype=np.float32)
    grain = np.random.default_rng(0).normal(0, 10, pixels.shape).astype(np.float32)
    image = Image.fromarray(np.clip(pixels + grain, 0, 255).astype(np.uint8))
    exif = Image.Exif()
    exif[0x0110] = "a phone"  # Model
    exif[0x0112] = 1  # Orientation: as stored
    image.save(path, "JPEG", quality=95, exif=exif.tobytes())
    assert path.stat().st_size >= min_bytes, f"{path} is only {path.stat().st_size} bytes"
    return path
