"""Photo datasets for training a network (notebook 08): a zip streamed to a ``.part`` file
(resumed with an HTTP ``Range`` request), its size and MD5 checked, then unpacked."""

from __future__ import annotations

import hashlib
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from http.client import HTTPException
from pathlib import Path

from .download import DownloadError, default_cache_dir, http_only_opener

__all__ = ["Dataset", "COCO_VAL2017", "download_dataset"]


@dataclass(frozen=True)
class Dataset:
    """A downloadable zip of photos: cache folder ``name``, ``url``, hex ``md5``, ``size`` in
    bytes (``None``: unknown) and the ``source`` that vouches for them."""

    name: str
    url: str
    md5: str
    size: int | None = None
    source: str = ""


#: COCO 2017 validation images: 5,000 Flickr photos under their own CC licences (Lin et al.
#: 2014). MD5 and size as independent public download scripts and logs agree.
COCO_VAL2017 = Dataset("coco_val2017", "http://images.cocodataset.org/zips/val2017.zip",
                       md5="442b8da7639aecaf257c1dceb8ba8c80", size=815_585_330,
                       source="agreed by independent public download scripts and logs; "
                              "not measured by this project")


def _md5(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _fetch_resumable(url: str, part: Path, timeout: float, progress) -> None:
    """Append the rest of ``url`` to ``part`` (a Range request from its current size)."""
    have = part.stat().st_size if part.exists() else 0
    opener = http_only_opener(url)
    request = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
    try:
        with opener.open(request, timeout=timeout) as response:
            if have and response.status != 206:  # the server ignored the range: start again
                have = 0
            total = have + int(response.headers.get("Content-Length") or 0)
            with open(part, "ab" if have else "wb") as f:
                while block := response.read(1 << 20):
                    f.write(block)
                    have += len(block)
                    if progress:
                        progress(have, total)
    except urllib.error.HTTPError as err:
        if err.code == 416 and have:  # nothing left to fetch: the file is whole
            return
        if 300 <= err.code < 400:  # urllib refuses a redirect to file:// itself, before ours
            raise DownloadError(f"could not download {url}: it redirects to an address that is "
                                "not http:// or https://; only http:// and https:// are "
                                "followed") from None
        raise DownloadError(f"could not download {url} (HTTP {err.code}); try again later, or "
                            "train on a folder of your own photos") from None
    except DownloadError:
        raise
    except (OSError, HTTPException, ValueError) as err:
        reason = " ".join(str(err).split())[:100] or type(err).__name__
        raise DownloadError(f"could not download {url} ({reason}); check your connection (run "
                            "again to resume), or train on a folder of your own photos") from None


def download_dataset(dataset: Dataset = COCO_VAL2017, cache_dir: str | Path | None = None, *,
                     timeout: float = 60, progress=None) -> Path:
    """The folder of ``dataset``'s photos, downloaded (resuming a cut-off try), checked and
    unpacked into ``cache_dir`` first if needed; ``progress(bytes_so_far, total)`` is called
    while downloading.

    Raises:
        DownloadError: one line: offline, refused, or a size or checksum mismatch.
    """
    root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    folder = root / dataset.name
    done = folder / ".complete"
    if done.is_file():
        return _photos_folder(folder)
    root.mkdir(parents=True, exist_ok=True)
    part = root / f"{dataset.name}.zip.part"
    _fetch_resumable(dataset.url, part, timeout, progress)
    size = part.stat().st_size
    if dataset.size is not None and size != dataset.size:
        if size > dataset.size:
            part.unlink()
        raise DownloadError(f"{dataset.url}: got {size} bytes, expected {dataset.size}; run "
                            "again to resume or restart the download")
    if _md5(part) != dataset.md5:
        part.unlink()
        raise DownloadError(f"{dataset.url}: checksum mismatch (MD5 is not {dataset.md5}); the "
                            "file was deleted, run again to download it afresh")
    try:
        with zipfile.ZipFile(part) as archive:
            archive.extractall(folder)
    except zipfile.BadZipFile:
        raise DownloadError(f"{dataset.url}: not a zip file; the checksum matched, so the "
                            "dataset's entry is wrong: please report it") from None
    part.unlink()
    done.write_text(f"{dataset.url} md5 {dataset.md5}\n")
    return _photos_folder(folder)


def _photos_folder(folder: Path) -> Path:
    """The folder with the photos: the zip's single top folder (``val2017/``) if it has one."""
    subfolders = [p for p in folder.iterdir() if p.is_dir()]
    files = [p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")]
    return subfolders[0] if len(subfolders) == 1 and not files else folder
