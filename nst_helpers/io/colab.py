"""Google Colab at run time: the project's home (:data:`REPO`, the one place it is kept),
advice for a runtime without a GPU, and downloads."""

from __future__ import annotations

import sys
from pathlib import Path

__all__ = ["REPO", "BRANCH", "repo_url", "in_colab", "offer_download", "runtime_advice"]

#: ``owner/name`` of the project on GitHub.
REPO = "davidjyang/neural_style_transfer"
BRANCH = "main"


def repo_url() -> str:
    """The project's page on GitHub."""
    return f"https://github.com/{REPO}"


def runtime_advice() -> str | None:
    """One line of advice when there is no CUDA GPU (how to get a T4); else ``None``."""
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
