"""A learner's own picture, from an ipywidgets ``FileUpload``, a URL or a bundled name, loaded
or refused with one :class:`~nst_helpers.io.files.ImageError` line."""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

import torch

from .download import fetch_image
from .files import ImageError
from .images import example_image, load_image

__all__ = ["uploaded_file", "load_choice"]


def uploaded_file(value) -> tuple[str, bytes] | None:
    """``(name, content)`` of the last file in a ``FileUpload.value`` of ipywidgets 7 (a dict
    ``{name: {"metadata", "content"}}``) or 8 (a tuple of dicts with ``"name"``,
    ``"content"``), or a :class:`~nst_helpers.io.upload_widget.ChunkedUpload`'s (8's shape);
    ``None`` when nothing is uploaded; ImageError for anything else, and for a file whose
    bytes have not all arrived (fewer than its ``size``)."""
    try:
        if isinstance(value, dict):  # ipywidgets 7
            if not value:
                return None
            name, entry = list(value.items())[-1]
            size = entry.get("metadata", {}).get("size")
        else:  # ipywidgets 8 (a list when it comes as JSON), or a ChunkedUpload's
            if not value:
                return None
            entry = value[-1]
            name, size = entry["name"], entry.get("size")
        content = bytes(entry["content"])
    except (TypeError, KeyError, IndexError, AttributeError):
        raise ImageError(f"not an upload widget's value ({type(value).__name__}); give "
                         "FileUpload.value") from None
    if isinstance(size, int) and len(content) < size:
        raise ImageError(f"{name} (uploaded): {len(content) / 1e6:.1f} of {size / 1e6:.1f} MB "
                         "has arrived: wait until the upload button says all arrived, then try "
                         "again; if it stopped, choose the file again, or a smaller one")
    return str(name), content


def _safe_name(name: str) -> str:
    """The file name without folders or odd characters (an upload's name is the sender's)."""
    base = re.sub(r"[^\w.\- ]", "_", Path(name.replace("\\", "/")).name).strip(". ")
    return base[:80] or "upload"


def _load_bytes(name: str, data: bytes, size: int | None) -> torch.Tensor:
    """Uploaded bytes through :func:`load_image` (a file's checks), naming the upload in errors."""
    with tempfile.TemporaryDirectory(prefix="nst_upload_") as folder:
        path = Path(folder) / _safe_name(name)
        path.write_bytes(data)
        try:
            return load_image(path, size)
        except ImageError as err:
            raise ImageError(str(err).replace(str(path), f"{name} (uploaded)")) from None


def load_choice(source, size: int | None = None, *, cache_dir: str | os.PathLike | None = None,
                timeout: float = 15) -> tuple[str, torch.Tensor]:
    """``(name, image)`` for what a learner picked, ``image`` ``(1, 3, H, W)`` in [0, 1] with
    long side ``size`` px (``None``: as is). ``source``: a ``FileUpload.value``, ``bytes``,
    an ``http(s)://`` URL (cached in ``cache_dir``), a bundled image's name or a path.

    Raises:
        ImageError: one line: nothing uploaded, a bad file, a failed URL (``DownloadError``).
    """
    if isinstance(source, (bytes, bytearray, memoryview)):
        return "upload", _load_bytes("upload", bytes(source), size)
    if isinstance(source, (dict, tuple, list)):
        upload = uploaded_file(source)
        if upload is None:
            raise ImageError("no file uploaded yet: click Upload and choose a photo")
        name, data = upload
        return name, _load_bytes(name, data, size)
    if isinstance(source, str) and source.strip().startswith(("http://", "https://")):
        url = source.strip()
        path = fetch_image(url, cache_dir, timeout=timeout)
        return url.rsplit("/", 1)[-1] or url, load_image(path, size)
    if isinstance(source, (str, os.PathLike)) and os.fspath(source).strip():
        path = Path(os.fspath(source).strip()).expanduser()
        if not path.exists() and path.name == os.fspath(source).strip():  # a bundled name
            path = example_image(path.name)
        return path.name, load_image(path, size)
    raise ImageError(f"nothing to load from {source!r}: upload a file, paste an image URL or "
                     "pick a bundled image")
