"""The command line's controls: several styles, colour, scale, layers and coarse to fine, run
in this process (``nst_helpers.cli.main``: the ``cli`` fixture)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image
from test_cli import one_line_error

from nst_helpers.engine.precision import resolve_precision
from nst_helpers.loop import STOP_WINDOW


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    """A photo and two paintings made here: diagonal stripes and green blobs."""
    folder = tmp_path_factory.mktemp("controls")
    y, x = np.mgrid[0:90, 0:120]
    photo = np.stack([x * 2, y * 2, 255 - x - y], axis=-1).clip(0, 255).astype(np.uint8)
    Image.fromarray(photo).save(folder / "photo.png")
    stripes = ((np.sin((x + y) / 3.0) > 0)[..., None] * np.array([200, 30, 160])).astype(np.uint8)
    Image.fromarray(stripes[:80, :80]).save(folder / "a.png")
    blobs = (np.sin(x / 5.0) * np.sin(y / 5.0) > 0.2)[..., None] * np.array([20, 220, 60])
    Image.fromarray(blobs.astype(np.uint8)[:80, :80]).save(folder / "b.png")
    return folder / "photo.png", folder / "a.png", folder / "b.png"


def test_two_styles_colour_and_coarse_to_fine_in_one_run(images, tmp_path, cli):
    photo, a, b = images
    out = tmp_path / "out.png"
    proc = cli(photo, "--style", a, b, "--style-blend", "0.7", "0.3", "--preserve-color",
               "luminance", "--size", "96", "--scales", "48", "--steps", "3",
               "--style-layer-weights", "1", "1", "1", "1", "2", "--pooling", "avg", "--json",
               "-o", out, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["size"] == [96, 72] and Image.open(out).size == (96, 72)
    assert report["steps"] == 6 and report["scales"] == [48, 96]
    assert report["seconds_per_step"] > 0  # the steps of both scales (was 0 with --scales)
    assert report["styles"] == [str(a), str(b)] and report["style_blend"] == [0.7, 0.3]
    assert report["preserve_color"] == "luminance" and report["pooling"] == "avg"
    assert report["style_layer_weights"] == [1, 1, 1, 1, 2]
    # Luminance-only transfer keeps the photo's colours: no magenta or green took over.
    result = np.asarray(Image.open(out).convert("RGB"), dtype=float)
    original = np.asarray(Image.open(photo).convert("RGB").resize((96, 72)), dtype=float)
    chroma = lambda im: im - im.mean(axis=2, keepdims=True)  # noqa: E731
    assert np.abs(chroma(result) - chroma(original)).mean() < 12


def test_coarse_to_fine_picks_sizes_and_halving_steps(images, tmp_path, cli):
    """``nst --size 256 --coarse-to-fine`` runs 128 then 256 px, up to --steps steps and then
    half as many (but at least 50, or --steps); without it every step is at 256 px."""
    photo, a, _ = images
    common = [photo, a, "--size", "256", "--steps", "4", "--json"]
    proc = cli(*common, "--coarse-to-fine", "-o", tmp_path / "c2f.png", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["scales"] == [128, 256] and report["steps"] == 4 + 4
    assert report["size"] == [256, 192] and Image.open(tmp_path / "c2f.png").size == (256, 192)
    proc = cli(*common, "-o", tmp_path / "one.png", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["scales"] == [256] and report["steps"] == 4


def test_positional_style_still_works_with_the_new_options(images, tmp_path, cli):
    photo, a, _ = images
    proc = cli(photo, a, "--style-scale", "0.5", "--content-layers", "conv3_2", "--style-layers",
               "conv1_1", "conv2_1", "--steps", "2", "--size", "96", "--json",
               "-o", tmp_path / "o.png", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["style_scale"] == 0.5 and report["content_layers"] == ["conv3_2"]
    assert report["styles"] == [str(a)] and report["scales"] == [96]
    assert report["precision"] == resolve_precision("auto", report["device"])


@pytest.mark.parametrize("case", ["both_styles", "blend_count", "blend_zero", "tiny_style",
                                  "unknown_layer", "layer_weights", "scales_order",
                                  "scales_and_auto", "scale_zero", "twice"])
def test_bad_combinations_give_exit_2_and_one_line(case, images, tmp_path, cli):
    photo, a, b = images
    args, word = {
        "both_styles": ([photo, a, "--style", b], "--style"),
        "blend_count": ([photo, "--style", a, b, "--style-blend", "1"], "--style-blend"),
        "blend_zero": ([photo, "--style", a, b, "--style-blend", "0", "0"], "--style-blend"),
        "tiny_style": ([photo, a, "--size", "96", "--style-scale", "0.2"], "--style-scale"),
        "unknown_layer": ([photo, a, "--style-layers", "conv1_1", "conv6_1"], "conv6_1"),
        "layer_weights": ([photo, a, "--style-layer-weights", "1", "2"], "--style-layer-weights"),
        "scales_order": ([photo, a, "--size", "96", "--scales", "64", "48"], "--scales"),
        "scales_and_auto": ([photo, a, "--scales", "48", "--coarse-to-fine"], "--coarse-to-fine"),
        "scale_zero": ([photo, a, "--style-scale", "0"], "--style-scale"),
        "twice": ([photo, a, "--content-layers", "conv4_2", "conv4_2"], "--content-layers"),
    }[case]
    one_line_error(cli(*args, "-o", tmp_path / "o.png", cwd=tmp_path), word)


def test_the_stopping_rule_reaches_every_scale(images, tmp_path, cli):
    """Coarse to fine: each scale is a run of its own, and the rule can end each one. A
    fraction no improvement can reach ends both at their first chance."""
    photo, a, _ = images
    asked = STOP_WINDOW + 3
    proc = cli(photo, a, "--size", "96", "--scales", "48", "--steps", str(asked),
               "--early-stop", "1e9", "--json", "-o", tmp_path / "o.png", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["scales"] == [48, 96] and report["size"] == [96, 72]
    assert report["steps"] == 2 * (STOP_WINDOW + 1) and report["stopped_early"] is True
