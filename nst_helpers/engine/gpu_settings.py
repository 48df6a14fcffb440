"""The CUDA settings a run uses, decided by measurement on a GPU, not on a CPU.

Machinery, not part of the algorithm. Two switches change how fast a run is on CUDA and
never its result (beyond float rounding):

* **channels-last** (:func:`channels_last_on_cuda`): the image and VGG19's weights stored
  height, width, then channels. On the CPU it is measured to help (notebook 07,
  benchmarks/README.md) and always on. On CUDA it helps where cuDNN has channels-last
  kernels for the precision in use (tensor cores, float16), and can cost a layout
  conversion elsewhere.
* **cuDNN autotuning** (:func:`cudnn_benchmark_on_cuda`): ``torch.backends.cudnn.benchmark``
  times the convolution algorithms for the run's image size once, then uses the fastest.

No GPU has measured either for this project yet, so both are **off** on CUDA until the GPU
check (``benchmarks/gpu.sh``, which times every combination) shows that they help; then
the defaults below change, with the figures in benchmarks/README.md. To try one now, set
``NST_CUDA_CHANNELS_LAST=1`` or ``NST_CUDNN_BENCHMARK=1`` (``0`` forces it off), before the
run, in the shell or with ``os.environ`` in a notebook. Read at each run, never at import.
"""

from __future__ import annotations

from ..io.profiles import env_switch

__all__ = ["CHANNELS_LAST_ON_CUDA", "CUDNN_BENCHMARK_ON_CUDA", "channels_last_on_cuda",
           "cudnn_benchmark_on_cuda"]

#: Default for channels-last on CUDA (``NST_CUDA_CHANNELS_LAST`` overrides it). Off: unmeasured.
CHANNELS_LAST_ON_CUDA = False
#: Default for cuDNN autotuning on CUDA (``NST_CUDNN_BENCHMARK`` overrides it). Off: unmeasured.
CUDNN_BENCHMARK_ON_CUDA = False


def channels_last_on_cuda() -> bool:
    """Whether a CUDA run stores the image and weights channels-last: ``NST_CUDA_CHANNELS_LAST``
    if set (``1``/``0``), else :data:`CHANNELS_LAST_ON_CUDA`.

    Raises:
        ValueError: the variable is set to something other than 1/0 (true/false, on/off).
    """
    return env_switch("NST_CUDA_CHANNELS_LAST", CHANNELS_LAST_ON_CUDA)


def cudnn_benchmark_on_cuda() -> bool:
    """Whether a CUDA run lets cuDNN time its convolution algorithms: ``NST_CUDNN_BENCHMARK``
    if set (``1``/``0``), else :data:`CUDNN_BENCHMARK_ON_CUDA`.

    Raises:
        ValueError: the variable is set to something other than 1/0 (true/false, on/off).
    """
    return env_switch("NST_CUDNN_BENCHMARK", CUDNN_BENCHMARK_ON_CUDA)
