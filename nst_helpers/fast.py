"""A network that paints in one pass (notebook 08): Johnson et al. (2016) with instance norm.

Optimisation (notebooks 03-07) changes the *pixels* of one image until the perceptual loss is
low, and starts again for every photo. Johnson, Alahi & Fei-Fei (2016, "Perceptual Losses for
Real-Time Style Transfer and Super-Resolution") change the *weights* of an image transformation
network instead, over many photos, with the same loss; afterwards one forward pass stylizes any
photo. Ulyanov, Vedaldi & Lempitsky (2016, "Instance Normalization: The Missing Ingredient for
Fast Stylization") replaced its batch normalisation with instance normalisation, which this
network uses.

* :class:`TransformerNet`: reflection-padded convolutions, two stride-2 downsamplings, residual
  blocks, nearest-neighbour upsampling plus a convolution, a sigmoid to [0, 1].
* :class:`PerceptualLoss`: the package's own loss, for a batch: content at ``relu4_2`` and
  Gram matrices at ``relu1_1..relu5_1`` of VGG19, both relative
  (:func:`~nst_helpers.losses.relative_squared_error`, :class:`~nst_helpers.losses.StyleLoss`).
* :func:`train`: Adam on random crops of a folder of photos, with atomic checkpoints that a run
  resumes from; Ctrl-C keeps the last one.
* :func:`stylize_fast`: use a trained network (a shipped name such as ``"starry_night"``, or
  the path of a checkpoint).

The photos it trains on are :mod:`nst_helpers.io.photos`; its files (checkpoints, the networks
that ship) :mod:`nst_helpers.io.networks`; its command line, ``python -m nst_helpers.fast train
--style images/starry_night.jpg -o my.pt``, :mod:`nst_helpers.cli.train`. Their names are
importable from here too.
"""

from __future__ import annotations

import copy
import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from .gram import gram_matrix
from .io.networks import (
    FORMAT,
    NetworkError,
    network_path,
    phases_after_resume,
    read_checkpoint,
    save_network,
    shipped_networks,
)
from .io.photos import PhotoFolder, bundled_photos_dir
from .loop import LossWeights
from .losses import StyleLoss, relative_squared_error
from .model import feature_maps, vgg_layers
from .vgg import CONTENT_LAYERS, STYLE_LAYERS

__all__ = ["TransformerNet", "PerceptualLoss", "PhotoFolder", "TrainResult", "train",
           "load_network", "network_path", "save_network", "stylize_fast", "inference_copy",
           "shipped_networks",
           "NetworkError", "read_checkpoint", "main",
           "bundled_photos_dir", "FORMAT", "DEFAULT_CHANNELS", "DEFAULT_RESIDUAL_BLOCKS",
           "DEFAULT_STYLE_WEIGHT", "COCO_T4_RECIPE"]

#: Channels after the first convolution and after each downsampling.
DEFAULT_CHANNELS = (16, 32, 64)
DEFAULT_RESIDUAL_BLOCKS = 5
#: Weaker than the optimisation's 20: one network serves every photo, and at 20 it paints over
#: the content (measured, see ``nst_helpers/networks/README.md``).
DEFAULT_STYLE_WEIGHT = 10.0
#: Notebook 08's recipe for a Colab T4, on COCO's 5,000 validation photos
#: (:mod:`nst_helpers.io.datasets`): optimizer steps, crops per step, crop side in pixels, and
#: a time budget: it stops when ``max_minutes`` are up if the steps are not done by then, so it
#: fits Colab's free T4 whatever its speed. ``benchmarks/gpu.py`` says how many steps fit.
COCO_T4_RECIPE = {"steps": 4000, "batch_size": 8, "size": 256, "max_minutes": 14.0}


def conv_layer(in_channels: int, out_channels: int, kernel_size: int, stride: int = 1
               ) -> nn.Sequential:
    """Reflection padding then a convolution: the image's border is mirrored, not zeroed, so
    no dark frame appears around the output."""
    return nn.Sequential(nn.ReflectionPad2d(kernel_size // 2),
                         nn.Conv2d(in_channels, out_channels, kernel_size, stride))


def conv_norm_relu(in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
                   upsample: bool = False) -> nn.Sequential:
    """[nearest-neighbour x2 upsampling], a padded convolution, instance norm, ReLU."""
    layers = [nn.Upsample(scale_factor=2, mode="nearest")] if upsample else []
    layers += [*conv_layer(in_channels, out_channels, kernel_size, stride),
               nn.InstanceNorm2d(out_channels, affine=True), nn.ReLU()]
    return nn.Sequential(*layers)


class ResidualBlock(nn.Module):
    """``x + IN(conv(ReLU(IN(conv(x)))))``: two 3x3 convolutions that learn a correction."""

    def __init__(self, channels: int):
        super().__init__()
        self.body = nn.Sequential(conv_norm_relu(channels, channels, 3),
                                  *conv_layer(channels, channels, 3),
                                  nn.InstanceNorm2d(channels, affine=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class TransformerNet(nn.Module):
    """Johnson et al.'s image transformation network, slimmed for a CPU, with instance norm.

    Args:
        channels: channels at full, half and quarter resolution (default 16, 32, 64).
        residual_blocks: residual blocks at quarter resolution (default 5).

    Forward: takes photos ``(B, 3, H, W)`` in [0, 1], any ``H, W`` (padded by reflection to a
    multiple of 4 and cropped back), returns the stylized images, same shape, in [0, 1].
    """

    def __init__(self, channels: Sequence[int] = DEFAULT_CHANNELS,
                 residual_blocks: int = DEFAULT_RESIDUAL_BLOCKS):
        super().__init__()
        c1, c2, c3 = (int(c) for c in channels)
        self.channels, self.residual_blocks = (c1, c2, c3), int(residual_blocks)
        self.down = nn.Sequential(conv_norm_relu(3, c1, 9),             # full resolution
                                  conv_norm_relu(c1, c2, 3, stride=2),  # 1/2
                                  conv_norm_relu(c2, c3, 3, stride=2))  # 1/4
        self.residual = nn.Sequential(*(ResidualBlock(c3) for _ in range(self.residual_blocks)))
        self.up = nn.Sequential(conv_norm_relu(c3, c2, 3, upsample=True),  # 1/2
                                conv_norm_relu(c2, c1, 3, upsample=True),  # full resolution
                                *conv_layer(c1, 3, 9))

    def config(self) -> dict:
        """What :func:`load_network` needs to rebuild this network."""
        return {"channels": list(self.channels), "residual_blocks": self.residual_blocks}

    def forward(self, photos: torch.Tensor) -> torch.Tensor:
        h, w = photos.shape[-2:]
        pad_h, pad_w = -h % 4, -w % 4
        x = photos
        if pad_h or pad_w:
            mode = "reflect" if min(h, w) > max(pad_h, pad_w) else "replicate"
            x = nn.functional.pad(x, (0, pad_w, 0, pad_h), mode=mode)
        out = torch.sigmoid(self.up(self.residual(self.down(x))))
        return out[..., :h, :w]


# --- The loss --------------------------------------------------------------------------------

class PerceptualLoss(nn.Module):
    """The package's perceptual loss, for a batch of outputs and the photos they came from.

    Args:
        vgg: from :func:`~nst_helpers.vgg.load_vgg19`; not changed.
        style_image: ``(1, 3, h, w)`` in [0, 1].
        content_layers, style_layers: the paper's names (default ``relu4_2`` and
            ``relu1_1..relu5_1``, as notebooks 03-04).
        style_layer_weights: one weight per style layer (default ``1 / len(style_layers)``).

    Call ``loss(outputs, photos)`` with both ``(B, 3, H, W)`` in [0, 1]: returns
    ``(content_loss, style_loss)``, scalars. Content: the relative squared error between the
    outputs' and the photos' ``relu4_2`` maps (summed over the batch, as
    :class:`~nst_helpers.losses.ContentLoss` does for one image; averaged over content layers).
    Style: per layer, :class:`~nst_helpers.losses.StyleLoss` of each output's Gram matrix,
    averaged over the batch, then the weighted sum over layers. For ``B = 1`` these are the
    numbers :class:`~nst_helpers.model.StyleTransferModel` gives.
    """

    def __init__(self, vgg: nn.Sequential, style_image: torch.Tensor, *,
                 content_layers: Sequence[str] = CONTENT_LAYERS,
                 style_layers: Sequence[str] = STYLE_LAYERS,
                 style_layer_weights: Sequence[float] | None = None):
        super().__init__()
        self.content_layers, self.style_layers = list(content_layers), list(style_layers)
        self.layers = nn.ModuleDict(vgg_layers(vgg, self.content_layers + self.style_layers))
        if style_layer_weights is None:
            style_layer_weights = [1.0 / len(self.style_layers)] * len(self.style_layers)
        self.style_layer_weights = dict(zip(self.style_layers, map(float, style_layer_weights)))
        grams = {n: gram_matrix(f) for n, f in
                 feature_maps(vgg, style_image, set(self.style_layers)).items()}
        self.style_losses = nn.ModuleDict({n: StyleLoss(grams[n]) for n in self.style_layers})

    def forward(self, outputs: torch.Tensor, photos: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor]:
        content_targets = feature_maps(self._as_vgg(), photos, set(self.content_layers))
        content = outputs.new_zeros((), dtype=torch.float32)
        style = outputs.new_zeros((), dtype=torch.float32)
        x = outputs
        for name, module in self.layers.items():
            x = module(x)
            if name in self.content_layers:
                content = content + relative_squared_error(x, content_targets[name])
            if name in self.style_losses:
                per_batch = self.style_losses[name].measure(gram_matrix(x)) / x.shape[0]
                style = style + self.style_layer_weights[name] * per_batch
        return content / max(len(self.content_layers), 1), style

    def _as_vgg(self) -> nn.Sequential:
        # feature_maps walks vgg_layers(vgg, names): module 0 the normalisation, then the layers.
        return nn.Sequential(*self.layers.values())


# --- Using it --------------------------------------------------------------------------------

def load_network(name_or_path: str | Path, device: torch.device | str = "cpu"
                 ) -> TransformerNet:
    """A trained :class:`TransformerNet` in eval mode: a shipped name (``"starry_night"``, see
    :func:`shipped_networks`) or the path of a checkpoint written by :func:`train`.

    Raises:
        NetworkError: one line: no such name or file, or a corrupt or foreign file.
    """
    path = network_path(name_or_path)
    state = read_checkpoint(path)
    try:
        network = TransformerNet(**state["config"])
        network.load_state_dict(state["state_dict"])
    except Exception as err:  # noqa: BLE001 - any mismatch is the same one-line refusal
        raise NetworkError(f"{path.name}: its weights do not fit the network it describes "
                           f"({type(err).__name__})") from None
    return network.to(device).eval()


def network_dtype(precision: str, device: torch.device | str, *, training: bool = False
                  ) -> torch.dtype | None:
    """The autocast dtype the network runs in: ``precision`` as :func:`~nst_helpers.transfer.
    stylize` takes it (``"auto"``: bfloat16 on a CPU that has it natively, float32 elsewhere;
    ``"fp32"``, ``"bf16"``; and for ``training``, ``"fp16"`` on a CUDA GPU), resolved for
    ``device`` (:mod:`nst_helpers.engine.precision`).

    Raises:
        ValueError: one line, for an unknown precision or one the device cannot run fast.
    """
    from .engine.precision import autocast_dtype, resolve_precision

    if precision == "fp16" and not training:
        raise ValueError("fp16 is not offered for painting with the network: use auto, fp32 "
                         "or bf16")
    return autocast_dtype(resolve_precision(precision, device), device)


def _grad_scaler(device: torch.device):
    """``torch.amp.GradScaler`` for float16 training (``torch.cuda.amp`` before torch 2.3): it
    multiplies the loss so that small gradients do not underflow float16, divides them back
    before Adam's step, skips a step whose gradients overflowed and adapts the factor."""
    if hasattr(torch.amp, "GradScaler"):
        return torch.amp.GradScaler(device.type)
    return torch.cuda.amp.GradScaler()


def inference_copy(network: nn.Module, dtype: torch.dtype | None = None) -> nn.Module:
    """A copy of ``network`` that paints faster on a CPU and computes the same thing.

    Each ``InstanceNorm2d(C, affine=True)`` becomes ``GroupNorm(C, C)``: one channel per group
    is instance norm (the same formula, ``eps``, ``weight`` and ``bias``), but its CPU kernel
    keeps a channels-last tensor channels-last, where ``InstanceNorm2d`` hands it back in the
    default layout and every following convolution reorders it. With ``dtype`` (bfloat16) the
    whole copy is cast, rather than autocast casting each activation before every convolution
    and back after it: at 1024x768 on 2 CPU cores the network takes 0.13 s this way against
    0.38 s with ``InstanceNorm2d`` and autocast (``nst_helpers/networks/README.md``). Training
    keeps ``InstanceNorm2d``, as notebook 08 builds it. ``network`` is not changed.
    """
    fast = copy.deepcopy(network)
    for module in list(fast.modules()):
        for name, child in module.named_children():
            if (isinstance(child, nn.InstanceNorm2d) and child.affine
                    and not child.track_running_stats):
                norm = nn.GroupNorm(child.num_features, child.num_features, eps=child.eps)
                norm = norm.to(child.weight.device, child.weight.dtype)
                norm.load_state_dict(child.state_dict())
                setattr(module, name, norm)
    return fast.to(dtype) if dtype is not None else fast


def _autocast(device: torch.device, dtype: torch.dtype | None):
    import contextlib
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=dtype)


@torch.no_grad()
def stylize_fast(photo: torch.Tensor, network: str | Path | TransformerNet = "starry_night", *,
                 precision: str = "auto") -> torch.Tensor:
    """Stylize ``photo`` ``(1, 3, H, W)`` (or a batch) in [0, 1] in one forward pass.

    Args:
        photo: any size and aspect.
        network: a :class:`TransformerNet`, a shipped name or a checkpoint's path.
        precision: ``"auto"`` (bfloat16 where the device has it natively, else float32),
            ``"fp32"`` or ``"bf16"``, as for ``stylize`` (:func:`network_dtype`).

    Returns:
        the stylized image, same shape, float32 in [0, 1], on ``photo``'s device.
    """
    if not isinstance(network, nn.Module):
        network = load_network(network, photo.device)
    from .engine.layout import preferred_memory_format

    dtype = network_dtype(precision, photo.device)
    network = inference_copy(network, dtype)
    if dtype is not None:
        photo = photo.to(dtype)
    layout = preferred_memory_format(photo.device)  # channels-last where it is measured to help
    out = network(photo.contiguous(memory_format=layout) if layout else photo)
    return out.float().contiguous()


# --- Training --------------------------------------------------------------------------------

@dataclass
class TrainResult:
    """What :func:`train` returns.

    Attributes:
        network: the trained network (train mode off).
        steps: optimizer steps taken in all (including those before a resume).
        history: ``(step, content_loss, style_loss)`` every ``log_every`` steps.
        seconds: wall time of this call.
        interrupted: True when Ctrl-C stopped it (the checkpoint is then the last good one).
        out_of_time: True when ``max_minutes`` ran out first (the checkpoint is then this
            step's).
    """

    network: TransformerNet
    steps: int
    history: list[tuple[int, float, float]]
    seconds: float
    interrupted: bool = False
    out_of_time: bool = False


def train(photos: PhotoFolder, style_image: torch.Tensor, *, steps: int = 2000,
          batch_size: int = 4, size: int = 128, lr: float = 1e-3,
          style_weight: float = DEFAULT_STYLE_WEIGHT, vgg: nn.Sequential | None = None,
          network: TransformerNet | None = None, checkpoint: str | Path | None = None,
          checkpoint_every: int = 100, resume: bool = True, seed: int = 0,
          precision: str = "auto", device: torch.device | str | None = None,
          log_every: int = 10, max_minutes: float | None = None,
          log: Callable[[str], object] = print, recipe: dict | None = None) -> TrainResult:
    """Train a :class:`TransformerNet` to paint in ``style_image``'s style: Adam on batches of
    random crops of ``photos``, minimising ``content + style_weight * style``
    (:class:`PerceptualLoss`).

    Args:
        photos: the training photos (:class:`PhotoFolder`).
        style_image: ``(1, 3, h, w)`` in [0, 1] (256 px long side is a good size).
        steps: optimizer steps in all; a resumed run goes on up to this number.
        batch_size, size: crops per step and their side in pixels.
        lr: Adam's learning rate.
        style_weight: weight of the style loss against the content loss.
        checkpoint: where to save every ``checkpoint_every`` steps and at the end (atomically);
            with ``resume``, an existing file there is loaded and training continues from it.
        seed: seeds the network's initial weights and the crops.
        precision: ``"auto"`` (bfloat16 autocast where native, else float32), ``"fp32"``,
            ``"bf16"``, or ``"fp16"`` on a CUDA GPU (opt-in: float16 autocast with a gradient
            scaler, for a T4's tensor cores; ``benchmarks/gpu.py`` measures it against fp32).
        device: where to train (``None``: the best one here,
            :func:`~nst_helpers.io.profiles.pick_device`).
        max_minutes: stop after this many minutes of training, at the step where they run out
            (saved, ``out_of_time=True``), even before ``steps``: a time budget that holds
            whatever the GPU (``COCO_T4_RECIPE`` has one). ``None``: no limit.

    Returns:
        a :class:`TrainResult`. Ctrl-C stops training and returns (``interrupted=True``); the
        checkpoint on disk is then the last good one, from the last multiple of
        ``checkpoint_every``.
    """
    from .io.profiles import pick_device
    from .vgg import load_vgg19

    device = pick_device(device)
    torch.manual_seed(seed)
    network = (network or TransformerNet()).to(device)
    vgg = vgg if vgg is not None else load_vgg19(device=device)
    loss_fn = PerceptualLoss(vgg, style_image.to(device))
    weights = LossWeights(content=1.0, style=style_weight)
    optimizer = torch.optim.Adam(network.parameters(), lr=lr)
    crops = random.Random(seed)
    start, history = 0, []
    phases = [{**(recipe or {}), "from_step": 0}]  # the recipe of each stretch of training
    if checkpoint is not None and resume and Path(checkpoint).is_file():
        state = read_checkpoint(checkpoint)
        network.load_state_dict(state["state_dict"])
        if "optimizer" in state:
            optimizer.load_state_dict(state["optimizer"])
        start, history = int(state.get("step", 0)), [tuple(h) for h in state.get("history", [])]
        crops.seed(seed + start)
        phases = phases_after_resume(state, recipe or {}, start)
        log(f"resumed from {checkpoint} at step {start}")
    dtype = network_dtype(precision, device, training=True)
    scaler = _grad_scaler(device) if dtype == torch.float16 else None
    earlier_seconds = float(phases[-1].get("train_seconds", 0))  # this stretch's earlier runs

    def save(step: int) -> None:
        phases[-1]["train_seconds"] = round(earlier_seconds + time.perf_counter() - began, 1)
        if checkpoint is not None:
            save_network(checkpoint, network, step=step, history=[list(h) for h in history],
                         optimizer=optimizer.state_dict(), recipe=dict(recipe or {}),
                         phases=phases)

    network.train()
    on_gpu = device.type == "cuda"
    # On a GPU, a thread reads and crops the next photos while the GPU trains on these.
    batches = photos.batches(batch_size, size, crops, prefetch=2 if on_gpu else 0,
                             pin_memory=on_gpu)
    began, step, interrupted, out_of_time = time.perf_counter(), start, False, False
    deadline = None if max_minutes is None else began + 60 * max_minutes
    try:
        for step in range(start + 1, steps + 1):
            batch = next(batches).to(device, non_blocking=on_gpu)
            with _autocast(device, dtype):
                content, style = loss_fn(network(batch), batch)
            total = weights.total(content, style, batch)
            optimizer.zero_grad(set_to_none=True)
            if scaler is None:
                total.backward()
                optimizer.step()
            else:
                scaler.scale(total).backward()
                scaler.step(optimizer)  # skipped if a gradient overflowed
                scaler.update()
            out_of_time = deadline is not None and time.perf_counter() >= deadline
            last = step == steps or out_of_time
            logging, saving = step % log_every == 0 or last, step % checkpoint_every == 0 or last
            if not (logging or saving):
                continue  # no .item() here: on a GPU it would wait for the step to finish
            if not math.isfinite(total.item()):  # before saving: never a checkpoint of NaNs
                raise FloatingPointError(f"the loss became {total.item()} by step {step}; "
                                         "lower lr and resume from the checkpoint")
            if logging:
                history.append((step, content.item(), style.item()))
                elapsed = time.perf_counter() - began
                log(f"step {step}/{steps}  content {content.item():.4f}  style {style.item():.4f}"
                    f"  {elapsed / (step - start):.2f} s/step")
            if saving:
                save(step)
            if out_of_time:
                log(f"stopped at step {step}: the {max_minutes:g} minutes are up"
                    + (f"; {checkpoint} holds this step" if checkpoint else ""))
                break
    except KeyboardInterrupt:
        interrupted = True
        kept = f"; the checkpoint {checkpoint} keeps the last saved step" if checkpoint else ""
        log(f"interrupted at step {step}{kept}")
    finally:
        batches.close()  # stops the reading thread
    network.eval()
    return TrainResult(network, step, history, time.perf_counter() - began, interrupted,
                       out_of_time)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m nst_helpers.fast train ...``: the command line (:mod:`nst_helpers.cli.train`),
    given :func:`train` to run, so that it does not import this module back."""
    from .cli.train import main as train_main

    return train_main(argv, train=train, style_weight=DEFAULT_STYLE_WEIGHT,
                      load_network=load_network)


if __name__ == "__main__":
    raise SystemExit(main())
