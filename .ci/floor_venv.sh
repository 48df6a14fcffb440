# Sourced by .ci/floors.sh and .ci/widgets7.sh: the torch and torchvision floors, read from
# requirements.txt (tests/test_precision.py keeps pyproject.toml in agreement), and a venv
# that has exactly those releases plus the rest of requirements.txt and the project.
# It is made once per machine: .ci/widgets7.sh, run after .ci/floors.sh, reuses it.

TORCH_FLOOR=$(sed -n 's/^torch>=\([0-9][0-9.]*\).*/\1/p' requirements.txt)
VISION_FLOOR=$(sed -n 's/^torchvision>=\([0-9][0-9.]*\).*/\1/p' requirements.txt)
if [ -z "$TORCH_FLOOR" ] || [ -z "$VISION_FLOOR" ]; then
    echo "no torch>= / torchvision>= floor in requirements.txt" >&2
    exit 1
fi
FLOOR_VENV=${NST_FLOOR_VENV:-/tmp/nst-floor-venv}

make_floor_venv() {
    # The marker names the floors and the requirements' digest: a venv made before a
    # requirement was added (anywidget, say) is made again, not reused without it.
    local wanted
    wanted="torch==$TORCH_FLOOR torchvision==$VISION_FLOOR $(cat requirements.txt pyproject.toml | sha256sum | cut -c1-16)"
    if [ "$(cat "$FLOOR_VENV/.nst-floors" 2>/dev/null)" = "$wanted" ]; then
        echo "reusing $FLOOR_VENV ($wanted)"
        return
    fi
    local extra=()
    # torch before 2.3 was built against numpy 1: with numpy 2 its tensor <-> array calls fail.
    if [ "$(printf '%s\n' "$TORCH_FLOOR" 2.3 | sort -V | head -n 1)" != 2.3 ]; then
        extra+=("numpy<2")
    fi
    python -m venv --clear "$FLOOR_VENV"
    # A current setuptools builds the project's editable metadata offline
    # (tests/test_colab.py and tests/test_install.py use --no-build-isolation).
    "$FLOOR_VENV/bin/python" -m pip install -q --upgrade pip setuptools
    # --no-cache-dir: the CUDA wheels are gigabytes, and nothing else would reuse them
    "$FLOOR_VENV/bin/python" -m pip install -q --no-cache-dir "torch==$TORCH_FLOOR" \
        "torchvision==$VISION_FLOOR" ${extra[@]+"${extra[@]}"} -r requirements.txt -e .
    "$FLOOR_VENV/bin/python" - "$TORCH_FLOOR" "$VISION_FLOOR" <<'PY'
import sys

import torch
import torchvision

def release(version):
    parts = version.split("+")[0].split(".")
    return tuple(int(p) for p in parts) + (0,) * (3 - len(parts))

for module, floor in ((torch, sys.argv[1]), (torchvision, sys.argv[2])):
    assert release(module.__version__) == release(floor), (module.__name__, module.__version__)
    print(f"{module.__name__} {module.__version__}", end="  ")
print()
PY
    echo "$wanted" > "$FLOOR_VENV/.nst-floors"
}
