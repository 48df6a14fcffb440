"""Network files (notebook 08): the shipped networks and the checkpoints of
:func:`~nst_helpers.training.train`, saved atomically, read with ``weights_only=True``, refused
in one line (:class:`NetworkError`) when missing, corrupt or foreign."""

from __future__ import annotations

import errno
import pickle
from importlib import resources
from pathlib import Path

import torch
from torch import nn

__all__ = ["FORMAT", "NetworkError", "shipped_networks", "save_network", "read_checkpoint",
           "network_path", "phases_after_resume"]

#: What a checkpoint says it is (its ``"format"`` entry); other files are refused.
FORMAT = "nst_helpers.fast/1"


class NetworkError(ValueError):
    """A network file cannot be used. The message, one line, says what is wrong."""


def _networks_dir():
    return resources.files("nst_helpers") / "networks"


def shipped_networks() -> list[str]:
    """Names of the networks that ship with the package (``"starry_night"``...)."""
    folder = _networks_dir()
    if not folder.is_dir():
        return []
    return sorted(p.name[:-3] for p in folder.iterdir() if p.name.endswith(".pt"))


def save_network(path: str | Path, network: nn.Module, **extra) -> Path:
    """Write ``network`` and ``extra`` entries to ``path`` atomically, every tensor on the CPU.
    Returns the path."""
    from torch.utils._pytree import tree_map

    from .files import write_atomically

    state = {"format": FORMAT, "config": network.config(),
             "state_dict": {k: v.detach().float().cpu() for k, v in
                            network.state_dict().items()},
             **tree_map(lambda v: v.cpu() if isinstance(v, torch.Tensor) else v, extra)}
    return write_atomically(Path(path), lambda f: torch.save(state, f))


def read_checkpoint(path: str | Path) -> dict:
    """The checkpoint dict at ``path``, read with ``weights_only=True``.

    Raises:
        NetworkError: one line: missing, not a PyTorch file, or not a network of this package.
    """
    path = Path(path)
    if not path.is_file():
        raise NetworkError(f"no network file {str(path)!r}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, KeyError, ValueError, OSError) as err:
        # a damaged file (EINVAL: a seek into a non-archive); other OSErrors are the disk's
        if isinstance(err, OSError) and err.errno != errno.EINVAL:
            raise NetworkError(f"could not read {path}: {err.strerror or err}") from None
        raise NetworkError(f"{path.name}: not a network file this package can read (corrupt, "
                           "truncated, or holding more than tensors and plain values)") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise NetworkError(f"{path.name}: not a network made by nst_helpers.fast "
                           f"(expected format {FORMAT!r}); train one with "
                           "'python -m nst_helpers.cli.train'")
    return state


def network_path(name_or_path: str | Path) -> Path:
    """The file of a shipped network's name, or ``name_or_path`` itself if it has a suffix or
    exists.

    Raises:
        NetworkError: one line: a name that is not a shipped network.
    """
    path = Path(name_or_path)
    if path.suffix or path.exists():
        return path
    if str(name_or_path) not in shipped_networks():
        names = ", ".join(shipped_networks()) or "(none installed)"
        raise NetworkError(f"no network {str(name_or_path)!r}: use one of {names} or the path "
                           "of a .pt file")
    return Path(str(_networks_dir() / f"{name_or_path}.pt"))


def phases_after_resume(state: dict, recipe: dict, start: int) -> list[dict]:
    """A checkpoint's ``phases`` (recipes with ``from_step``, ``train_seconds``), with
    ``recipe`` added from ``start`` on if it learns differently from the last one."""
    phases = [dict(p) for p in state.get("phases", [])]
    if not phases and state.get("recipe"):
        phases = [{**state["recipe"], "from_step": 0}]

    def learned(r: dict) -> dict:
        return {k: v for k, v in r.items() if k not in ("command", "from_step", "train_seconds")}

    if not phases or learned(phases[-1]) != learned(recipe):
        phases.append({**recipe, "from_step": start})
    return phases
