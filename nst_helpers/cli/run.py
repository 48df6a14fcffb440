"""The state of one ``nst`` run: what it has done so far, what a signal, an error or
``--json`` reports, and whether an error means the device ran out of memory."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where Ctrl-C raises KeyboardInterrupt, so that it stops a run the same
    way: ``stylize`` returns the best image so far."""


class Run:
    """What the command has done so far: what a signal, an error or ``--json`` reports."""

    def __init__(self, json_out: bool):
        self.json = json_out
        self.signal: str | None = None  # "SIGTERM" once one arrived
        self.stage = "while starting"  # for the line an interruption prints
        self.output: Path | None = None  # where the result goes
        self.saved: Path | None = None  # once written
        self.best = None  # (long side, loss, image): the best image a step has shown
        self.luminance_of = None  # the content, when its colours are put back at the end
        self.error: str | None = None
        self.printed_json = False

    def fail(self, message: str, code: int = 2) -> int:
        self.error = message
        print(f"nst: error: {message}", file=sys.stderr)
        return code

    def note(self, message: str) -> None:
        print(f"nst: {message}", file=sys.stderr)

    def stopped_by(self) -> tuple[int, str]:
        """The exit code and words for the signal that stopped the run."""
        return (143, "terminated by SIGTERM") if self.signal else (130, "interrupted")

    def track(self, step, image, losses) -> None:
        """``stylize``'s callback: keep the best image at the largest size so far."""
        side, loss = max(image.shape[-2:]), losses["total"]
        if math.isfinite(loss) and (self.best is None or (side, -loss) > self.best[:2]):
            self.best = (side, -loss, image)

    def save_partial(self) -> Path | None:
        """Save the best image a step has shown, if there is one and nothing is saved yet."""
        if self.saved is not None or self.best is None or self.output is None:
            return None
        from ..io.images import resize_to, save_image

        image = self.best[2].detach().float().cpu().clamp(0, 1)
        if self.luminance_of is not None:  # a luminance image: the content's colours back
            from ..color import combine_luminance_chroma

            image = combine_luminance_chroma(image, resize_to(self.luminance_of,
                                                              image.shape[-2:]))
        try:
            save_image(image, self.output)
        except OSError:
            return None
        self.saved = self.output
        return self.saved

    def interrupted(self) -> int:
        """Say in one line that a signal stopped the command outside the optimisation, saving
        the best image so far if there is one; returns 130 or 143."""
        code, what = self.stopped_by()
        if self.saved is not None:
            self.note(f"{what}; {self.saved} was written before")
        elif self.save_partial() is not None:
            self.note(f"{what} {self.stage}; saved the best image so far to {self.saved}")
        else:
            self.note(f"{what} {self.stage}; nothing saved")
        return code

    def print_json(self, report: dict) -> None:
        """``report`` as one line of strict JSON on stdout (NaN and infinity as null)."""
        print(json.dumps(finite(report), allow_nan=False), flush=True)
        self.printed_json = True


def finite(value):
    """``value`` with every NaN or infinity replaced by None: JSON has neither."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(v) for v in value]
    return value


def is_out_of_memory(err: BaseException) -> bool:
    """Whether ``err``, raised by a run, means the device ran out of memory (CUDA's and MPS's
    "out of memory", the CPU allocator's "DefaultCPUAllocator: can't allocate memory")."""
    return isinstance(err, MemoryError) or isinstance(err, RuntimeError) and (
        "out of memory" in str(err).lower() or "DefaultCPUAllocator" in str(err))
