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


def test_auto_is_the_default_and_picks_bf16_only_where_the_cpu_has_it(monkeypatch):
    import inspect

    from nst_helpers.cli import build_parser
    from nst_helpers.precision import resolve_precision

    assert inspect.signature(transfer.stylize).parameters["precision"].default == "auto"
    assert build_parser().parse_args([]).precision == "auto"
    assert transfer.autocast_dtype("fp32", "cuda") is None
    assert resolve_precision("auto", "cuda") == "fp32"  # until a GPU shows fp16 is as good
    assert resolve_precision("auto", "mps") == "fp32"
    for native, expected in ((True, "bf16"), (False, "fp32")):
        monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda n=native: n)
        assert resolve_precision("auto", "cpu") == expected


def test_the_run_says_which_precision_it_used():
    from nst_helpers.precision import resolve_precision

    result = transfer.stylize(photo_like(32, 32), stripes(32, 32), steps=1, weights="random")
    assert result.precision == resolve_precision("auto", "cpu")
    assert transfer.stylize(photo_like(32, 32), stripes(32, 32), steps=1, weights="random",
                            precision="fp32").precision == "fp32"


def test_fp16_that_overflows_says_so_and_goes_on_in_fp32(monkeypatch):
    """Float16 for real, on the CPU (autocast runs it there too; the device gate that keeps
    fp16 to CUDA is what is bypassed), with a gradient scale far past float16's range: the
    first backward overflows. The run must warn, go on in float32 and end like a float32 run."""
    if not _cpu_fp16_autocast():
        pytest.skip("this torch has no float16 autocast on the CPU")
    from nst_helpers import speed

    monkeypatch.setattr(transfer, "resolve_precision", lambda precision, device: precision)
    monkeypatch.setattr(speed, "autocast_dtype",
                        lambda precision, device: torch.float16 if precision == "fp16" else None)
    real_accelerate = transfer.accelerate

    def overflowing(model, *args, **kwargs):
        real_accelerate(model, *args, **kwargs)
        model.engine.grad_scale = 2.0 ** 60  # gradients times 1e18: inf in float16

    monkeypatch.setattr(transfer, "accelerate", overflowing)
    content, style = photo_like(48, 64), stripes(48, 48)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = transfer.stylize(content, style, steps=4, precision="fp16", weights="random")
    notes = [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]
    assert any(re.search(r"overflowed float16 at step 1; continuing in float32", n)
               for n in notes), notes
    assert result.stopped_reason is None and result.steps == 4
    assert result.precision == "fp32"  # what the run ended in, after the fallback
    assert all(torch.isfinite(torch.tensor(result.history["total"])))
    reference = transfer.stylize(content, style, steps=4, precision="fp32", weights="random")
    assert result.final_losses["total"] == pytest.approx(reference.final_losses["total"],
                                                         rel=1e-3)


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
    from nst_helpers import gram

    with gram.autocast_off("mps"):
        pass
    assert entered == []
    features = torch.rand(1, 4, 5, 6)
    assert torch.allclose(gram_matrix(features),
                          features.flatten(2) @ features.flatten(2).transpose(1, 2) / 120)
    assert entered == ["cpu"]


def test_the_oldest_torch_allowed_is_one_this_code_was_run_on():
    """requirements.txt and pyproject.toml agree on the floors, and the torch running this
    suite satisfies them. CI's .ci/floors.sh runs the suite on exactly the floors (how they
    were found: the comment in requirements.txt)."""
    requirements = (ROOT / "requirements.txt").read_text()
    pyproject = (ROOT / "pyproject.toml").read_text()
    floor = re.search(r"^torch>=([\d.]+)", requirements, re.M)[1]
    assert f'"torch>={floor}"' in pyproject
    vision = re.search(r"^torchvision>=([\d.]+)", requirements, re.M)[1]
    assert f'"torchvision>={vision}"' in pyproject
    installed = tuple(int(p) for p in re.match(r"(\d+)\.(\d+)", torch.__version__).groups())
    assert installed >= tuple(int(p) for p in floor.split(".")[:2])
