"""Why ours and the reference differ in peak memory: what each run holds, counted by part.

In one process, after the timed rounds (not timed itself), each of the two runs again for
the same number of evaluations, and during its last evaluation what it holds is counted
in bytes, each tensor storage once:

* ``weights``: float32 VGG19 the run keeps: ours, the network ``load_vgg19`` returned
  (``stylize`` holds it for the run); the reference, the tutorial's ``cnn`` (a global in the
  tutorial, kept alive here too);
* ``weights_copy``: the reference's ``copy.deepcopy(cnn)`` in ``get_style_model_and_losses``,
  the layers its model keeps (up to the last loss layer); ours makes no copy;
* ``weights_8bit``: the bundled 8-bit weights ``load_vgg19`` caches between calls (ours;
  the reference clears that cache, as the tutorial holds one network only);
* ``targets``: the loss modules' targets (content feature maps, style Gram matrices);
* ``saved_feature_maps``: what autograd saves for the backward pass of one evaluation
  (``torch.autograd.graph.saved_tensors_hooks``; the weights and targets left out);
* ``optimizer``: L-BFGS's vectors (its history of image-sized vectors, the search direction,
  the gradient and the previous one).

The counted parts are a floor, not the peak: the driver sets them beside the measured peak
(``rest``: the allocator's slack, oneDNN's scratch, gradients alive during the backward
pass, memory freed while the model was built but kept by the process).
"""

from __future__ import annotations

import gc
import sys
import warnings

_PARTS = ("weights", "weights_copy", "weights_8bit", "targets", "saved_feature_maps",
          "optimizer")


def _storages(tensors) -> dict[int, int]:
    """``{storage address: bytes}`` of ``tensors``, each storage once."""
    out = {}
    for t in tensors:
        storage = t.untyped_storage()
        out[storage.data_ptr()] = storage.nbytes()
    return out


def _live(kind):
    with warnings.catch_warnings():  # some objects warn when asked their type
        warnings.simplefilter("ignore")
        return [o for o in gc.get_objects() if isinstance(o, kind)]


def _census(saved: dict[int, int]) -> dict:
    """What the process holds now, by part (see the module's docstring): bytes, and the
    weights' storages (``params``) for the caller to tell a network from its copy."""
    import torch
    from torch import nn

    from nst_helpers import vgg as vgg_module

    modules = _live(nn.Module)
    params = _storages(p for m in modules for p in m.parameters(recurse=False))
    targets = _storages(t for m in modules for name in ("target", "targets")
                        if isinstance(t := getattr(m, name, None), torch.Tensor))
    optimizer = _lbfgs_vectors()
    compact = {}
    if vgg_module._cached.cache_info().currsize:
        state, _ = vgg_module._cached("original")
        compact = _storages(state.values())
    kept = {**params, **targets}
    return {"params": params,
            "weights_8bit": sum(compact.values()),
            "targets": sum(targets.values()),
            "saved_feature_maps": sum(v for k, v in saved.items() if k not in kept),
            "optimizer": sum(optimizer.values())}


def _lbfgs_vectors() -> dict[int, int]:
    """The storages L-BFGS holds: its state between calls and, while a call is running (ours
    makes one call for the whole run), the locals of ``LBFGS.step``, where its history, search
    direction and previous gradient live until the call returns."""
    import torch

    tensors = []
    for opt in _live(torch.optim.Optimizer):
        for state in opt.state.values():
            tensors += state.values()
    frame = sys._getframe()
    while frame is not None:
        if frame.f_code.co_name == "step" and "old_dirs" in frame.f_locals:
            tensors += frame.f_locals.values()
        frame = frame.f_back
    flat = [t for v in tensors for t in (v if isinstance(v, list) else [v])]
    return _storages(t for t in flat if isinstance(t, torch.Tensor))


def _split_weights(found: dict, network_params) -> dict[str, int]:
    """``found`` with its weights split into the network's and any copy's."""
    params = found.pop("params")
    network = _storages(network_params)
    found["weights"] = sum(v for k, v in params.items() if k in network)
    found["weights_copy"] = sum(v for k, v in params.items() if k not in network)
    return found


class _SavedTensors:
    """Counts the storages autograd saves, one evaluation at a time (``next()`` starts one)."""

    def __init__(self):
        import torch

        self.current: dict[int, int] = {}
        self.hooks = torch.autograd.graph.saved_tensors_hooks(self._pack, lambda t: t)

    def _pack(self, t):
        storage = t.untyped_storage()
        self.current[storage.data_ptr()] = storage.nbytes()
        return t

    def next(self) -> dict[int, int]:
        done, self.current = self.current, {}
        return done


def _ours(spec, content, style, device) -> dict[str, int]:
    from common import stylize_options

    from nst_helpers.transfer import stylize

    saved, found = _SavedTensors(), {}

    def callback(step, image, losses):
        last = saved.next()
        if step == spec["evals"]:
            found.update(_census(last))

    with saved.hooks:
        stylize(content, style, steps=spec["evals"], device=device, callback=callback,
                **stylize_options("fp32"))
    found["weights"] = sum(found.pop("params").values())  # one network, no copy
    found["weights_copy"] = 0
    return found


def _reference(spec, content, style, device) -> dict[str, int]:
    from tutorial import run_reference

    saved, found, count = _SavedTensors(), {}, [0]

    def stamp(image):
        count[0] += 1
        last = saved.next()
        if count[0] == spec["evals"]:
            found.update(_census(last))

    with saved.hooks:
        run = run_reference(spec, content, style, device, stamp)
    return _split_weights(found, run.cnn.parameters())


def memory_parts(spec, content, style, device) -> dict:
    """``{"memory_parts": {"ours": {part: bytes}, "reference": {part: bytes}}}``."""
    out = {"ours": _ours(spec, content, style, device)}
    gc.collect()
    out["reference"] = _reference(spec, content, style, device)
    return {"memory_parts": {name: {p: parts.get(p, 0) for p in _PARTS}
                             for name, parts in out.items()}}
