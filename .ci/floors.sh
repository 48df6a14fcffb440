#!/usr/bin/env bash
# CI lane: the unit tests (not the notebooks, not the browser tests) on exactly the oldest
# torch and torchvision the project allows, the floors in requirements.txt, in a venv of
# their own. A floor that stops being true fails here, not on a learner's machine.
# About 6 GB and 2-3 minutes of install on top of the unit tests.
set -euo pipefail
cd "$(dirname "$0")/.."
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_PROGRESS_BAR=off PYTHONDONTWRITEBYTECODE=1
start=$SECONDS
trap 'echo "floors lane: $((SECONDS - start)) s wall"' EXIT
source .ci/floor_venv.sh
echo "floors lane: torch $TORCH_FLOOR, torchvision $VISION_FLOOR in $FLOOR_VENV"
make_floor_venv
echo "floors lane: install done after $((SECONDS - start)) s"
# Deselected: the memory estimate's fixed overhead (nst_helpers/engine/memory.py, _CPU["fixed"]) is
# fitted to a process running a recent torch; torch 2.1's process is about 100 MB smaller, so
# there the estimate is 38 % too high (376 MB for a measured 272 MB): too cautious, not wrong.
# The same holds for the bfloat16 run's test, which runs wherever the CPU has native bfloat16
# (on this lane's torch 2.1 a 362 MiB peak against 446 estimated: 1.23, over its 1.15 bound).
# The main lane runs both tests on the newest torch.
# The browser tests (tests/test_browser*.py) need playwright, which only the main lane installs.
NST_QUICK=1 NST_BROWSER_REQUIRED= "$FLOOR_VENV/bin/python" -m pytest tests -q -x \
    --ignore-glob="tests/test_browser*.py" \
    --deselect tests/test_memory.py::test_estimate_follows_a_measured_run_for_an_input_it_was_not_fitted_on \
    --deselect tests/test_memory.py::test_estimate_follows_a_measured_bfloat16_run
