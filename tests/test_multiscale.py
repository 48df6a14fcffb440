"""Coarse to fine and the style scale."""

from __future__ import annotations

import pytest
import torch
from helpers import photo_like, stripes

from nst_helpers.images import example_image, load_image
from nst_helpers.model import build_model
from nst_helpers.multiscale import (
    coarse_to_fine_sizes,
    cost_in_full_size_steps,
    style_at_scale,
    stylize_multiscale,
)
from nst_helpers.transfer import stylize
from nst_helpers.vgg import load_vgg19


def test_coarse_to_fine_sizes_halve_down_to_128():
    assert coarse_to_fine_sizes(1024) == [128, 256, 512, 1024]
    assert coarse_to_fine_sizes(512) == [128, 256, 512]
    assert coarse_to_fine_sizes(300) == [150, 300]
    assert coarse_to_fine_sizes(200) == [200]
    assert coarse_to_fine_sizes(96, smallest=32) == [48, 96]


def test_cost_counts_steps_at_the_final_size():
    assert cost_in_full_size_steps([128, 256], [100, 50]) == 75.0
    assert cost_in_full_size_steps([256], [40]) == 40.0


def test_style_at_scale_sets_the_style_size_relative_to_the_content():
    style = stripes(120, 90)  # 90 wide, 120 high
    assert style_at_scale(style, 100, 1.0).shape[-2:] == (100, 75)
    assert style_at_scale(style, 100, 0.5).shape[-2:] == (50, 38)
    assert style_at_scale(style, 100, 2.0).shape[-2:] == (200, 150)
    with pytest.raises(ValueError, match="32 px"):
        style_at_scale(style, 100, 0.3)  # 30 x 22: less than VGG19 can read
    for bad in (0, -1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="style scale"):
            style_at_scale(style, 100, bad)


def test_returns_the_requested_size_with_history_across_scales():
    content = photo_like(96, 128)
    seen = []
    result = stylize_multiscale(content, stripes(), sizes=[64, 128], steps=[4, 3],
                                callback=lambda step, image, losses: seen.append(
                                    (step, tuple(image.shape[-2:]))))
    assert result.image.shape == (1, 3, 96, 128)
    assert result.steps == 7 and result.history["size"] == [64] * 4 + [128] * 3
    assert len(result.history["total"]) == 7
    assert [s for s, _ in seen] == list(range(1, 8))  # steps counted across scales
    assert seen[0][1] == (48, 64) and seen[-1][1] == (96, 128)
    assert 0 <= result.image.min() and result.image.max() <= 1
    assert not result.interrupted and result.seconds > 0


def test_coarse_to_fine_is_no_worse_than_single_scale_for_the_same_compute():
    """Same budget, counted in steps at the final size (a step at half the size costs a
    quarter), not in seconds, so a busy machine cannot change the outcome.

    Measured here, at these small sizes the two end about level (6.78 vs 6.68 at 128 px;
    1.20 vs 1.26 at 256 px, chelsea/swirls): coarse to fine is about large structures at
    high resolution, not a shortcut to a lower loss at small sizes.
    """
    content = photo_like(96, 128)
    style = stripes(128, 128)
    single = stylize(content, style, steps=12)
    multi = stylize_multiscale(content, style, sizes=[64, 128], steps=[24, 6])
    assert cost_in_full_size_steps([64, 128], [24, 6]) == 12
    model = build_model(load_vgg19(), content, style)

    def total(image):
        content_loss, style_loss = model.losses(image)
        return (content_loss + 10 * style_loss).item()

    assert total(multi.image) < 1.1 * total(single.image), (total(multi.image),
                                                          total(single.image))


def test_coarse_to_fine_ends_lower_than_single_scale_for_the_same_compute_at_384_px():
    """The bundled photo and painting at 384 px, 40 steps' worth of compute at the final size:
    80 steps at 192 px and 20 at 384 against 40 at 384 (the same time, counted in full-size
    steps so that a busy machine cannot change the outcome).

    Measured here (2 threads): 0.748 in 18.0 s against 0.868 in 18.1 s, so the same wall time
    too (one thread: 0.759 against 0.870; 1.006 against 1.532 for half the budget; at 512 px
    and 40 steps, 0.775 against 0.945). It does not hold for every pair at these sizes:
    chelsea.jpg x cubist.jpg ends 0.949 against 0.858 at 384 px (0.869 with a quarter of the
    budget at the coarse size), so this is a measured property of a real pair, not a law.

    These figures, and this test, are for the earlier defaults (losses before the ReLU, style
    weight 10), passed explicitly. With the defaults after the ReLU (style weight 20) the same
    schedule ends far *higher* (3.40 against 1.34, measured once): coarse to fine does not pay
    there, and nothing here claims it does.
    """
    content = load_image(example_image("coffee"), 384)
    style = load_image(example_image("swirls"), 384)
    before_relu = dict(style_weight=10, content_layers=["conv4_2"],
                       style_layers=[f"conv{block}_1" for block in range(1, 6)])
    single = stylize(content, style, steps=40, **before_relu)
    multi = stylize_multiscale(content, style, sizes=[192, 384], steps=[80, 20], **before_relu)
    assert cost_in_full_size_steps([192, 384], [80, 20]) == 40
    assert multi.image.shape == single.image.shape == content.shape
    assert multi.final_losses["total"] < 0.95 * single.final_losses["total"], (
        multi.final_losses, single.final_losses)


def test_bad_schedules_are_value_errors():
    content, style = photo_like(96, 128), stripes()
    with pytest.raises(ValueError, match="increase"):
        stylize_multiscale(content, style, sizes=[128, 64], steps=1)
    with pytest.raises(ValueError, match="resized down"):
        stylize_multiscale(content, style, sizes=[64, 256], steps=1)
    with pytest.raises(ValueError, match="one number"):
        stylize_multiscale(content, style, sizes=[64, 128], steps=[1, 2, 3])
    with pytest.raises(ValueError, match="32"):
        stylize_multiscale(content, style, sizes=[40, 128], steps=1)  # content 30 px high
    with pytest.raises(ValueError, match="style scale"):
        stylize_multiscale(content, style, sizes=[64, 128], steps=1, style_scale=0.4)
    with pytest.raises(ValueError, match="blend"):
        stylize_multiscale(content, [style, style], sizes=[64, 128], steps=1, style_blend=[1])


def test_interrupted_at_a_fine_scale_still_returns_the_final_size():
    def interrupt(step, image, losses):
        if step == 5:
            raise KeyboardInterrupt

    result = stylize_multiscale(photo_like(96, 128), stripes(), sizes=[64, 128], steps=[3, 10],
                                callback=interrupt)
    assert result.interrupted and result.steps == 5
    assert result.image.shape == (1, 3, 96, 128)
    assert torch.isfinite(result.image).all()


def test_stopped_before_the_last_scale_an_odd_size_still_comes_back_exactly():
    """71 px halved is 36 (35.5 rounds to 36) and doubled is 72: the result must still be
    the content's own 71 x 128, not one pixel off."""
    def interrupt(step, image, losses):
        if step == 2:
            raise KeyboardInterrupt

    content = photo_like(71, 128)
    result = stylize_multiscale(content, stripes(), sizes=[64, 128], steps=[3, 3],
                                callback=interrupt)
    assert result.interrupted and result.final_losses == {}
    assert result.image.shape == (1, 3, 71, 128)


def test_upscale_with_detail_adds_back_what_the_coarse_size_lacked():
    from nst_helpers.images import resize
    from nst_helpers.multiscale import upscale_with_detail

    content = photo_like(96, 128)
    coarse_content = resize(content, 64)
    # The coarse content itself comes back as the full content: the detail is exactly what
    # upscaling lost.
    back = upscale_with_detail(coarse_content, coarse_content, content)
    assert back.shape == content.shape and torch.allclose(back, content, atol=1e-6)
    # A coarse result comes back at the next size, in range, and not merely upscaled.
    coarse_result = (coarse_content * 0.5 + 0.25).clamp(0, 1)
    up = upscale_with_detail(coarse_result, coarse_content, content)
    assert up.shape == content.shape and 0 <= up.min() and up.max() <= 1
    plain = resize(coarse_result, 128)
    assert not torch.allclose(up, plain)
    # Odd sizes: 341 px halved is 170, and doubled 340; the result still has the content's shape.
    odd = torch.rand(1, 3, 341, 512, generator=torch.Generator().manual_seed(0))
    half = resize(odd, 256)
    assert upscale_with_detail(half, half, odd).shape == odd.shape
