"""nst_helpers.io.download against a real HTTP server on 127.0.0.1 (never the internet)."""

from __future__ import annotations

import io
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from PIL import Image

from nst_helpers.io.download import (
    DownloadError,
    check_image_bytes,
    default_cache_dir,
    fetch_bytes,
    fetch_image,
)
from nst_helpers.io.images import ImageError, load_image


def _png(size=(40, 30), colour=(10, 200, 30)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, "PNG")
    return buf.getvalue()


GOOD_PNG = _png()
HUGE = b"\0" * (256 * 1024)
#: The slow server answers /slow when a test lets it (``Handler.answer_slow``), at the latest
#: after this many seconds: a client that gives up at its timeout never meets the answer.
SLOW_LIMIT_S = 60.0


class Handler(BaseHTTPRequestHandler):
    hits: dict[str, int] = {}
    answer_slow = threading.Event()  # set: /slow answers now

    def log_message(self, *args):  # keep test output quiet
        pass

    def _send(self, body: bytes, kind: str, length: bool = True) -> None:
        self.send_response(200)
        self.send_header("Content-Type", kind)
        if length:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (size cap)
            pass

    def do_GET(self):  # noqa: N802 (http.server's name)
        Handler.hits[self.path] = Handler.hits.get(self.path, 0) + 1
        if self.path.startswith("/good.png"):
            self._send(GOOD_PNG, "image/png")
        elif self.path == "/text.jpg":
            self._send(b"<html>not an image</html>", "text/html")
        elif self.path == "/huge":
            self._send(HUGE, "application/octet-stream")
        elif self.path == "/huge-stream":  # no Content-Length: only streaming can tell
            self._send(HUGE, "application/octet-stream", length=False)
        elif self.path == "/slow":  # a server that does not answer until the test says so
            Handler.answer_slow.wait(SLOW_LIMIT_S)
            self._send(GOOD_PNG, "image/png")
        elif self.path in ("/to-file", "/to-ftp"):
            self.send_response(302)
            target = "file:///etc/passwd" if self.path == "/to-file" else "ftp://127.0.0.1/a"
            self.send_header("Location", target)
            self.end_headers()
        else:
            self.send_error(404, "Not Found")


@pytest.fixture(scope="module")
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch, tmp_path):
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy",
                 "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NST_CACHE_DIR", str(tmp_path / "default-cache"))


def one_line(err: pytest.ExceptionInfo) -> str:
    message = str(err.value)
    assert "\n" not in message and ";" in message
    return message


def test_fetch_bytes_good(server):
    assert fetch_bytes(server + "/good.png", timeout=5) == GOOD_PNG


@pytest.mark.parametrize("url", ["ftp://example.com/a.png", "file:///etc/passwd",
                                 "javascript:alert(1)", "example.com/a.png", "http://", 42, None])
def test_only_http_and_https(url):
    with pytest.raises(DownloadError) as err:
        fetch_bytes(url)
    assert isinstance(err.value, ImageError)
    one_line(err)


@pytest.mark.parametrize("path", ["/to-file", "/to-ftp"])
def test_redirect_to_other_schemes_refused(server, path):
    with pytest.raises(DownloadError, match="(only http|not allowed)"):
        fetch_bytes(server + path, timeout=5)


@pytest.mark.parametrize("path", ["/to-file", "/to-ftp"])
def test_a_dataset_redirected_elsewhere_is_one_line_and_leaves_nothing(server, path, tmp_path):
    """A dataset comes through torchvision's downloader: a redirect to file:// (which urllib
    refuses) or to an ftp:// server that does not answer is one line, and no part of a
    download is left in the cache."""
    from nst_helpers.io.datasets import Dataset, download_dataset

    with pytest.raises(DownloadError) as err:
        download_dataset(Dataset("redirected", server + path, "0" * 32), tmp_path / "cache")
    assert "could not download" in one_line(err)
    assert [p.name for p in (tmp_path / "cache").iterdir()] == []


@pytest.mark.parametrize("url", ["ftp://example.com/photos.zip", "file:///etc/passwd"])
def test_a_dataset_not_on_http_is_refused_before_any_download(url, tmp_path):
    from nst_helpers.io.datasets import Dataset, download_dataset

    with pytest.raises(DownloadError, match="only http:// and https://"):
        download_dataset(Dataset("elsewhere", url, "0" * 32), tmp_path / "cache")
    assert not (tmp_path / "cache").exists()


def test_404(server):
    with pytest.raises(DownloadError) as err:
        fetch_bytes(server + "/missing.png", timeout=5)
    assert "HTTP 404" in one_line(err) and "could not download" in str(err.value)


@pytest.mark.parametrize("path", ["/huge", "/huge-stream"])
def test_size_cap(server, path):
    with pytest.raises(DownloadError) as err:
        fetch_bytes(server + path, timeout=5, max_bytes=10_000)
    assert "larger than" in one_line(err)
    assert len(fetch_bytes(server + path, timeout=5, max_bytes=len(HUGE))) == len(HUGE)


def test_timeout(server):
    """The server holds its answer until the client has given up: only the client's own
    timeout can end the call (no race between the server's delay and the client's)."""
    Handler.answer_slow.clear()
    start = time.perf_counter()
    try:
        with pytest.raises(DownloadError) as err:
            fetch_bytes(server + "/slow", timeout=0.5)
        waited = time.perf_counter() - start
    finally:
        Handler.answer_slow.set()  # the held answer goes out now, to a client that has left
    assert waited < SLOW_LIMIT_S / 2, waited  # it gave up; the answer never came
    assert "no answer within 0.5 s" in one_line(err)


def test_connection_refused():
    with socket.socket() as sock:  # a port that nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(DownloadError) as err:
        fetch_bytes(f"http://127.0.0.1:{port}/a.png", timeout=2)
    assert "refused" in one_line(err).lower() and "use a local file" in str(err.value)


def test_dns_failure(monkeypatch):
    def no_dns(*args, **kwargs):
        raise socket.gaierror(-2, "Name or service not known")
    monkeypatch.setattr(socket, "getaddrinfo", no_dns)
    with pytest.raises(DownloadError) as err:
        fetch_bytes("http://no-such-host.invalid/a.png", timeout=2)
    assert "name or service not known" in one_line(err).lower()


def test_fetch_image_caches_atomically(server, tmp_path):
    cache = tmp_path / "cache"
    url = server + "/good.png?v=cache-test"
    path = fetch_image(url, cache, timeout=5)
    assert path.parent == cache and path.read_bytes() == GOOD_PNG
    assert [p.name for p in cache.iterdir()] == [path.name]  # no temp files left
    hits = Handler.hits["/good.png?v=cache-test"]
    assert fetch_image(url, cache, timeout=5) == path
    assert Handler.hits["/good.png?v=cache-test"] == hits  # second call served from the cache


def test_default_cache_dir_from_env(server, tmp_path):
    assert default_cache_dir() == tmp_path / "default-cache"
    path = fetch_image(server + "/good.png?v=env", timeout=5)
    assert path.parent == tmp_path / "default-cache"


def test_non_image_is_not_cached(server, tmp_path):
    cache = tmp_path / "cache"
    with pytest.raises(DownloadError) as err:
        fetch_image(server + "/text.jpg", cache, timeout=5)
    assert "not an image" in one_line(err)
    assert not cache.exists() or not any(cache.iterdir())


def test_unwritable_cache_dir(server, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    with pytest.raises(DownloadError) as err:
        fetch_image(server + "/good.png?v=blocked", blocker / "cache", timeout=5)
    assert "NST_CACHE_DIR" in one_line(err)


def test_check_image_bytes_refuses_huge_header():
    from test_images import _png_header_only

    with pytest.raises(DownloadError, match="megapixel"):
        check_image_bytes(_png_header_only(12000, 9000), "x")
    with pytest.raises(DownloadError, match="not an image"):
        check_image_bytes(b"")
    check_image_bytes(GOOD_PNG)


def test_load_image_from_url(server, tmp_path):
    t = load_image(server + "/good.png?v=load", size=80)
    assert tuple(t.shape) == (1, 3, 60, 80)
    assert abs(float(t[0, 1, 30, 40]) - 200 / 255) < 0.02
    assert len(list((tmp_path / "default-cache").iterdir())) == 1
    with pytest.raises(ImageError, match="HTTP 404"):
        load_image(server + "/nothing.png")



def _import_graph(folder) -> dict[str, set[str]]:
    """For each module in the package ``folder`` (sub-packages too, by dotted name:
    ``io.images``; a sub-package's ``__init__`` by its own name, ``cli``), the package's modules
    it imports anywhere in its code (inside functions too: an import put off until a call still
    closes a circle). A top-level ``if __name__ == "__main__":`` block is left out: it runs
    only when the file is executed as a script, as ``__main__``, a module no other imports."""
    import ast

    def is_script_block(node):
        return (isinstance(node, ast.If) and isinstance(node.test, ast.Compare)
                and isinstance(node.test.left, ast.Name) and node.test.left.id == "__name__")

    paths = {}
    for p in folder.rglob("*.py"):
        parts = list(p.relative_to(folder).with_suffix("").parts)
        is_package = parts[-1] == "__init__" and len(parts) > 1
        paths[".".join(parts[:-1] if is_package else parts)] = (p, is_package)
    modules = set(paths)
    graph = {}
    for name, (path, is_package) in paths.items():
        here = name.split(".") if is_package else name.split(".")[:-1]
        found = set()
        tree = ast.parse(path.read_text())
        tree.body = [n for n in tree.body if not is_script_block(n)]
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level:
                base = here[: len(here) - (node.level - 1)]
                target = [*base, *(node.module.split(".") if node.module else [])]
                found.add(".".join(target))
                found |= {".".join([*target, alias.name]) for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
                    "nst_helpers."):
                target = node.module.split(".")[1:]
                found.add(".".join(target))
                found |= {".".join([*target, alias.name]) for alias in node.names}
            elif isinstance(node, ast.Import):
                found |= {a.name.split(".", 1)[1] for a in node.names
                          if a.name.startswith("nst_helpers.")}
        graph[name] = (found & modules) - {name}
    return graph


def _circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every module that can reach itself through the graph, with one such path."""

    def circle_from(start, path):
        for nxt in sorted(graph[path[-1]]):
            if nxt == start:
                return [*path, start]
            if nxt not in path and (found := circle_from(start, [*path, nxt])):
                return found
        return None

    return [c for m in sorted(graph) if (c := circle_from(m, [m]))]


def test_no_module_of_the_package_imports_one_that_imports_it_back():
    """images opens URLs through download; download shares the error type and size limit
    with images through files, and must not import images back (nor anything that does)."""
    from pathlib import Path

    import nst_helpers

    graph = _import_graph(Path(nst_helpers.__file__).parent)
    assert "io.download" in graph["io.images"] and "io.files" in graph["io.download"]
    assert "io.images" not in graph["io.download"]
    circles = _circles(graph)
    assert not circles, [" -> ".join(c) for c in circles]


def test_the_import_check_finds_a_circle_closed_inside_a_function(tmp_path):
    (tmp_path / "a.py").write_text("from .b import g\n")
    (tmp_path / "b.py").write_text("def g():\n    from .c import h\n")
    (tmp_path / "c.py").write_text("def h():\n    from . import a\n")
    (tmp_path / "d.py").write_text("import nst_helpers.a\n"
                                   "if __name__ == '__main__':\n    from .e import main\n")
    (tmp_path / "e.py").write_text("from . import d\n")
    graph = _import_graph(tmp_path)
    assert graph == {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": {"d"}}
    assert _circles(graph)[0] == ["a", "b", "c", "a"]
    assert [c[0] for c in _circles(graph)] == ["a", "b", "c"]  # d leads into it, is not in it
