"""Photo datasets for training a network (notebook 08): a zip downloaded by torchvision's own
helper, its MD5 checked, then unpacked."""

from __future__ import annotations

from dataclasses import dataclass
from http.client import HTTPException
from pathlib import Path

from .download import DownloadError, check_url, default_cache_dir
from .files import one_line

__all__ = ["Dataset", "COCO_VAL2017", "download_dataset"]


@dataclass(frozen=True)
class Dataset:
    """A downloadable zip of photos: cache folder ``name``, ``url``, hex ``md5`` and the
    ``source`` that vouches for it."""

    name: str
    url: str
    md5: str
    source: str = ""


#: COCO 2017 validation images: 5,000 Flickr photos under their own CC licences (Lin et al.
#: 2014), 815,585,330 bytes. The MD5 is the one independent public download scripts and logs
#: agree on.
COCO_VAL2017 = Dataset("coco_val2017", "http://images.cocodataset.org/zips/val2017.zip",
                       md5="442b8da7639aecaf257c1dceb8ba8c80",
                       source="agreed by independent public download scripts and logs; "
                              "not measured by this project")


def download_dataset(dataset: Dataset = COCO_VAL2017, cache_dir: str | Path | None = None
                     ) -> Path:
    """The folder of ``dataset``'s photos: downloaded (with a progress bar), checked and
    unpacked into ``cache_dir`` first if it is not there yet (torchvision's
    ``download_and_extract_archive``).

    Raises:
        DownloadError: one line: not http(s), offline, refused, or a checksum mismatch.
    """
    from torchvision.datasets.utils import download_and_extract_archive

    root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    folder, archive = root / dataset.name, root / f"{dataset.name}.zip"
    done = folder / ".complete"
    if not done.is_file():
        check_url(dataset.url)
        try:
            download_and_extract_archive(dataset.url, root, folder, archive.name, dataset.md5,
                                         remove_finished=True)
        except RuntimeError:  # torchvision's "File not found or corrupted.": the MD5 differs
            raise DownloadError(f"{dataset.url}: checksum mismatch (MD5 is not {dataset.md5}); "
                                "the file was deleted, run again to download it afresh") from None
        except (OSError, HTTPException, ValueError) as err:  # URLError is an OSError
            reason = one_line(getattr(err, "reason", err), 100) or type(err).__name__
            raise DownloadError(f"could not download {dataset.url} ({reason}); check your "
                                "connection, or train on a folder of your own photos") from None
        finally:
            archive.unlink(missing_ok=True)  # cut off or corrupt: never used again
        done.write_text(f"{dataset.url} md5 {dataset.md5}\n")
    subfolders = [p for p in folder.iterdir() if p.is_dir()]
    files = [p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")]
    return subfolders[0] if len(subfolders) == 1 and not files else folder  # val2017/
