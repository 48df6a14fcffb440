"""The training photos of notebook 08's network: a folder of photos, and random crops of them.

:class:`PhotoFolder` reads a folder (the photos bundled in ``images/`` by default,
:func:`bundled_photos_dir`; or a dataset, :mod:`nst_helpers.io.datasets`), skipping files that
are not images with one line each.
"""

from __future__ import annotations

import queue
import random
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import torch
from torch import nn

__all__ = ["PhotoFolder", "BUNDLED_PHOTOS", "bundled_photos_dir"]


# --- The data --------------------------------------------------------------------------------

class PhotoFolder:
    """The photos of a folder, and random square crops of them.

    Args:
        folder: a folder of photos (JPEG, PNG...). Files that are not images are skipped with
            one line each through ``log``.
        max_side: photos are used with their long side at most this (default 512).
        in_memory: keep the photos decoded in memory when there are at most this many
            (default 200); a larger folder (a dataset) is read from disk at each batch.
        log: where the skip lines go (default ``print``).

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
                    image.verify()  # reads the header and checks the structure, cheaply
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
            with Image.open(self.paths[index]) as header:  # reads the header only: no decoding
                larger = max(header.size) > self.max_side
        except Exception:  # noqa: BLE001 - changed since it was checked: load_image says how
            larger = False
        with _warnings_quiet():  # decoded once, shrunk only when larger than max_side
            return load_image(self.paths[index], self.max_side if larger else None)

    def __len__(self) -> int:
        return len(self.paths)

    def batch(self, batch_size: int, size: int, generator: random.Random) -> torch.Tensor:
        """``(batch_size, 3, size, size)`` in [0, 1]: random square crops (a side from ``size``
        to the photo's short side, log-uniform, so at several scales), resized to ``size``,
        half of them flipped left to right."""
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
        """:meth:`batch` again and again, without end.

        With ``prefetch`` > 0, a background thread prepares up to that many batches ahead,
        so that reading and cropping photos (on the CPU) overlaps the training step (on a GPU):
        the same batches in the same order, since only that thread draws from ``generator``.
        ``pin_memory`` pins them (for ``.to("cuda", non_blocking=True)``). An error in the
        thread is raised here, at the batch it would have made. Close the iterator (``close()``)
        to stop the thread; it is a daemon, so it never keeps Python from exiting.
        """
        if prefetch <= 0:
            while True:
                yield self.batch(batch_size, size, generator)
        ready: queue.Queue = queue.Queue(maxsize=prefetch)
        stop = threading.Event()

        def fill() -> None:
            while not stop.is_set():
                try:
                    item = self.batch(batch_size, size, generator)
                    item = item.pin_memory() if pin_memory else item
                except Exception as err:  # noqa: BLE001 - handed to the training loop
                    item = err
                while not stop.is_set():
                    try:
                        ready.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if isinstance(item, Exception):
                    return

        thread = threading.Thread(target=fill, name="nst-photo-batches", daemon=True)
        thread.start()
        try:
            while True:
                item = ready.get()
                if isinstance(item, Exception):
                    raise item
                yield item
        finally:
            stop.set()
            thread.join(timeout=10)


class _warnings_quiet:
    def __enter__(self):
        import warnings
        self._ctx = warnings.catch_warnings()
        self._ctx.__enter__()
        warnings.simplefilter("ignore")

    def __exit__(self, *exc):
        return self._ctx.__exit__(*exc)


#: The photos bundled in ``images/`` (the paintings aside): the default training data on a CPU.
BUNDLED_PHOTOS = ("astronaut", "chelsea", "coffee", "rocket")


def bundled_photos_dir() -> Path:
    """A new temporary folder linking to the four photos bundled in ``images/`` (astronaut,
    chelsea, coffee, rocket; the paintings left out): the default training data on a CPU."""
    import tempfile

    from .images import example_image

    folder = Path(tempfile.mkdtemp(prefix="nst_photos_"))
    for name in BUNDLED_PHOTOS:
        src = example_image(name)
        (folder / src.name).symlink_to(src.resolve())
    return folder
