"""Keeping the content's colours: the colour maths, and stylize(preserve_color=...) end to end."""

from __future__ import annotations

import pytest
import torch
from helpers import photo_like, stripes

from nst_helpers.color import (
    chroma_distance,
    combine_luminance_chroma,
    grey,
    luminance,
    luminance_only_inputs,
    match_color_histogram,
    match_luminance,
    rgb_to_yiq,
    yiq_to_rgb,
)
from nst_helpers.io.images import example_image, load_image
from nst_helpers.model import build_model
from nst_helpers.transfer import stylize
from nst_helpers.vgg import load_vgg19


def _mean_cov(image):
    pixels = image.double().reshape(3, -1)
    return pixels.mean(1), torch.cov(pixels)


def test_yiq_round_trip_and_grey_has_no_chroma():
    image = photo_like()
    assert torch.allclose(yiq_to_rgb(rgb_to_yiq(image)), image, atol=1e-5)
    flat = torch.full((1, 3, 8, 8), 0.4)
    yiq = rgb_to_yiq(flat)
    assert torch.allclose(yiq[:, 0], torch.full((1, 8, 8), 0.4), atol=1e-5)
    assert yiq[:, 1:].abs().max() < 1e-5
    assert grey(luminance(image)).shape == (1, 3, 64, 80)
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\)"):
        rgb_to_yiq(torch.rand(3, 8, 8))


def test_match_luminance_matches_mean_and_std():
    style = luminance(stripes()) * 0.5 + 0.1
    content = luminance(photo_like())
    matched = match_luminance(style, content)
    assert matched.shape == style.shape
    assert matched.mean().item() == pytest.approx(content.mean().item(), abs=0.01)
    assert matched.std().item() == pytest.approx(content.std().item(), rel=0.05)


@pytest.mark.parametrize("method", ["eigh", "cholesky"])
def test_histogram_matching_gives_the_content_colour_mean_and_covariance(method):
    noise = torch.rand((1, 3, 72, 56), generator=torch.Generator().manual_seed(0))
    style = 0.15 + 0.2 * stripes() + 0.2 * noise  # full-rank colours in [0.15, 0.55]
    content = photo_like()
    matched = match_color_histogram(style, content, method=method)
    assert matched.shape == style.shape
    mean_m, cov_m = _mean_cov(matched)
    mean_c, cov_c = _mean_cov(content)
    mean_s, _ = _mean_cov(style)
    assert torch.allclose(mean_m, mean_c, atol=0.02), (mean_m, mean_c)
    assert torch.allclose(cov_m, cov_c, atol=2e-3), (cov_m, cov_c)
    assert (mean_s - mean_c).abs().max() > 0.1  # it did have something to move


def test_histogram_matching_rejects_an_unknown_method():
    with pytest.raises(ValueError, match="eigh"):
        match_color_histogram(stripes(), photo_like(), method="lab")


def test_combining_takes_luminance_from_one_image_and_chroma_from_the_other():
    content = photo_like()
    styled = 0.2 + 0.6 * torch.nn.functional.interpolate(stripes(), size=(64, 80))
    combined = combine_luminance_chroma(styled, content)
    assert chroma_distance(combined, content) < 0.01
    assert chroma_distance(styled, content) > 0.1
    assert (luminance(combined) - luminance(styled)).abs().mean() < 0.02
    with pytest.raises(ValueError, match="same size"):
        combine_luminance_chroma(stripes(), content)


def test_luminance_only_inputs_are_grey():
    content_grey, (style_grey,) = luminance_only_inputs(photo_like(), [stripes()])
    assert chroma_distance(content_grey, torch.full_like(content_grey, 0.5)) < 1e-5
    assert chroma_distance(style_grey, torch.full_like(style_grey, 0.5)) < 1e-5
    assert style_grey.shape == stripes().shape


@pytest.fixture(scope="module")
def runs():
    # The bundled cat and the blue-and-yellow swirls: colours far apart, as in the notebook.
    content = load_image(example_image("chelsea"), size=64)
    style = load_image(example_image("swirls"), size=64)
    return content, style, {mode: stylize(content, style, steps=20, preserve_color=mode)
                            for mode in ("none", "luminance", "histogram")}


def test_preserving_colour_keeps_the_content_chroma(runs):
    content, _, results = runs
    plain = chroma_distance(results["none"].image, content)
    lum = chroma_distance(results["luminance"].image, content)
    hist = chroma_distance(results["histogram"].image, content)
    assert plain > 0.05, plain  # the painting's blue and yellow took over
    assert lum < 0.1 * plain, (lum, plain)  # only clipping at the gamut's edge differs
    assert hist < 0.5 * plain, (hist, plain)
    for result in results.values():
        assert result.image.shape == content.shape
        assert 0 <= result.image.min() and result.image.max() <= 1


def test_luminance_only_transfer_puts_the_style_into_the_luminance(runs):
    content, style, results = runs
    content_grey, style_greys = luminance_only_inputs(content, [style])
    model = build_model(load_vgg19(), content_grey, style_greys)
    _, before = model.losses(content_grey)
    _, after = model.losses(grey(luminance(results["luminance"].image)))
    assert after < 0.5 * before, (after.item(), before.item())


def test_unknown_preserve_color_is_a_value_error():
    with pytest.raises(ValueError, match="preserve_color"):
        stylize(photo_like(), stripes(), steps=1, preserve_color="yes")
