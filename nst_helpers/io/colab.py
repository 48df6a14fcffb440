"""Google Colab: where the project lives, the notebooks' setup cell, and downloads.

The project's public home is kept here, in :data:`REPO`, and nowhere else:
``python tools/sync_notebooks.py`` writes the "Open in Colab" badge and the
setup cell of every notebook from it, so a fork changes one line.
"""

from __future__ import annotations

import sys
from pathlib import Path

__all__ = ["REPO", "BRANCH", "repo_url", "badge_markdown", "setup_cell_source", "in_colab",
           "offer_download", "COLAB_METADATA", "runtime_advice"]

#: ``owner/name`` of the project on GitHub.
REPO = "davidjyang/neural_style_transfer"
BRANCH = "main"


def repo_url() -> str:
    return f"https://github.com/{REPO}"


def badge_markdown(notebook_path: str) -> str:
    """The "Open in Colab" badge for ``notebook_path`` (relative to the repository root)."""
    target = f"https://colab.research.google.com/github/{REPO}/blob/{BRANCH}/{notebook_path}"
    return ("[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
            f"({target})")


SETUP_MARKER = "# Setup: in Google Colab"

#: The notebook metadata that makes Colab open a notebook on a T4 GPU runtime (what Colab
#: itself saves after Runtime -> Change runtime type -> T4 GPU); written into every notebook
#: by ``python tools/sync_notebooks.py``.
COLAB_METADATA = {"accelerator": "GPU", "colab": {"gpuType": "T4", "provenance": []}}


#: Where the setup cell clones the project in Colab: an absolute path, so that the cell
#: finds it again whatever folder it starts in (the first run moves into its notebooks/).
COLAB_HOME = "/content/" + REPO.split("/")[1]


def setup_cell_source(repo: str | None = None, home: str = COLAB_HOME,
                      pip_options: tuple[str, ...] = ()) -> str:
    """Source of every notebook's first code cell: fetch and install the project in Colab only.

    Run twice (people re-run cells), from any folder, it neither clones nor installs again:
    it clones into the absolute ``home`` only if there is no clone there, installs only if
    this clone has not been installed (a mark in its ``.git`` folder, written once pip
    succeeded), then moves into ``home/notebooks`` and puts ``home`` on ``sys.path`` once.
    ``repo``, ``home`` and ``pip_options`` are for tests (a local clone, a temporary folder);
    the notebooks use the defaults.
    """
    url = repo or repo_url()
    options = "".join(f"{option!r}, " for option in pip_options)
    return f'''{SETUP_MARKER}, fetch this project and install it; elsewhere do nothing.
# Safe to run again, from any folder: it clones and installs only the first time.
import sys

if "google.colab" in sys.modules:
    import os
    import subprocess

    home = "{home}"
    repo_url = "{url}"
    installed = os.path.join(home, ".git", "nst_installed")
    if not os.path.isdir(os.path.join(home, ".git")):
        print("Cloning", repo_url, "into", home)
        subprocess.run(["git", "clone", "--depth", "1", repo_url, home], check=True)
    if not os.path.exists(installed):
        print("Installing", home, "(pip install -e)")
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", {options}"-e", home],
                       check=True)
        open(installed, "w").close()
    os.chdir(os.path.join(home, "notebooks"))
    if home not in sys.path:
        sys.path.insert(0, home)
    print("nst_helpers is ready in", home)
    from nst_helpers.io.colab import runtime_advice

    if runtime_advice():
        print(runtime_advice())'''


def runtime_advice() -> str | None:
    """One line for a notebook run without a CUDA GPU: how to get Colab's T4, and which profile
    (:mod:`nst_helpers.io.profiles`) runs until then. ``None`` when a CUDA GPU is there."""
    import torch

    from .profiles import current_profile

    if torch.cuda.is_available():
        return None
    p = current_profile()
    return (f"No GPU in this runtime: Runtime -> Change runtime type -> T4 GPU, then run this "
            f"cell again; until then the notebooks use the {p.name} profile ({p.size} px, at "
            f"most {p.steps} steps), on the CPU.")


def in_colab() -> bool:
    """True inside Google Colab."""
    return "google.colab" in sys.modules


def offer_download(path: str | Path) -> None:
    """In Colab, start a browser download of ``path``; elsewhere say where the file is."""
    if in_colab():
        from google.colab import files  # type: ignore[import-not-found]

        files.download(str(path))
    else:
        print(f"Saved to {path}")
