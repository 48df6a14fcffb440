"""Notebook 05's style-weight explorer, used in a real browser as a learner uses it.

nbval drives the widgets from Python, so a slider that renders nothing, a callback that never
reaches the kernel from the page, or an image that does not change would all pass it. These
tests start JupyterLab on a free local port with a random token, over a temporary copy of the
notebooks, open notebook 05 in headless Chromium (driven by playwright), run it at the quick
profile with JupyterLab's own Run All, then move the precomputed sweep's slider through every
position and check the image and the label follow, and set the live style_weight slider, press
Run and check a new image and its losses appear.

A screenshot is saved after each step, in the folder named by ``NST_BROWSER_SHOTS`` or else in
a folder under pytest's temporary directory; the path is printed (``pytest -s`` shows it, and
the failure messages repeat it), with the server's log and the page's console log beside them.

Without a browser the tests are skipped with one line saying how to get one. ``.ci/run``
installs one and sets ``NST_BROWSER_REQUIRED=1``, which turns that skip into a failure.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = "05_style_weight_explorer.ipynb"
HOW_TO_GET_ONE = ("no headless Chromium for the browser tests: apt-get install chromium (as root) "
                  "and pip install playwright, or set NST_CHROMIUM to a Chromium binary")
#: Seconds allowed for opening notebook 05 and its Run All at the quick profile (80-150 s on
#: two busy cores).
RUN_ALL_TIMEOUT = 300
#: Seconds allowed for one click of Run at the quick profile (about 10 s on two busy cores).
RUN_TIMEOUT = 180


# --- finding a browser -------------------------------------------------------------------------

def _chromium_executable() -> str | None:
    """A Chromium binary: NST_CHROMIUM, the system's, or one playwright downloaded itself."""
    candidates = [os.environ.get("NST_CHROMIUM")]
    candidates += [shutil.which(name) for name in
                   ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")]
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    with contextlib.suppress(Exception):  # `playwright install chromium` puts one in its cache
        from playwright.sync_api import sync_playwright

        with sync_playwright() as playwright:
            candidate = playwright.chromium.executable_path
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


def _find_browser() -> tuple[str | None, str | None]:
    """(Chromium's path, None), or (None, why not) when playwright, JupyterLab or Chromium
    is missing."""
    try:
        import jupyterlab  # noqa: F401
        import playwright.sync_api  # noqa: F401
    except ImportError as err:
        return None, (HOW_TO_GET_ONE if "playwright" in str(err)
                      else f"{err}: pip install -r requirements.txt")
    executable = _chromium_executable()
    return (executable, None) if executable else (None, HOW_TO_GET_ONE)


CHROMIUM, MISSING = _find_browser()
#: The largest message the page may send the kernel: about what Colab takes (1 MB).
MESSAGE_LIMIT_BYTES = 1024 * 1024

#: .ci/run sets NST_BROWSER_REQUIRED=1 once it has installed a browser: then a missing piece
#: fails the tests instead of skipping them.
REQUIRED = os.environ.get("NST_BROWSER_REQUIRED", "") not in ("", "0")
if MISSING and not REQUIRED:
    pytest.skip(MISSING, allow_module_level=True)


# --- JupyterLab --------------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _api(base: str, token: str, path: str, method: str = "GET", timeout: float = 10):
    request = urllib.request.Request(f"{base}{path}", method=method,
                                     headers={"Authorization": f"token {token}"})
    if method == "POST":
        request.data = b""
    with urllib.request.urlopen(request, timeout=timeout) as response:
        body = response.read()
    return json.loads(body) if body else None


def _processes_with(marker: str) -> list[int]:
    """Pids of processes whose environment holds ``marker`` (Linux; elsewhere none)."""
    pids = []
    needle = marker.encode()
    for entry in Path("/proc").glob("[0-9]*"):
        with contextlib.suppress(OSError):
            if needle in (entry / "environ").read_bytes().split(b"\0"):
                pids.append(int(entry.name))
    return [pid for pid in pids if pid != os.getpid()]


def _kill_group(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(os.getpgid(pid), sig)


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    """Folder for the screenshots and the server log."""
    chosen = os.environ.get("NST_BROWSER_SHOTS")
    folder = Path(chosen) if chosen else tmp_path_factory.mktemp("browser_shots")
    folder.mkdir(parents=True, exist_ok=True)
    print(f"\nbrowser test screenshots: {folder}")
    return folder


@pytest.fixture(scope="module")
def playwright():
    if MISSING:
        pytest.fail(f"NST_BROWSER_REQUIRED is set but {MISSING}", pytrace=False)
    from playwright.sync_api import sync_playwright

    driver = sync_playwright().start()
    try:
        yield driver
    finally:
        driver.stop()


@pytest.fixture(scope="module")
def lab(playwright, tmp_path_factory, shots):
    """JupyterLab serving a copy of notebooks/ (and images/) on 127.0.0.1; stopped afterwards.

    Yields ``(base_url, token)``. The server runs in its own process group; kernels start in
    sessions of their own, so they are shut down through the server's API first, and any
    process still carrying this server's marker in its environment is killed at the end.
    """
    work = tmp_path_factory.mktemp("browser_lab")
    shutil.copytree(ROOT / "notebooks", work / "notebooks",
                    ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    shutil.copytree(ROOT / "images", work / "images")
    settings = work / "lab-settings"
    # Every cell in the DOM (no virtual scrolling hides widgets), and no news toast over them.
    for name, value in {"notebook-extension/tracker": {"windowingMode": "none"},
                        "apputils-extension/notification": {"fetchNews": "false",
                                                            "checkForUpdates": False}}.items():
        path = settings / "@jupyterlab" / f"{name}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(value))

    port, token = _free_port(), secrets.token_hex(16)
    marker = f"NST_BROWSER_TEST_SERVER={token}"
    env = dict(os.environ, NST_QUICK="1", NST_BROWSER_TEST_SERVER=token,
               JUPYTER_CONFIG_DIR=str(work / "config"), JUPYTER_RUNTIME_DIR=str(work / "runtime"),
               PYTHONDONTWRITEBYTECODE="1")
    log_path = shots / "jupyter-server.log"
    base = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1",
               f"--port={port}", "--ServerApp.port_retries=0",
               "--ServerApp.allow_root=True",  # CI runs as root
               f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={work}",
               f"--LabApp.user_settings_dir={settings}",
               f"--LabApp.workspaces_dir={work / 'workspaces'}",
               # Colab's limit on one message from the page (ipywidgets#3452), not tornado's
               # 10 MiB: a widget that sends a phone photo in one message fails here as there.
               "--ServerApp.tornado_settings="
               f"{{'websocket_max_message_size': {MESSAGE_LIMIT_BYTES}}}"]
    with open(log_path, "wb") as log:
        server = subprocess.Popen(command, cwd=work, env=env, stdout=log,
                                  stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while True:
            if server.poll() is not None:
                pytest.fail(f"JupyterLab exited ({server.returncode}):\n"
                            f"{log_path.read_text()[-3000:]}")
            with contextlib.suppress(OSError, ValueError):
                _api(base, token, "/api/status", timeout=2)
                break
            if time.monotonic() > deadline:
                pytest.fail(f"JupyterLab did not answer in 120 s:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.5)
        yield base, token
    finally:
        with contextlib.suppress(Exception):
            for kernel in _api(base, token, "/api/kernels"):
                _api(base, token, f"/api/kernels/{kernel['id']}", method="DELETE", timeout=30)
        with contextlib.suppress(Exception):
            _api(base, token, "/api/shutdown", method="POST")
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            _kill_group(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                _kill_group(server.pid, signal.SIGKILL)
                server.wait(timeout=10)
        _kill_group(server.pid, signal.SIGKILL)  # anything left in the server's group
        for pid in _processes_with(marker):  # kernels, in sessions of their own
            _kill_group(pid, signal.SIGKILL)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


@pytest.fixture(scope="module")
def page(playwright, lab, shots):
    browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                         args=["--no-sandbox", "--disable-dev-shm-usage"])
    try:
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = context.new_page()
        page.set_default_timeout(60_000)
        console = []  # kept beside the screenshots: widget errors in the page land here
        page.on("console", lambda m: console.append(f"{m.type}: {m.text}"))
        page.on("pageerror", lambda e: console.append(f"pageerror: {e}"))
        try:
            yield page
        finally:
            (shots / "browser-console.log").write_text("\n".join(console) + "\n")
    finally:
        browser.close()


# --- the notebook in the page ------------------------------------------------------------------

_NOTEBOOK_STATE = """() => {
    const prompts = [...document.querySelectorAll('.jp-Notebook .jp-CodeCell .jp-InputPrompt')]
        .map(p => p.textContent.trim());
    const indicator = document.querySelector('.jp-Notebook-ExecutionIndicator');
    const errors = [...document.querySelectorAll(
        '.jp-Notebook .jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]')]
        .map(e => e.textContent.slice(-1500));
    return {prompts, status: indicator ? indicator.dataset.status : null, errors};
}"""


class Explorer:
    """The open notebook, with a screenshot helper."""

    def __init__(self, page, shots: Path):
        self.page, self.shots, self.count = page, shots, 0

    def shot(self, name: str, element=None) -> Path:
        self.count += 1
        path = self.shots / f"{self.count:02d}-{name}.png"
        if element is not None:
            element.scroll_into_view_if_needed()
        self.page.screenshot(path=path)
        return path

    def where(self) -> str:
        return f"(screenshots in {self.shots})"

    def sweep_area(self):
        """The output holding the sweep: a style_weight slider and images, and no button."""
        page = self.page
        return (page.locator(".jp-OutputArea-output")
                .filter(has=_slider_in(page, page, "style_weight"))
                .filter(has=page.locator(".widget-image"))
                .filter(has_not=page.locator(".widget-button")).first)

    def live_area(self):
        """The output holding the live explorer: style_weight slider and a Run button."""
        page = self.page
        return (page.locator(".jp-OutputArea-output")
                .filter(has=_slider_in(page, page, "style_weight"))
                .filter(has=page.locator(".widget-button", has_text=re.compile(r"^\s*Run\s*$")))
                .first)


def _slider_in(page, scope, description: str):
    """The sliders in scope with this description (a filter's inner locator is relative)."""
    label = page.locator(".widget-label", has_text=re.compile(rf"^\s*{description}\s*$"))
    return scope.locator(".widget-slider").filter(has=label)


def _handle(slider):
    return slider.locator(".noUi-handle, .ui-slider-handle").first


def _readout(slider) -> str:
    return slider.locator(".widget-readout").first.inner_text().strip()


def _readout_after(slider, old: str, page, timeout: float = 2.0) -> str:
    """The readout once it differs from old; old if it stays (the slider is at its end)."""
    deadline = time.monotonic() + timeout
    while (readout := _readout(slider)) == old and time.monotonic() < deadline:
        page.wait_for_timeout(100)
    return readout


def _labels(area) -> list[str]:
    """Texts of the Label widgets in area (a description label belongs to its slider)."""
    return [text.strip() for text in area.locator(".widget-label").all_inner_texts()]


def _image_bytes(image) -> bytes:
    """The bytes the page shows in an ipywidgets Image (a blob: or data: URL)."""
    encoded = image.evaluate("""async img => {
        const bytes = new Uint8Array(await (await fetch(img.src)).arrayBuffer());
        let text = '';
        for (let i = 0; i < bytes.length; i += 8192)
            text += String.fromCharCode(...bytes.subarray(i, i + 8192));
        return btoa(text);
    }""")
    return base64.b64decode(encoded)


def _check_png(data: bytes, what: str) -> str:
    from PIL import Image

    with Image.open(io.BytesIO(data)) as picture:
        picture.load()
        assert min(picture.size) > 8, f"{what}: a {picture.size} image"
    return hashlib.sha256(data).hexdigest()[:12]


def _wait_for(predicate, timeout: float, what: str, page, poll: float = 0.25):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        page.wait_for_timeout(poll * 1000)


def _run_all(page, timeout: float) -> dict:
    """Run All Cells from JupyterLab's Run menu and wait until the kernel has run them."""
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()
    settled_since, deadline = None, time.monotonic() + timeout
    while True:
        state = page.evaluate(_NOTEBOOK_STATE)
        busy = state["status"] != "idle" or any("*" in p for p in state["prompts"])
        done = all(re.search(r"\d", p) for p in state["prompts"])
        if busy:
            settled_since = None
        elif settled_since is None:
            settled_since = time.monotonic()
        elif time.monotonic() - settled_since > (1 if done else 10):
            return state  # all ran, or stopped (at an error) and stayed idle for 10 s
        if time.monotonic() > deadline:
            raise AssertionError(f"Run All did not finish in {timeout} s: {state}")
        page.wait_for_timeout(500)


@pytest.fixture(scope="module")
def explorer(page, lab, shots):
    """Notebook 05 opened in JupyterLab and run once with Run All, at the quick profile."""
    base, token = lab
    view = Explorer(page, shots)
    started = time.monotonic()
    page.goto(f"{base}/lab/tree/notebooks/{NOTEBOOK}?token={token}")
    page.locator(".jp-Notebook .jp-Cell").first.wait_for()
    # JupyterLab may ask which kernel to start: accept its choice (Python 3). Then wait until
    # the server has the kernel and the page says it is connected and idle.
    deadline = time.monotonic() + 120
    while True:
        accept = page.locator(".jp-Dialog .jp-mod-accept")
        if accept.count() and accept.first.is_visible():
            accept.first.click()
        sessions = _api(base, token, "/api/sessions")
        kernel_idle = any(s["path"].endswith(NOTEBOOK) and s.get("kernel")
                          and s["kernel"].get("execution_state") == "idle" for s in sessions)
        status_bar = page.locator(".jp-StatusBar-Widget, #jp-main-statusbar").first
        page_idle = bool(status_bar.count()
                         and re.search(r"\|\s*Idle", status_bar.inner_text()))
        if kernel_idle and page_idle:
            break
        if time.monotonic() > deadline:
            view.shot("no-kernel")
            raise AssertionError(f"no idle kernel for {NOTEBOOK} after 120 s: sessions "
                                 f"{sessions} {view.where()}")
        page.wait_for_timeout(500)
    view.shot("opened")
    state = _run_all(page, RUN_ALL_TIMEOUT)
    print(f"Run All took {time.monotonic() - started:.0f} s")
    view.shot("ran-all")
    unrun = [i for i, p in enumerate(state["prompts"]) if not re.search(r"\[\d+\]", p)]
    assert not unrun, (f"code cells {unrun} did not run (prompts {state['prompts']}); "
                       f"errors:\n" + "\n---\n".join(state["errors"]) + f"\n{view.where()}")
    notebook_text = page.locator(".jp-Notebook").inner_text()
    for broken in ("Error displaying widget", "Loading widget...", "Failed to load model"):
        assert broken not in notebook_text, f"the page shows {broken!r} {view.where()}"
    assert re.search(r"profile\W+quick", notebook_text), \
        f"NST_QUICK=1 did not reach the kernel: no 'profile: quick' printed {view.where()}"
    return view


# --- the tests ---------------------------------------------------------------------------------

def test_browser_sweep_slider_swaps_image_and_label(explorer):
    page, where = explorer.page, explorer.where()
    area = explorer.sweep_area()
    area.wait_for()
    slider = _slider_in(page, area, "style_weight").first
    shown = area.locator(".widget-image").nth(1)  # content, result, style
    label_box = area.locator(".widget-label").last

    def state():
        return _readout(slider), label_box.inner_text().strip(), _image_bytes(shown)

    readout, label, image = state()
    assert label.startswith(f"style_weight {readout}"), (readout, label, where)
    seen = {readout: _check_png(image, f"sweep image at {readout}")}
    explorer.shot(f"sweep-{readout}", area)

    handle = _handle(slider)
    for key in ("ArrowLeft", "ArrowRight"):
        # Walk to one end, then to the other: every position must swap image and label.
        for _ in range(20):
            handle.focus()
            page.keyboard.press(key)
            new_readout = _readout_after(slider, readout, page)
            if new_readout == readout:
                break  # the end of the slider
            deadline = time.monotonic() + 15
            while True:  # the kernel answers: first the image, then the label
                _, new_label, new_image = state()
                label_ok = new_label.startswith(f"style_weight {new_readout}")
                if label_ok and new_image != image:
                    break
                assert time.monotonic() < deadline, (
                    f"at {new_readout} the page shows label {new_label!r} "
                    f"({'right' if label_ok else 'wrong'}) and "
                    f"{'a new' if new_image != image else 'the same'} image {where}")
                page.wait_for_timeout(200)
            assert "loss" in new_label, (new_label, where)
            digest = _check_png(new_image, f"sweep image at {new_readout}")
            assert seen.setdefault(new_readout, digest) == digest, \
                f"back at {new_readout}, the page shows another image than before {where}"
            explorer.shot(f"sweep-{new_readout}", area)
            readout, label, image = new_readout, new_label, new_image
    assert len(seen) >= 3, f"the slider reached only {sorted(seen)} {where}"
    assert len(set(seen.values())) == len(seen), f"positions share an image: {seen} {where}"

    # With the mouse: drag the handle to the left end of its track.
    track = slider.locator(".noUi-target, .ui-slider").first.bounding_box()
    knob = _handle(slider).bounding_box()
    page.mouse.move(knob["x"] + knob["width"] / 2, knob["y"] + knob["height"] / 2)
    page.mouse.down()
    page.mouse.move(track["x"] - 20, knob["y"] + knob["height"] / 2, steps=8)
    page.mouse.up()
    first = _readout_after(slider, readout, page, timeout=5)
    assert first != readout, f"dragging the handle left did not move the slider {where}"
    deadline = time.monotonic() + 15
    while True:
        _, label, image = state()
        digest = hashlib.sha256(image).hexdigest()[:12]
        if label.startswith(f"style_weight {first}") and digest == seen.get(first):
            break
        assert time.monotonic() < deadline, (
            f"dragged to {first}: the page shows {label!r} and image {digest}, "
            f"expected {seen.get(first)} {where}")
        page.wait_for_timeout(200)
    explorer.shot(f"sweep-dragged-to-{first}", area)
    print(f"sweep positions seen: {seen}")


def _numbers_after(name: str, text: str) -> float | None:
    match = re.search(rf"{name}\s+([-+0-9.e]+)", text)
    return float(match.group(1)) if match else None


def test_browser_live_slider_and_run_button_make_a_new_result(explorer):
    page, where = explorer.page, explorer.where()
    area = explorer.live_area()
    area.wait_for()
    style_slider = _slider_in(page, area, "style_weight").first
    content_slider = _slider_in(page, area, "content_weight").first
    button = area.locator(".widget-button", has_text=re.compile(r"^\s*Run\s*$")).first
    result = area.locator(".widget-image").first
    result_label = area.locator(".widget-label").last

    before_image = _image_bytes(result)
    before_label = result_label.inner_text().strip()
    start = _readout(style_slider)
    handle = _handle(style_slider)
    readout = start
    for step in range(5):  # five steps of 0.1 on the log scale: a factor of about 3
        handle.focus()
        page.keyboard.press("ArrowLeft")  # each one seen on the readout before the next
        moved = _wait_for(lambda old=readout: (r := _readout(style_slider)) != old and r, 5,
                          f"the live style_weight slider to move from {readout} (step "
                          f"{step + 1} of 5) {where}", page, poll=0.1)
        readout = moved
    style_weight = float(_readout(style_slider))
    content_weight = float(_readout(content_slider))
    explorer.shot("live-sliders-set", area)

    button.click()
    started = time.monotonic()

    shown_while_running, disabled_seen = set(), False

    def finished():
        nonlocal disabled_seen
        text = result_label.inner_text().strip()
        if text == before_label or "running" in text or button.is_disabled():
            disabled_seen = disabled_seen or button.is_disabled()
            with contextlib.suppress(Exception):  # previews: not asserted, runs can be quick
                shown_while_running.add(hashlib.sha256(_image_bytes(result)).hexdigest())
            return None
        return text

    label = _wait_for(finished, RUN_TIMEOUT, f"the run to finish {where}", page, poll=0.5)
    seconds = time.monotonic() - started
    explorer.shot("live-run-done", area)
    assert "failed" not in label, f"{label} {where}"
    shown_style = _numbers_after("style_weight", label)
    shown_content = _numbers_after("content_weight", label)
    assert shown_style is not None and abs(shown_style / style_weight - 1) < 0.01, \
        f"the result label {label!r} is not for style_weight {style_weight} {where}"
    assert shown_content is not None and abs(shown_content / content_weight - 1) < 0.01, \
        f"the result label {label!r} is not for content_weight {content_weight} {where}"
    for loss in ("content loss", "style loss"):
        value = _numbers_after(loss, label)
        assert value is not None and value >= 0, f"no {loss} in {label!r} {where}"
    after_image = _image_bytes(result)
    _check_png(after_image, "the live result")
    assert after_image != before_image, f"the result image did not change {where}"
    print(f"Run at style_weight {style_weight:g}: {label} ({seconds:.1f} s in the page; "
          f"{len(shown_while_running)} images shown while running, button disabled "
          f"{'seen' if disabled_seen else 'not seen'})")
