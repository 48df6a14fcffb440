#!/bin/sh
# GPU checks, prepared but NOT YET RUN (no GPU was available when written).
# fp32 vs fp16 autocast at 512 and 1024 px (fp16's final loss within 2 % of fp32's),
# and the largest size that fits a T4's 14.7 GiB. Writes gpu.json; about 5-10 min on a T4.
set -e
cd "$(dirname "$0")/.."
python -c "import torch; assert torch.cuda.is_available(), 'needs a CUDA GPU'"
python benchmarks/run.py --device cuda --size 512 --evals 30 --json benchmarks-cuda-512.json
python benchmarks/gpu.py --json gpu.json "$@"
