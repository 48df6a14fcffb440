"""Every notebook is run by CI and committed in a state GitHub and Colab show well.

nbval runs the notebooks themselves (the README's test command passes
--nbval-lax and pyproject's testpaths include notebooks/); these tests check
that none escapes it and that the committed files are tidy.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from notebook_cells import badge_markdown, setup_cell_source

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))

#: Notebooks CI does not run, each with its reason. Keep this empty if at all possible.
NOT_RUN_IN_CI: dict[str, str] = {}


def load(path: Path) -> dict:
    return json.loads(path.read_text())


def source(cell) -> str:
    return "".join(cell["source"])


def test_readme_command_runs_the_notebooks_and_ci_runs_the_readme_command():
    readme = (ROOT / "README.md").read_text()
    commands = re.findall(r"^(pip install .*pytest.*)$", readme, flags=re.M)
    assert len(commands) == 1, "README needs exactly one install-and-test command"
    assert "--nbval-lax" in commands[0]
    assert commands[0] in (ROOT / ".ci" / "run").read_text()
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert re.search(r'testpaths = \[.*"notebooks".*\]', pyproject)


@pytest.mark.slow
def test_every_notebook_is_collected_by_nbval():
    if not NOTEBOOKS:
        pytest.skip("no notebooks yet")
    out = subprocess.run([sys.executable, "-m", "pytest", "--nbval-lax", "--collect-only", "-q",
                          "-p", "no:cacheprovider", "notebooks"], cwd=ROOT, capture_output=True,
                         text=True, timeout=300)
    collected = {line.split("::")[0] for line in out.stdout.splitlines() if "::" in line}
    for path in NOTEBOOKS:
        rel = path.relative_to(ROOT).as_posix()
        if path.name in NOT_RUN_IN_CI:
            continue
        assert rel in collected, f"{rel} is not run by CI:\n{out.stdout[-2000:]}"


def test_notebooks_are_numbered_in_order():
    numbers = [int(p.name[:2]) for p in NOTEBOOKS]
    assert numbers == list(range(1, len(NOTEBOOKS) + 1)), [p.name for p in NOTEBOOKS]
    assert all(re.fullmatch(r"\d\d_[a-z0-9_]+\.ipynb", p.name) for p in NOTEBOOKS)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_opens_with_title_badge_setup_and_versions(path):
    cells = load(path)["cells"]
    first = source(cells[0])
    assert cells[0]["cell_type"] == "markdown"
    assert first.startswith(f"# {path.name[:2]} - "), first[:80]
    assert badge_markdown(path.relative_to(ROOT).as_posix()) in first
    for heading in ("What you will learn", "Prerequisites"):
        assert heading in first, f"{path.name}: no '{heading}' in the first cell"
    code = [c for c in cells if c["cell_type"] == "code"]
    assert source(code[0]) == setup_cell_source()
    assert "versions()" in source(code[1]) and "describe(" in source(code[1])
    assert source(code[1]).startswith("# NBVAL_IGNORE_OUTPUT")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_ends_with_summary_and_exercises(path):
    text = "\n".join(source(c) for c in load(path)["cells"] if c["cell_type"] == "markdown")
    assert re.search(r"^#+ .*Summary", text, flags=re.M), path.name
    assert re.search(r"^#+ .*Exercises", text, flags=re.M), path.name


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_committed_with_a_clean_top_to_bottom_run(path):
    nb = load(path)
    assert "widgets" not in nb.get("metadata", {}), "metadata.widgets: GitHub cannot render it"
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    counts = [c.get("execution_count") for c in code]
    assert all(counts), f"{path.name}: not every code cell was run"
    assert counts == list(range(1, len(code) + 1)), f"{path.name}: run out of order: {counts}"
    errors = [o for c in code for o in c.get("outputs", []) if o["output_type"] == "error"]
    assert not errors, f"{path.name}: committed error output"
    assert path.stat().st_size < 3_000_000, f"{path.name}: over 3 MB"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_nothing_skipped_without_a_reason(path):
    for cell in load(path)["cells"]:
        for line in source(cell).splitlines():
            if line.startswith("# NBVAL_SKIP"):
                assert len(line.split(":", 1)[-1].strip()) > 10, f"{path.name}: {line}"


def test_readme_lists_every_notebook_with_its_badge():
    readme = (ROOT / "README.md").read_text()
    for path in NOTEBOOKS:
        rel = path.relative_to(ROOT).as_posix()
        assert badge_markdown(rel) in readme, f"README does not list {rel} with its badge"


def test_badges_and_setup_cells_are_in_sync():
    out = subprocess.run([sys.executable, "tools/sync_notebooks.py", "--check"], cwd=ROOT,
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


#: The package's functions that run the algorithm: where a notebook calls one, it must run on
#: the device the notebook's profile line reports (``pick_device()``).
RUNS = {"stylize": "nst_helpers.transfer", "stylize_multiscale": "nst_helpers.multiscale"}


def test_no_notebook_runs_the_algorithm_off_the_profiles_device():
    """Notebooks 01 and 02 once called stylize without a device while stylize defaulted to the
    CPU: on a T4 the profile said "cuda" and those runs took tens of minutes on Colab's CPU.
    Every call of a function in RUNS must leave ``device`` to its default, which must be
    ``None`` (pick_device()), or pass a name, never a literal such as "cpu"."""
    import ast
    import importlib
    import inspect

    for name, module in RUNS.items():
        function = getattr(importlib.import_module(module), name)
        default = inspect.signature(function).parameters.get("device")
        assert default is None or default.default is None, f"{name}'s device default"
    calls = 0
    for notebook in NOTEBOOKS:
        for index, cell in enumerate(load(notebook)["cells"]):
            if cell["cell_type"] != "code":
                continue
            tree = ast.parse("\n".join(line for line in source(cell).splitlines()
                                       if not line.lstrip().startswith(("%", "!"))))
            for node in ast.walk(tree):
                if not (isinstance(node, ast.Call) and getattr(node.func, "id", None) in RUNS):
                    continue
                calls += 1
                for keyword in node.keywords:
                    if keyword.arg == "device":
                        assert not isinstance(keyword.value, ast.Constant), (
                            f"{notebook.name} cell {index}: device={ast.unparse(keyword.value)}")
                        assert "torch.device(" not in ast.unparse(keyword.value), (
                            f"{notebook.name} cell {index}: {ast.unparse(keyword.value)}")
    assert calls >= 10  # the walk found the runs (a renamed function would make this vacuous)


def _drives_widgets(nb: dict) -> list[str]:
    """Where a notebook's own cells, run top to bottom, act as the learner on its widgets:
    set a widget's ``value``, ``click()`` it, call a tool's ``paint``/``save``/``choose``, or
    call a function the notebook registered as a widget callback. Code inside functions runs
    only when called, so only what runs at a cell's top level counts; and the cell that makes a
    widget may set it up (an initial value, a first call of its callback) before showing it."""
    import ast

    cells = [ast.parse("\n".join(line for line in source(cell).splitlines()
                                 if not line.lstrip().startswith(("%", "!"))))
             if cell["cell_type"] == "code" else None for cell in nb["cells"]]
    made, callbacks = {}, {}  # name -> the cell that made the widget / registered the callback
    for index, tree in enumerate(cells):
        for node in ast.walk(tree) if tree else ():
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
                called = ast.unparse(node.value.func)
                if called.startswith("widgets.") or called in ("PaintingTool", "ChunkedUpload"):
                    made.update((t.id, index) for t in node.targets if isinstance(t, ast.Name))
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr in ("on_click", "observe") and node.args
                    and isinstance(node.args[0], ast.Name)):
                callbacks.setdefault(node.args[0].id, index)

    def top_level(node):
        yield node
        for child in ast.iter_child_nodes(node):
            if not isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda,
                                      ast.ClassDef)):
                yield from top_level(child)

    found = []
    for index, tree in enumerate(cells):
        for node in top_level(tree) if tree else ():
            targets = (node.targets if isinstance(node, ast.Assign)
                       else [node.target] if isinstance(node, ast.AugAssign) else [])
            for target in targets:
                if (isinstance(target, ast.Attribute) and target.attr == "value"
                        and isinstance(target.value, ast.Name)
                        and made.get(target.value.id, index) < index):
                    found.append(f"cell {index}: {ast.unparse(target)} = ...")
            if isinstance(node, ast.Call):
                func = node.func
                if (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name)
                        and made.get(func.value.id, index) < index
                        and func.attr in ("click", "paint", "save", "choose")):
                    found.append(f"cell {index}: {ast.unparse(node)}")
                elif isinstance(func, ast.Name) and callbacks.get(func.id, index) < index:
                    found.append(f"cell {index}: {ast.unparse(node)}")
    return found


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_run_all_never_drives_the_learners_widgets(path):
    """Run All must leave the learner's tools as they are: notebook 09's cell 11 once fed bad
    files and a cat to the upload tool, moved its slider, painted and saved (in Colab,
    starting two downloads), and 05's cell 18 moved its sliders and clicked Run. Such checks
    live in tests/ (test_tool.py, test_widget_callbacks.py, test_browser*.py)."""
    assert _drives_widgets(load(path)) == []


def test_the_widget_check_finds_a_cell_that_drives_a_widget():
    cells = ["import ipywidgets as widgets\nslider = widgets.FloatSlider()\n"
             "button = widgets.Button()\n\ndef on_run(b):\n    slider.value = 2\n\n"
             "button.on_click(on_run)",
             "slider.value = 3\nbutton.click()\non_run(None)\nprint(slider.value)"]
    nb = {"cells": [{"cell_type": "code", "source": text} for text in cells]}
    assert _drives_widgets(nb) == ["cell 1: slider.value = ...", "cell 1: button.click()",
                                   "cell 1: on_run(None)"]
