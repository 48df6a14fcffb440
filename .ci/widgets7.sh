#!/usr/bin/env bash
# CI lane: the notebooks that use ipywidgets, under nbval, with Colab's ipywidgets 7.7.1.
# Notebook 05 builds its explorer from ipywidgets; 04 shows tqdm.auto bars, which are
# ipywidgets progress bars in a kernel. Any other notebook whose code imports ipywidgets or
# turns on a progress bar is picked up too.
#
# It reuses the floors lane's venv (made by .ci/floor_venv.sh, or made here if this lane runs
# alone), swapping its ipywidgets 8 for 7.7.1: a venv of its own would download and install
# another 6 GB torch (2-3 minutes) for nothing the widgets depend on, since their code does not
# touch torch. Run it after .ci/floors.sh, which tests that venv with ipywidgets 8.
set -euo pipefail
cd "$(dirname "$0")/.."
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_PROGRESS_BAR=off PYTHONDONTWRITEBYTECODE=1
start=$SECONDS
trap 'echo "widgets7 lane: $((SECONDS - start)) s wall"' EXIT
source .ci/floor_venv.sh
make_floor_venv
"$FLOOR_VENV/bin/python" -m pip install -q "ipywidgets==7.7.1"
"$FLOOR_VENV/bin/python" -c 'import ipywidgets; assert ipywidgets.__version__ == "7.7.1", ipywidgets.__version__; print("ipywidgets", ipywidgets.__version__)'
mapfile -t notebooks < <(python3 - <<'PY'
import json, pathlib, re
for path in sorted(pathlib.Path("notebooks").glob("*.ipynb")):
    cells = json.loads(path.read_text())["cells"]
    code = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
    if re.search(r"\bipywidgets\b|\btqdm\b|progress\s*=\s*True", code):
        print(path)
PY
)
echo "widgets7 lane: ${notebooks[*]}"
# --nbval-current-env: the kernel runs this venv's python, whatever kernel specs the machine has
# tests/test_upload.py reads a real FileUpload's value: here the shape ipywidgets 7 gives it;
# test_tool.py drives notebook 09's tool and its chunked upload, and test_widget_callbacks.py
# notebook 05's explorer, under 7.7.1.
NST_QUICK=1 "$FLOOR_VENV/bin/python" -m pytest -q --nbval-lax --nbval-current-env \
    tests/test_upload.py tests/test_tool.py tests/test_widget_callbacks.py "${notebooks[@]}"
