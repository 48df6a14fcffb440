"""The GPU path is safe before it is fast: fp32 unless asked, fp16 that overflows goes on in
fp32 and says so, no autocast on MPS, and nothing newer than the oldest torch allowed."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import pytest
import torch
from helpers import photo_like, stripes

from nst_helpers import transfer
from nst_helpers.gram import gram_matrix

ROOT = Path(__file__).resolve().parent.parent


def test_auto_picks_bf16_only_where_the_cpu_has_it(monkeypatch):
    from nst_helpers.engine.precision import resolve_precision

    assert resolve_precision("auto", "cuda") == "fp32"  # until a GPU shows fp16 is as good
    assert resolve_precision("auto", "mps") == "fp32"
    for native, expected in ((True, "bf16"), (False, "fp32")):
        monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda n=native: n)
        assert resolve_precision("auto", "cpu") == expected


def test_the_run_says_which_precision_it_used():
    from nst_helpers.engine.precision import resolve_precision

    result = transfer.stylize(photo_like(32, 32), stripes(32, 32), steps=1, weights="random",
                              device="cpu")
    assert result.precision == resolve_precision("auto", "cpu")
    assert transfer.stylize(photo_like(32, 32), stripes(32, 32), steps=1, weights="random",
                            precision="fp32").precision == "fp32"


def _fp16_on_the_cpu(monkeypatch, adjust):
    """Float16 for real, on the CPU (autocast runs it there too; the device gate that keeps
    fp16 to CUDA is what is bypassed). ``adjust(model, loss_scale)`` runs before the run;
    returns the list ``(model, loss_scale)`` pairs are appended to."""
    if not _cpu_fp16_autocast():
        pytest.skip("this torch has no float16 autocast on the CPU")
    from nst_helpers.loop import Optimisation

    monkeypatch.setattr(transfer, "resolve_precision", lambda precision, device: precision)
    monkeypatch.setattr(transfer, "autocast_dtype",
                        lambda precision, device: torch.float16 if precision == "fp16" else None)
    runs = []

    class Adjusted(Optimisation):
        def __init__(self, model, *args, **kwargs):
            super().__init__(model, *args, **kwargs)
            if self.loss_scale is not None:
                adjust(model, self.loss_scale)
                runs.append((model, self.loss_scale))

    monkeypatch.setattr(transfer, "Optimisation", Adjusted)
    return runs


def _run_fp16_and_fp32(content, style, steps=4):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = transfer.stylize(content, style, steps=steps, precision="fp16",
                                  weights="random", early_stop=None, device="cpu")
    notes = [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]
    reference = transfer.stylize(content, style, steps=steps, precision="fp32",
                                 weights="random", early_stop=None, device="cpu")
    return result, notes, reference


@pytest.mark.slow
def test_fp16_lowers_its_loss_scale_after_an_overflow_and_stays_in_fp16(monkeypatch):
    """A loss scale far past float16's range (gradients times 1.8e13: inf): the scale is halved
    until the gradient is finite, the run stays in float16 and gets as far as float32. (The
    fixed scale this replaced left float16 for good at the first overflow.)"""
    def too_high(model, loss_scale):
        loss_scale.scale = 2.0 ** 44

    runs = _fp16_on_the_cpu(monkeypatch, too_high)
    result, notes, reference = _run_fp16_and_fp32(photo_like(32, 32), stripes(32, 32))
    scale = runs[0][1]
    assert scale.lowered >= 8 and scale.scale < 2.0 ** 36, (scale.lowered, scale.scale)
    assert not notes and result.precision == "fp16" and result.steps == 4
    assert all(torch.isfinite(torch.tensor(result.history["total"])))
    # (a few L-BFGS steps from the same start part ways in float16 and float32: judged by
    # progress, not by equal losses)
    assert result.moved and result.final_losses["total"] < 0.95 * result.history["total"][0]
    assert result.final_losses["total"] < 1.1 * reference.final_losses["total"]


@pytest.mark.slow
def test_fp16_raises_its_loss_scale_when_the_gradient_underflows(monkeypatch):
    """A loss scale of 2^-24: every gradient flushes to zero in float16, which the run must
    notice (not take a zero gradient for a minimum) and raise the scale until it is usable."""
    def too_low(model, loss_scale):
        loss_scale.scale = loss_scale.min_scale = 2.0 ** -24

    runs = _fp16_on_the_cpu(monkeypatch, too_low)
    result, notes, reference = _run_fp16_and_fp32(photo_like(32, 32), stripes(32, 32))
    scale = runs[0][1]
    assert scale.raised >= 8 and scale.scale > 2.0 ** -16, (scale.raised, scale.scale)
    assert not notes and result.precision == "fp16"
    # A zero gradient taken at face value leaves the image where it started.
    assert result.moved and result.final_losses["total"] < 0.95 * result.history["total"][0]
    assert result.final_losses["total"] < 1.1 * reference.final_losses["total"]


@pytest.mark.slow
def test_fp16_whose_forward_pass_overflows_goes_on_in_fp32_and_says_so(monkeypatch):
    """Activations past float16's 65504 (the first convolution's weights times 1e4): no loss
    scale helps the forward pass. Each such step is evaluated in float32; after
    FP16_FLOAT32_STEPS of them the run warns once and goes on in float32, ending like a float32
    run with the same network."""
    import copy

    from nst_helpers.loop import FP16_FLOAT32_STEPS

    def loud(model, loss_scale):
        for name, module in model.network.named_children():
            if isinstance(module, torch.nn.Conv2d):  # a copy: VGG19 itself is cached
                louder = copy.deepcopy(module)
                louder.weight.data.mul_(1e4)
                setattr(model.network, name, louder)
                break

    runs = _fp16_on_the_cpu(monkeypatch, loud)
    content, style = photo_like(32, 32), stripes(32, 32)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = transfer.stylize(content, style, steps=5, precision="fp16", weights="random",
                                  early_stop=None, device="cpu")
    notes = [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]
    assert len(notes) == 1 and re.search(
        rf"float16 overflowed at {FP16_FLOAT32_STEPS} steps in a row.*continuing in float32",
        notes[0]), notes
    assert result.precision == "fp32" and result.steps == 5 and result.stopped_reason is None
    assert len(runs) == 1
    assert all(torch.isfinite(torch.tensor(result.history["total"])))


def test_loss_scale_moves_in_powers_of_two_within_its_bounds():
    from nst_helpers.engine.precision import LossScale

    scale = LossScale(4.0, growth_interval=3, min_scale=1.0, max_scale=16.0)
    assert scale.overflowed() and scale.overflowed() and scale.scale == 1.0
    assert not scale.overflowed()  # at the floor: the caller must use float32
    for _ in range(3):
        scale.good_step()
    assert scale.scale == 2.0  # raised after growth_interval good steps in a row
    assert scale.underflowed() and scale.underflowed() and scale.underflowed()
    assert scale.scale == 16.0 and not scale.underflowed()


def test_gradient_underflowed_counts_only_pixels_inside_the_range():
    from nst_helpers.engine.precision import LossScale

    gradient_underflowed = LossScale.gradient_underflowed
    image = torch.full((1, 3, 10, 10), 0.5)
    grad = torch.full_like(image, 1e-3)
    assert not gradient_underflowed(grad, image)
    grad[..., :5, :] = 0  # half the pixels got nothing
    assert gradient_underflowed(grad, image)
    image[..., :5, :] = 1.0  # ... but they are clamped white, where no gradient is expected
    assert not gradient_underflowed(grad, image)


def _cpu_fp16_autocast() -> bool:
    try:
        with torch.autocast("cpu", dtype=torch.float16):
            y = torch.nn.functional.conv2d(torch.ones(1, 1, 4, 4), torch.ones(1, 1, 3, 3))
        return y.dtype == torch.float16
    except (RuntimeError, ValueError):
        return False


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_no_autocast_precision_on_mps(precision):
    """MPS would need torch.autocast("mps"), which older torch refuses: fp32 only there."""
    with pytest.raises(ValueError, match="fp32"):
        transfer.autocast_dtype(precision, "mps")


def test_gram_matrix_enters_no_autocast_on_other_devices(monkeypatch):
    """gram_matrix used to enter torch.autocast(device) unconditionally, which older torch
    refuses for "mps". Now it does so only on the CPU and CUDA: a device type it would have
    passed on (here a stand-in that refuses like old torch) is left alone."""
    entered = []
    real = torch.autocast

    def strict(device_type, *args, **kwargs):
        entered.append(device_type)
        if device_type not in ("cpu", "cuda"):
            raise RuntimeError(f"unsupported autocast device_type {device_type!r}")
        return real(device_type, *args, **kwargs)

    monkeypatch.setattr(torch, "autocast", strict)
    from nst_helpers.engine.precision import autocast_off

    with autocast_off("mps"):
        pass
    assert entered == []
    gram_matrix(torch.rand(1, 4, 5, 6, device="meta"))  # a device type with no autocast
    assert entered == []
    features = torch.rand(1, 4, 5, 6)
    assert torch.allclose(gram_matrix(features),
                          features.flatten(2) @ features.flatten(2).transpose(1, 2) / 120)
    assert entered == ["cpu"]


def test_the_floors_ci_tests_are_the_floors_the_project_declares():
    """requirements.txt and pyproject.toml agree on the torch and torchvision floors, and
    .ci/floor_venv.sh, which CI's floors lane (.ci/floors.sh) installs exactly, reads those
    same floors from requirements.txt (run here: a floor written so its sed misses it would
    leave the lane with none). That the installed torch meets the floor is pip's to check."""
    import subprocess

    requirements = (ROOT / "requirements.txt").read_text()
    pyproject = (ROOT / "pyproject.toml").read_text()
    floor = re.search(r"^torch>=([\d.]+)", requirements, re.M)[1]
    assert f'"torch>={floor}"' in pyproject
    vision = re.search(r"^torchvision>=([\d.]+)", requirements, re.M)[1]
    assert f'"torchvision>={vision}"' in pyproject
    read = subprocess.run(["bash", "-c", 'source .ci/floor_venv.sh && echo "$TORCH_FLOOR '
                           '$VISION_FLOOR"'], cwd=ROOT, capture_output=True, text=True,
                          timeout=30)
    assert read.returncode == 0, read.stderr
    assert read.stdout.split() == [floor, vision], read.stdout


@pytest.mark.parametrize("capability", [(7, 5), (8, 0)], ids=["T4-like", "Ampere-like"])
def test_every_precision_the_code_suggests_is_accepted_there(monkeypatch, capability):
    """A refused precision's message names another ("use --precision fp16"): that one must
    run on the same device, for the optimisation, the network that paints (--fast) and
    training alike. On a T4-like GPU (compute capability 7.5, no native bfloat16) bf16 is
    refused for fp16; fp16 used to be refused in turn for painting with the network. CUDA
    is not here: only its capability is asked, and that is what is set."""
    from nst_helpers.engine.precision import PRECISIONS, autocast_dtype
    from nst_helpers.fast import network_dtype

    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: capability)
    # training's dtype is network_dtype's too: the network trains as it paints
    uses = {"optimisation": lambda p: autocast_dtype(p, "cuda"),
            "fast and training": lambda p: network_dtype(p, "cuda")}
    refused = 0
    for use, dtype_of in uses.items():
        for precision in PRECISIONS:
            try:
                dtype_of(precision)
            except ValueError as err:
                refused += 1
                suggested = re.findall(r"--precision (\w+)", str(err))
                assert suggested, (use, precision, str(err))
                for other in suggested:
                    dtype_of(other)  # raises if the advice is refused in turn
    assert refused == (2 if capability < (8, 0) else 0)  # bf16, for each use, on a T4
    assert network_dtype("fp16", "cuda") == torch.float16  # --fast paints (and trains) in fp16
    assert network_dtype("auto", "cuda") == torch.float16  # on CUDA, by default too


@pytest.mark.parametrize("native", [True, False], ids=["bf16-CPU", "plain-CPU"])
def test_every_precision_suggested_on_a_cpu_is_accepted_there(monkeypatch, native):
    from nst_helpers.engine.precision import PRECISIONS, autocast_dtype
    from nst_helpers.fast import network_dtype

    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: native)
    for dtype_of in (lambda p: autocast_dtype(p, "cpu"), lambda p: network_dtype(p, "cpu")):
        for precision in PRECISIONS:
            try:
                dtype_of(precision)
            except ValueError as err:
                for other in re.findall(r"--precision (\w+)", str(err)):
                    try:
                        dtype_of(other)
                    except ValueError:
                        continue  # "bf16 on a CPU that has it, or fp32": one of them runs
                    break
                else:
                    pytest.fail(f"{precision}: no suggestion runs here: {err}")
