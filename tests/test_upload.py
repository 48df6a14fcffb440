"""Notebook 09's inputs: a FileUpload's value in ipywidgets 7 and 8, URLs, bundled names, and
the bad files a learner uploads, each through ``load_choice``, the function its Paint button
calls. Every file is made here, real bytes in ``tmp_path``; the widgets are ipywidgets' own,
given a value the way the page gives it (``set_state``, as a message from the browser)."""

from __future__ import annotations

import io
import socket
import struct
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from nst_helpers.io.download import DownloadError
from nst_helpers.io.files import ImageError
from nst_helpers.io.images import example_image
from nst_helpers.io.upload import load_choice, uploaded_file


def value7(name: str, data: bytes) -> dict:
    """FileUpload.value in ipywidgets 7.x (Colab's 7.7.1)."""
    return {name: {"metadata": {"name": name, "type": "", "size": len(data),
                                "lastModified": 0}, "content": data}}


def value8(name: str, data: bytes) -> tuple:
    """FileUpload.value in ipywidgets 8.x: content is a memoryview."""
    return ({"name": name, "type": "", "size": len(data), "content": memoryview(data),
             "last_modified": 0},)


SHAPES = pytest.mark.parametrize("shape", [value7, value8], ids=["widgets7", "widgets8"])


def jpeg_bytes(size=(400, 300), quality=90, exif=None) -> bytes:
    buffer = io.BytesIO()
    picture = Image.open(example_image("chelsea")).convert("RGB").resize(size)
    picture.save(buffer, "JPEG", quality=quality, **({"exif": exif} if exif else {}))
    return buffer.getvalue()


def widget_value(name: str, data: bytes):
    """A real ipywidgets FileUpload (whichever version is installed) after the browser sent it
    this file: 8.x syncs ``value``, 7.x syncs ``metadata`` and ``data`` and bumps ``_counter``."""
    import ipywidgets

    upload = ipywidgets.FileUpload(accept="image/*")
    if int(ipywidgets.__version__.split(".")[0]) >= 8:
        upload.set_state({"value": [{"name": name, "type": "image/jpeg", "size": len(data),
                                     "content": memoryview(data), "last_modified": 0}]})
    else:
        upload.set_state({"metadata": [{"name": name, "type": "image/jpeg", "size": len(data),
                                        "lastModified": 0}],
                          "data": [memoryview(data)], "_counter": 1})
    return upload.value


def test_a_real_widget_of_the_installed_version_gives_name_and_bytes():
    ipywidgets = pytest.importorskip("ipywidgets")
    data = jpeg_bytes()
    value = widget_value("cat.jpg", data)
    major = int(ipywidgets.__version__.split(".")[0])
    assert isinstance(value, dict if major < 8 else tuple), type(value)
    assert uploaded_file(value) == ("cat.jpg", data)
    name, image = load_choice(value, 128)
    assert name == "cat.jpg" and image.shape == (1, 3, 96, 128)
    assert uploaded_file(ipywidgets.FileUpload().value) is None  # nothing uploaded yet


@SHAPES
def test_both_shapes_give_the_last_file(shape):
    first, second = jpeg_bytes((200, 100)), jpeg_bytes((100, 200))
    value = shape("a.jpg", first)
    if isinstance(value, dict):
        value = {**value, **value7("b.jpg", second)}
    else:
        value = value + value8("b.jpg", second)
    assert uploaded_file(value) == ("b.jpg", second)
    assert uploaded_file(shape("a.jpg", first)) == ("a.jpg", first)
    assert uploaded_file({}) is None and uploaded_file(()) is None


def test_a_value_of_neither_shape_is_one_line():
    with pytest.raises(ImageError, match="not an upload widget's value") as info:
        uploaded_file([{"no name": 1}])
    assert "\n" not in str(info.value)


def load_error(source, **kwargs) -> str:
    """The one line a bad input gives (printed: pytest -s shows what a learner reads)."""
    with pytest.raises(ImageError) as info:
        load_choice(source, 512, **kwargs)
    message = str(info.value)
    print(f"\n{message}")
    assert "\n" not in message and len(message) < 300, message
    assert "Traceback" not in message and "/tmp" not in message and "nst_upload_" not in message
    return message


@SHAPES
def test_not_an_image(shape, tmp_path):
    (tmp_path / "notes.txt").write_text("a shopping list, not a photo\n")
    message = load_error(shape("notes.txt", (tmp_path / "notes.txt").read_bytes()))
    assert message.startswith("notes.txt (uploaded): not a readable image")


@SHAPES
def test_an_empty_file(shape, tmp_path):
    (tmp_path / "empty.jpg").write_bytes(b"")
    message = load_error(shape("empty.jpg", (tmp_path / "empty.jpg").read_bytes()))
    assert message == "empty.jpg (uploaded): file is empty (0 bytes); copy or download it again"


@SHAPES
def test_a_truncated_jpeg(shape, tmp_path):
    whole = jpeg_bytes((800, 600))
    (tmp_path / "cut.jpg").write_bytes(whole[: len(whole) // 2])  # an upload cut off halfway
    message = load_error(shape("cut.jpg", (tmp_path / "cut.jpg").read_bytes()))
    assert message.startswith("cut.jpg (uploaded): not a readable image")
    assert "truncated" in message


@SHAPES
def test_a_decompression_bomb_is_refused_before_decoding(shape, tmp_path):
    # A real 10x10 PNG whose header then says 20000x20000 (400 megapixels), CRC fixed.
    buffer = io.BytesIO()
    Image.new("RGB", (10, 10), "white").save(buffer, "PNG")
    data = bytearray(buffer.getvalue())
    data[16:24] = struct.pack(">II", 20000, 20000)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    (tmp_path / "bomb.png").write_bytes(bytes(data))
    started = time.perf_counter()
    message = load_error(shape("bomb.png", (tmp_path / "bomb.png").read_bytes()))
    assert time.perf_counter() - started < 2
    assert message.startswith("bomb.png (uploaded): image is too large (400 megapixels)")


@SHAPES
def test_a_png_with_alpha_is_flattened_on_white(shape, tmp_path):
    pixels = np.zeros((300, 400, 4), np.uint8)
    pixels[..., 0] = 255  # red, half transparent on the left, opaque on the right
    pixels[:, :200, 3], pixels[:, 200:, 3] = 128, 255
    Image.fromarray(pixels, "RGBA").save(tmp_path / "logo.png")
    name, image = load_choice(shape("logo.png", (tmp_path / "logo.png").read_bytes()), 512)
    assert name == "logo.png" and image.shape == (1, 3, 384, 512)
    assert image[0, :, 10, 10].tolist() == pytest.approx([1.0, 0.5, 0.5], abs=0.01)
    assert image[0, :, 10, 500].tolist() == pytest.approx([1.0, 0.0, 0.0], abs=0.01)


@SHAPES
def test_a_12_megapixel_phone_photo_loads_at_the_needed_size_quickly(shape, tmp_path):
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90 degrees, as a phone held upright saves it
    (tmp_path / "IMG_0001.JPG").write_bytes(jpeg_bytes((4000, 3000), 92, exif.tobytes()))
    data = (tmp_path / "IMG_0001.JPG").read_bytes()
    started = time.perf_counter()
    name, image = load_choice(shape("IMG_0001.JPG", data), 512)
    seconds = time.perf_counter() - started
    print(f"\n12 MP JPEG ({len(data) / 1e6:.1f} MB) to {tuple(image.shape)} in {seconds:.3f} s")
    assert name == "IMG_0001.JPG"
    assert image.shape == (1, 3, 512, 384)  # upright: the EXIF rotation applied
    assert 0 <= float(image.min()) and float(image.max()) <= 1
    assert seconds < 1.5  # decoded at a reduced scale (JPEG draft), not at 12 MP


def test_a_url_that_does_not_answer(tmp_path):
    with socket.socket() as server:  # listens, never answers
        server.bind(("127.0.0.1", 0))
        server.listen()
        url = f"http://127.0.0.1:{server.getsockname()[1]}/photo.jpg"
        started = time.perf_counter()
        with pytest.raises(DownloadError):
            load_choice(url, 512, cache_dir=tmp_path, timeout=1)
        assert time.perf_counter() - started < 10
        message = load_error(url, cache_dir=tmp_path, timeout=1)
    assert message == (f"could not download {url} (no answer within 1 s); check the address "
                       "or your connection, or use a local file")
    message = load_error(url, cache_dir=tmp_path, timeout=1)  # now nobody listens there
    assert message.startswith(f"could not download {url} (") and "refused" in message
    assert not list(tmp_path.iterdir()), "a failed download left a file in the cache"


def test_nothing_uploaded_and_nothing_chosen():
    assert load_error({}) == "no file uploaded yet: click Upload and choose a photo"
    assert load_error(()) == "no file uploaded yet: click Upload and choose a photo"
    assert load_error("").startswith("nothing to load from ''")
    assert load_error("no_such_painting").startswith("no bundled image 'no_such_painting'")


def test_bundled_names_paths_and_bytes(tmp_path):
    name, image = load_choice("chelsea", 128)
    assert name == "chelsea.jpg" and max(image.shape[-2:]) == 128
    (tmp_path / "mine.jpg").write_bytes(jpeg_bytes())
    name, image = load_choice(tmp_path / "mine.jpg", 64)
    assert name == "mine.jpg" and image.shape == (1, 3, 48, 64)
    name, image = load_choice(jpeg_bytes(), 64)
    assert name == "upload" and image.shape == (1, 3, 48, 64)


def test_an_upload_named_like_a_path_is_written_in_its_own_folder_only():
    # The name is the sender's: joined to the temporary folder as it is, it would land in /etc.
    name, image = load_choice(value8("../../../../etc/nst_upload_test.jpg", jpeg_bytes()), 64)
    assert name == "../../../../etc/nst_upload_test.jpg" and image.shape == (1, 3, 48, 64)
    assert not Path("/etc/nst_upload_test.jpg").exists()
