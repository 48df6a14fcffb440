"""The package carries what it needs: a wheel built from this repository, installed
somewhere else, runs its own example from any folder (no checkout, no images/ beside it)."""

from __future__ import annotations

import shutil
import sys
import zipfile
from pathlib import Path

import pytest
from helpers import child_env, run
from PIL import Image

# Each test starts a process (the torch import alone is seconds): the full lane only.
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """The wheel, built from a copy of the repository (the build writes into its source
    folder) and installed with ``pip install --target``: the folder to put on PYTHONPATH."""
    base = tmp_path_factory.mktemp("wheel")
    source = base / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".git", "build", "dist", "*.egg-info", "__pycache__", "notebooks", ".*cache*",
        "result*.png"))
    wheels = base / "wheels"
    built = run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", wheels, "."],
                cwd=source, env=child_env(), timeout=300)
    assert built.returncode == 0, built.stderr
    (wheel,) = wheels.glob("nst_helpers-*.whl")
    target = base / "site"
    done = run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", target,
                wheel], cwd=base, env=child_env(), timeout=300)
    assert done.returncode == 0, done.stderr
    return wheel, target


def test_the_wheel_carries_every_bundled_image(installed):
    wheel, _ = installed
    names = set(zipfile.ZipFile(wheel).namelist())
    bundled = sorted(p.name for p in (ROOT / "images").iterdir()
                     if p.suffix in (".jpg", ".png", ".md"))
    assert "chelsea.jpg" in bundled and "starry_night.jpg" in bundled
    for name in bundled:
        assert f"nst_helpers/bundled_images/{name}" in names, name
    # Tooling stays out of the wheel: the images folder holds images and their credits only
    assert not [n for n in names if n.startswith("nst_helpers/bundled_images/")
                and not n.endswith((".jpg", ".png", ".md"))], names
    for sub in ("cli", "engine", "io"):  # the sub-packages travel too
        assert f"nst_helpers/{sub}/__init__.py" in names, sub


def test_installed_elsewhere_it_runs_its_example_from_any_folder(installed, tmp_path):
    _, target = installed
    env = child_env(PYTHONPATH=str(target), NST_QUICK="1")
    where = run([sys.executable, "-c", "import nst_helpers.io.images as m; print(m.__file__); "
                 "print(m.IMAGES_DIR)"], cwd=tmp_path, env=env, timeout=120)
    assert where.returncode == 0, where.stderr
    module, images = where.stdout.split()
    assert Path(module).is_relative_to(target) and Path(images).is_relative_to(target)
    proc = run([sys.executable, "-m", "nst_helpers"], cwd=tmp_path, env=env,
               timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "bundled example chelsea.jpg" in proc.stderr
    assert Image.open(tmp_path / "result.png").size[0] == 64
