"""Loading, saving and showing images as tensors ``(1, 3, H, W)`` in [0, 1]."""

from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps

__all__ = ["ImageError", "load_image", "save_image", "to_pil", "resize", "show_images",
           "IMAGES_DIR", "example_image"]

#: Where the bundled example images live (the repository's ``images/`` folder).
IMAGES_DIR = Path(__file__).resolve().parent.parent / "images"


class ImageError(ValueError):
    """An image could not be read or used. The message says what is wrong and what to do."""


def _open(source) -> Image.Image:
    if isinstance(source, Image.Image):
        return source
    if isinstance(source, np.ndarray):
        array = source
        if array.dtype != np.uint8:
            array = np.clip(array.astype(np.float64) * (255 if array.max() <= 1 else 1), 0, 255)
            array = array.round().astype(np.uint8)
        return Image.fromarray(array)
    if isinstance(source, torch.Tensor):
        return to_pil(source)
    if isinstance(source, (str, os.PathLike)):
        text = str(source)
        if text.startswith(("http://", "https://")):
            from .download import fetch_bytes

            return Image.open(io.BytesIO(fetch_bytes(text)))
        path = Path(text)
        if not path.exists():
            raise ImageError(f"{path}: no such file; check the path")
        try:
            image = Image.open(path)
            image.load()
        except Exception as err:
            raise ImageError(f"{path}: not a readable image ({err.__class__.__name__}); "
                             "use a JPEG or PNG file") from None
        return image
    raise ImageError(f"cannot load an image from a {type(source).__name__}: give a path, URL, "
                     "PIL image or array")


def _to_rgb(image: Image.Image) -> Image.Image:
    image = ImageOps.exif_transpose(image)
    if image.mode == "RGB":
        return image
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        array = np.asarray(image, dtype=np.float64)
        peak = 65535.0 if array.max() > 255 else 255.0
        image = Image.fromarray((array / peak * 255).round().clip(0, 255).astype(np.uint8))
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


def resize(image: torch.Tensor, size: int) -> torch.Tensor:
    """Resize ``(B, 3, H, W)`` so its long side is ``size`` px, keeping the aspect ratio."""
    h, w = image.shape[-2:]
    scale = size / max(h, w)
    new = (max(1, round(h * scale)), max(1, round(w * scale)))
    return torch.nn.functional.interpolate(image, size=new, mode="bilinear", align_corners=False,
                                           antialias=scale < 1)


def load_image(source, size: int | None = None) -> torch.Tensor:
    """Load an image as a float32 tensor ``(1, 3, H, W)`` with values in [0, 1].

    Args:
        source: a file path, an ``http(s)://`` URL, a PIL image, an ``(H, W)`` or
            ``(H, W, 3|4)`` array (uint8, or floats in [0, 1]), or a tensor.
        size: if given, the long side in pixels (aspect ratio kept).

    EXIF orientation is honoured; grayscale, RGBA (on white), palette and 16-bit
    images become RGB.

    Raises:
        ImageError: the source is missing or not an image.
    """
    image = _to_rgb(_open(source))
    if size is not None:
        w, h = image.size
        scale = size / max(w, h)
        image = image.resize((max(1, round(w * scale)), max(1, round(h * scale))),
                             Image.Resampling.LANCZOS)
    array = np.asarray(image, dtype=np.float32) / 255.0
    return torch.from_numpy(array.copy()).permute(2, 0, 1).unsqueeze(0).contiguous()


def to_pil(image: torch.Tensor) -> Image.Image:
    """A tensor ``(1, 3, H, W)`` or ``(3, H, W)`` in [0, 1] (clamped) as an RGB PIL image."""
    image = image.detach().float().cpu()
    if image.dim() == 4:
        image = image[0]
    array = (image.clamp(0, 1).permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    return Image.fromarray(array, "RGB")


def save_image(image: torch.Tensor, path: str | os.PathLike) -> Path:
    """Save ``image`` ``(1, 3, H, W)`` in [0, 1] to ``path`` (format from the suffix; PNG if none).

    The file is written to a temporary name and renamed into place, so a crash
    never leaves a half-written file. Returns the path written.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fmt = Image.registered_extensions().get(path.suffix.lower(), "PNG")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            to_pil(image).save(f, format=fmt)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def example_image(name: str) -> Path:
    """Path of a bundled example image in ``images/`` (``"chelsea"`` finds ``chelsea.jpg``)."""
    matches = sorted(IMAGES_DIR.glob(f"{name}.*"))
    if not matches:
        available = sorted({p.stem for p in IMAGES_DIR.glob("*.jpg")} |
                           {p.stem for p in IMAGES_DIR.glob("*.png")})
        raise ImageError(f"no bundled image {name!r}; available: {', '.join(available)}")
    return matches[0]


def show_images(images, titles=None, *, width: float = 4.0, axes=None):
    """Show tensors ``(1, 3, H, W)`` (or PIL images) in a row with titles; returns the figure."""
    import matplotlib.pyplot as plt

    images = list(images)
    titles = list(titles) if titles is not None else [None] * len(images)
    if axes is None:
        fig, axes = plt.subplots(1, len(images), figsize=(width * len(images), width),
                                 squeeze=False)
        axes = axes[0]
    else:
        fig = axes[0].figure
    for ax, image, title in zip(axes, images, titles):
        ax.imshow(to_pil(image) if isinstance(image, torch.Tensor) else image)
        ax.set_axis_off()
        if title:
            ax.set_title(title)
    fig.tight_layout()
    return fig
