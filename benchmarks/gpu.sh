#!/usr/bin/env bash
# The GPU check, one command, on any CUDA machine (Colab: `!bash benchmarks/gpu.sh` from a
# cell, after the notebooks' setup cell has cloned and installed the project). About 5-8
# minutes on a T4 (an estimate: no GPU has run it for this project yet). Writes gpu.json and
# gpu-pytest.txt at the repository root and prints a table; see benchmarks/gpu.py.
set -euo pipefail
cd "$(dirname "$0")/.."
python -c "import sys, torch; sys.exit(0 if torch.cuda.is_available() else \
'gpu.sh needs a CUDA GPU (in Colab: Runtime -> Change runtime type -> T4 GPU)')"
# nbval runs the notebooks; Colab has pytest but not nbval. Nothing else is installed.
python -c "import nbval" 2>/dev/null || python -m pip install -q "nbval>=0.10" "pytest>=7"
python benchmarks/gpu.py "$@"
