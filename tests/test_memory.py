"""nst_helpers.engine.memory: the estimate follows a measured run, and the size search fits the
budget.

The estimate's constants were fitted (``benchmarks/run.py --memory-check``) to float32 runs of
the bundled chelsea.jpg, a landscape photo, at long sides 128, 256, 384 and 512 px with the
default layers, on a 2-core x86 CPU with 2 threads. The measured test checks it on an input
it was not fitted on, within a margin that holds on other machines (its docstring gives the
measurements); the other tests check its structure and the size search, anywhere.
"""

from pathlib import Path

import pytest
import torch
from PIL import Image
from subprocesses import measure_peak_memory  # benchmarks/: tooling

from nst_helpers.engine.memory import (
    T4_USABLE_BYTES,
    estimate_peak_memory,
    image_shape,
    largest_size,
)

ROOT = Path(__file__).resolve().parents[1]


#: How far the estimate may be from a measured peak on any machine: its constants are fitted
#: on one (the module's docstring), and what a process holds besides the run (the allocator,
#: oneDNN, the torch release) differs from machine to machine. The figures behind the bounds
#: are in the test's docstring; how close it is on a given machine is a benchmark's figure
#: (``python benchmarks/run.py --memory-check``: estimated against measured, whole and tiled).
ESTIMATE_LOW, ESTIMATE_HIGH = 0.8, 1.5


@pytest.mark.slow
@pytest.mark.measure
def test_estimate_follows_a_measured_run_for_an_input_it_was_not_fitted_on(tmp_path):
    """On an input the constants were not fitted on (a portrait image, the photo turned on its
    side; 240 px; style up to relu3_1, content at relu3_2; 60 steps, so that L-BFGS's history
    of 50 pairs is full), the estimate is between ESTIMATE_LOW and ESTIMATE_HIGH times the
    measured peak. Too low is what would make the size search pick a size that runs out of
    memory; too high, a size far smaller than the machine can run.

    A margin, not a tolerance fitted on one machine (this test used to say within 10 %: a CI
    runner measured 17.6 %). Estimated / measured, 60 steps, 2 threads:
    a 2-core x86 machine, torch 2.14.1, measured for this margin, these layers / the default
    ones: 160 px 0.957 / 1.009, 240 px 0.997 / 0.984 (358 / 359 MiB; 425 / 432), 320 px
    0.970 / 0.957, 400 px 0.967 / 0.966 (602 / 622 MiB; 691 / 716);
    earlier on the same kind of machine: 0.965 at 240 px with these layers, 0.935 with the
    default ones; the CI runner: 1.176; torch 2.1 (.ci/floors.sh, whose process is about
    100 MB smaller): 1.38 (376 MB estimated for 272 MB measured). From 0.935 to 1.38 in all;
    the bounds leave a seventh below the lowest and an eighth above the highest, and catch an
    estimate that misses a fifth of the memory or counts half again too much."""
    portrait = tmp_path / "portrait.png"
    Image.open(ROOT / "images" / "chelsea.jpg").transpose(Image.Transpose.ROTATE_90).save(portrait)
    layers = {"content_layers": ["relu3_2"], "style_layers": ["relu1_1", "relu2_1", "relu3_1"]}
    measured = measure_peak_memory(240, steps=60, threads=2, content=portrait, **layers)
    assert measured["shape"] == [240, 160]  # 300x451 turned: taller than wide
    estimate = estimate_peak_memory(tuple(measured["shape"]), **layers)
    ratio = estimate / measured["peak_bytes"]
    print(f"estimate / measured peak: {ratio:.3f} ({estimate / 2**20:.0f} / "
          f"{measured['peak_bytes'] / 2**20:.0f} MiB)")
    assert ESTIMATE_LOW < ratio < ESTIMATE_HIGH, (estimate, measured)


def test_estimate_grows_with_size_history_and_precision():
    assert estimate_peak_memory(256) < estimate_peak_memory(384) < estimate_peak_memory(512)
    assert estimate_peak_memory(512, optimizer="adam") < estimate_peak_memory(512)
    assert estimate_peak_memory(512, history_size=100) > estimate_peak_memory(512)
    half = estimate_peak_memory(1024, device="cuda", dtype=torch.float16)
    assert half < estimate_peak_memory(1024, device="cuda")
    shallow = estimate_peak_memory(512, content_layers=["conv2_2"], style_layers=["conv1_1"])
    assert shallow < estimate_peak_memory(512)
    tiled = estimate_peak_memory(2048, tile=512)
    assert tiled < 0.5 * estimate_peak_memory(2048)
    assert estimate_peak_memory(2048, tile=256) < tiled
    assert estimate_peak_memory(256, tile=512) == estimate_peak_memory(256)  # one tile: whole
    with pytest.raises(ValueError, match="optimizer"):
        estimate_peak_memory(256, optimizer="sgd")
    with pytest.raises(ValueError, match="multiple of 16"):
        estimate_peak_memory(256, tile=100)


def test_image_shape():
    assert image_shape(512) == (512, 512)
    assert image_shape(451, aspect=300 / 451) == (300, 451)
    assert image_shape(512, aspect=2.0) == (512, 256)
    assert image_shape((300, 200)) == (300, 200)


def test_largest_size_fits_and_the_next_does_not():
    for kwargs in ({}, {"device": "cuda", "dtype": torch.float16}):
        side = largest_size(T4_USABLE_BYTES, **kwargs)
        assert side % 16 == 0 and side >= 1024
        assert estimate_peak_memory(side, **kwargs) <= T4_USABLE_BYTES
        assert estimate_peak_memory(side + 16, **kwargs) > T4_USABLE_BYTES
    assert largest_size(2**30, aspect=2 / 3) > largest_size(2**30)  # fewer pixels per side
    assert largest_size(2**20) == 0  # not even 32 px fits 1 MiB


@pytest.mark.slow
@pytest.mark.measure
def test_peak_rss_is_not_inherited_from_a_large_parent():
    """ru_maxrss survives exec on Linux; peak_rss_bytes must give the child's own peak."""
    import subprocess
    import sys

    from nst_helpers.engine.memory import peak_rss_bytes

    ballast = torch.ones(2**28, dtype=torch.uint8)  # 256 MiB, touched
    assert peak_rss_bytes() > 256 * 2**20
    child = subprocess.run([sys.executable, "-c", "from nst_helpers.engine.memory import "
                            "peak_rss_bytes; print(peak_rss_bytes())"],
                           capture_output=True, text=True, check=True)
    assert 0 < int(child.stdout) < peak_rss_bytes() - 200 * 2**20
    del ballast
