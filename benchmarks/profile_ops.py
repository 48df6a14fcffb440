"""Where the time of one of our evaluations goes: ``torch.profiler``, self time by kind of op.

Convolutions, Gram matrices (bmm/mm), ReLU, pooling, L-BFGS's vector ops (1-D tensors the
size of the image), the rest (losses, normalisation, layout copies), and the wall time no op
accounts for (Python, the autograd engine).
"""

from __future__ import annotations

import time

from common import stylize_options

_CATEGORIES = (
    ("conv (fwd + bwd to input)", ("conv",)),
    ("gram (bmm/mm)", ("bmm", "aten::mm", "matmul")),
    ("relu", ("relu", "threshold_backward")),
    ("pool", ("pool",)),
)


def profile(spec, content, style, device) -> dict:
    """torch.profiler over a short float32 stylize run, after two warm-up evaluations."""
    from torch.profiler import ProfilerActivity, profile

    from nst_helpers.transfer import stylize

    activities = [ProfilerActivity.CPU]
    if device.type == "cuda":
        activities.append(ProfilerActivity.CUDA)
    steps = spec["profile_evals"]
    prof = profile(activities=activities, record_shapes=True)
    started: list[float] = []

    def callback(step, image, losses):
        if step == 2:  # steady state: after the setup and the first two evaluations
            prof.start()
            started.append(time.perf_counter())

    stylize(content, style, steps=steps + 2, device=device, callback=callback,
            **stylize_options("fp32"))
    prof.stop()
    wall = time.perf_counter() - started[0]
    # Self time of every op, split by input shapes: L-BFGS works on flat vectors of
    # the image's size, the network and the losses on 3-D and 4-D tensors.
    image_numel = content.numel()
    optimizer_label, other_label = "optimizer (L-BFGS vector ops)", "losses, normalisation, other"
    categories = {label: 0.0 for label, _ in _CATEGORIES}
    categories[optimizer_label] = categories[other_label] = 0.0
    by_name: dict[str, float] = {}
    for avg in prof.key_averages(group_by_input_shape=True):
        name, seconds = avg.key, avg.self_cpu_time_total / 1e6
        if not name.startswith("aten::"):
            continue
        by_name[name] = by_name.get(name, 0.0) + seconds
        for label, keys in _CATEGORIES:
            if any(k in name for k in keys):
                categories[label] += seconds
                break
        else:
            shapes = [s for s in (avg.input_shapes or []) if isinstance(s, list) and s]
            flat = bool(shapes) and all(len(s) <= 1 for s in shapes) \
                and any(s == [image_numel] for s in shapes)
            categories[optimizer_label if flat else other_label] += seconds
    profiled = sum(categories.values())
    categories["python, autograd engine, untracked"] = max(wall - profiled, 0.0)
    top = sorted(by_name.items(), key=lambda kv: -kv[1])[:8]
    return {"profile": {"evals": steps, "wall_s": wall,
                        "seconds": categories,
                        "percent": {k: 100 * v / wall for k, v in categories.items()},
                        "top_ops_self_s": dict(top)}}
