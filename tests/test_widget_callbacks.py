"""Notebook 05's explorer callbacks, in a kernel of their own: the notebook is run top to
bottom (as nbval runs it), then one more cell, added here and not in the notebook, moves its
sliders and clicks Run as a learner does, and checks what each callback did. A callback that
fails inside a widget only logs its error, so these checks are what make a broken one fail.

The notebook itself never drives its widgets (test_notebooks.py checks that): a learner's Run
All must leave the explorer as it was. CI's widgets7 lane runs this file with Colab's
ipywidgets 7.7.1, the main lane with 8; tests/test_browser.py drives the same widgets in a page.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipywidgets")

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.slow

LEARNER = '''
sweep_slider.value = len(sweep) - 1
assert sweep_image.value == sweep[-1]["png"]
assert sweep_label.value.startswith(f"style_weight {sweep[-1]['style_weight']:g}:")
sweep_slider.value = default_index
assert sweep_image.value == sweep[default_index]["png"]

before = result_image.value
style_weight_slider.value = 100.0
content_weight_slider.value = 1.0
run_button.click()
assert len(runs) == 1 and runs[0]["style_weight"] == 100.0, "the Run callback did not finish"
assert result_image.value != before, "the result image did not change"
assert "style loss" in result_label.value and not run_button.disabled
print(result_label.value)
'''


def run_then(notebook: Path, code: str) -> str:
    """Run ``notebook``'s cells in a fresh kernel (in its folder), then ``code``; returns what
    ``code`` printed. A failing cell raises nbclient's CellExecutionError."""
    nb = nbformat.read(notebook, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(code))
    assert os.environ.get("NST_QUICK"), "run at the quick profile (NST_QUICK=1), as CI does"
    nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(notebook.parent)}}).execute()
    return "".join(out.get("text", "") for out in nb.cells[-1].outputs
                   if out.get("output_type") == "stream")


@pytest.mark.skipif(not os.environ.get("NST_QUICK"), reason="runs notebook 05: NST_QUICK=1")
def test_explorer_sliders_and_run_button_do_their_jobs():
    printed = run_then(ROOT / "notebooks" / "05_style_weight_explorer.ipynb", LEARNER)
    assert printed.startswith("style_weight 100, content_weight 1: "), printed
