"""load_image / save_image / show_images, including every hostile file a learner may bring.

All test files are made here, in tmp_path, with Pillow and numpy.
"""

from __future__ import annotations

import io
import os
import struct
import time
import warnings
import zlib

import numpy as np
import pytest
import torch
from PIL import Image

from nst_helpers.io.images import (
    IMAGES_DIR,
    MAX_PIXELS,
    MIN_SIDE,
    ImageError,
    example_image,
    load_image,
    save_image,
    scaled_shape,
    show_images,
    to_pil,
)


def check_tensor(t: torch.Tensor, h: int | None = None, w: int | None = None) -> None:
    assert isinstance(t, torch.Tensor) and t.dtype == torch.float32
    assert t.dim() == 4 and t.shape[:2] == (1, 3)
    assert torch.isfinite(t).all() and t.min() >= 0 and t.max() <= 1
    assert min(t.shape[-2:]) >= MIN_SIDE
    if h is not None:
        assert tuple(t.shape[-2:]) == (h, w)


def refused(source, *words, size=None) -> str:
    with pytest.raises(ImageError) as info:
        load_image(source, size=size)
    message = str(info.value)
    assert "\n" not in message and ";" in message  # one line: what is wrong; what to do
    for word in words:
        assert word in message.lower()
    return message


def pixel(t: torch.Tensor, y: int, x: int) -> tuple[int, ...]:
    return tuple(round(v) for v in (t[0, :, y, x] * 255).tolist())


def near(a, b, tol=6) -> bool:
    return all(abs(x - y) <= tol for x, y in zip(a, b, strict=True))


def saved(tmp_path, image: Image.Image, name: str, **kwargs):
    path = tmp_path / name
    image.save(path, **kwargs)
    return path


# ---- broken and non-image files -------------------------------------------------------------

def test_zero_bytes(tmp_path):
    path = tmp_path / "empty.jpg"
    path.write_bytes(b"")
    refused(path, "empty")


def test_text_named_jpg(tmp_path):
    path = tmp_path / "notes.jpg"
    path.write_text("this is not a picture\n" * 20)
    refused(path, "not a readable image")


def test_truncated_jpeg(tmp_path):
    rng = np.random.default_rng(0)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (200, 300, 3), dtype=np.uint8)).save(buf, "JPEG")
    path = tmp_path / "cut.jpg"
    path.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    refused(path, "not a readable image")


def test_missing_file(tmp_path):
    refused(tmp_path / "nope.png", "no such file")


def test_directory(tmp_path):
    refused(tmp_path, "folder")


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0,
                    reason="root can read any file")
def test_no_read_permission(tmp_path):
    path = saved(tmp_path, Image.new("RGB", (40, 40)), "secret.png")
    path.chmod(0)
    refused(path, "permission")


@pytest.mark.parametrize("source", [None, 42, 3.5, b"abc", ["a.png"], {"path": 1}, "", "  "])
def test_wrong_types(source):
    refused(source)


@pytest.mark.parametrize("size", [0, -5, 2.5, "512", True])
def test_bad_size(tmp_path, size):
    path = saved(tmp_path, Image.new("RGB", (40, 40)), "ok.png")
    refused(path, "size", size=size)


# ---- tiny, thin, huge and large ---------------------------------------------------------------

@pytest.mark.parametrize("side", [1, 20])
def test_tiny_png_is_upscaled_with_warning(tmp_path, side):
    path = saved(tmp_path, Image.new("RGB", (side, side), (200, 10, 10)), "tiny.png")
    with pytest.warns(UserWarning, match="upscaled"):
        t = load_image(path)
    check_tensor(t, MIN_SIDE, MIN_SIDE)
    assert near(pixel(t, 5, 5), (200, 10, 10))


def test_tiny_png_with_size_needs_no_upscale(tmp_path):
    path = saved(tmp_path, Image.new("RGB", (20, 10)), "tiny.png")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_tensor(load_image(path, size=128), 64, 128)


def test_small_size_is_raised_to_min_side_unless_asked(tmp_path):
    path = saved(tmp_path, Image.new("RGB", (200, 100)), "a.png")
    with pytest.warns(UserWarning):
        check_tensor(load_image(path, size=16), MIN_SIDE, 2 * MIN_SIDE)
    t = load_image(path, size=16, min_side=1)
    assert tuple(t.shape) == (1, 3, 8, 16)


def test_thin_image_is_refused(tmp_path):
    refused(saved(tmp_path, Image.new("RGB", (80, 1)), "line.png"), "too thin")


def _png_header_only(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
            + chunk(b"IDAT", zlib.compress(b"\0" * 16)) + chunk(b"IEND", b""))


def _bmp_header_only(width: int, height: int) -> bytes:
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 24, 0, 0, 2835, 2835, 0, 0)
    return b"BM" + struct.pack("<IHHI", 14 + 40 + 16, 0, 0, 14 + 40) + info + b"\0" * 16


@pytest.mark.parametrize("make, name", [(_png_header_only, "bomb.png"),
                                        (_bmp_header_only, "bomb.bmp")])
@pytest.mark.parametrize("width, height", [(30000, 30000), (12000, 9000)])
def test_huge_header_refused_before_decoding(tmp_path, make, name, width, height):
    assert width * height > MAX_PIXELS
    path = tmp_path / name
    path.write_bytes(make(width, height))
    start = time.perf_counter()
    message = refused(path, "megapixel")
    assert time.perf_counter() - start < 1.0
    assert f"{width * height / 1e6:.0f} megapixels" in message
    if width * height < 2 * Image.MAX_IMAGE_PIXELS:  # our own check also names the size
        assert f"{width}x{height}" in message


def test_huge_pil_image_object_refused():
    image = Image.new("RGB", (1, 1))
    image._size = (20000, 20000)  # what a lazily opened huge file reports
    refused(image, "megapixel")


def test_large_jpeg_is_downscaled_fast(tmp_path):
    image = Image.new("RGB", (4000, 3000), (30, 60, 90))
    image.paste((250, 250, 0), (0, 0, 2000, 1500))
    path = saved(tmp_path, image, "big.jpg", quality=85)
    start = time.perf_counter()
    t = load_image(path, size=512)
    elapsed = time.perf_counter() - start
    check_tensor(t, 384, 512)
    assert near(pixel(t, 50, 50), (250, 250, 0), 10)
    assert near(pixel(t, 300, 400), (30, 60, 90), 10)
    assert elapsed < 2.0


def test_large_png_is_downscaled(tmp_path):
    path = saved(tmp_path, Image.new("RGB", (3000, 2000), (10, 200, 30)), "big.png")
    t = load_image(path, size=300)
    check_tensor(t, 200, 300)
    assert near(pixel(t, 100, 150), (10, 200, 30))


# ---- every mode becomes correct-looking RGB -------------------------------------------------

def test_grayscale(tmp_path):
    t = load_image(saved(tmp_path, Image.new("L", (40, 40), 77), "g.png"))
    check_tensor(t, 40, 40)
    assert pixel(t, 3, 3) == (77, 77, 77)


def test_rgba_on_white(tmp_path):
    image = Image.new("RGBA", (40, 40), (255, 0, 0, 0))
    image.paste((0, 0, 255, 255), (0, 0, 20, 40))
    t = load_image(saved(tmp_path, image, "a.png"))
    assert pixel(t, 5, 5) == (0, 0, 255)
    assert pixel(t, 5, 30) == (255, 255, 255)


def test_la(tmp_path):
    image = Image.merge("LA", [Image.new("L", (40, 40), 100), Image.new("L", (40, 40), 255)])
    image.paste((0, 0), (0, 0, 20, 40))
    t = load_image(saved(tmp_path, image, "la.png"))
    assert pixel(t, 5, 30) == (100, 100, 100)
    assert pixel(t, 5, 5) == (255, 255, 255)


@pytest.mark.parametrize("transparent", [False, True])
def test_palette(tmp_path, transparent):
    image = Image.new("P", (40, 40), 0)
    image.putpalette([0, 128, 0] + [200, 0, 200] + [0] * 762)
    image.paste(1, (0, 0, 20, 40))
    kwargs = {"transparency": 0} if transparent else {}
    t = load_image(saved(tmp_path, image, "p.png", **kwargs))
    assert pixel(t, 5, 5) == (200, 0, 200)
    assert pixel(t, 5, 30) == ((255, 255, 255) if transparent else (0, 128, 0))


def test_16_bit_png(tmp_path):
    array = np.zeros((40, 40), np.uint16)
    array[:, 20:] = 65535
    array[:20, :20] = 32896  # 128 * 257
    image = Image.fromarray(array)
    assert image.mode == "I;16"
    t = load_image(saved(tmp_path, image, "deep.png"))
    check_tensor(t, 40, 40)
    assert pixel(t, 5, 30) == (255, 255, 255)
    assert pixel(t, 5, 5) == (128, 128, 128)
    assert pixel(t, 30, 5) == (0, 0, 0)


def test_32_bit_int_image(tmp_path):
    array = np.zeros((40, 40), np.int32)
    array[:, 20:] = 65535
    image = Image.fromarray(array)
    assert image.mode == "I"
    try:  # older Pillow writes mode I as a 16-bit PNG; Pillow >= 11 refuses, so use TIFF
        path = saved(tmp_path, image, "deep.png")
    except OSError:
        path = saved(tmp_path, image, "deep.tif")
    t = load_image(path)
    assert pixel(t, 5, 30) == (255, 255, 255) and pixel(t, 5, 5) == (0, 0, 0)


def test_float_image(tmp_path):
    array = np.full((40, 40), 0.5, np.float32)
    array[0, 0] = np.nan
    t = load_image(saved(tmp_path, Image.fromarray(array), "f.tif"))
    check_tensor(t, 40, 40)
    assert pixel(t, 5, 5) == (128, 128, 128)


@pytest.mark.parametrize("cmyk, rgb", [((255, 0, 0, 0), (0, 255, 255)),
                                       ((0, 255, 0, 0), (255, 0, 255)),
                                       ((0, 0, 0, 0), (255, 255, 255)),
                                       ((0, 0, 0, 255), (0, 0, 0))])
def test_cmyk_jpeg(tmp_path, cmyk, rgb):
    path = saved(tmp_path, Image.new("CMYK", (40, 40), cmyk), "c.jpg", quality=95)
    assert Image.open(path).mode == "CMYK"
    t = load_image(path)
    check_tensor(t, 40, 40)
    assert near(pixel(t, 20, 20), rgb, 8)


def test_exif_orientation_6_comes_out_upright(tmp_path):
    image = Image.new("RGB", (120, 80), (0, 0, 255))  # stored 120 wide, 80 high
    image.paste((255, 0, 0), (0, 0, 30, 20))  # red top-left corner, as stored
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    path = saved(tmp_path, image, "phone.jpg", exif=exif, quality=95)
    t = load_image(path)
    check_tensor(t, 120, 80)  # upright: 80 wide, 120 high
    assert near(pixel(t, 5, 80 - 5), (255, 0, 0), 20)  # stored top-left is now top-right
    assert near(pixel(t, 5, 5), (0, 0, 255), 20)
    assert near(pixel(t, 120 - 5, 80 - 5), (0, 0, 255), 20)


def test_animated_gif_gives_first_frame(tmp_path):
    frames = [Image.new("RGB", (40, 40), c) for c in [(255, 0, 0), (0, 0, 255)]]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0)
    assert Image.open(path).n_frames == 2
    t = load_image(path)
    check_tensor(t, 40, 40)
    assert near(pixel(t, 20, 20), (255, 0, 0), 2)


# ---- existing behaviour ---------------------------------------------------------------------

@pytest.fixture
def rgb_array():
    rng = np.random.default_rng(1)
    return rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)


def test_load_from_path_string_and_pathlib(tmp_path, rgb_array):
    path = saved(tmp_path, Image.fromarray(rgb_array), "x.png")
    for source in (path, str(path)):
        t = load_image(source)
        check_tensor(t, 48, 64)
        assert np.array_equal((t[0].permute(1, 2, 0).numpy() * 255).round(), rgb_array)


def test_load_from_pil_numpy_tensor(rgb_array):
    expected = torch.from_numpy(rgb_array).permute(2, 0, 1)[None].float() / 255
    for source in (Image.fromarray(rgb_array), rgb_array, rgb_array / 255.0,
                   (rgb_array / 255.0).astype(np.float32), expected, expected[0]):
        t = load_image(source)
        check_tensor(t, 48, 64)
        assert torch.allclose(t, expected, atol=1 / 255 + 1e-6)


@pytest.mark.parametrize("array", [np.zeros((4, 4, 2)), np.zeros((0, 40, 3)),
                                   np.full((40, 40, 3), np.nan), np.zeros((40, 40), complex)])
def test_bad_arrays(array):
    refused(array, "array")


@pytest.mark.parametrize("shape", [(2, 3, 40, 40), (1, 4, 40, 40), (40, 40)])
def test_bad_tensors(shape):
    refused(torch.zeros(shape), "tensor")


def test_size_sets_long_side(rgb_array):
    check_tensor(load_image(rgb_array, size=128), 96, 128)
    check_tensor(load_image(rgb_array.transpose(1, 0, 2), size=100), 100, 75)


def test_scaled_shape_is_height_then_width_for_either_side():
    """chelsea.jpg is 451 px wide and 300 high: (300, 451) as a tensor's shape has it."""
    assert scaled_shape((300, 451), 128) == (85, 128)  # 300 * 128 / 451 = 85.1
    assert scaled_shape((451, 300), 128) == (128, 85)
    assert scaled_shape((300, 451), short_side=32) == (32, 48)  # 451 * 32 / 300 = 48.1
    assert scaled_shape((1, 5000), 10) == (1, 10)  # never a side of 0
    for wrong in ({}, {"long_side": 10, "short_side": 10}):
        with pytest.raises(TypeError):
            scaled_shape((300, 451), **wrong)


@pytest.mark.parametrize("width, height, size", [(451, 300, 128), (300, 451, 100),
                                                 (77, 1000, 500), (1000, 130, 333)])
def test_load_image_has_the_shape_scaled_shape_gives(tmp_path, width, height, size):
    """Pillow counts (width, height), tensors (height, width): the two must not be swapped."""
    path = saved(tmp_path, Image.new("RGB", (width, height), (9, 99, 199)), "a.png")
    t = load_image(path, size=size)
    assert tuple(t.shape[-2:]) == scaled_shape((height, width), size)


def test_upscaled_tiny_image_has_the_shape_scaled_shape_gives(tmp_path):
    path = saved(tmp_path, Image.new("RGB", (30, 12)), "thin.png")  # 12 px high
    with pytest.warns(UserWarning, match="upscaled to 80x32"):
        t = load_image(path)
    assert tuple(t.shape[-2:]) == scaled_shape((12, 30), short_side=MIN_SIDE) == (32, 80)


def test_save_image_round_trip_png(tmp_path, rgb_array):
    t = load_image(rgb_array)
    out = save_image(t, tmp_path / "sub" / "out.png")
    assert out == tmp_path / "sub" / "out.png"
    assert torch.equal(load_image(out), t)
    assert sorted(p.name for p in out.parent.iterdir()) == ["out.png"]  # no temp files
    assert out.stat().st_mode & 0o444 == 0o444  # readable like a normal file


def test_save_image_jpeg(tmp_path, rgb_array):
    out = save_image(load_image(rgb_array), tmp_path / "out.jpg")
    assert Image.open(out).format == "JPEG"
    check_tensor(load_image(out), 48, 64)


def test_save_image_failure_keeps_old_file(tmp_path, rgb_array):
    good = save_image(load_image(rgb_array), tmp_path / "x.png")
    before = good.read_bytes()
    target = tmp_path / "x.xbm"  # XBM cannot store RGB: Pillow fails after the temp file exists
    target.write_bytes(before)
    with pytest.raises(OSError):
        save_image(load_image(rgb_array), target)
    assert target.read_bytes() == before
    with pytest.raises(ImageError):  # a bad tensor: refused before anything is written
        save_image(torch.zeros(1, 5, 8, 8), good)
    assert good.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.png", "x.xbm"]


def test_save_image_keeps_the_permissions_of_the_file_it_replaces(tmp_path, rgb_array):
    private = tmp_path / "private.png"
    private.write_bytes(b"old")
    private.chmod(0o600)
    save_image(load_image(rgb_array), private)
    assert private.stat().st_mode & 0o777 == 0o600
    assert Image.open(private).size == (64, 48)


def test_to_pil_clamps_and_removes_nan():
    t = torch.tensor([[[[-1.0, 2.0]], [[float("nan"), 0.5]], [[0.0, 1.0]]]])
    assert np.asarray(to_pil(t)).tolist() == [[[0, 0, 0], [255, 128, 255]]]


def test_show_images_returns_figure(rgb_array):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = load_image(rgb_array)
    fig = show_images([t, t, Image.fromarray(rgb_array)], ["a", "b", "c"])
    try:
        assert len(fig.axes) == 3
        assert [ax.get_title() for ax in fig.axes] == ["a", "b", "c"]
    finally:
        plt.close(fig)


def test_example_image_takes_a_bundled_name_with_or_without_its_extension():
    assert example_image("rocket") == example_image("rocket.jpg") == IMAGES_DIR / "rocket.jpg"
    with pytest.raises(ImageError, match="no bundled image 'rocket.png'; available: astronaut"):
        example_image("rocket.png")


def test_example_image_given_a_missing_path_says_no_file_in_one_line(tmp_path, capfd):
    """A path that does not exist is not a bundled name: one line that says no such file,
    where the training command used to end in a traceback (a glob of an absolute path)."""
    from helpers import run_main

    from nst_helpers.cli.train import main

    for name in (str(tmp_path / "missing.jpg"), "sub/missing.jpg", "a[b"):
        with pytest.raises(ImageError) as err:
            example_image(name)
        [line] = str(err.value).splitlines()
        assert ("no file" if "/" in name else "no bundled image") in line and "starry_night" in line
    done = run_main(main, ["--style", tmp_path / "missing.jpg", "-o", tmp_path / "n.pt"],
                    capfd)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    [line] = done.stderr.strip().splitlines()
    assert "no file" in line and "missing.jpg" in line
