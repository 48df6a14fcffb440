"""CUDA settings that change a run's speed, never its result: channels-last storage and cuDNN
autotuning. Both are off on CUDA by default; ``NST_CUDA_CHANNELS_LAST`` and
``NST_CUDNN_BENCHMARK`` (``1``/``0``) override that, read at each run, never at import.
"""

from __future__ import annotations

from ..io.profiles import env_switch

__all__ = ["CHANNELS_LAST_ON_CUDA", "CUDNN_BENCHMARK_ON_CUDA", "channels_last_on_cuda",
           "cudnn_benchmark_on_cuda"]

#: Defaults on CUDA, overridden by ``NST_CUDA_CHANNELS_LAST`` and ``NST_CUDNN_BENCHMARK``.
CHANNELS_LAST_ON_CUDA = False
CUDNN_BENCHMARK_ON_CUDA = False


def channels_last_on_cuda() -> bool:
    """Whether a CUDA run stores the image and weights channels-last.

    Raises:
        ValueError: ``NST_CUDA_CHANNELS_LAST`` is not on/off (:func:`env_switch`).
    """
    return env_switch("NST_CUDA_CHANNELS_LAST", CHANNELS_LAST_ON_CUDA)


def cudnn_benchmark_on_cuda() -> bool:
    """Whether a CUDA run lets cuDNN time its convolution algorithms.

    Raises:
        ValueError: ``NST_CUDNN_BENCHMARK`` is not on/off (:func:`env_switch`).
    """
    return env_switch("NST_CUDNN_BENCHMARK", CUDNN_BENCHMARK_ON_CUDA)
