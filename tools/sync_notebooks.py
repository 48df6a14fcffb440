"""Write every notebook's Colab badge and setup cell from tools/notebook_cells.py, in place.

    python tools/sync_notebooks.py                # rewrite notebooks/*.ipynb
    python tools/sync_notebooks.py notebooks/04*  # only these
    python tools/sync_notebooks.py --check        # exit 1 if any notebook is out of date

Each notebook's first cell is markdown beginning with its "# Title" line; the
badge goes on the line after the title. Its first code cell is the setup cell.
Also drops ``metadata.widgets`` (GitHub cannot render a notebook that has it) and writes the
metadata that opens the notebook on Colab's T4 GPU runtime (``notebook_cells.COLAB_METADATA``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from notebook_cells import (  # noqa: E402
    COLAB_METADATA,
    SETUP_MARKER,
    badge_markdown,
    setup_cell_source,
)


def sync(nb, rel_path: str) -> None:
    first = nb.cells[0]
    if first.cell_type != "markdown" or not first.source.startswith("# "):
        raise SystemExit(f"{rel_path}: the first cell must be markdown starting with '# Title'")
    lines = first.source.split("\n")
    badge = badge_markdown(rel_path)
    rest = [line for line in lines[1:] if "colab-badge.svg" not in line]
    while rest and not rest[0].strip():
        rest.pop(0)
    first.source = "\n".join([lines[0], "", badge, "", *rest]).rstrip() + "\n"
    code = [c for c in nb.cells if c.cell_type == "code"]
    setup = setup_cell_source()
    if code and code[0].source.startswith(SETUP_MARKER):
        code[0].source = setup
    else:
        index = nb.cells.index(code[0]) if code else len(nb.cells)
        nb.cells.insert(index, nbformat.v4.new_code_cell(setup))
    nb.metadata.pop("widgets", None)
    for key, value in COLAB_METADATA.items():
        nb.metadata[key] = nbformat.from_dict(value) if isinstance(value, dict) else value


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true")
    parser.add_argument("paths", nargs="*", help="notebooks (default: all)")
    args = parser.parse_args()
    stale = []
    paths = [Path(p).resolve() for p in args.paths] or sorted((ROOT / "notebooks").glob("*.ipynb"))
    for path in paths:
        rel = path.relative_to(ROOT).as_posix()
        before = path.read_text()
        nb = nbformat.reads(before, as_version=4)
        sync(nb, rel)
        after = nbformat.writes(nb) + "\n"
        if after != before:
            stale.append(rel)
            if not args.check:
                path.write_text(after)
    if args.check and stale:
        print("out of date (run python tools/sync_notebooks.py): " + ", ".join(stale))
        return 1
    print(("would update: " if args.check else "updated: ") + (", ".join(stale) or "nothing"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
