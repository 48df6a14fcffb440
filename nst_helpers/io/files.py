"""Reading and writing image files: the one error, the size limit and atomic writes.

:mod:`nst_helpers.io.images` (local files) and :mod:`nst_helpers.io.download` (URLs) both refuse
images over :data:`MAX_PIXELS`, both raise :class:`ImageError`, and both write files with
:func:`write_atomically`. They are kept here, in a module that imports nothing else of the
package, so that each of them can import it and neither has to import the other back
(``images`` imports ``download`` to open a URL; ``download`` never imports ``images``).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

__all__ = ["ImageError", "MAX_PIXELS", "write_atomically"]

#: Larger images (by the size in their header) are refused before decoding.
MAX_PIXELS = 100_000_000


class ImageError(ValueError):
    """An image could not be read or used. The message says what is wrong and what to do."""


def write_atomically(path: str | os.PathLike, write: Callable[[BinaryIO], object]) -> Path:
    """Write the file ``path`` with ``write(f)`` so that no one ever sees half of it.

    ``write`` gets a binary file in ``path``'s folder (created if missing) under a temporary
    name, which is renamed to ``path`` (``os.replace``, atomic) once ``write`` returned. If
    ``write`` raises, ``path`` is left as it was and the temporary file is removed; if the
    process dies, ``path`` is still whole (old or new), though a hidden ``.name.*`` file may
    stay behind. The new file keeps the permissions of the file it replaces, else ``0o644``
    (readable by everyone, like a file a program saves). Returns ``path``.
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
