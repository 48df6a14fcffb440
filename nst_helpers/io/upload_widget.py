"""An upload button whose file reaches the kernel in chunks, so that a phone photo survives
Colab's limit on one widget message.

ipywidgets' ``FileUpload`` sends the whole file to the kernel in one comm message. Colab drops
a message of about 1 MB or more (jupyter-widgets/ipywidgets#3452: ``.value`` stays empty and
the runtime reconnects), and a phone photo is 2-6 MB. :class:`ChunkedUpload` reads the chosen
file in the browser and sends it in pieces of :data:`CHUNK_BYTES`; the kernel acknowledges each
piece, so the page shows how much has arrived, sends again what a dropped connection lost, and
says so in one line when nothing more arrives. It is an ``anywidget`` (preinstalled in Colab),
so it needs no frontend extension of its own, under ipywidgets 7.7.1 (Colab's) and 8.

Its ``value`` has the shape of an ipywidgets 8 ``FileUpload.value``, so
:func:`nst_helpers.io.upload.load_choice` takes it as it takes that one: a tuple of one dict
with ``name``, ``type``, ``size`` (the file's size, in bytes) and ``content`` (the bytes that
have arrived: fewer than ``size`` while the file is on its way, and load_choice says so).
"""

from __future__ import annotations

import anywidget
import traitlets

__all__ = ["ChunkedUpload", "CHUNK_BYTES"]

#: Bytes per message: a quarter of Colab's ~1 MB limit, with room for base64 (x4/3) and the
#: message's own header. A 20 MB photo is 80 messages.
CHUNK_BYTES = 256 * 1024

# The page's half: a button that opens the file chooser, a note that says how the upload goes.
# Up to four pieces are on their way at once; a piece not acknowledged in `stall_seconds` is
# sent again from the first byte the kernel lacks (it drops pieces that do not follow on), and
# after three such tries the note says the upload stopped and what to do.
_ESM = r"""
function render({ model, el }) {
  const input = document.createElement("input");
  input.type = "file";
  input.accept = model.get("accept");
  input.style.display = "none";
  const button = document.createElement("button");
  button.className = "jupyter-widgets jupyter-button widget-button nst-upload-button";
  button.textContent = model.get("description");
  button.style.width = "180px";
  const note = document.createElement("span");
  note.className = "nst-upload-note";
  note.style.marginLeft = "0.5em";
  el.classList.add("nst-upload");
  el.style.display = "flex";
  el.style.alignItems = "center";
  note.style.whiteSpace = "nowrap";
  el.append(input, button, note);
  button.addEventListener("click", () => input.click());

  const chunk = model.get("chunk_bytes");
  const inFlight = 4;
  const mb = (n) => (n / 1e6).toFixed(1) + " MB";
  let upload = null;  // the file on its way: {id, file, started, acked, next, ...}

  model.on("msg:custom", (msg) => {
    if (!upload || msg.kind !== "ack" || msg.id !== upload.id) return;
    upload.started = true;
    if (msg.received > upload.acked) {
      upload.acked = msg.received;
      upload.lastProgress = Date.now();
      upload.tries = 0;
    }
    pump();
  });

  // One sender at a time, so pieces leave in order; an acknowledgement that comes while it
  // sends asks it to look again.
  let pumping = false, again = false;
  async function pump() {
    if (pumping) { again = true; return; }
    pumping = true;
    try {
      do { again = false; await sendWhatFits(); } while (again);
    } finally {
      pumping = false;
    }
  }

  async function sendWhatFits() {
    const u = upload;
    if (!u) return;
    if (u.acked >= u.file.size) {
      note.textContent = `${mb(u.file.size)}, all arrived`;
      upload = null;
      return;
    }
    note.textContent = `${mb(u.acked)} of ${mb(u.file.size)} arrived`;
    while (u === upload && u.next < u.file.size && u.next < u.acked + inFlight * chunk) {
      const offset = u.next;
      u.next = Math.min(offset + chunk, u.file.size);
      const piece = await u.file.slice(offset, u.next).arrayBuffer();
      if (u !== upload) return;
      model.send({ kind: "chunk", id: u.id, offset: offset }, undefined, [piece]);
    }
  }

  function watch(u) {
    if (u !== upload) return;
    if (Date.now() - u.lastProgress > model.get("stall_seconds") * 1000) {
      u.tries += 1;
      if (u.tries > 3) {
        note.textContent = (!u.started
          ? `${u.file.name}: the kernel did not answer`
          : `${u.file.name}: stopped after ${mb(u.acked)} of ${mb(u.file.size)}`) +
          " (is the kernel busy or disconnected?): choose the file again, or a smaller one";
        upload = null;
        return;
      }
      u.lastProgress = Date.now();
      u.next = u.acked;  // send again what was not acknowledged
      if (u.started) pump(); else start(u);
    }
    setTimeout(() => watch(u), 1000);
  }

  function start(u) {
    model.send({ kind: "start", id: u.id, name: u.file.name, size: u.file.size,
                 type: u.file.type });
  }

  input.addEventListener("change", () => {
    const file = input.files[0];
    input.value = "";
    if (!file) return;
    const id = `${Date.now()}-${Math.random().toString(36).slice(2)}`;
    upload = { id, file, started: false, acked: 0, next: 0, lastProgress: Date.now(),
               tries: 0 };
    note.textContent = `sending ${mb(file.size)} ...`;
    start(upload);
    watch(upload);
  });
}
export default { render };
"""


class ChunkedUpload(anywidget.AnyWidget):
    """An upload button for one file, sent in pieces of :data:`CHUNK_BYTES`.

    ``value``: ``None`` until a file is chosen, then ``({"name", "type", "size", "content"},)``
    (``content``: the bytes that have arrived so far, ``size``: the file's length in bytes);
    it changes when a file is chosen and again when its last byte arrives, so
    ``observe(..., names="value")`` hears of both.
    """

    _esm = _ESM
    description = traitlets.Unicode("Upload").tag(sync=True)
    accept = traitlets.Unicode("image/*").tag(sync=True)
    chunk_bytes = traitlets.Int(CHUNK_BYTES).tag(sync=True)
    #: Seconds without an acknowledgement before the page sends a piece again.
    stall_seconds = traitlets.Float(20.0).tag(sync=True)
    value = traitlets.Any(None)  # kernel side only: never sent back to the page

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._upload: dict | None = None  # the file on its way: id, name, type, size, bytes
        self.on_msg(self._receive)

    def _receive(self, _widget, content: dict, buffers: list) -> None:
        """One message from the page: ``start`` (a file was chosen) or a ``chunk`` of it."""
        kind, upload_id = content.get("kind"), content.get("id")
        if kind == "start":
            self._upload = {"id": upload_id, "name": str(content.get("name") or "upload"),
                            "type": str(content.get("type") or ""),
                            "size": max(0, int(content.get("size") or 0)), "data": bytearray()}
            self._publish()
        elif kind == "chunk" and self._upload and upload_id == self._upload["id"]:
            data = self._upload["data"]
            # A piece that follows on is kept; a repeat or one after a gap is dropped (the
            # page sends again from `received`).
            if buffers and content.get("offset") == len(data) < self._upload["size"]:
                data.extend(bytes(buffers[0])[: self._upload["size"] - len(data)])
                if len(data) == self._upload["size"]:
                    self._publish()
        else:
            return
        if self._upload and upload_id == self._upload["id"]:
            self.send({"kind": "ack", "id": upload_id, "received": len(self._upload["data"])})

    def _publish(self) -> None:
        upload = self._upload
        # "id" makes each upload a new value, the same file chosen twice included
        self.value = ({"name": upload["name"], "type": upload["type"], "size": upload["size"],
                       "content": bytes(upload["data"]), "id": upload["id"]},)
