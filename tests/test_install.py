"""Installing the project never replaces a working torch (issue #23, item 3).

Colab preinstalls torch, torchvision and torchaudio built for each other; the notebooks'
setup cell runs ``pip install -e`` on the project. If that pip step replaced torch, it would
download gigabytes and leave torchaudio pinned to a torch that is no longer there. Here the
real setup cell runs its pip step in this environment, whose torch and torchvision satisfy
the project's floors (CI runs this suite on the newest releases and, in .ci/floors.sh, on
exactly the floors), as a dry run that writes pip's report, with newer torch, torchvision
and torchaudio on offer: pip must choose to install none of them.

It runs offline: ``--no-index`` plus a folder of stand-in wheels (version 99.0, metadata
only) as the only source of anything new, and none of this machine's pip configuration.
pip can pick a stand-in only if it decides torch must change: a floor above the installed
release, or an option in the cell that upgrades dependencies. Either fails this test.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import zipfile
from pathlib import Path

import notebook_cells
import pytest
from helpers import child_env, run

# It runs pip in a process (seconds): the full lane only.
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
#: What Colab preinstalls together and a pip step must leave alone.
KEPT = ("torch", "torchvision", "torchaudio")


def stand_in_wheel(folder: Path, name: str, version: str = "99.0") -> Path:
    """A valid, empty wheel of ``name``: pip can resolve to it, and nothing would run it."""
    dist = f"{name}-{version}"
    files = {
        f"{dist}.dist-info/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        f"{dist}.dist-info/WHEEL": ("Wheel-Version: 1.0\nGenerator: nst-tests\n"
                                    "Root-Is-Purelib: true\nTag: py3-none-any\n"),
    }
    files[f"{dist}.dist-info/RECORD"] = "".join(f"{path},,\n" for path in files) + \
        f"{dist}.dist-info/RECORD,,\n"
    path = folder / f"{dist}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as wheel:
        for inner, text in files.items():
            wheel.writestr(inner, text)
    return path


def normalized(name: str) -> str:
    """A distribution's name as pip compares them (PEP 503): nst_helpers is nst-helpers."""
    return re.sub(r"[-_.]+", "-", name).lower()


def installed_versions() -> dict[str, str]:
    from importlib import metadata

    found = {}
    for name in KEPT:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return found


def pip_version() -> tuple[int, ...]:
    from importlib import metadata

    return tuple(int(p) for p in metadata.version("pip").split(".")[:2] if p.isdigit())


def clean_pip_env() -> dict[str, str]:
    """The test's environment with no pip settings of this machine's or the caller's
    (a constraints file, extra indexes, find-links): pip sees only what the test offers."""
    env = {k: v for k, v in child_env().items() if not k.startswith("PIP_")}
    env["PIP_CONFIG_FILE"] = os.devnull  # pip then reads no configuration file at all
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


RUN_CELL = """
import sys, types

sys.modules["google.colab"] = types.ModuleType("google.colab")  # what Colab's kernel has
exec(compile(open(sys.argv[1]).read(), "setup cell", "exec"), {})
"""


def setup_cell_would_install(tmp_path: Path, project: Path) -> list[dict]:
    """Run the notebooks' setup cell, as in Colab, on a copy of ``project`` already "cloned"
    (so nothing is fetched), its pip step a dry run with stand-ins on offer; pip's report."""
    home = tmp_path / "content" / "neural_style_transfer"
    shutil.copytree(project, home, ignore=shutil.ignore_patterns(
        ".git", "build", "dist", "*.egg-info", "__pycache__", ".*cache*", "*.ipynb"))
    (home / ".git").mkdir()  # a clone: the cell does not clone again
    (home / "notebooks").mkdir(exist_ok=True)
    offer = tmp_path / "offer"
    offer.mkdir()
    for name in KEPT:
        stand_in_wheel(offer, name)
    report = tmp_path / "report.json"
    source = notebook_cells.setup_cell_source(repo="unused", home=str(home), pip_options=(
        "--dry-run", "--report", str(report), "--no-index", "--find-links", str(offer),
        # the project's build backend (setuptools) from this environment: no download
        "--no-build-isolation"))
    cell = tmp_path / "cell.py"
    cell.write_text(source)
    proc = run([sys.executable, "-c", RUN_CELL, cell], cwd=tmp_path, env=clean_pip_env(),
               timeout=300)
    assert proc.returncode == 0, ("the setup cell's pip step failed (with --no-index, that "
                                  f"means it wanted something not installed here):\n"
                                  f"{proc.stdout}\n{proc.stderr}")
    assert "Installing" in proc.stdout, proc.stdout
    return json.loads(report.read_text())["install"]


@pytest.mark.skipif(pip_version() < (22, 2), reason="pip install --report needs pip >= 22.2")
def test_setup_cells_pip_step_keeps_torch_torchvision_and_torchaudio(tmp_path):
    installs = setup_cell_would_install(tmp_path, ROOT)
    chosen = {normalized(item["metadata"]["name"]): item["metadata"]["version"]
              for item in installs}
    replaced = {name: version for name, version in chosen.items() if name in KEPT}
    assert not replaced, (f"the setup cell's pip step would replace this environment's "
                          f"{installed_versions()} with {replaced}; all it would install: "
                          f"{chosen}")
    # Everything the project needs is installed here: pip installs the project and no more.
    assert set(chosen) == {"nst-helpers"}, chosen


def test_stand_in_wheels_are_what_pip_picks_when_torch_must_change(tmp_path):
    """The check can fail: asked for a torch newer than any installed, pip takes the stand-in."""
    if pip_version() < (22, 2):
        pytest.skip("pip install --report needs pip >= 22.2")
    offer = tmp_path / "offer"
    offer.mkdir()
    stand_in_wheel(offer, "torch")
    report = tmp_path / "report.json"
    proc = run([sys.executable, "-m", "pip", "install", "--dry-run", "--report", report,
                "--no-index", "--find-links", offer, "--no-deps", "torch>=98"],
               cwd=tmp_path, env=clean_pip_env(), timeout=120)
    assert proc.returncode == 0, proc.stderr
    chosen = [(i["metadata"]["name"], i["metadata"]["version"])
              for i in json.loads(report.read_text())["install"]]
    assert chosen == [("torch", "99.0")]

