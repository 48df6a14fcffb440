"""The training photos of notebook 08: a folder of photos, and random crops of them."""

from __future__ import annotations

import collections
import contextlib
import random
import warnings
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import torch
from torch import nn

__all__ = ["PhotoFolder", "BUNDLED_PHOTOS", "bundled_photos_dir"]


class PhotoFolder:
    """The photos of a folder (non-images skipped with one ``log`` line each), their long side
    at most ``max_side``, kept decoded when at most ``in_memory``; random square crops.

    Raises:
        ValueError: one line: the folder is missing, or holds no image.
    """

    def __init__(self, folder: str | Path, *, max_side: int = 512, in_memory: int = 200,
                 log: Callable[[str], object] = print):
        from PIL import Image

        folder = Path(folder)
        if not folder.is_dir():
            raise ValueError(f"no folder {str(folder)!r}: give a folder of photos")
        self.max_side = max_side
        self.paths: list[Path] = []
        for path in sorted(p for p in folder.iterdir() if p.is_file()):
            try:
                with _warnings_quiet(), Image.open(path) as image:
                    image.verify()
            except Exception as err:  # noqa: BLE001 - any unreadable file is skipped, said once
                log(f"skipped {path.name}: not an image ({type(err).__name__})")
                continue
            self.paths.append(path)
        if not self.paths:
            raise ValueError(f"folder {str(folder)!r} holds no image: put photos (JPEG, PNG) in it")
        self.names = [p.name for p in self.paths]
        self.photos: dict[int, torch.Tensor] = {}
        if len(self.paths) <= in_memory:
            self.photos = {i: self._load(i) for i in range(len(self.paths))}

    def _load(self, index: int) -> torch.Tensor:
        from PIL import Image

        from .images import load_image

        try:
            with Image.open(self.paths[index]) as header:  # the header only
                larger = max(header.size) > self.max_side
        except Exception:  # noqa: BLE001 - changed since it was checked: load_image says how
            larger = False
        with _warnings_quiet():
            return load_image(self.paths[index], self.max_side if larger else None)

    def __len__(self) -> int:
        return len(self.paths)

    def batch(self, batch_size: int, size: int, generator: random.Random) -> torch.Tensor:
        """``(batch_size, 3, size, size)`` in [0, 1]: random square crops at log-uniform scales,
        resized to ``size``, half flipped left to right."""
        crops = []
        for _ in range(batch_size):
            index = generator.randrange(len(self.paths))
            photo = self.photos[index] if index in self.photos else self._load(index)
            h, w = photo.shape[-2:]
            short = min(h, w)
            low = min(size, short)
            side = round(low * (short / low) ** generator.random())  # log-uniform scale
            top, left = generator.randint(0, h - side), generator.randint(0, w - side)
            crop = photo[..., top:top + side, left:left + side]
            if side != size:
                crop = nn.functional.interpolate(crop, size=(size, size), mode="bilinear",
                                                 align_corners=False, antialias=side > size)
            if generator.random() < 0.5:
                crop = crop.flip(-1)
            crops.append(crop)
        return torch.cat(crops).clamp(0, 1)

    def batches(self, batch_size: int, size: int, generator: random.Random, *,
                prefetch: int = 0, pin_memory: bool = False) -> Iterator[torch.Tensor]:
        """:meth:`batch` without end. ``prefetch`` > 0: a thread prepares that many ahead (the
        same batches, in order), pinned if ``pin_memory``; an error in it is raised at its
        batch; ``close()`` stops it."""
        def make() -> torch.Tensor:
            item = self.batch(batch_size, size, generator)
            return item.pin_memory() if pin_memory else item

        if prefetch <= 0:
            while True:
                yield make()
        pool = ThreadPoolExecutor(1, thread_name_prefix="nst-photo-batches")
        ahead = collections.deque(pool.submit(make) for _ in range(prefetch))
        try:
            while True:
                item = ahead.popleft().result()
                ahead.append(pool.submit(make))
                yield item
        finally:
            pool.shutdown(cancel_futures=True)


@contextlib.contextmanager
def _warnings_quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


#: The photos bundled in ``images/`` (not the paintings): the default training data on a CPU.
BUNDLED_PHOTOS = ("astronaut", "chelsea", "coffee", "rocket")


def bundled_photos_dir() -> Path:
    """A new temporary folder linking to the :data:`BUNDLED_PHOTOS`."""
    import tempfile

    from .images import example_image

    folder = Path(tempfile.mkdtemp(prefix="nst_photos_"))
    for name in BUNDLED_PHOTOS:
        src = example_image(name)
        (folder / src.name).symlink_to(src.resolve())
    return folder
