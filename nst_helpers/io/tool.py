"""Notebook 09's painting tool: pick a photo (upload, URL or path, bundled), a network and a
style weight, press Paint, see both painters' pictures, press Save.

The painting itself is the notebook's ``paint`` function, passed in; this module is the widget
plumbing around it, kept out of the lesson and tested on its own (tests/test_tool.py). Uploads
come through :class:`~nst_helpers.io.upload_widget.ChunkedUpload`, in pieces small enough for
Colab. Nothing runs until Paint is pressed, and nothing is downloaded until Save is.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from pathlib import Path

import ipywidgets as widgets

from .colab import offer_download
from .files import ImageError
from .images import jpeg_bytes, save_image
from .upload_widget import ChunkedUpload

__all__ = ["PaintingTool", "caption"]


def caption(entry: dict) -> str:
    """One line for a painted ``entry`` (what notebook 09's ``paint`` returns): the sizes, the
    style weight, the steps and the seconds of both painters."""
    return (f"{entry['photo_name']}: the {entry['network']} network at "
            f"{max(entry['by_network'].shape[-2:])} px in {entry['network_seconds']:.2f} s; "
            f"the optimisation with {entry['painting_name']}, style weight "
            f"{entry['style_weight']:.3g}, at {max(entry['by_optimisation'].shape[-2:])} px, "
            f"{entry['result'].steps} steps in {entry['result'].seconds:.1f} s")


def _describe(source) -> str:
    """What a learner picked, in words: an upload's name and how much of it has arrived."""
    if isinstance(source, (tuple, list)) and source and isinstance(source[-1], dict):
        entry = source[-1]
        got, size = len(entry.get("content", b"")), entry.get("size", 0)
        state = "uploaded" if got >= size else f"arriving, {got / 1e6:.1f} of"
        return f"{entry.get('name', 'upload')} ({state} {size / 1e6:.1f} MB)"
    return str(source)


class PaintingTool:
    """The widgets of notebook 09's tool, around ``paint``; ``display(tool.view)`` shows it.

    ``paint(photo, network, painting, style_weight, on_network=, on_step=)`` returns an entry
    (a dict with ``photo``, ``by_network``, ``by_optimisation``: ``(1, 3, H, W)`` in [0, 1] on
    the CPU, and what :func:`caption` reads), or raises ImageError for a file it cannot load.
    ``first`` is an entry already painted, shown until the first Paint; ``size`` and ``steps``
    are the optimisation's (for the labels and the progress bar). Save writes PNGs to
    ``out_dir``. ``messages`` lists every status line shown, the latest last; ``last`` is the
    last good entry, what Save saves.
    """

    def __init__(self, paint: Callable[..., dict], first: dict, *, networks: list[str],
                 photos: list[str], size: int, steps: int, out_dir: str | Path) -> None:
        self._paint, self.size, self.steps, self.out_dir = paint, size, steps, Path(out_dir)
        self.last, self.messages = first, []
        self.choice = {"photo": first["photo_name"], "painting": None}
        wide = widgets.Layout(width="420px")
        self.photo_upload = ChunkedUpload(description="Upload photo")
        self.path_box = widgets.Text(placeholder="https://.../photo.jpg or a path, then Enter",
                                     description="or a URL", continuous_update=False,
                                     layout=wide)
        shown = Path(first["photo_name"]).stem
        self.bundled = widgets.Dropdown(options=photos, description="or bundled",
                                        value=shown if shown in photos else None)
        self.network_menu = widgets.Dropdown(options=networks, value=first["network"],
                                             description="network")
        self.painting_upload = ChunkedUpload(description="Upload painting")
        self.style_weight_slider = widgets.FloatLogSlider(
            value=first["style_weight"], base=10, min=0, max=3, step=0.1,
            description="style weight")
        self.paint_button = widgets.Button(description="Paint", button_style="primary",
                                           icon="paint-brush")
        self.save_button = widgets.Button(description="Save", icon="download")
        self.progress_bar = widgets.IntProgress(value=0, min=0, max=steps, description="steps")
        self.status, self.chosen_label = widgets.HTML(), widgets.HTML()
        self.saved_output = widgets.Output()  # offer_download's browser download (Colab)
        self.panels = [widgets.Image(format="jpeg", layout=widgets.Layout(width="100%"))
                       for _ in range(3)]
        self.titles = [widgets.HTML() for _ in range(3)]

        self.photo_upload.observe(lambda c: self.choose("photo", c["new"]), names="value")
        self.path_box.observe(lambda c: self.choose("photo", c["new"].strip()), names="value")
        self.bundled.observe(lambda c: self.choose("photo", c["new"]), names="value")
        self.painting_upload.observe(lambda c: self.choose("painting", c["new"]),
                                     names="value")
        self.network_menu.observe(lambda c: self.show_choice(), names="value")
        self.paint_button.on_click(self.paint)
        self.save_button.on_click(self.save)
        self.show_entry(first)
        self.show_choice()
        self.say(caption(first))
        column = widgets.Layout(width="33%")
        self.view = widgets.VBox([
            widgets.HBox([self.photo_upload, self.path_box, self.bundled]),
            widgets.HBox([self.network_menu, self.painting_upload, self.style_weight_slider]),
            widgets.HBox([self.paint_button, self.save_button, self.progress_bar]),
            self.chosen_label, self.status,
            widgets.HBox([widgets.VBox([title, panel], layout=column)
                          for title, panel in zip(self.titles, self.panels)]),
            self.saved_output])

    def say(self, text: str) -> None:
        """Show ``text`` as the tool's one status line."""
        self.messages.append(text)
        self.status.value = f"<p style='margin:0'>{html.escape(text)}</p>"

    def show_choice(self) -> None:
        painting = (_describe(self.choice["painting"]) if self.choice["painting"]
                    else f"{self.network_menu.value}.jpg")
        self.chosen_label.value = (
            f"photo: <b>{html.escape(_describe(self.choice['photo']))}</b>; optimisation's "
            f"painting: <b>{html.escape(painting)}</b>, at {self.size} px")

    def choose(self, what: str, value) -> None:
        """Use ``value`` (an upload's value, a URL, a path or a bundled name) as the "photo" or
        the "painting"; an empty value keeps the photo and clears the painting."""
        if value or what == "painting":
            self.choice[what] = value or None
        self.show_choice()

    def show_entry(self, entry: dict, with_optimisation: bool = True) -> None:
        self.panels[0].value = jpeg_bytes(entry["photo"])
        self.panels[1].value = jpeg_bytes(entry["by_network"])
        self.titles[0].value = f"<b>photo</b>: {html.escape(entry['photo_name'])}"
        self.titles[1].value = (f"<b>network</b> {entry['network']}, "
                                f"{entry['network_seconds']:.2f} s")
        if with_optimisation:
            self.panels[2].value = jpeg_bytes(entry["by_optimisation"])
            self.titles[2].value = (f"<b>optimisation</b>, style weight "
                                    f"{entry['style_weight']:.3g}, "
                                    f"{entry['result'].seconds:.1f} s")

    def paint(self, _button=None) -> None:
        """What Paint does: paint the choice; a bad file gets one line, and the last picture
        stays on screen."""
        self.paint_button.disabled = True
        self.progress_bar.value = 0
        refresh_every = max(1, self.steps // 6)

        def on_step(step, image, losses):
            self.progress_bar.value = min(step, self.steps)
            if step % refresh_every == 0:
                self.panels[2].value = jpeg_bytes(image)

        def on_network(entry):
            self.show_entry(entry, with_optimisation=False)
            self.titles[2].value = "<b>optimisation</b>: running ..."
            self.say(f"the network painted {entry['photo_name']}; the optimisation is "
                     "running ...")

        try:
            self.say("loading ...")
            entry = self._paint(self.choice["photo"], self.network_menu.value,
                                self.choice["painting"], self.style_weight_slider.value,
                                on_network=on_network, on_step=on_step)
        except ImageError as err:  # a bad file or URL: one line, and the last result stays
            self.say(str(err))
            self.show_entry(self.last)
        except Exception as err:  # anything else: still one line, and the tool keeps working
            self.say(f"the run failed ({type(err).__name__}: {err})")
            self.show_entry(self.last)
        else:
            self.last = entry
            self.show_entry(entry)
            self.progress_bar.value = self.steps
            self.say(caption(entry))
        finally:
            self.paint_button.disabled = False

    def save(self, _button=None) -> list[Path]:
        """What Save does: both pictures of the last result as PNGs in ``out_dir`` (and, in
        Colab, a browser download of each); returns their paths."""
        entry = self.last
        stem = Path(entry["photo_name"]).stem[:40] or "photo"
        paths = [save_image(entry["by_network"],
                            self.out_dir / f"09_{stem}_{entry['network']}.png"),
                 save_image(entry["by_optimisation"], self.out_dir / f"09_{stem}_optimised.png")]
        with self.saved_output:
            for path in paths:
                offer_download(path)
        self.say("saved " + " and ".join(str(path.resolve()) for path in paths))
        return paths
