import warnings

import pytest
import torch
from helpers import photo_like, stripes

from nst_helpers.model import build_model
from nst_helpers.transfer import stylize
from nst_helpers.vgg import load_vgg19


def test_short_real_run_lowers_style_loss_by_a_large_factor():
    result = stylize(photo_like(64, 80), stripes(), steps=40, style_weight=100, precision="fp32")
    assert result.steps == 40
    assert len(result.history["style"]) == 40
    assert result.history["style"][-1] < result.history["style"][0] / 10
    assert result.history["content"][0] == pytest.approx(0, abs=1e-6)  # init from content
    assert result.image.shape == (1, 3, 64, 80)
    assert 0 <= result.image.min() and result.image.max() <= 1
    assert not result.interrupted and result.stopped_reason is None


def test_result_is_closer_in_style_and_still_resembles_content():
    content, style = photo_like(64, 80), stripes()
    # A moderate weight: at the default (20) this tiny high-contrast pair is painted over.
    result = stylize(content, style, steps=30, style_weight=10)
    model = build_model(load_vgg19(), content, style)
    content_loss, style_loss = model.losses(result.image)
    _, content_style_loss = model.losses(content)
    assert style_loss < 0.3 * content_style_loss  # measurably closer in style
    resized_style = torch.nn.functional.interpolate(style, size=(64, 80))
    style_content_loss, _ = model.losses(resized_style)
    assert content_loss < 0.7 * style_content_loss  # its features still say "the content"
    assert (result.image - content).abs().mean() < (result.image - resized_style).abs().mean()


def test_deterministic_with_a_seed_on_cpu():
    kwargs = dict(steps=6, init="noise", seed=3)
    a = stylize(photo_like(), stripes(), **kwargs)
    b = stylize(photo_like(), stripes(), **kwargs)
    c = stylize(photo_like(), stripes(), **{**kwargs, "seed": 4})
    assert torch.equal(a.image, b.image)
    assert a.history == b.history
    assert not torch.equal(a.image, c.image)


def test_adam_and_tv_weight():
    result = stylize(photo_like(), stripes(), steps=15, optimizer="adam", lr=0.03, tv_weight=1.0)
    assert result.steps == 15
    assert result.history["style"][-1] < result.history["style"][0]


def test_keyboard_interrupt_keeps_the_best_image_so_far():
    def interrupt(step, image, losses):
        if step == 4:
            raise KeyboardInterrupt

    result = stylize(photo_like(), stripes(), steps=50, callback=interrupt)
    assert result.interrupted
    assert result.steps == 4
    assert "interrupted at step 4" in result.stopped_reason
    assert result.image.shape == (1, 3, 64, 80)
    assert len(result.history["total"]) == 4


def test_a_nan_loss_stops_and_keeps_the_last_good_image():
    # The image is clamped, so its loss cannot run off to inf; a NaN weight (or a float16
    # overflow on a GPU) still gives a NaN loss.
    content = photo_like()
    result = stylize(content, stripes(), steps=20, content_weight=float("nan"))
    assert result.steps == 0
    assert "nan" in result.stopped_reason and "content_weight" in result.stopped_reason
    assert torch.equal(result.image, content)
    assert result.history["total"] == []


def test_the_loss_is_that_of_the_image_shown():
    """history holds the losses of the clamped image: the returned image's own loss is the
    best in history (or the last update's, which history has not seen), and no pixel is
    outside [0, 1]. In float32, where history and final_losses are measured alike."""
    result = stylize(photo_like(), stripes(), steps=15, precision="fp32")
    assert 0 <= result.image.min() and result.image.max() <= 1
    assert result.final_losses["total"] <= min(result.history["total"]) * (1 + 1e-4)
    if result.best_step < result.steps:
        assert result.final_losses["total"] == pytest.approx(
            result.history["total"][result.best_step], rel=1e-4)


def test_bad_arguments():
    with pytest.raises(ValueError, match="optimizer"):
        stylize(photo_like(), stripes(), steps=1, optimizer="sgd")
    with pytest.raises(ValueError, match="init"):
        stylize(photo_like(), stripes(), steps=1, init="zeros")


def test_style_blend_moves_the_result_towards_the_heavier_style():
    content = photo_like(64, 80)
    diagonal = stripes()  # magenta / blue diagonal stripes
    y = torch.arange(64).view(64, 1).float()
    horizontal = torch.stack([0.2 + 0 * y, 0.5 + 0.5 * torch.sin(y), 0.3 + 0 * y])
    horizontal = (horizontal.expand(3, 64, 64) + 0.0).unsqueeze(0)  # green horizontal bands
    styles = [diagonal, horizontal]
    runs = {blend: stylize(content, styles, steps=20, style_blend=blend)
            for blend in ((0.9, 0.1), (0.1, 0.9))}

    def style_loss_to(style, image):
        return build_model(load_vgg19(), None, style).losses(image)[1].item()

    mostly_a, mostly_b = runs[(0.9, 0.1)].image, runs[(0.1, 0.9)].image
    assert style_loss_to(diagonal, mostly_a) < style_loss_to(diagonal, mostly_b)
    assert style_loss_to(horizontal, mostly_b) < style_loss_to(horizontal, mostly_a)


def test_bad_style_blend_is_a_value_error():
    styles = [stripes(), stripes(60, 60)]
    with pytest.raises(ValueError, match="1 blend weights for 2 style images"):
        stylize(photo_like(), styles, steps=1, style_blend=[1.0])
    with pytest.raises(ValueError, match="not all 0"):
        stylize(photo_like(), styles, steps=1, style_blend=[0.0, 0.0])
    with pytest.raises(ValueError, match="style layer weights"):
        stylize(photo_like(), stripes(), steps=1, style_layer_weights=[1.0, 1.0])
    with pytest.raises(ValueError, match="unknown VGG19 layer"):
        stylize(photo_like(), stripes(), steps=1, style_layers=["conv6_1"])


def test_avg_pooling_runs_and_differs_from_max():
    kwargs = dict(steps=5)
    a = stylize(photo_like(), stripes(), pooling="avg", **kwargs)
    m = stylize(photo_like(), stripes(), pooling="max", **kwargs)
    assert a.history["style"][-1] < a.history["style"][0]
    assert not torch.equal(a.image, m.image)
    with pytest.raises(ValueError, match="pooling"):
        stylize(photo_like(), stripes(), steps=1, pooling="min")


def test_final_losses_are_those_of_the_returned_image():
    content, style = photo_like(), stripes()
    result = stylize(content, style, steps=8)
    model = build_model(load_vgg19(), content, style)
    c, s = model.losses(result.image)
    assert result.final_losses["content"] == pytest.approx(c.item(), rel=1e-4, abs=1e-6)
    assert result.final_losses["style"] == pytest.approx(s.item(), rel=1e-4)
    assert result.final_losses["total"] <= result.history["total"][0]


def test_content_only_reconstruction_from_noise():
    """Figure 1's top row: no style image at all, only the content loss at one layer."""
    result = stylize(photo_like(), [], steps=10, init="noise", content_layers=["conv2_2"])
    assert result.history["style"] == [0.0] * 10
    assert result.history["content"][-1] < result.history["content"][0] / 2


def test_precision_errors_name_what_to_use_instead():
    with pytest.raises(ValueError, match="CUDA"):
        stylize(photo_like(), stripes(), steps=1, precision="fp16", device="cpu")
    with pytest.raises(ValueError, match="fp32"):
        stylize(photo_like(), stripes(), steps=1, precision="fp64")


@pytest.mark.skipif(not torch.ops.mkldnn._is_mkldnn_bf16_supported(),
                    reason="this CPU has no native bfloat16")
def test_bf16_ends_close_to_fp32_and_reports_float32_losses():
    runs = {p: stylize(photo_like(), stripes(), steps=30, precision=p) for p in ("fp32", "bf16")}
    fp32, bf16 = runs["fp32"].final_losses, runs["bf16"].final_losses
    assert torch.isfinite(runs["bf16"].image).all()
    assert bf16["total"] == pytest.approx(fp32["total"], rel=0.05)
    # final_losses are measured in float32: the returned image scored again in fp32 agrees.
    model = build_model(load_vgg19("original"), photo_like(), stripes())
    with torch.no_grad():
        content, style = model.losses(runs["bf16"].image)
    assert bf16["content"] == pytest.approx(content.item(), rel=1e-5)
    assert bf16["style"] == pytest.approx(style.item(), rel=1e-5)


def test_runs_after_and_before_the_relu_both_work():
    """The default (after the ReLU, as the paper's Caffe code read its layers) and the raw
    convolution outputs (the PyTorch tutorial's taps) both give a working run, and they are
    different runs."""
    images = {}
    for kind in ("relu", "conv"):
        result = stylize(photo_like(64, 80), stripes(), steps=30,
                         content_layers=[f"{kind}4_2"],
                         style_layers=[f"{kind}{b}_1" for b in range(1, 6)])
        assert result.history["style"][-1] < result.history["style"][0] / 5, kind
        images[kind] = result.image
    assert (images["relu"] - images["conv"]).abs().mean() > 1e-3


def test_a_run_that_never_leaves_its_start_says_so():
    """Content and style from the same image, started from it: the loss is already at its
    minimum, no step can lower it, and the caller is told instead of shown a 'result'.
    (In float32: bfloat16's rounding makes the start's loss a little above 0.)"""
    photo = photo_like(48, 64)
    with pytest.warns(RuntimeWarning, match="starting image"):
        stuck = stylize(photo, photo, steps=4, precision="fp32")
    assert stuck.best_step == 0 and not stuck.moved
    assert torch.equal(stuck.image, photo)
    assert stylize(photo, stripes(), steps=4).moved


def test_an_interrupted_run_is_not_told_to_raise_the_style_weight():
    """Ctrl-C after the first evaluation (the starting image's) leaves nothing better than
    the start, but that is because the run was stopped, not because it could not move: no
    warning (CI once saw nst print it beside its one "interrupted" line)."""
    def ctrl_c(step, image, losses):
        raise KeyboardInterrupt

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = stylize(photo_like(48, 64), stripes(), steps=10, callback=ctrl_c)
    assert result.interrupted and result.steps == 1 and not result.moved


def test_stylize_runs_on_the_device_pick_device_picks(monkeypatch):
    """One place decides the device: stylize with no device asks pick_device, the function
    the notebooks' profile line and the CLI use (it used to default to the CPU)."""
    from nst_helpers import transfer
    from nst_helpers.io import profiles

    asked = []

    def spy(requested=None):
        asked.append(requested)
        return profiles.pick_device(requested)

    monkeypatch.setattr(transfer, "pick_device", spy)
    transfer.stylize(photo_like(32, 32), stripes(32, 32), steps=1, weights="random")
    assert asked == [None]
    transfer.stylize(photo_like(32, 32), stripes(32, 32), steps=1, weights="random",
                     device="cpu")
    assert asked == [None, "cpu"]


def test_seconds_per_step_counts_the_steps_alone():
    """Loading VGG19 and building the targets are not a step: seconds_per_step covers only
    the optimisation's steps (before, it was the whole call's time over the steps)."""
    result = stylize(photo_like(48, 48), stripes(48, 48), steps=3, early_stop=None,
                     device="cpu", precision="fp32")
    assert result.steps == 3
    assert 0 < result.seconds_per_step * result.steps == pytest.approx(result.step_seconds)
    assert result.step_seconds < result.seconds


@pytest.mark.parametrize("optimizer", ["lbfgs", "adam"])
def test_a_learning_rate_of_zero_is_refused_not_replaced(optimizer):
    """lr=0 is a value, not "no value": it is refused (the image could not move), where it
    used to be replaced by the default silently."""
    from nst_helpers.loop import make_optimizer

    image = torch.zeros(1, 3, 8, 8, requires_grad=True)
    with pytest.raises(ValueError, match="lr must be above 0"):
        make_optimizer(optimizer, image, 5, 0.0)
    assert make_optimizer(optimizer, image, 5, 0.5).param_groups[0]["lr"] == 0.5
