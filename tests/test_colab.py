import os
import re
import shutil
import sys
import types
from pathlib import Path

import notebook_cells
import pytest
import torch
from helpers import child_env, run

from nst_helpers.io import colab

ROOT = Path(__file__).resolve().parent.parent


def test_badge_points_at_the_notebooks_own_path():
    badge = notebook_cells.badge_markdown("notebooks/01_gram_matrices.ipynb")
    assert badge.startswith("[![Open In Colab](https://colab.research.google.com/assets/")
    assert badge.endswith(f"(https://colab.research.google.com/github/{colab.REPO}/blob/"
                          f"{colab.BRANCH}/notebooks/01_gram_matrices.ipynb)")


def test_every_notebooks_badge_opens_a_file_that_is_there():
    """Colab opens the path after /blob/BRANCH/ in the repository: it must be the notebook."""
    notebooks = sorted((ROOT / "notebooks").glob("*.ipynb"))
    assert notebooks
    for notebook in notebooks:
        relative = notebook.relative_to(ROOT).as_posix()
        badge = notebook_cells.badge_markdown(relative)
        target = re.search(r"\]\((https://colab[^)]+)\)$", badge)[1]
        path = target.split(f"/blob/{colab.BRANCH}/", 1)[1]
        assert (ROOT / path).resolve() == notebook.resolve()


def test_every_picture_a_notebook_links_in_the_repository_is_there():
    """A markdown picture that must show on GitHub and in Colab alike (where a relative path
    does not resolve) is linked by its raw URL on the project's branch: the file must exist."""
    raw = f"https://raw.githubusercontent.com/{colab.REPO}/{colab.BRANCH}/"
    linked = []
    for notebook in sorted((ROOT / "notebooks").glob("*.ipynb")):
        text = notebook.read_text()
        linked += re.findall(re.escape(raw) + r"([^)\s\"]+)", text)
    assert linked, "no notebook links a picture by its raw URL (notebook 09's tool does)"
    for path in linked:
        assert (ROOT / path).is_file(), f"{raw}{path}: no such file in the repository"


def test_setup_cell_does_nothing_outside_colab(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path_before = list(sys.path)
    namespace: dict = {}
    exec(compile(notebook_cells.setup_cell_source(), "setup", "exec"), namespace)
    assert os.getcwd() == str(tmp_path) and list(tmp_path.iterdir()) == []
    assert sys.path == path_before


def test_offer_download_outside_colab_says_where_and_touches_nothing(tmp_path, capsys):
    result = tmp_path / "result.png"
    result.write_bytes(b"the image")
    colab.offer_download(result)
    colab.offer_download(tmp_path / "missing.png")
    out = capsys.readouterr().out
    assert str(result) in out and str(tmp_path / "missing.png") in out
    assert result.read_bytes() == b"the image"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["result.png"]


def test_offer_download_in_colab_asks_colab_to_download_the_file(tmp_path, monkeypatch, capsys):
    asked = []
    fake = types.ModuleType("google.colab")
    fake.files = types.SimpleNamespace(download=asked.append)
    monkeypatch.setitem(sys.modules, "google.colab", fake)
    assert colab.in_colab()
    colab.offer_download(tmp_path / "result.png")
    assert asked == [str(tmp_path / "result.png")]
    assert capsys.readouterr().out == ""


RUN_CELL_THREE_TIMES = """
import os, sys, types
sys.modules["google.colab"] = types.ModuleType("google.colab")  # what Colab's kernel has
source = open(sys.argv[1]).read()
for start in (sys.argv[2], None, sys.argv[2]):  # None: where the last run left it
    if start:
        os.chdir(start)
    exec(compile(source, "setup cell", "exec"), {})
    print("CWD", os.getcwd())
print("ON_PATH", sys.path.count(sys.argv[3]))
"""


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("git") is None or not (ROOT / ".git").exists(),
                    reason="needs git and a git checkout to clone from")
def test_setup_cell_run_again_neither_clones_nor_installs_again(tmp_path):
    """The real cell, as Colab runs it, three times from two folders: git clones this
    repository (its last commit), pip runs on the clone (dry run: nothing is installed here)."""
    home = tmp_path / "content" / "neural_style_transfer"
    source = notebook_cells.setup_cell_source(repo=ROOT.as_uri(), home=str(home),
                                     pip_options=("--dry-run", "--no-deps",
                                                  "--no-build-isolation"))
    cell = tmp_path / "cell.py"
    cell.write_text(source)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    proc = run([sys.executable, "-c", RUN_CELL_THREE_TIMES, cell, elsewhere, home],
               cwd=elsewhere, env=child_env(), timeout=300)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert out.count("Cloning") == 1 and out.count("Installing") == 1, out
    assert out.count("nst_helpers is ready") == 3, out
    if not torch.cuda.is_available():  # each run says how to get the T4, in one line
        assert out.count("Runtime -> Change runtime type -> T4 GPU") == 3, out
    assert out.count(f"CWD {home / 'notebooks'}") == 3, out
    assert "ON_PATH 1" in out, out
    assert (home / "nst_helpers" / "cli" / "__init__.py").is_file()
    assert (home / ".git" / "nst_installed").is_file()
    assert not any(p.name == "neural_style_transfer" for p in home.rglob("*")), "nested clone"


@pytest.mark.slow
def test_setup_cell_tries_again_after_a_failed_install(tmp_path):
    """A pip that failed leaves no mark: the next run installs again (and fails loudly)."""
    home = tmp_path / "content" / "neural_style_transfer"
    (home / ".git").mkdir(parents=True)  # a clone, but not an installable one
    (home / "notebooks").mkdir()
    source = notebook_cells.setup_cell_source(repo="unused", home=str(home),
                                     pip_options=("--dry-run", "--no-deps", "--no-index"))
    cell = tmp_path / "cell.py"
    cell.write_text(source)
    script = ("import sys, types; sys.modules['google.colab'] = types.ModuleType('g');"
              "exec(open(sys.argv[1]).read(), {})")
    for _ in range(2):
        proc = run([sys.executable, "-c", script, cell], cwd=tmp_path, env=child_env(),
                   timeout=120)
        assert proc.returncode != 0 and "Installing" in proc.stdout
        assert "CalledProcessError" in proc.stderr
    assert not (home / ".git" / "nst_installed").exists()


def test_every_notebook_asks_colab_for_a_t4_gpu_runtime():
    """A badge opens the notebook in Colab on the runtime its metadata asks for."""
    import json

    for notebook in sorted((ROOT / "notebooks").glob("*.ipynb")):
        metadata = json.loads(notebook.read_text())["metadata"]
        assert metadata.get("accelerator") == "GPU", notebook.name
        assert metadata.get("colab", {}).get("gpuType") == "T4", notebook.name


def test_runtime_advice_says_how_to_get_the_gpu_and_which_profile_runs_until_then(monkeypatch):
    from nst_helpers.io.profiles import PROFILES

    monkeypatch.delenv("NST_QUICK", raising=False)
    monkeypatch.delenv("NST_PROFILE", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    line = colab.runtime_advice()
    assert "\n" not in line and "Runtime -> Change runtime type -> T4 GPU" in line
    cpu = PROFILES["cpu"]
    assert f"the cpu profile ({cpu.size} px, at most {cpu.steps} steps)" in line
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert colab.runtime_advice() is None
