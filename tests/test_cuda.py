"""The CUDA path, where a CUDA GPU is there (skipped elsewhere: CI has none; the GPU check,
benchmarks/gpu.sh, runs these too). Everything here also has a CPU test that runs in CI."""

from __future__ import annotations

import warnings

import pytest
import torch
from helpers import photo_like, stripes

from nst_helpers.transfer import stylize

pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")]


def test_stylize_runs_on_the_gpu_by_default():
    result = stylize(photo_like(64, 64), stripes(64, 64), steps=3)
    assert result.peak_memory_mb is not None and result.peak_memory_mb > 0  # measured on CUDA
    assert result.image.device.type == "cpu" and result.precision == "fp32"  # auto: fp32 on CUDA


def test_fp16_ends_near_fp32_and_stays_in_fp16():
    """float16 with the dynamic loss scale: the same pair, every step, within 2 % of float32's
    final loss (the GPU check measures it at 512 px, 300 steps)."""
    content, style = photo_like(128, 128), stripes(128, 128)
    fp32 = stylize(content, style, steps=40, precision="fp32", early_stop=None)
    with warnings.catch_warnings():  # a warning would be the fall back to float32
        warnings.simplefilter("error", RuntimeWarning)
        fp16 = stylize(content, style, steps=40, precision="fp16", early_stop=None)
    assert fp16.precision == "fp16"
    assert fp16.final_losses["total"] == pytest.approx(fp32.final_losses["total"], rel=0.02)


@pytest.mark.parametrize("variable", ["NST_CUDA_CHANNELS_LAST", "NST_CUDNN_BENCHMARK"])
def test_the_cuda_switches_change_speed_not_the_result(monkeypatch, variable):
    content, style = photo_like(64, 96), stripes(64, 64)
    monkeypatch.setenv(variable, "0")
    off = stylize(content, style, steps=5, precision="fp32", early_stop=None)
    monkeypatch.setenv(variable, "1")
    on = stylize(content, style, steps=5, precision="fp32", early_stop=None)
    assert on.final_losses["total"] == pytest.approx(off.final_losses["total"], rel=1e-3)



@pytest.mark.parametrize("precision", ["fp32", "fp16"])
def test_training_on_the_gpu_lowers_the_loss_and_stops_its_reading_thread(tmp_path, precision):
    """train on CUDA: the photos read ahead in a thread (pinned, copied without blocking), a
    float16 run with its gradient scaler; the loss falls and the thread is gone after."""
    import threading

    from nst_helpers.fast import stylize_fast
    from nst_helpers.io.images import save_image
    from nst_helpers.io.photos import PhotoFolder
    from nst_helpers.training import train

    for seed in range(2):
        save_image(photo_like(96, 120, seed=seed), tmp_path / f"photo{seed}.png")
    photos = PhotoFolder(tmp_path, in_memory=0, log=lambda line: None)
    result = train(photos, stripes(64, 64), steps=30, batch_size=4, size=64, log_every=1,
                   device="cuda", precision=precision, log=lambda line: None)
    first, last = result.history[0], result.history[-1]
    assert last[1] + 10 * last[2] < 0.8 * (first[1] + 10 * first[2])
    assert not [t for t in threading.enumerate() if t.name == "nst-photo-batches"]
    out = stylize_fast(photo_like(64, 80).cuda(), result.network)
    assert out.shape == (1, 3, 64, 80) and torch.isfinite(out).all()
