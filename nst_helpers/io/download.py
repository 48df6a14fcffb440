"""Downloading images by URL (http/https only, standard library), checked and cached on disk
(``$NST_CACHE_DIR`` or ``~/.cache/nst_helpers``). Never imports :mod:`nst_helpers.io.images`,
which imports it."""

from __future__ import annotations

import hashlib
import io
import os
import re
import urllib.error
import urllib.parse
import urllib.request
import warnings
from http.client import HTTPException
from pathlib import Path

from PIL import Image

from .colab import repo_url
from .files import MAX_PIXELS, ImageError, one_line, write_atomically

__all__ = ["DownloadError", "check_url", "fetch_bytes", "fetch_image", "default_cache_dir",
           "check_image_bytes"]

MAX_BYTES = 50 * 2**20
_ADVICE = "check the address or your connection, or use a local file"


class DownloadError(ImageError):
    """A URL could not be downloaded. The message says why and what to do."""


def check_url(url) -> str:
    """``url`` if it is an http(s) address, else DownloadError."""
    if not isinstance(url, str):
        raise DownloadError(f"a URL must be text, not {type(url).__name__}; "
                            "give an http:// or https:// address")
    parts = urllib.parse.urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        raise DownloadError(f"{one_line(url)}: only http:// and https:// URLs can be "
                            "downloaded; use a local file for anything else")
    return url


class _HttpOnlyRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        check_url(newurl)
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def fetch_bytes(url: str, *, timeout: float = 30, max_bytes: int = MAX_BYTES) -> bytes:
    """``url``'s payload, waiting ``timeout`` s at each step, at most ``max_bytes``.

    Raises:
        DownloadError: one line: bad scheme, offline, HTTP error, timeout or too large.
    """
    check_url(url)
    opener = urllib.request.build_opener(_HttpOnlyRedirects)
    agent = f"nst_helpers/0.1 (+{repo_url()}) Python-urllib"
    request = urllib.request.Request(url, headers={"User-Agent": agent})
    limit = f"{max_bytes / 2**20:.0f} MiB" if max_bytes >= 2**20 else f"{max_bytes} bytes"
    too_big = DownloadError(f"could not download {url} (larger than {limit}); download it "
                            "yourself and use the local file")
    try:
        with opener.open(request, timeout=timeout) as response:
            length = response.headers.get("Content-Length")
            if length and length.isdigit() and int(length) > max_bytes:
                raise too_big
            chunks, total = [], 0
            while chunk := response.read(64 * 1024):
                total += len(chunk)
                if total > max_bytes:
                    raise too_big
                chunks.append(chunk)
    except DownloadError:
        raise
    except urllib.error.HTTPError as err:
        reason = f"HTTP {err.code} {one_line(err.reason)}"
    except urllib.error.URLError as err:
        reason = one_line(err.reason)
    except TimeoutError:
        reason = f"no answer within {timeout} s"
    except (OSError, HTTPException, ValueError) as err:
        reason = f"{type(err).__name__}: {one_line(err)}"
    else:
        return b"".join(chunks)
    if "timed out" in reason:
        reason = f"no answer within {timeout} s"
    raise DownloadError(f"could not download {url} ({reason}); {_ADVICE}")


def default_cache_dir() -> Path:
    """The download cache folder: ``$NST_CACHE_DIR`` or ``~/.cache/nst_helpers``."""
    return Path(os.environ.get("NST_CACHE_DIR") or Path.home() / ".cache" / "nst_helpers")


def _cache_name(url: str) -> str:
    digest = hashlib.sha256(url.encode()).hexdigest()[:16]
    stem = Path(urllib.parse.urlsplit(url).path).name
    stem = re.sub(r"[^A-Za-z0-9._-]", "_", stem)[-60:].lstrip(".")
    return f"{digest}-{stem}" if stem else digest


def check_image_bytes(data: bytes, url: str = "download") -> None:
    """Raise ``DownloadError`` unless ``data`` is an image Pillow can read, within MAX_PIXELS."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                size = image.size
                image.verify()
    except Exception as err:
        raise DownloadError(f"{url} is not an image ({type(err).__name__}); check that the URL "
                            "points to the image file itself, not a web page") from None
    if size[0] * size[1] > MAX_PIXELS:
        raise DownloadError(f"{url}: image is {size[0]}x{size[1]} px, over the "
                            f"{MAX_PIXELS // 1_000_000} megapixel limit; use a smaller image")


def fetch_image(url: str, cache_dir: str | os.PathLike | None = None, *,
                timeout: float = 30, max_bytes: int = MAX_BYTES) -> Path:
    """The path of the image at ``url`` in the cache (``cache_dir``, default
    :func:`default_cache_dir`), downloaded, checked (:func:`check_image_bytes`) and written
    atomically first if it is not there yet."""
    folder = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    path = folder / _cache_name(check_url(url))
    if path.is_file():
        return path
    data = fetch_bytes(url, timeout=timeout, max_bytes=max_bytes)
    check_image_bytes(data, url)
    try:
        write_atomically(path, lambda f: f.write(data))
    except OSError as err:
        raise DownloadError(f"cannot write to the cache folder {folder} ({one_line(err)}); "
                            "set NST_CACHE_DIR to a writable folder") from None
    return path
