"""Loading, saving and showing images as tensors ``(1, 3, H, W)`` float32 in [0, 1].
Shapes are ``(height, width)``, as in ``shape[-2:]``; only Pillow's calls take ``(w, h)``."""

from __future__ import annotations

import os
import re
import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps

from .download import fetch_image
from .files import MAX_PIXELS, ImageError, one_line, write_atomically

__all__ = ["ImageError", "load_image", "save_image", "to_pil", "resize", "show_images",
           "IMAGES_DIR", "example_image", "jpeg_bytes", "MIN_SIDE", "MAX_PIXELS", "MAX_ASPECT"]


def _images_dir() -> Path:
    """The bundled images: ``nst_helpers/bundled_images`` when installed, else ``images/``."""
    package = Path(__file__).resolve().parent.parent
    for folder in (package / "bundled_images", package.parent / "images"):
        if (folder / "chelsea.jpg").is_file():
            return folder
    return package / "bundled_images"


IMAGES_DIR = _images_dir()
#: Shortest side (px) ``load_image`` returns: what VGG19's five poolings need.
MIN_SIDE = 32
#: Images more than this many times longer than wide (or the reverse) are refused.
MAX_ASPECT = 20


def _too_big(name, w: int, h: int) -> ImageError:
    return ImageError(f"{name}: image is {w}x{h} px ({w * h / 1e6:.0f} megapixels), over the "
                      f"{MAX_PIXELS // 1_000_000} megapixel limit; shrink it in an image editor")


def _open_file(path: Path, draft: int | None) -> Image.Image:
    """Open and decode an image file, refusing huge ones before decoding."""
    if path.is_dir():
        raise ImageError(f"{path}: is a folder, not an image file; give the path of a file")
    if not path.exists():
        raise ImageError(f"{path}: no such file; check the path")
    try:
        if path.stat().st_size == 0:
            raise ImageError(f"{path}: file is empty (0 bytes); copy or download it again")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(path)
        w, h = image.size
        if w * h > MAX_PIXELS:
            raise _too_big(path, w, h)
        if draft and image.format == "JPEG":  # decode at 1/2, 1/4 or 1/8 scale
            image.draft(None, (draft, draft))
        image.load()
    except ImageError:
        raise
    except Image.DecompressionBombError as err:  # header over 2x Pillow's own limit
        found = re.search(r"\((\d+) pixels\)", str(err))
        count = f" ({int(found[1]) / 1e6:.0f} megapixels)" if found else ""
        raise ImageError(f"{path}: image is too large{count}, over the "
                         f"{MAX_PIXELS // 1_000_000} megapixel limit; shrink it in an image "
                         "editor") from None
    except PermissionError:
        raise ImageError(f"{path}: permission denied; check the file's permissions") from None
    except Exception as err:  # Pillow raises many types for damaged files
        raise ImageError(f"{path}: not a readable image ({type(err).__name__}: "
                         f"{one_line(err, 80)}); it may be damaged or incomplete: "
                         "re-save or download it again as JPEG or PNG") from None
    return image


def _from_array(array: np.ndarray) -> Image.Image:
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if not (array.ndim == 2 or (array.ndim == 3 and array.shape[2] in (3, 4))) or not array.size:
        raise ImageError(f"array of shape {array.shape} is not an image; use (H, W), (H, W, 3) "
                         "or (H, W, 4)")
    if array.dtype.kind not in "biuf":
        raise ImageError(f"array of dtype {array.dtype} is not an image; use uint8 or floats")
    if array.dtype != np.uint8:
        array = array.astype(np.float64)
        if not np.isfinite(array).all():
            raise ImageError("array contains NaN or infinite values; fix the data first")
        array = np.clip(array * (255 if array.max() <= 1 else 1), 0, 255).round().astype(np.uint8)
    return Image.fromarray(np.ascontiguousarray(array))


def _open(source, draft: int | None = None) -> Image.Image:
    if isinstance(source, Image.Image):
        return source
    if isinstance(source, np.ndarray):
        return _from_array(source)
    if isinstance(source, torch.Tensor):
        return to_pil(source)
    if isinstance(source, (str, os.PathLike)):
        text = os.fspath(source)
        if not isinstance(text, str) or not text.strip():
            raise ImageError(f"{source!r} is not a usable path; give a file path or URL")
        if text.startswith(("http://", "https://")):
            return _open_file(fetch_image(text), draft)
        return _open_file(Path(text).expanduser(), draft)
    raise ImageError(f"cannot load an image from {type(source).__name__}; give a path, URL, "
                     "PIL image, array or tensor")


def _to_rgb(image: Image.Image, name: str = "image") -> Image.Image:
    """Any Pillow mode as RGB: upright (EXIF), alpha over white, 16-bit/float scaled to 8-bit."""
    w, h = image.size
    if w * h > MAX_PIXELS:
        raise _too_big(name, w, h)
    image = ImageOps.exif_transpose(image)
    if image.mode == "RGB":
        return image
    if image.mode.startswith(("I", "F")):  # I, I;16*, F: scale to 0..255
        array = np.nan_to_num(np.asarray(image, dtype=np.float64), posinf=0, neginf=0)
        peak = 1.0 if image.mode == "F" and array.max() <= 1 else (
            255.0 if array.max() <= 255 else 65535.0)
        image = Image.fromarray((array / peak * 255).round().clip(0, 255).astype(np.uint8))
    if image.mode in ("RGBA", "RGBa", "LA", "La", "PA") or (
            image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


def scaled_shape(shape, long_side: int | None = None, *,
                 short_side: int | None = None) -> tuple[int, int]:
    """``shape`` ``(H, W)`` scaled (aspect kept, rounded, >= 1) to a long side of ``long_side``
    or a short side of ``short_side`` px (exactly one; else TypeError)."""
    if (long_side is None) == (short_side is None):
        raise TypeError("give exactly one of long_side and short_side")
    h, w = shape
    scale = long_side / max(h, w) if long_side is not None else short_side / min(h, w)
    return max(1, round(h * scale)), max(1, round(w * scale))


def resize(image: torch.Tensor, size: int) -> torch.Tensor:
    """Resize ``(B, 3, H, W)`` so its long side is ``size`` px, keeping the aspect ratio."""
    return resize_to(image, scaled_shape(image.shape[-2:], size))


def resize_to(image: torch.Tensor, shape) -> torch.Tensor:
    """Resize ``(B, C, H, W)`` to exactly ``shape`` ``(height, width)``: bilinear,
    antialiased when shrinking."""
    shape = tuple(int(n) for n in shape)
    return torch.nn.functional.interpolate(image, size=shape, mode="bilinear", align_corners=False,
                                           antialias=max(shape) < max(image.shape[-2:]))


def load_image(source, size: int | None = None, *, min_side: int = MIN_SIDE) -> torch.Tensor:
    """Load an image as a float32 tensor ``(1, 3, H, W)`` in [0, 1], upright and RGB
    (alpha over white; a GIF's first frame).

    Args:
        source: a path, an ``http(s)://`` URL (cached), a PIL image, an ``(H, W)`` or
            ``(H, W, 1|3|4)`` array (uint8, or floats in [0, 1]), or a tensor.
        size: if given, the long side in px (aspect kept).
        min_side: a smaller short side is upscaled to it, with a ``UserWarning``.

    Raises:
        ImageError: one line: missing, empty, damaged, not an image, over ``MAX_PIXELS``
            (checked before decoding) or over ``MAX_ASPECT``.
    """
    if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 1):
        raise ImageError(f"size {size!r} is not usable; give a positive whole number of pixels")
    image = _open(source, draft=size and max(size, min_side))
    name = str(source) if isinstance(source, (str, os.PathLike)) else "image"
    try:
        image = _to_rgb(image, name)
    except ImageError:
        raise
    except Exception as err:
        raise ImageError(f"{name}: cannot convert its {image.mode} pixels to RGB "
                         f"({type(err).__name__}); save it as an RGB JPEG or PNG") from None
    w, h = image.size
    if max(w, h) > MAX_ASPECT * min(w, h):
        raise ImageError(f"{name}: image is {w}x{h} px, too thin (over {MAX_ASPECT}:1); crop it "
                         "to a less extreme shape")
    new_h, new_w = scaled_shape((h, w), size) if size is not None else (h, w)
    if min(new_h, new_w) < min_side:
        new_h, new_w = (max(side, min_side) for side in scaled_shape((h, w), short_side=min_side))
        warnings.warn(f"image is {w}x{h} px; upscaled to {new_w}x{new_h} so its short side is "
                      f"{min_side} px (the least VGG19 can use)", UserWarning, stacklevel=2)
    if (new_h, new_w) != (h, w):
        image = image.resize((new_w, new_h), Image.Resampling.LANCZOS, reducing_gap=3.0)
    array = np.asarray(image, dtype=np.float32) / 255.0
    return torch.from_numpy(array.copy()).permute(2, 0, 1).unsqueeze(0).contiguous()


def to_pil(image: torch.Tensor) -> Image.Image:
    """A tensor ``(1, 3, H, W)`` or ``(3, H, W)`` in [0, 1] (clamped; NaN -> 0) as RGB PIL."""
    if image.dim() == 4 and image.shape[0] == 1:
        image = image[0]
    if image.dim() != 3 or image.shape[0] != 3 or not image.numel():
        raise ImageError(f"tensor of shape {tuple(image.shape)} is not an image; "
                         "use (1, 3, H, W) or (3, H, W)")
    image = torch.nan_to_num(image.detach().float().cpu(), nan=0.0)
    array = (image.clamp(0, 1).permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    return Image.fromarray(array, "RGB")


def save_image(image: torch.Tensor, path: str | os.PathLike) -> Path:
    """Save ``image`` ``(1, 3, H, W)`` in [0, 1] to ``path`` atomically (format from the
    suffix; PNG if none). Returns the path."""
    path = Path(path)
    fmt = Image.registered_extensions().get(path.suffix.lower(), "PNG")
    pil = to_pil(image)
    return write_atomically(path, lambda f: pil.save(f, format=fmt))


def example_image(name: str) -> Path:
    """Path of a bundled image (``"chelsea"`` or ``"chelsea.jpg"``); ImageError if none."""
    import glob

    plain = Path(name).name == name and name not in ("", ".", "..")
    if plain and (IMAGES_DIR / name).is_file():
        return IMAGES_DIR / name
    matches = sorted(IMAGES_DIR.glob(f"{glob.escape(name)}.*")) if plain else []
    if not matches:
        available = ", ".join(sorted({p.stem for p in IMAGES_DIR.glob("*.jpg")} |
                                     {p.stem for p in IMAGES_DIR.glob("*.png")}))
        if not plain:  # a path, not a name: the file is missing
            raise ImageError(f"no file {name!r}: give the path of an image, or a bundled "
                             f"name ({available})")
        raise ImageError(f"no bundled image {name!r}; available: {available}")
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
    for ax, image, title in zip(axes, images, titles, strict=False):
        ax.imshow(to_pil(image) if isinstance(image, torch.Tensor) else image)
        ax.set_axis_off()
        if title:
            ax.set_title(title)
    fig.tight_layout()
    return fig


def jpeg_bytes(image: torch.Tensor, quality: int = 90) -> bytes:
    """``image`` ``(1, 3, H, W)`` in [0, 1] as JPEG bytes (for a notebook or a widget)."""
    import io

    buffer = io.BytesIO()
    to_pil(image).save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def show_large(image: torch.Tensor, caption: str | None = None, *, quality: int = 90) -> None:
    """Display ``image`` ``(1, 3, H, W)`` in a notebook at its own pixel size, as a JPEG of
    ``quality``, with ``caption`` printed above it."""
    from IPython.display import Image as IPythonImage
    from IPython.display import display

    if caption:
        print(caption)
    display(IPythonImage(data=jpeg_bytes(image, quality), format="jpeg"))
