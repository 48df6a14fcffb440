"""Re-execute notebooks top to bottom, in place, at the laptop-CPU profile, and tidy them.

    python tools/run_notebooks.py                    # every notebooks/*.ipynb
    python tools/run_notebooks.py notebooks/01*.ipynb

This is how the committed outputs are made: a clean kernel, cells in order,
``NST_QUICK`` unset (so the "cpu" profile on a laptop, "gpu" on a GPU). Then
``metadata.widgets`` and widget views are dropped (GitHub cannot render them)
and the size is checked (under 3 MB each).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
MAX_BYTES = 3_000_000
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def tidy(nb) -> None:
    """Drop widget state and widget outputs, which GitHub cannot render: their text
    fallback (``VBox(children=...)``, a progress bar frozen at 0 %) would only mislead."""
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = [out for out in cell.get("outputs", [])
                            if WIDGET_VIEW not in out.get("data", {})]


def run(path: Path) -> float:
    nb = nbformat.read(path, as_version=4)
    env_quick = os.environ.pop("NST_QUICK", None)
    started = time.perf_counter()
    try:
        NotebookClient(nb, timeout=3600, kernel_name="python3",
                       resources={"metadata": {"path": str(path.parent)}}).execute()
    finally:
        if env_quick is not None:
            os.environ["NST_QUICK"] = env_quick
    seconds = time.perf_counter() - started
    tidy(nb)
    nbformat.write(nb, path)
    size = path.stat().st_size
    print(f"{path.relative_to(ROOT)}: {seconds:.0f} s, {size / 1e6:.2f} MB"
          + ("  <-- over 3 MB, shrink its figures" if size > MAX_BYTES else ""))
    return seconds


def main(argv: list[str]) -> int:
    paths = [Path(p).resolve() for p in argv] or sorted((ROOT / "notebooks").glob("*.ipynb"))
    for path in paths:
        run(path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
