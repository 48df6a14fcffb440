"""nst_helpers.memory: the estimate follows a measured run, and the size search fits the budget.

The accuracy at 128..512 px is measured by ``benchmarks/run.py --memory-check``; here
one small size only, to keep the test fast.
"""

import pytest
import torch

from nst_helpers.memory import (
    T4_USABLE_BYTES,
    estimate_peak_memory,
    image_shape,
    largest_size,
    measure_peak_memory,
)


def test_estimate_within_10_percent_of_a_measured_run():
    # As calibrated: 2 threads (each thread adds allocator arenas and oneDNN scratch), and
    # 60 steps, so that L-BFGS's history of 50 pairs is full, as in a real run.
    measured = measure_peak_memory(128, steps=60, threads=2)
    assert measured["shape"] == [85, 128]  # chelsea.jpg, 451x300
    estimate = estimate_peak_memory(tuple(measured["shape"]))
    assert abs(estimate / measured["peak_bytes"] - 1) < 0.10, (estimate, measured)


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


def test_peak_rss_is_not_inherited_from_a_large_parent():
    """ru_maxrss survives exec on Linux; peak_rss_bytes must give the child's own peak."""
    import subprocess
    import sys

    from nst_helpers.memory import peak_rss_bytes

    ballast = torch.ones(2**28, dtype=torch.uint8)  # 256 MiB, touched
    assert peak_rss_bytes() > 256 * 2**20
    child = subprocess.run([sys.executable, "-c", "from nst_helpers.memory import "
                            "peak_rss_bytes; print(peak_rss_bytes())"],
                           capture_output=True, text=True, check=True)
    assert 0 < int(child.stdout) < peak_rss_bytes() - 200 * 2**20
    del ballast
