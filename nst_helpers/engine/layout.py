"""The memory layout convolutions are fastest with: channels-last on the CPU, and on CUDA
where :func:`~nst_helpers.engine.gpu_settings.channels_last_on_cuda` says so. Same values."""

from __future__ import annotations

import torch

from .gpu_settings import channels_last_on_cuda

__all__ = ["preferred_memory_format", "in_preferred_layout"]


def preferred_memory_format(device: torch.device | str) -> torch.memory_format | None:
    """Channels-last on the CPU and, if turned on, on CUDA; ``None`` elsewhere (as they are)."""
    kind = torch.device(device).type
    if kind == "cpu" or (kind == "cuda" and channels_last_on_cuda()):
        return torch.channels_last
    return None


def in_preferred_layout(network: torch.nn.Module, device: torch.device | str) -> torch.nn.Module:
    """``network`` with its weights in :func:`preferred_memory_format` (in place, same values).
    Call it before computing a model's targets, so targets and evaluations share kernels."""
    layout = preferred_memory_format(device)
    return network.to(memory_format=layout) if layout is not None else network
