"""A learner's own picture, from an ipywidgets ``FileUpload``, a URL or a bundled name.

``FileUpload.value`` has two shapes: ipywidgets 7 (Colab's 7.7.1) gives a dict
``{name: {"metadata": {...}, "content": bytes}}``, ipywidgets 8 a tuple of dicts with
``"name"`` and ``"content"`` (a memoryview). :func:`uploaded_file` reads either;
:func:`load_choice` turns any of the notebook's choices into an image, or raises one
:class:`~nst_helpers.io.files.ImageError` line, so that a bad file costs nothing but a message.
"""

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
    ``{name: {"metadata", "content"}}``) or 8 (a tuple of dicts ``{"name", "content", ...}``,
    ``content`` a memoryview); ``None`` when nothing is uploaded (``{}`` or ``()``).

    Raises:
        ImageError: one line, for a value of neither shape.
    """
    try:
        if isinstance(value, dict):  # ipywidgets 7
            if not value:
                return None
            name, entry = list(value.items())[-1]
        else:  # ipywidgets 8 (a list when it comes as JSON)
            if not value:
                return None
            entry = value[-1]
            name = entry["name"]
        return str(name), bytes(entry["content"])
    except (TypeError, KeyError, IndexError, AttributeError):
        raise ImageError(f"not an upload widget's value ({type(value).__name__}); give "
                         "FileUpload.value") from None


def _safe_name(name: str) -> str:
    """The file name without folders or odd characters (an upload's name is the sender's)."""
    base = re.sub(r"[^\w.\- ]", "_", Path(name.replace("\\", "/")).name).strip(". ")
    return base[:80] or "upload"


def _load_bytes(name: str, data: bytes, size: int | None) -> torch.Tensor:
    """Load uploaded bytes through :func:`load_image` (the same checks as a file: empty,
    damaged, not an image, over ``MAX_PIXELS`` before decoding; alpha flattened on white; a
    JPEG decoded at the reduced scale ``size`` needs), naming the upload in any error."""
    with tempfile.TemporaryDirectory(prefix="nst_upload_") as folder:
        path = Path(folder) / _safe_name(name)
        path.write_bytes(data)
        try:
            return load_image(path, size)
        except ImageError as err:
            raise ImageError(str(err).replace(str(path), f"{name} (uploaded)")) from None


def load_choice(source, size: int | None = None, *, cache_dir: str | os.PathLike | None = None,
                timeout: float = 15) -> tuple[str, torch.Tensor]:
    """Load what a learner picked: ``(name, image)``, ``image`` a float32 tensor
    ``(1, 3, H, W)`` in [0, 1] whose long side is ``size`` px (aspect kept; ``None``: as is).

    ``source`` is a ``FileUpload.value`` of ipywidgets 7 or 8 (the last file uploaded), raw
    ``bytes``, an ``http(s)://`` URL (downloaded into ``cache_dir`` with ``timeout`` seconds
    per step, :func:`~nst_helpers.io.download.fetch_image`), a bundled image's name
    (``"chelsea"``) or a file path.

    Raises:
        ImageError: one line saying what is wrong and what to do (nothing uploaded, an empty,
            damaged or too large file, not an image, a URL that fails: ``DownloadError``).
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

