"""What :mod:`nst_helpers.io.images` and :mod:`nst_helpers.io.download` share: the error, the
size limit, error text on one line and atomic writes (here so that neither imports the other
back)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

__all__ = ["ImageError", "MAX_PIXELS", "write_atomically", "one_line"]

#: Larger images (by the size in their header) are refused before decoding.
MAX_PIXELS = 100_000_000


class ImageError(ValueError):
    """An image could not be read or used. The message says what is wrong and what to do."""


def one_line(text, limit: int = 120) -> str:
    """``str(text)`` on one line (runs of white space as one space), at most ``limit`` long."""
    return " ".join(str(text).split())[:limit]


def write_atomically(path: str | os.PathLike, write: Callable[[BinaryIO], object]) -> Path:
    """Write ``path`` with ``write(f)`` (a binary temporary file beside it, then renamed):
    never half-written; if ``write`` raises, ``path`` is left as it was. Keeps the replaced
    file's permissions, else ``0o644``. Returns ``path``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
