"""The memory layout convolutions are fastest with (machinery for speed, see notebook 07).

Feature maps stored channels-last (height, width, then channels in memory) are the layout
the CPU (oneDNN) convolutions are fastest with (measured: benchmarks/README.md, "Per-step
speed"). On CUDA it is used only when
:func:`~nst_helpers.engine.gpu_settings.channels_last_on_cuda` says so (off until a GPU
measures it). The values, and so the losses, are the same in either layout.
"""

from __future__ import annotations

import torch

from .gpu_settings import channels_last_on_cuda

__all__ = ["preferred_memory_format", "in_preferred_layout"]


def preferred_memory_format(device: torch.device | str) -> torch.memory_format | None:
    """Channels-last on the CPU, and on CUDA where :mod:`nst_helpers.engine.gpu_settings`
    turns it on; ``None`` elsewhere (leave tensors as they are: MPS gains nothing from it)."""
    kind = torch.device(device).type
    if kind == "cpu" or (kind == "cuda" and channels_last_on_cuda()):
        return torch.channels_last
    return None


def in_preferred_layout(network: torch.nn.Module, device: torch.device | str) -> torch.nn.Module:
    """``network`` with its weights stored in :func:`preferred_memory_format` (in place; the
    same values). Done before a model's targets are computed, so that targets and evaluations
    run the same kernels (a loss that is 0 at the start stays exactly 0)."""
    layout = preferred_memory_format(device)
    return network.to(memory_format=layout) if layout is not None else network
