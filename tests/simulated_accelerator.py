"""A second device on a CPU-only machine, for tests: tensors "on the accelerator" that fail
the way CUDA does when they meet a tensor left on the CPU.

CUDA refuses an operation whose tensors live on two devices ("Expected all tensors to be on
the same device"), except a CPU tensor with no dimensions (a scalar). A test machine has no
GPU, so a notebook that forgets to move one tensor runs fine on it and crashes on Colab's T4.

Here, a tensor on the accelerator is an :class:`AcceleratorTensor`: a wrapper whose
``.device`` says ``meta`` (the one non-CPU device that autograd accepts without a GPU
driver) and which holds a real CPU tensor, so values, ``.item()`` and gradients are real.
Every operation on one runs on the CPU and checks that no other tensor is a plain CPU tensor
with dimensions; ``.numpy()`` on one fails as on CUDA. Tensors get there the way they get to
a GPU: ``tensor.to(device)``, ``module.to(device)``, or a factory given ``device=``.

:func:`activate` turns it on for the rest of the process (a notebook's kernel) and makes
``nst_helpers.io.profiles.pick_device()`` answer this device, as it answers ``cuda`` on a T4;
:func:`simulated` does the same for a ``with`` block. Testing aid only: not part of the
package.
"""

from __future__ import annotations

import contextlib
import os
import sys

import torch
from torch.overrides import TorchFunctionMode
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_map

DEVICE = torch.device("meta")
MIXED = ("Expected all tensors to be on the same device, but found at least two devices, "
         "meta (the simulated accelerator) and cpu! ({})")

try:
    from torch.utils._python_dispatch import return_and_correct_aliasing
except ImportError:  # torch < 2.2
    return_and_correct_aliasing = None


class AcceleratorTensor(torch.Tensor):
    """A CPU tensor that says it is on the accelerator (``.device`` is ``meta``)."""

    elem: torch.Tensor
    __slots__ = ["elem"]

    @staticmethod
    def __new__(cls, elem: torch.Tensor):
        wrapper = torch.Tensor._make_wrapper_subclass(
            cls, elem.size(), strides=elem.stride(), storage_offset=elem.storage_offset(),
            dtype=elem.dtype, layout=elem.layout, device=DEVICE,
            requires_grad=elem.requires_grad)
        wrapper.elem = elem
        return wrapper

    def __repr__(self):
        return f"AcceleratorTensor({self.elem!r})"

    @classmethod
    def __torch_dispatch__(cls, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        strays = []

        def unwrap(t):
            if isinstance(t, AcceleratorTensor):
                return t.elem
            if isinstance(t, torch.Tensor) and t.dim() > 0 and t.device.type == "cpu":
                strays.append(t)
            return t

        plain_args, plain_kwargs = tree_map(unwrap, args), tree_map(unwrap, kwargs)
        name = func.__name__
        if name.startswith("_to_copy"):
            device = plain_kwargs.pop("device", None)
            out = func(*plain_args, **plain_kwargs)
            return out if device is not None and torch.device(device).type == "cpu" else wrap(out)
        if strays and not name.startswith(("copy_", "_copy_from", "lift_fresh", "_to_copy")):
            raise RuntimeError(MIXED.format(f"{func}: a CPU tensor of shape "
                                            f"{tuple(strays[0].shape)}"))
        out = tree_map(wrap, func(*plain_args, **plain_kwargs))
        if return_and_correct_aliasing is not None:
            return return_and_correct_aliasing(func, args, kwargs, out)
        return out


def wrap(t):
    if isinstance(t, torch.Tensor) and not isinstance(t, AcceleratorTensor):
        return AcceleratorTensor(t)
    return t


def _on_accelerator(device) -> bool:
    return device is not None and torch.device(device).type == DEVICE.type


class _Factories(TorchDispatchMode):
    """Puts on the accelerator what is created there: a factory (``torch.zeros(...,
    device=...)``, including those autograd calls inside a backward pass) or a copy
    (``tensor.to(device)``, ``module.to(device)``) whose ``device`` is the accelerator."""

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if _on_accelerator(kwargs.get("device")):
            return tree_map(wrap, func(*args, **{**kwargs, "device": torch.device("cpu")}))
        return func(*args, **kwargs)


class _NoNumpy(TorchFunctionMode):
    """``.numpy()`` of a tensor on the accelerator fails, as on CUDA; ``.tolist()`` copies to
    the host, as on CUDA, and so does formatting a scalar (torch refuses both for a subclass)."""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        on_accelerator = bool(args) and isinstance(args[0], AcceleratorTensor)
        if func in (torch.Tensor.numpy, torch.Tensor.__array__) and on_accelerator:
            raise TypeError("can't convert meta (the simulated accelerator) device type tensor "
                            "to numpy. Use Tensor.cpu() to copy the tensor to host memory first.")
        if func is torch.Tensor.tolist and on_accelerator:
            return args[0].elem.tolist()
        if func is torch.Tensor.__format__ and on_accelerator:  # f"{loss:.3f}", as on CUDA
            return args[0].elem.__format__(*args[1:])
        return func(*args, **(kwargs or {}))


def _pick_device(original):
    def pick_device(requested=None):
        """The simulated accelerator, as a T4's ``pick_device()`` answers ``cuda``."""
        return DEVICE if not requested else original(requested)
    pick_device.simulated = True
    return pick_device


def _patch_pick_device(setter) -> None:
    """Point every loaded ``nst_helpers`` module's ``pick_device`` at the simulated device
    (modules imported later take it from ``nst_helpers.io.profiles``)."""
    import nst_helpers.io.profiles as profiles

    original = profiles.pick_device
    if getattr(original, "simulated", False):
        return
    patched = _pick_device(original)
    for name, module in list(sys.modules.items()):
        if name.split(".")[0] == "nst_helpers" and getattr(module, "pick_device", None) is original:
            setter(module, "pick_device", patched)


def activate() -> None:
    """Turn the simulated accelerator on for the rest of this process (a notebook's kernel),
    and in the Python processes it starts to measure a run (``benchmarks/subprocesses.py``)."""
    os.environ["NST_SIMULATED_ACCELERATOR"] = os.path.dirname(os.path.abspath(__file__))
    _NoNumpy().__enter__()
    _Factories().__enter__()
    _patch_pick_device(setattr)


@contextlib.contextmanager
def simulated(monkeypatch):
    """``with simulated(monkeypatch):`` the simulated accelerator, for one block of a test."""
    _patch_pick_device(monkeypatch.setattr)
    with _NoNumpy(), _Factories():
        yield DEVICE
