"""Notebook 09's upload tool, used in a real browser as a learner uses it.

The notebook's own cells hand files to its callbacks from Python; nothing there proves that a
file chosen in the page reaches the kernel, in the shape this ipywidgets gives it. Here
JupyterLab serves a copy of the notebooks (tests/test_browser.py's fixtures: a free port, a
random token, every process ended afterwards), headless Chromium opens notebook 09 and runs it
with Run All at the quick profile; then files made in ``tmp_path`` are given to the page's
``<input type=file>`` of the FileUpload widget (clicking its button opens a file chooser, and
playwright sets the chooser's input's files, as a learner picking a file does), and the Paint
and Save buttons are pressed. The server takes messages of at most 1 MiB from the page, as
Colab does (test_browser.MESSAGE_LIMIT_BYTES): ipywidgets' own FileUpload, which sends a file in
one message, loses a phone photo there. Run All must paint the bundled photo once and leave the
tool waiting (nothing uploaded, nothing saved); a file that is not an image must give one line
and leave the pictures as they were; a 4000 px phone JPEG of 5.5 MB must arrive, be painted by
the network and by the optimisation, and be saved.

Screenshots, the server log and the page's console log go where test_browser.py puts them
(``NST_BROWSER_SHOTS``, else a temporary folder; the path is printed). Without Chromium or
playwright the module is skipped with one line, unless ``NST_BROWSER_REQUIRED=1``.
"""

from __future__ import annotations

import hashlib
import io
import re
import time
from pathlib import Path

import pytest

# The browser, the server and the page: the fixtures of the notebook 05 test. Importing the
# module skips this one too when no browser is here (and fails it under NST_BROWSER_REQUIRED).
import test_browser as browser
from helpers import phone_jpeg

_api, _image_bytes, _run_all, _wait_for = (browser._api, browser._image_bytes, browser._run_all,
                                           browser._wait_for)
# The fixtures, by the names the test asks for (each module gets its own server and browser).
playwright, lab, page, shots = browser.playwright, browser.lab, browser.page, browser.shots

pytestmark = [pytest.mark.browser, pytest.mark.slow]

NOTEBOOK = "09_your_own_photo.ipynb"
#: Seconds for opening notebook 09 and its Run All at the quick profile (about 30 s here).
RUN_ALL_TIMEOUT = 300
#: Seconds for one Paint at the quick profile (a few seconds on two busy cores).
PAINT_TIMEOUT = 180


def _shot(shots: Path, name: str, page) -> Path:
    path = shots / f"09-{name}.png"
    page.screenshot(path=path, full_page=True)
    return path


def _open_and_run(page, base: str, token: str, shots: Path) -> None:
    page.goto(f"{base}/lab/tree/notebooks/{NOTEBOOK}?token={token}")
    page.locator(".jp-Notebook .jp-Cell").first.wait_for()
    deadline = time.monotonic() + 120
    while True:  # accept the kernel dialog, then wait for an idle kernel
        accept = page.locator(".jp-Dialog .jp-mod-accept")
        if accept.count() and accept.first.is_visible():
            accept.first.click()
        sessions = _api(base, token, "/api/sessions")
        if any(s["path"].endswith(NOTEBOOK) and s.get("kernel")
               and s["kernel"].get("execution_state") == "idle" for s in sessions):
            status_bar = page.locator(".jp-StatusBar-Widget, #jp-main-statusbar").first
            if status_bar.count() and re.search(r"\|\s*Idle", status_bar.inner_text()):
                break
        if time.monotonic() > deadline:
            _shot(shots, "no-kernel", page)
            raise AssertionError(f"no idle kernel for {NOTEBOOK} after 120 s ({shots})")
        page.wait_for_timeout(500)
    state = _run_all(page, RUN_ALL_TIMEOUT)
    _shot(shots, "ran-all", page)
    unrun = [i for i, p in enumerate(state["prompts"]) if not re.search(r"\[\d+\]", p)]
    assert not unrun, (f"code cells {unrun} did not run; errors:\n"
                       + "\n---\n".join(state["errors"]) + f"\n({shots})")
    text = page.locator(".jp-Notebook").inner_text()
    for broken in ("Error displaying widget", "Loading widget...", "Failed to load model"):
        assert broken not in text, f"the page shows {broken!r} ({shots})"
    assert re.search(r"profile\W+quick", text), f"NST_QUICK=1 did not reach the kernel ({shots})"


def _digest(data: bytes) -> str:
    from PIL import Image

    with Image.open(io.BytesIO(data)) as picture:
        picture.load()
        assert min(picture.size) > 16, f"a {picture.size} image"
    return hashlib.sha256(data).hexdigest()[:12]


def test_browser_upload_paint_and_save(page, lab, shots, tmp_path):
    base, token = lab
    started = time.monotonic()
    _open_and_run(page, base, token, shots)
    print(f"\nopened and ran {NOTEBOOK} in {time.monotonic() - started:.0f} s")

    tool = (page.locator(".jp-OutputArea-output")
            .filter(has=page.locator(".nst-upload"))
            .filter(has=page.locator(".widget-button", has_text=re.compile(r"^\s*Paint\s*$")))
            .first)
    tool.wait_for()
    upload = tool.locator(".nst-upload", has_text="Upload photo").first
    upload_note = upload.locator(".nst-upload-note")

    def choose_file(path: Path) -> None:
        """Click Upload photo, as a learner does, and put ``path`` into the file input that
        opens the chooser (playwright's file chooser holds the ``<input type=file>`` and
        ``set_files`` is ``set_input_files`` on it)."""
        with page.expect_file_chooser() as chooser:
            upload.locator("button").click()
        assert chooser.value.element.evaluate("e => e.type") == "file"
        chooser.value.set_files(path)
    paint = tool.locator(".widget-button", has_text=re.compile(r"^\s*Paint\s*$")).first
    save = tool.locator(".widget-button", has_text=re.compile(r"^\s*Save\s*$")).first
    pictures = tool.locator(".widget-image")
    assert pictures.count() == 3, f"{pictures.count()} images in the tool ({shots})"

    def chosen() -> str:
        return tool.locator(".widget-html").first.inner_text()

    def status() -> str:
        texts = [t.strip() for t in tool.locator(".widget-html").all_inner_texts()]
        return texts[1] if len(texts) > 1 else ""  # [0] says what is chosen, [1] the status

    def shown() -> list[str]:
        return [_digest(_image_bytes(pictures.nth(i))) for i in range(3)]

    first = shown()
    # Run All painted the bundled photo once and left the tool waiting: no upload, no save.
    assert status().startswith("china.jpg: the starry_night network at 512 px"), status()
    try:
        saved = _api(base, token, "/api/contents/out")["content"]
    except OSError:  # 404: no out/ folder
        saved = []
    assert not saved, f"Run All saved files: {saved}"
    tool.scroll_into_view_if_needed()
    _shot(shots, "tool", page)

    # 1. Not an image: one line naming the file, and the pictures stay.
    (tmp_path / "notes.jpg").write_text("a shopping list, not a photo\n")
    choose_file(tmp_path / "notes.jpg")
    _wait_for(lambda: "notes.jpg (uploaded" in chosen(), 30,
              f"the page to say notes.jpg is chosen ({shots})", page)
    paint.click()
    line = _wait_for(lambda: "notes.jpg" in status() and status(), PAINT_TIMEOUT,
                     f"a line about notes.jpg ({shots})", page)
    _shot(shots, "not-an-image", page)
    print(f"not an image: {line}")
    assert line.startswith("notes.jpg (uploaded): not a readable image"), line
    assert "\n" not in line
    _wait_for(lambda: not paint.is_disabled(), 30, "Paint to be enabled again", page)
    assert shown() == first, f"a bad upload changed the pictures ({shots})"

    # 2. A phone's photo, over Colab's 1 MB message limit five times: it arrives in pieces,
    # is painted by the network, then by the optimisation, with the slider's weight.
    photo = phone_jpeg(tmp_path / "IMG_7730.JPG")
    megabytes = photo.stat().st_size / 1e6
    slider = tool.locator(".widget-slider").filter(
        has=page.locator(".widget-label", has_text="style weight")).first
    handle = slider.locator(".noUi-handle, .ui-slider-handle").first
    readout = slider.locator(".widget-readout").first
    before = readout.inner_text().strip()
    for _ in range(3):  # down: three presses of the left arrow key
        handle.focus()
        page.keyboard.press("ArrowLeft")
        page.wait_for_timeout(300)
    weight = readout.inner_text().strip()
    assert weight != before, f"the style weight slider did not move from {before} ({shots})"
    began = time.monotonic()
    choose_file(photo)
    _wait_for(lambda: "IMG_7730.JPG (uploaded" in chosen(), PAINT_TIMEOUT,
              f"all {megabytes:.1f} MB of IMG_7730.JPG to reach the kernel ({shots})", page)
    arrived = time.monotonic() - began
    _wait_for(lambda: "all arrived" in upload_note.inner_text(), 30,
              f"the upload button to say all arrived ({shots})", page)
    paint.click()
    _wait_for(lambda: shown()[1] != first[1], PAINT_TIMEOUT,
              f"the network's picture of the phone photo ({shots})", page)
    first_picture = time.monotonic() - began
    line = _wait_for(lambda: "IMG_7730.JPG:" in status() and "steps in" in status() and status(),
                     PAINT_TIMEOUT, f"the phone photo to be painted ({shots})", page)
    seconds = time.monotonic() - began
    _wait_for(lambda: not paint.is_disabled(), 30, "Paint to be enabled again", page)
    tool.scroll_into_view_if_needed()
    _shot(shots, "painted", page)
    tool.screenshot(path=shots / "09-tool-painted.png")
    after = shown()
    print(f"phone photo ({megabytes:.1f} MB, 4000 px): arrived in {arrived:.1f} s, the "
          f"network's picture {first_picture:.1f} s and the optimisation's {seconds:.1f} s "
          f"after choosing it; {line}")
    assert all(a != b for a, b in zip(after, first)), \
        f"photo, network and optimisation pictures should all be new: {first} -> {after}"
    assert "starry_night network at 512 px" in line, line
    assert f"style weight {float(weight):.3g}," in line, (weight, line)

    # 3. Save: both pictures written; the line names the files.
    save.click()
    line = _wait_for(lambda: status().startswith("saved ") and status(), 60,
                     f"the Save line ({shots})", page)
    print(f"save: {line}")
    paths = [Path(p) for p in line[len("saved "):].split(" and ")]
    assert [p.name for p in paths] == ["09_IMG_7730_starry_night.png",
                                       "09_IMG_7730_optimised.png"], paths
    for path in paths:
        assert path.is_file() and path.stat().st_size > 1000, path

    # 4. The largest photo a phone makes, about 20 MB (a 50-megapixel camera's JPEG; here
    # 7800 px, 39 megapixels): it too arrives in pieces and is painted.
    biggest = phone_jpeg(tmp_path / "PXL_0001.jpg", long_side=7800, min_bytes=19_000_000)
    megabytes = biggest.stat().st_size / 1e6
    began = time.monotonic()
    choose_file(biggest)
    _wait_for(lambda: "PXL_0001.jpg (uploaded" in chosen(), PAINT_TIMEOUT,
              f"all {megabytes:.1f} MB of PXL_0001.jpg to reach the kernel ({shots})", page)
    arrived = time.monotonic() - began
    paint.click()
    line = _wait_for(lambda: "PXL_0001.jpg:" in status() and "steps in" in status() and status(),
                     PAINT_TIMEOUT, f"the 20 MB photo to be painted ({shots})", page)
    print(f"largest photo ({megabytes:.1f} MB, 7800 px): arrived in {arrived:.1f} s, painted "
          f"{time.monotonic() - began:.1f} s after choosing it")
    assert "starry_night network at 512 px" in line, line
