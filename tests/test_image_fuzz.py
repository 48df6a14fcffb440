"""Property tests: whatever file load_image is given, it returns a proper image or ImageError."""

from __future__ import annotations

import io
import warnings

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from nst_helpers.io.images import MAX_ASPECT, MIN_SIDE, ImageError, load_image

SETTINGS = settings(max_examples=100, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])
MODES = ["1", "L", "P", "RGB", "RGBA", "LA", "I;16", "I", "F", "CMYK"]
FORMATS = ["PNG", "JPEG", "BMP", "GIF", "TIFF", "WEBP"]
MAGIC = [b"", b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff\xe0", b"GIF89a", b"BM", b"II*\x00",
         b"RIFF\x00\x00\x00\x00WEBP", b"\x00\x00\x01\x00"]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz")


def check_outcome(path, size, original=None):
    """load_image(path, size) is a valid (1, 3, H, W) image in [0, 1] or an ImageError."""
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            t = load_image(path, size=size)
    except ImageError as err:
        assert "\n" not in str(err)
        return None
    upscaled = any("upscaled" in str(w.message) for w in caught)
    assert isinstance(t, torch.Tensor) and t.dtype == torch.float32
    assert t.dim() == 4 and t.shape[:2] == (1, 3)
    assert not torch.isnan(t).any() and t.min() >= 0 and t.max() <= 1
    h, w = t.shape[-2:]
    assert min(h, w) >= MIN_SIDE and max(h, w) <= MAX_ASPECT * min(h, w) + 1
    if upscaled:
        assert min(h, w) == MIN_SIDE
    elif size is not None:
        assert max(h, w) == size
    elif original is not None:
        assert (w, h) == original.size
    return t


@SETTINGS
@given(head=st.sampled_from(MAGIC), body=st.binary(max_size=3000),
       size=st.none() | st.integers(1, 200))
def test_random_bytes(folder, head, body, size):
    path = folder / "random.img"
    path.write_bytes(head + body)
    check_outcome(path, size)


def make_image(mode: str, w: int, h: int, seed: int, flat: bool) -> Image.Image:
    rng = np.random.default_rng(seed)
    if flat:  # one colour: checks the colour conversion, and compresses like a real photo
        rgb = Image.new("RGB", (w, h), tuple(int(v) for v in rng.integers(0, 256, 3)))
    else:
        rgb = Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8))
    alpha = Image.fromarray(rng.integers(0, 256, (h, w), dtype=np.uint8))
    if mode == "RGBA":
        return Image.merge("RGBA", [*rgb.split(), alpha])
    if mode == "LA":
        return Image.merge("LA", [rgb.convert("L"), alpha])
    if mode == "P":
        image = rgb.quantize(int(rng.integers(2, 256)))
        if seed % 2:
            image.info["transparency"] = 0
        return image
    if mode == "I;16":
        return Image.fromarray(rng.integers(0, 65536, (h, w), dtype=np.uint16))
    if mode == "I":
        top = int(rng.choice([255, 65535, 2**31 - 1]))
        return Image.fromarray(rng.integers(-top, top, (h, w), dtype=np.int32))
    if mode == "F":
        array = (rng.random((h, w)) * rng.choice([1.0, 255.0, 1e6])).astype(np.float32)
        array[0, 0] = rng.choice([np.nan, np.inf, -1.0, 0.5])
        return Image.fromarray(array)
    return rgb.convert(mode)


@SETTINGS
@given(mode=st.sampled_from(MODES), fmt=st.sampled_from(FORMATS), w=st.integers(1, 80),
       h=st.integers(1, 80), seed=st.integers(0, 2**16), flat=st.booleans(),
       size=st.none() | st.integers(1, 200))
def test_random_valid_images(folder, mode, fmt, w, h, seed, flat, size):
    image = make_image(mode, w, h, seed, flat)
    buf = io.BytesIO()
    try:
        image.save(buf, fmt, **({"transparency": 0} if "transparency" in image.info else {}))
    except (OSError, ValueError, KeyError, TypeError):  # this format cannot hold this mode
        buf = io.BytesIO()
        fmt = "TIFF"
        image.save(buf, fmt)
    path = folder / f"image.{fmt.lower()}"
    path.write_bytes(buf.getvalue())
    t = check_outcome(path, size, original=image)
    if max(w, h) <= MAX_ASPECT * min(w, h):  # a sane picture must not be refused
        assert t is not None
    if t is not None and flat and size is None and min(w, h) >= MIN_SIDE and mode == "RGB":
        expected = torch.tensor(image.getpixel((0, 0)), dtype=torch.float32) / 255
        tolerance = 0.03 if fmt in ("JPEG", "WEBP") else 1e-6
        assert torch.allclose(t[0, :, h // 2, w // 2], expected, atol=tolerance)
