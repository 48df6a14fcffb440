"""Total variation: its value on images whose answer is known, and that weighting it smooths."""

from __future__ import annotations

import pytest
import torch
from helpers import photo_like, stripes

from nst_helpers.losses import total_variation
from nst_helpers.transfer import stylize


def reference_total_variation(image: torch.Tensor) -> float:
    """The docstring's definition, pixel by pixel in plain Python: the mean squared difference
    over all pairs of horizontal neighbours, plus the same over all pairs of vertical ones."""
    planes = [plane for picture in image.tolist() for plane in picture]  # every (H, W) channel
    horizontal = [(row[x + 1] - row[x]) ** 2 for plane in planes for row in plane
                  for x in range(len(row) - 1)]
    vertical = [(plane[y + 1][x] - plane[y][x]) ** 2 for plane in planes
                for y in range(len(plane) - 1) for x in range(len(plane[0]))]
    return sum(horizontal) / len(horizontal) + sum(vertical) / len(vertical)


def checkerboard(height: int, width: int) -> torch.Tensor:
    """0 and 1 alternating: every pixel differs by exactly 1 from each of its neighbours."""
    y, x = torch.meshgrid(torch.arange(height), torch.arange(width), indexing="ij")
    return ((x + y) % 2).float()


@pytest.mark.parametrize("value", [0.0, 0.3, 1.0])
def test_a_flat_image_has_none(value):
    assert total_variation(torch.full((1, 3, 9, 7), value)).item() == 0


def test_checkerboards():
    """Each neighbour pair differs by the amplitude a, so each mean is a^2 and the sum 2 a^2."""
    board = checkerboard(8, 6)
    assert total_variation(board.expand(1, 3, 8, 6)).item() == pytest.approx(2.0)
    assert total_variation((0.5 + 0.25 * board).expand(1, 3, 8, 6)).item() == pytest.approx(
        2 * 0.25 ** 2)
    red_only = torch.stack([board, torch.zeros(8, 6), torch.zeros(8, 6)]).unsqueeze(0)
    assert total_variation(red_only).item() == pytest.approx(2 / 3)  # a mean over 3 channels


def test_a_ramp_varies_one_way_only():
    width = 11
    ramp = torch.linspace(0, 1, width).expand(1, 3, 5, width)  # steps of 1 / (width - 1)
    assert total_variation(ramp).item() == pytest.approx(1 / (width - 1) ** 2)
    assert total_variation(ramp.transpose(-1, -2)).item() == pytest.approx(1 / (width - 1) ** 2)


def test_any_image_as_the_definition_says():
    image = torch.rand(2, 3, 5, 7, generator=torch.Generator().manual_seed(0))
    assert total_variation(image).item() == pytest.approx(reference_total_variation(image),
                                                          rel=1e-5)


@pytest.mark.parametrize("init, content, style", [
    ("content", photo_like(64, 80), stripes()),
    ("noise", photo_like(72, 64, seed=3), stripes(64, 64, period=5)),
])
def test_weighting_it_smooths_the_result(init, content, style):
    """The same run twice, everything equal but tv_weight: the one that weighs total
    variation ends with less of it (a loop that left it out of the loss it minimises, or
    weighed it wrongly, would not)."""
    plain = stylize(content, style, steps=10, init=init, seed=1)
    smooth = stylize(content, style, steps=10, init=init, seed=1, tv_weight=100.0)
    tv_plain, tv_smooth = total_variation(plain.image).item(), total_variation(smooth.image).item()
    assert tv_smooth < 0.9 * tv_plain, (tv_smooth, tv_plain)
