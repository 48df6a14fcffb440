"""Settings that change a run's speed, never its result: the memory layout convolutions are
fastest with (channels-last on the CPU) and cuDNN autotuning. On CUDA both are off until a
GPU measures that they help; ``NST_CUDA_CHANNELS_LAST`` and ``NST_CUDNN_BENCHMARK`` (``1``/``0``,
read at each run, never at import) turn them on.
"""

from __future__ import annotations

import contextlib

import torch

from ..io.profiles import env_switch

__all__ = ["preferred_memory_format", "in_preferred_layout", "cudnn_autotuned"]


def preferred_memory_format(device: torch.device | str) -> torch.memory_format | None:
    """Channels-last on the CPU and, if turned on, on CUDA; ``None`` elsewhere (as they are).
    ValueError if ``NST_CUDA_CHANNELS_LAST`` is not on/off."""
    kind = torch.device(device).type
    if kind == "cpu" or (kind == "cuda" and env_switch("NST_CUDA_CHANNELS_LAST", False)):
        return torch.channels_last
    return None


def in_preferred_layout(network: torch.nn.Module, device: torch.device | str) -> torch.nn.Module:
    """``network`` with its weights in :func:`preferred_memory_format` (in place, same values).
    Call it before computing a model's targets, so targets and evaluations share kernels."""
    layout = preferred_memory_format(device)
    return network.to(memory_format=layout) if layout is not None else network


@contextlib.contextmanager
def cudnn_autotuned(device: torch.device | str):
    """``torch.backends.cudnn.benchmark`` on for the block, on CUDA if ``NST_CUDNN_BENCHMARK``
    turns it on (ValueError if it is not on/off)."""
    if torch.device(device).type != "cuda" or not env_switch("NST_CUDNN_BENCHMARK", False):
        yield
        return
    before = torch.backends.cudnn.benchmark
    torch.backends.cudnn.benchmark = True
    try:
        yield
    finally:
        torch.backends.cudnn.benchmark = before
