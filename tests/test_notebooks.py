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
