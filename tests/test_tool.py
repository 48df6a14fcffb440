"""Notebook 09's tool (nst_helpers.io.tool) and its upload button (io.upload_widget), driven from
Python as the page drives them, under whichever ipywidgets is installed (CI's widgets7 lane
runs this file with Colab's 7.7.1).

A file reaches a ``ChunkedUpload`` as the page sends it: a ``start`` message, then pieces of
at most ``CHUNK_BYTES``, each a custom comm message handed to the widget's own
``_handle_msg``; what the widget sends back (its acknowledgements) is recorded. The painter is
real: a shipped network and a few L-BFGS steps at a small size.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from helpers import phone_jpeg
from PIL import Image

pytest.importorskip("ipywidgets")
pytest.importorskip("anywidget")

from nst_helpers.io.files import ImageError  # noqa: E402
from nst_helpers.io.tool import PaintingTool, caption  # noqa: E402
from nst_helpers.io.upload import load_choice  # noqa: E402
from nst_helpers.io.upload_widget import CHUNK_BYTES, ChunkedUpload  # noqa: E402

SIZE, STEPS = 48, 3


def page_message(widget, content: dict, buffers=()) -> None:
    """A custom message from the page, through the widget's own message handler."""
    widget._handle_msg({"content": {"data": {"method": "custom", "content": content}},
                        "buffers": [memoryview(b) for b in buffers]})


def acks(widget) -> list[int]:
    """Start recording the acknowledgements ``widget`` sends the page (``received`` bytes);
    the real ``send`` still runs."""
    sent, send = [], widget.send

    def record(content, buffers=None):
        sent.append(content["received"])
        return send(content, buffers)

    widget.send = record
    return sent


def upload(widget, name: str, data: bytes, *, upload_id: str = "1", stop_at: int | None = None):
    """Send ``data`` as the page does, in order, up to ``stop_at`` bytes (all by default)."""
    page_message(widget, {"kind": "start", "id": upload_id, "name": name, "size": len(data),
                          "type": "image/jpeg"})
    end = len(data) if stop_at is None else stop_at
    for offset in range(0, end, CHUNK_BYTES):
        page_message(widget, {"kind": "chunk", "id": upload_id, "offset": offset},
                     [data[offset:min(offset + CHUNK_BYTES, end)]])


def jpeg(size=(300, 200), photo="chelsea") -> bytes:
    from nst_helpers.io.images import example_image

    buffer = io.BytesIO()
    Image.open(example_image(photo)).convert("RGB").resize(size).save(buffer, "JPEG")
    return buffer.getvalue()


def test_pieces_make_the_file_and_each_is_acknowledged():
    widget = ChunkedUpload(description="Upload photo")
    received = acks(widget)
    seen = []
    widget.observe(lambda change: seen.append(change["new"]), names="value")
    data = bytes(range(256)) * (CHUNK_BYTES // 256 * 2 + 3)  # two full pieces and a bit
    upload(widget, "IMG_1.JPG", data)
    assert received == [0, CHUNK_BYTES, 2 * CHUNK_BYTES, len(data)]
    assert len(seen) == 2, "value changes when the file is chosen and when it has all arrived"
    (entry,) = widget.value
    assert (entry["name"], entry["size"], entry["content"]) == ("IMG_1.JPG", len(data), data)


def test_a_repeated_or_out_of_order_piece_is_dropped_and_the_page_told_what_is_missing():
    widget = ChunkedUpload()
    received = acks(widget)
    data = bytes(3 * CHUNK_BYTES)
    page_message(widget, {"kind": "start", "id": "a", "name": "x.jpg", "size": len(data)})
    piece = data[:CHUNK_BYTES]
    page_message(widget, {"kind": "chunk", "id": "a", "offset": CHUNK_BYTES}, [piece])  # a gap
    page_message(widget, {"kind": "chunk", "id": "a", "offset": 0}, [piece])
    page_message(widget, {"kind": "chunk", "id": "a", "offset": 0}, [piece])  # a repeat
    page_message(widget, {"kind": "chunk", "id": "old", "offset": CHUNK_BYTES}, [piece])
    assert received == [0, 0, CHUNK_BYTES, CHUNK_BYTES]  # the old upload's piece: no answer
    assert len(widget.value[0]["content"]) == 0, "value is only replaced once all has arrived"


def test_an_upload_that_stopped_halfway_is_one_line_naming_what_arrived():
    widget = ChunkedUpload()
    data = jpeg((1200, 800))
    upload(widget, "half.jpg", data, stop_at=len(data) // 2)
    with pytest.raises(ImageError) as err:
        load_choice(widget.value, 64)
    line = str(err.value)
    assert re.match(r"half\.jpg \(uploaded\): \d\.\d of \d\.\d MB has arrived", line), line
    assert "\n" not in line and "smaller one" in line


def test_an_empty_file_arrives_at_once_and_is_refused_in_one_line():
    widget = ChunkedUpload()
    received = acks(widget)
    upload(widget, "empty.jpg", b"")
    assert received == [0] and widget.value[0]["content"] == b""
    with pytest.raises(ImageError, match=r"^empty\.jpg \(uploaded\): .*empty"):
        load_choice(widget.value, 64)


# --- the tool, with a real painter -------------------------------------------------------

@pytest.fixture(scope="module")
def painter():
    """notebook 09's ``paint``, small: the shipped network, then STEPS L-BFGS steps."""
    from nst_helpers.fast import load_network, stylize_fast
    from nst_helpers.io.images import resize
    from nst_helpers.transfer import stylize

    network = load_network("starry_night", "cpu")
    calls = []

    def paint(photo_source, network_name="starry_night", painting_source=None,
              style_weight=20.0, on_network=None, on_step=None):
        calls.append(photo_source)
        photo_name, photo = load_choice(photo_source, SIZE)
        painting_name, painting = load_choice(painting_source or network_name, SIZE)
        entry = {"photo_name": photo_name, "painting_name": painting_name,
                 "network": network_name, "photo": photo,
                 "by_network": stylize_fast(photo, network), "network_seconds": 0.01,
                 "style_weight": style_weight}
        if on_network:
            on_network(entry)
        result = stylize(resize(photo, SIZE), painting, steps=STEPS, style_weight=style_weight,
                         device="cpu", callback=on_step)
        return {**entry, "by_optimisation": result.image, "result": result}

    first = paint("china")
    calls.clear()
    return paint, first, calls


def make_tool(painter, tmp_path):
    paint, first, calls = painter
    calls.clear()
    tool = PaintingTool(paint, first, networks=["starry_night", "great_wave"],
                        photos=["china", "chelsea"], size=SIZE, steps=STEPS,
                        out_dir=tmp_path / "out")
    return tool, first, calls


@pytest.mark.slow
def test_the_tool_paints_nothing_and_saves_nothing_until_its_buttons_are_pressed(painter,
                                                                                  tmp_path):
    tool, first, calls = make_tool(painter, tmp_path)
    assert calls == [] and not (tmp_path / "out").exists()
    assert tool.messages == [caption(first)] and tool.last is first
    assert "china" in tool.chosen_label.value and f"at {SIZE} px" in tool.chosen_label.value


@pytest.mark.slow
def test_bad_uploads_get_one_line_each_and_the_last_picture_stays(painter, tmp_path):
    tool, first, calls = make_tool(painter, tmp_path)
    shown = [panel.value for panel in tool.panels]
    photo = jpeg((800, 600))
    bad = [("shopping_list.jpg", b"eggs, milk, bread", None, "not a readable image"),
           ("holiday.jpg", photo[: len(photo) // 2], None, "cut off|truncated|incomplete"),
           ("arriving.jpg", photo, len(photo) // 3, "has arrived")]
    for name, data, stop_at, expected in bad:
        upload(tool.photo_upload, name, data, upload_id=name, stop_at=stop_at)
        assert name in tool.chosen_label.value
        tool.paint_button.click()
        line = tool.messages[-1]
        assert line.startswith(f"{name} (uploaded): ") and re.search(expected, line), line
        assert "\n" not in line and not tool.paint_button.disabled
        assert [panel.value for panel in tool.panels] == shown, f"{name} changed the pictures"
        assert tool.last is first
    assert "arriving, 0." in tool.chosen_label.value, tool.chosen_label.value


@pytest.mark.slow
def test_a_phone_photo_in_pieces_is_painted_with_the_sliders_weight_and_saved(painter,
                                                                               tmp_path, capsys):
    tool, first, calls = make_tool(painter, tmp_path)
    photo = phone_jpeg(tmp_path / "IMG_7730.JPG").read_bytes()
    assert len(photo) > 4 * 1024 * 1024  # over Colab's limit for one message, by far
    upload(tool.photo_upload, "IMG_7730.JPG", photo)
    assert "IMG_7730.JPG (uploaded 5." in tool.chosen_label.value, tool.chosen_label.value
    shown = [panel.value for panel in tool.panels]
    tool.style_weight_slider.value = 100.0
    tool.paint_button.click()
    line = tool.messages[-1]
    assert line.startswith("IMG_7730.JPG: the starry_night network at 48 px"), line
    assert "style weight 100," in line and f"{STEPS} steps in" in line, line
    assert all(new != old for new, old in zip((p.value for p in tool.panels), shown))
    assert tool.progress_bar.value == STEPS and tool.last["photo_name"] == "IMG_7730.JPG"

    tool.save_button.click()
    paths = sorted((tmp_path / "out").iterdir())
    assert [p.name for p in paths] == ["09_IMG_7730_optimised.png",
                                       "09_IMG_7730_starry_night.png"]
    assert all(Image.open(p).size == (48, 32) for p in paths)
    assert tool.messages[-1] == "saved " + " and ".join(
        str(p.resolve()) for p in reversed(paths))


@pytest.mark.slow
def test_a_bundled_photo_and_a_path_are_chosen_by_the_menu_and_the_box(painter, tmp_path):
    tool, first, calls = make_tool(painter, tmp_path)
    tool.bundled.value = "chelsea"
    tool.paint_button.click()
    assert calls[-1] == "chelsea" and tool.last["photo_name"] == "chelsea.jpg"
    path = tmp_path / "on_disk.jpg"
    path.write_bytes(jpeg(photo="coffee"))
    tool.path_box.value = f"  {path}  "
    tool.paint_button.click()
    assert calls[-1] == str(path) and tool.last["photo_name"] == "on_disk.jpg"
    assert Path(tool.messages[-1].split(":")[0]).name == "on_disk.jpg"
