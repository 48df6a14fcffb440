"""The memory layout convolutions are fastest with (machinery for speed, see notebook 07).

Feature maps stored channels-last (height, width, then channels in memory) are the layout
the CPU (oneDNN) and GPU (cuDNN) convolutions are fastest with (measured: benchmarks/README.md,
"Per-step speed"). The values, and so the losses, are the same in either layout.
"""

from __future__ import annotations

import torch

__all__ = ["preferred_memory_format"]


def preferred_memory_format(device: torch.device | str) -> torch.memory_format | None:
    """Channels-last on CPU and CUDA; ``None`` elsewhere (leave tensors as they are: MPS
    gains nothing from it)."""
    return torch.channels_last if torch.device(device).type in ("cpu", "cuda") else None
