"""What every notebook is given by ``python tools/sync_notebooks.py``: its "Open in Colab"
badge, its first code cell (the setup cell that fetches and installs the project in Colab) and
the metadata that opens it on Colab's T4 GPU runtime.

Notebook tooling, not part of the package: the notebooks carry the cell's text, they never
import this. The project's home (``REPO``, ``BRANCH``) comes from :mod:`nst_helpers.io.colab`.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from nst_helpers.io.colab import BRANCH, REPO, repo_url  # noqa: E402

__all__ = ["badge_markdown", "setup_cell_source", "SETUP_MARKER", "COLAB_METADATA", "COLAB_HOME"]


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
