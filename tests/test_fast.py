"""The network that paints in one pass (nst_helpers.fast, notebook 08, nst --fast)."""

from __future__ import annotations

import functools
import json
import random
import sys
import time
from pathlib import Path

import pytest
import torch
from helpers import child_env, photo_like, run, run_main, stripes

from nst_helpers.fast import PerceptualLoss, TransformerNet, load_network, stylize_fast
from nst_helpers.io.images import example_image, load_image, save_image
from nst_helpers.io.networks import NetworkError, read_checkpoint, shipped_networks
from nst_helpers.io.photos import PhotoFolder
from nst_helpers.model import build_model
from nst_helpers.training import train
from nst_helpers.vgg import load_vgg19


@pytest.fixture(scope="module")
def vgg():
    return load_vgg19()


@pytest.fixture
def photo_folder(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    for seed in range(2):
        save_image(photo_like(96, 120, seed=seed), folder / f"photo{seed}.png")
    return folder


def test_the_network_keeps_any_shape_and_stays_in_range():
    net = TransformerNet().eval()
    for h, w in ((37, 50), (64, 64), (33, 130)):
        with torch.no_grad():
            out = net(torch.rand(1, 3, h, w))
        assert out.shape == (1, 3, h, w)
        assert 0 <= out.min() and out.max() <= 1


def test_the_copy_that_paints_computes_the_same_and_keeps_channels_last():
    """inference_copy's GroupNorm(C, C) is the network's InstanceNorm2d: the same output with
    random norm parameters; each keeps a channels-last tensor channels-last (what makes the
    network fast on a CPU; InstanceNorm2d does not); the caller's network is unchanged."""
    from torch import nn

    from nst_helpers.fast import inference_copy

    torch.manual_seed(0)
    network = TransformerNet().eval()
    with torch.no_grad():
        for m in network.modules():
            if isinstance(m, nn.InstanceNorm2d):
                m.weight.normal_(), m.bias.normal_()
    fast = inference_copy(network)
    x = torch.rand(1, 3, 37, 50)
    with torch.no_grad():
        torch.testing.assert_close(fast(x), network(x), atol=1e-5, rtol=1e-5)
    norms = [m for m in fast.modules() if isinstance(m, nn.GroupNorm)]
    assert len(norms) == 15 and not any(isinstance(m, nn.InstanceNorm2d) for m in fast.modules())
    assert sum(isinstance(m, nn.InstanceNorm2d) for m in network.modules()) == 15
    for norm in norms:
        x_last = torch.randn(1, norm.num_channels, 9, 11).contiguous(
            memory_format=torch.channels_last)
        assert norm(x_last).is_contiguous(memory_format=torch.channels_last)


def test_bfloat16_paints_what_float32_paints(vgg, monkeypatch):
    """The shipped network run wholly in bfloat16 (the default where a CPU has it) gives the
    losses float32 gives, to 1 %, and the same picture to a few grey levels."""
    # bf16 is refused on a CPU without it natively (it would be slow); the numbers are the same
    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: True)
    photo = load_image(example_image("chelsea"), 192)
    style = load_image(example_image("starry_night"), 192)
    network = load_network("starry_night")
    fp32 = stylize_fast(photo, network, precision="fp32")
    bf16 = stylize_fast(photo, network, precision="bf16")
    assert bf16.dtype == torch.float32 and bf16.shape == fp32.shape
    assert (bf16 - fp32).abs().mean() < 2 / 255
    loss = PerceptualLoss(vgg, style)
    for ours, reference in zip(loss(bf16, photo), loss(fp32, photo)):
        assert ours.item() == pytest.approx(reference.item(), rel=0.01)
    assert next(network.parameters()).dtype == torch.float32  # the caller's network unchanged


def test_the_loss_is_the_packages_loss_for_one_image(vgg):
    """PerceptualLoss with a batch of one gives the numbers build_model's network gives."""
    photo, style = photo_like(64, 80), stripes()
    output = photo_like(64, 80, seed=3)
    content, style_loss = PerceptualLoss(vgg, style)(output, photo)
    model = build_model(vgg, photo, style)
    expected_content, expected_style = model.losses(output)
    assert content.item() == pytest.approx(expected_content.item(), rel=1e-5)
    assert style_loss.item() == pytest.approx(expected_style.item(), rel=1e-5)


def test_training_lowers_the_loss(vgg, photo_folder):
    photos = PhotoFolder(photo_folder, log=lambda line: None)
    style = load_image(example_image("starry_night"), 96)
    loss = PerceptualLoss(vgg, style)
    torch.manual_seed(0)
    net = TransformerNet()
    batch = photos.batch(2, 48, random.Random(1))

    def total(network):
        with torch.no_grad():
            c, s = loss(network(batch), batch)
        return (c + 10 * s).item()

    before = total(net)
    result = train(photos, style, steps=10, batch_size=2, size=48, vgg=vgg,
                   network=net, log=lambda line: None, precision="fp32")
    assert result.steps == 10 and not result.interrupted
    assert total(result.network) < 0.8 * before


@pytest.mark.skipif(not hasattr(torch.amp, "GradScaler"), reason="torch.amp.GradScaler: 2.3+")
def test_float16_training_with_its_gradient_scaler_lowers_the_loss(vgg, photo_folder,
                                                                  monkeypatch):
    """precision="fp16" is for a CUDA GPU (the T4's tensor cores); this CPU runs the same
    loop, float16 autocast and torch.amp.GradScaler, once the gate that keeps fp16 to CUDA is
    opened. tests/test_cuda.py runs it on a GPU."""
    import nst_helpers.training as training

    photos = PhotoFolder(photo_folder, log=lambda line: None)
    style = load_image(example_image("starry_night"), 96)
    with pytest.raises(ValueError, match="CUDA"):  # the gate, on this CPU
        train(photos, style, steps=1, batch_size=1, size=32, vgg=vgg, precision="fp16")
    monkeypatch.setattr(training, "network_dtype", lambda precision, device: torch.float16)
    seen = []
    result = train(photos, style, steps=12, batch_size=2, size=48, vgg=vgg, log_every=1,
                   log=seen.append, precision="fp16")
    first, last = result.history[0], result.history[-1]
    assert last[1] + 10 * last[2] < 0.8 * (first[1] + 10 * first[2])
    assert all(p.dtype == torch.float32 for p in result.network.parameters())  # weights fp32


def test_checkpoints_resume_and_ctrl_c_keeps_the_last_one(vgg, photo_folder, tmp_path):
    photos = PhotoFolder(photo_folder, log=lambda line: None)
    ckpt = tmp_path / "net.pt"
    lines = []

    def stop_at_step_3(line):
        lines.append(line)
        if line.startswith("step 3/"):
            raise KeyboardInterrupt

    result = train(photos, stripes(), steps=6, batch_size=1, size=48, vgg=vgg, log_every=1,
                   checkpoint=ckpt, checkpoint_every=2, log=stop_at_step_3, precision="fp32")
    assert result.interrupted
    assert read_checkpoint(ckpt)["step"] == 2  # the last good one, not the interrupted step
    assert "interrupted at step 3" in lines[-1] and len(lines[-1].splitlines()) == 1
    lines.clear()
    result = train(photos, stripes(), steps=4, batch_size=1, size=48, vgg=vgg, log_every=1,
                   checkpoint=ckpt, checkpoint_every=2, log=lines.append, precision="fp32",
                   recipe={"size": 48, "command": "resumed"})
    assert lines[0] == f"resumed from {ckpt} at step 2"
    assert result.steps == 4 and read_checkpoint(ckpt)["step"] == 4
    load_network(ckpt)  # a training checkpoint is a usable network
    # Each stretch of training keeps its recipe: a resume that trains differently adds one.
    assert [p["from_step"] for p in read_checkpoint(ckpt)["phases"]] == [0, 2]
    train(photos, stripes(), steps=5, batch_size=1, size=48, vgg=vgg, checkpoint=ckpt,
          log=lines.append, precision="fp32", recipe={"size": 48, "command": "other threads"})
    phases = read_checkpoint(ckpt)["phases"]
    assert [(p["from_step"], p["size"]) for p in phases[1:]] == [(2, 48)]  # the same recipe
    # and each stretch's time, the runs of one stretch added up: one said to have taken 1,000 s
    assert all(p["train_seconds"] >= 0 for p in phases)
    state = read_checkpoint(ckpt)
    state["phases"][1]["train_seconds"] = 1000.0
    torch.save(state, ckpt)
    began = time.perf_counter()
    train(photos, stripes(), steps=6, batch_size=1, size=48, vgg=vgg, checkpoint=ckpt,
          log=lines.append, precision="fp32", recipe={"size": 48, "command": "again"})
    seconds = read_checkpoint(ckpt)["phases"][1]["train_seconds"]
    assert 1000 <= seconds <= 1000 + time.perf_counter() - began + 0.1


def test_prefetched_batches_are_the_same_batches_and_closing_stops_the_thread(photo_folder):
    """What train does on a GPU: a thread reads and crops ahead. The batches are those read
    one by one (photos decoded from disk at each batch, as a dataset's are, or kept in
    memory); closing stops the thread; an error in the thread is raised at its batch."""
    import threading

    from nst_helpers.io.images import ImageError

    def reading_threads():
        return [t for t in threading.enumerate() if t.name.startswith("nst-photo-batches")]

    on_disk = PhotoFolder(photo_folder, in_memory=0, log=lambda line: None)
    in_memory = PhotoFolder(photo_folder, log=lambda line: None)
    assert not on_disk.photos and len(in_memory.photos) == 2
    expected = [in_memory.batch(2, 40, rng) for rng in [random.Random(7)] for _ in range(5)]
    batches = on_disk.batches(2, 40, random.Random(7), prefetch=2)
    got = [next(batches) for _ in range(5)]
    assert len(reading_threads()) == 1
    batches.close()
    assert not reading_threads()
    assert all(torch.equal(a, b) for a, b in zip(expected, got))
    (photo_folder / "photo0.png").write_bytes(b"damaged after the folder was read")
    (photo_folder / "photo1.png").write_bytes(b"damaged after the folder was read")
    batches = on_disk.batches(1, 40, random.Random(0), prefetch=2)
    with pytest.raises(ImageError) as err:
        next(batches)
    [line] = str(err.value).splitlines()  # the path is long here: one line, not a short one
    assert "photo" in line and "not a readable image" in line
    batches.close()
    assert not reading_threads()


def test_a_diverging_run_stops_in_one_line_and_never_saves_a_checkpoint_of_nans(
        tmp_path, monkeypatch, capfd):
    """``python -m nst_helpers.cli.train`` with an absurd learning rate: the loss is finite
    at step 1 (saved), NaN by step 2: exit 4 with one line, the checkpoint still step 1."""
    from nst_helpers.cli.train import main

    monkeypatch.chdir(tmp_path)
    ckpt = tmp_path / "n.pt"
    done = run_main(main, ["--style", "starry_night", "--style-size", "64", "--size", "48",
                           "--batch-size", "1", "--steps", "4", "--lr", "1e30",
                           "--checkpoint-every", "1", "--precision", "fp32", "-o", ckpt], capfd)
    assert done.returncode == 4, done.stderr
    [line] = done.stderr.strip().splitlines()
    assert "nan" in line and "lower lr" in line and "Traceback" not in done.stderr
    state = read_checkpoint(ckpt)
    assert state["step"] == 1
    assert all(torch.isfinite(t).all() for t in state["state_dict"].values())


def test_a_time_budget_stops_training_at_its_step_and_saves_it(tmp_path, monkeypatch, capfd):
    """--minutes (train's max_minutes, which COCO_T4_RECIPE sets): a budget of 6 ms is spent
    by the first step, which is saved; exit 0 with a line that says so; running the command
    again goes on from there."""
    from nst_helpers.cli.train import main

    monkeypatch.chdir(tmp_path)
    ckpt = tmp_path / "n.pt"
    args = ["--style", "starry_night", "--style-size", "64", "--size", "48",
            "--batch-size", "1", "--steps", "50", "--minutes", "0.0001", "-o", ckpt]
    done = run_main(main, args, capfd)
    assert done.returncode == 0, done.stderr
    assert "stopped at step 1: the 0.0001 minutes are up" in done.stdout
    assert read_checkpoint(ckpt)["step"] == 1
    done = run_main(main, args, capfd)
    assert "resumed from" in done.stdout and read_checkpoint(ckpt)["step"] == 2
    done = run_main(main, [*args[:-4], "--minutes", "0", "-o", ckpt], capfd)
    [line] = done.stderr.splitlines()  # one line, no usage dump
    assert done.returncode == 2 and "--minutes: expected a finite number > 0, got 0" in line


def test_init_starts_training_from_a_trained_network(tmp_path, monkeypatch, capfd):
    """--init starry_night: one step of Adam (lr 1e-3) moves each weight by about 1e-3, so the
    checkpoint is next to the shipped network, far from where random weights would start; the
    recipe says where it started. A network that does not exist is one line, exit 2."""
    from nst_helpers.cli.train import main

    monkeypatch.chdir(tmp_path)
    ckpt = tmp_path / "n.pt"
    done = run_main(main, ["--style", "great_wave", "--init", "starry_night", "--style-size",
                           "64", "--size", "48", "--batch-size", "1", "--steps", "1", "-o", ckpt],
                    capfd)
    assert done.returncode == 0, done.stderr
    shipped = load_network("starry_night").state_dict()
    state = read_checkpoint(ckpt)
    moved = max((state["state_dict"][k] - v).abs().max().item() for k, v in shipped.items())
    torch.manual_seed(0)
    fresh = TransformerNet().state_dict()
    apart = max((fresh[k] - v).abs().max().item() for k, v in shipped.items())
    assert moved < 0.01 < apart
    assert state["recipe"]["init"] == "starry_night"
    done = run_main(main, ["--style", "great_wave", "--init", "no_such_network",
                           "-o", tmp_path / "m.pt"], capfd)
    assert done.returncode == 2 and "no_such_network" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and not (tmp_path / "m.pt").exists()


@pytest.mark.slow
def test_the_training_command_is_cli_train_and_fast_says_so_in_one_line(tmp_path):
    """``python -m nst_helpers.cli.train`` answers --help with the training flags and refuses
    a bad flag in one line (exit 2); ``python -m nst_helpers.fast`` (the command's old name)
    is refused in one line that names the new one (exit 2), whatever its arguments."""
    root = Path(__file__).resolve().parent.parent

    def command(*args):
        return run([sys.executable, "-m", *args], cwd=root, env=child_env(), timeout=120)

    done = command("nst_helpers.cli.train", "--help")
    assert done.returncode == 0, done.stderr
    assert "usage: python -m nst_helpers.cli.train" in done.stdout
    for flag in ("--style", "--data", "--output", "--steps", "--batch-size", "--size",
                 "--style-size", "--checkpoint-every", "--style-weight", "--lr", "--seed",
                 "--precision", "--device", "--threads", "--minutes", "--no-resume", "--init"):
        assert flag in done.stdout, flag
    done = command("nst_helpers.cli.train", "--style", "starry_night", "--steps", "0",
                   "-o", str(tmp_path / "n.pt"))
    [line] = done.stderr.strip().splitlines()
    assert done.returncode == 2 and line.startswith("python -m nst_helpers.cli.train: error:")
    assert "--steps" in line and not (tmp_path / "n.pt").exists()
    for args in (["train", "--help"], []):
        done = command("nst_helpers.fast", *args)
        [line] = done.stderr.strip().splitlines()
        assert done.returncode == 2 and "python -m nst_helpers.cli.train" in line, done.stderr
        assert done.stdout == ""


def test_out_of_gpu_memory_in_training_is_one_line_with_exit_3(tmp_path, capfd, monkeypatch):
    """No GPU here: the training function given to the command line runs out of memory as a
    GPU's would (torch.cuda.OutOfMemoryError), the rest of the command is real. The command
    asks nst's is_out_of_memory, so a CPU's or an MPS device's out of memory is the same line."""
    from nst_helpers import training
    from nst_helpers.cli.train import main as train_main

    for error in (torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"),
                  RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried to "
                               "allocate 8589934592 bytes")):
        def out_of_memory(*args, error=error, **kwargs):
            raise error

        monkeypatch.setattr(training, "train", functools.wraps(training.train)(out_of_memory))
        done = run_main(train_main, ["--style", "starry_night", "--batch-size", "8",
                                     "--size", "256", "-o", tmp_path / "n.pt"], capfd)
        assert done.returncode == 3
        [line] = done.stderr.strip().splitlines()
        assert "8 crops of 256 px" in line and "--batch-size" in line


def one_line(err) -> str:
    text = str(err.value)
    assert len(text.splitlines()) == 1 and len(text) < 200
    return text


def test_a_corrupt_or_foreign_network_file_is_refused_in_one_line(tmp_path):
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a network at all")
    foreign = tmp_path / "foreign.pt"
    torch.save({"weight": torch.zeros(3)}, foreign)
    truncated = tmp_path / "truncated.pt"
    net_file = tmp_path / "net.pt"
    from nst_helpers.io.networks import save_network
    save_network(net_file, TransformerNet())
    truncated.write_bytes(net_file.read_bytes()[:5000])
    for path in (garbage, foreign, truncated, example_image("chelsea"), tmp_path / "none.pt"):
        with pytest.raises(NetworkError) as err:
            load_network(path)
        assert path.name in one_line(err)
    with pytest.raises(NetworkError) as err:
        load_network("no_such_style")
    assert "starry_night" in one_line(err)


def test_photo_folder_refuses_missing_or_empty_and_skips_non_images(tmp_path, photo_folder):
    with pytest.raises(ValueError) as err:
        PhotoFolder(tmp_path / "missing")
    assert "missing" in one_line(err)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError) as err:
        PhotoFolder(tmp_path / "empty")
    assert "no image" in one_line(err)
    (photo_folder / "notes.txt").write_text("not a photo")
    (photo_folder / "broken.jpg").write_bytes(b"\xff\xd8 truncated")
    lines = []
    photos = PhotoFolder(photo_folder, log=lines.append)
    assert len(photos) == 2
    assert len(lines) == 2 and all(line.startswith("skipped ") for line in lines)
    assert all(len(line.splitlines()) == 1 for line in lines)


@pytest.mark.parametrize("name", ["starry_night", "great_wave"])
def test_the_shipped_network_paints(vgg, name):
    """On a photo it never saw (a made-up one), its style loss is under 0.45 of the photo's own
    (0.27 for starry_night, 0.36 for great_wave here, where a random network gives about 0.8),
    and under 0.75 of what the *other* style's network gives (about 0.6): it paints its own
    style. It stays nearer the photo than the painting is; the command line's help names it."""
    from nst_helpers.cli.args import build_parser
    from nst_helpers.io.images import resize_to

    assert name in shipped_networks() and name in build_parser().format_help()
    photo = photo_like(192, 256, seed=7)
    style = load_image(example_image(name), 256)
    painted = stylize_fast(photo, name)
    other = stylize_fast(photo, "great_wave" if name == "starry_night" else "starry_night")
    assert painted.shape == photo.shape
    loss = PerceptualLoss(vgg, style)
    with torch.no_grad():
        _, photo_style = loss(photo, photo)
        content, painted_style = loss(painted, photo)
        _, other_style = loss(other, photo)
        painting_content, _ = loss(resize_to(style, photo.shape[-2:]), photo)
    assert painted_style.item() < 0.45 * photo_style.item()
    assert painted_style.item() < 0.75 * other_style.item()
    assert content.item() < painting_content.item()
    print(f"style {painted_style.item() / photo_style.item():.2f} of the photo's; content "
          f"{content.item() / painting_content.item():.2f} of the painting's")


def test_cli_fast_writes_the_image_and_reports_seconds(tmp_path, cli):
    """nst --fast, in this process (``nst_helpers.cli.main``), with no profile set."""
    out = tmp_path / "out.png"
    done = cli(example_image("chelsea"), "--fast", "starry_night", "--size", "96", "-o", out,
               "--json", NST_QUICK=None)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["seconds"] > 0 and report["width"] == 96 and report["exit_code"] == 0
    assert load_image(out).shape[-1] == 96


@pytest.mark.parametrize("extra", [["--fast", "no_such_style"], ["--fast", "BAD"],
                                   ["x.jpg", "--fast", "starry_night"]])
def test_cli_fast_refuses_bad_input_with_exit_2_and_one_line(tmp_path, extra, cli):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"\x00" * 100)
    extra = [str(bad) if e == "BAD" else e for e in extra]
    done = cli(example_image("chelsea"), *extra, "-o", tmp_path / "o.png", NST_QUICK=None)
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1 and done.stderr.startswith("nst: error:")
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "o.png").exists()


def test_cli_fast_paints_a_folder_and_skips_what_is_not_an_image(tmp_path, cli):
    """nst FOLDER --fast NETWORK -o OUT: one PNG per image, in name order; a file that is not
    an image is skipped with one line, and the JSON report lists both."""
    folder = tmp_path / "photos"
    folder.mkdir()
    save_image(photo_like(64, 96, seed=1), folder / "b.png")
    save_image(stripes(72, 56), folder / "a.jpg")
    (folder / "notes.txt").write_text("not a photo")
    out = tmp_path / "painted"
    done = cli(folder, "--fast", "starry_night", "-o", out, "--json", NST_QUICK=None)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert [Path(i["output"]).name for i in report["images"]] == ["a.png", "b.png"]
    assert report["skipped"] == ["notes.txt"] and report["exit_code"] == 0
    assert all(i["seconds"] > 0 for i in report["images"])
    b, a = load_image(out / "b.png").shape[-2:], load_image(out / "a.png").shape[-2:]
    assert max(b) == max(a) == 512 and b[1] > b[0] and a[0] > a[1]  # the network's trained size
    notes = [line for line in done.stderr.splitlines() if line.startswith("nst:")]
    assert len(notes) == 2 and "painted at 512 px" in notes[0], notes  # once, for the folder
    assert "skipped" in notes[1] and "notes.txt" in notes[1]
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("case", ["empty", "no image", "-o a file", "-o the folder"])
def test_cli_fast_refuses_a_folder_it_cannot_paint_in_one_line(tmp_path, cli, case):
    folder = tmp_path / "photos"
    folder.mkdir()
    if case != "empty":
        (folder / "notes.txt").write_text("not a photo")
    if case.startswith("-o"):
        save_image(photo_like(32, 32), folder / "a.png")
    out = {"-o a file": tmp_path / "out.png", "-o the folder": folder}.get(case, tmp_path / "o")
    done = cli(folder, "--fast", "starry_night", "-o", out, NST_QUICK=None)
    assert done.returncode == 2, done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("nst: error:")]
    assert len(errors) == 1 and "Traceback" not in done.stderr
    assert not (tmp_path / "o").exists() and not (tmp_path / "out.png").exists()
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        {"empty": [], "no image": ["notes.txt"]}.get(case, ["a.png", "notes.txt"]))


def test_a_folder_without_fast_is_refused_with_a_line_that_points_to_fast(tmp_path, cli):
    folder = tmp_path / "photos"
    folder.mkdir()
    save_image(photo_like(32, 32), folder / "a.png")
    done = cli(folder, example_image("starry_night"), "-o", tmp_path / "o.png")
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1
    assert "is a folder" in done.stderr and "--fast" in done.stderr


def test_cli_fast_says_in_a_note_when_it_upscales_a_tiny_photo(tmp_path, cli):
    """A photo under VGG19's 32 px is upscaled, as for the optimisation: one 'nst: note:'
    line, not a Python warning with its source line."""
    folder = tmp_path / "photos"
    folder.mkdir()
    save_image(photo_like(12, 20), folder / "tiny.png")
    for src, out in ((folder / "tiny.png", tmp_path / "one.png"), (folder, tmp_path / "all")):
        done = cli(src, "--fast", "starry_night", "--size", "20", "-o", out, NST_QUICK=None)
        assert done.returncode == 0, done.stderr
        notes = [line for line in done.stderr.splitlines() if line.startswith("nst: note:")]
        assert len(notes) == 1 and "upscaled" in notes[0], done.stderr
        assert "Warning" not in done.stderr


def test_a_dataset_is_checked_before_use_and_offline_is_one_line(tmp_path):
    import functools
    import hashlib
    import threading
    import zipfile
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    from nst_helpers.io.datasets import Dataset, download_dataset
    from nst_helpers.io.download import DownloadError

    archive = tmp_path / "photos.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.write(example_image("chelsea"), "photos/chelsea.jpg")
    md5 = hashlib.md5(archive.read_bytes()).hexdigest()
    # Served over HTTP on this machine: datasets, like images, come only from http(s) addresses.
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(tmp_path))
    handler.log_message = lambda *args: None
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{httpd.server_address[1]}/photos.zip"
    try:
        folder = download_dataset(Dataset("ok", url, md5), tmp_path / "c")
        assert [p.name for p in folder.iterdir()] == ["chelsea.jpg"]
        assert len(PhotoFolder(folder, log=lambda line: None)) == 1
        with pytest.raises(DownloadError) as err:
            download_dataset(Dataset("bad", url, "0" * 32), tmp_path / "c")
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert "checksum" in one_line(err)
    assert not list((tmp_path / "c").glob("bad*"))  # the bad download is not kept
    assert download_dataset(Dataset("ok", "http://127.0.0.1:9/gone.zip", md5),
                            tmp_path / "c") == folder  # once unpacked, never fetched again
    with pytest.raises(DownloadError) as err:
        download_dataset(Dataset("off", "http://127.0.0.1:9/x.zip", md5), tmp_path / "c")
    assert "could not download" in one_line(err)


def test_train_command_refuses_a_missing_or_empty_folder_with_exit_2(tmp_path, monkeypatch,
                                                                   capfd):
    """``python -m nst_helpers.cli.train``'s main, in this process."""
    from nst_helpers.cli.train import main

    monkeypatch.chdir(tmp_path)
    (tmp_path / "empty").mkdir()
    for folder in ("missing", "empty"):
        done = run_main(main, ["--style", "starry_night", "--data", tmp_path / folder,
                               "-o", tmp_path / "n.pt"], capfd)
        assert done.returncode == 2
        assert len(done.stderr.strip().splitlines()) == 1 and folder in done.stderr
        assert "Traceback" not in done.stderr
        assert not (tmp_path / "n.pt").exists()


@pytest.mark.slow
def test_benchmark_runs_and_reports_every_figure(tmp_path):
    """benchmarks/fast.py, smoke-tested at a tiny size on a photo given by its path (as one the
    network never saw would be): the network's row has every figure, each repeat's time."""
    root = Path(__file__).resolve().parent.parent
    done = run([sys.executable, str(root / "benchmarks" / "fast.py"), "--sizes", "64", "--photos",
                str(example_image("chelsea")), "--optimisation-photos", "--repeats", "2",
                "--threads", "1", "--out", str(tmp_path)], cwd=root, env=child_env(), timeout=300)
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in (tmp_path / "results.jsonl").read_text().splitlines()]
    network = next(r for r in rows if r["method"] == "network")
    for key in ("seconds", "peak_mb", "content", "style", "photo_style"):
        assert key in network
    assert network["photo"] == "chelsea" and len(network["seconds_each"]) == 2
    assert network["seconds"] == pytest.approx(min(network["seconds_each"]), abs=1e-4)
    assert (tmp_path / "all_64.jpg").is_file()


def test_cli_fast_paints_a_phone_photo_at_the_size_the_network_learned(tmp_path, cli):
    """Without --size, --fast loads the photo at the network's trained size (512 px for the
    shipped ones) and says so in one note; --size still wins. Before, a 4000x3000 photo was
    painted at 4000x3000, its strokes an eighth of the size the network learned them at."""
    from PIL import Image

    with Image.open(example_image("china")) as photo:
        photo.convert("RGB").resize((4000, 3000), Image.Resampling.BICUBIC).save(
            tmp_path / "IMG_0001.JPG", quality=90)
    done = cli(tmp_path / "IMG_0001.JPG", "--fast", "starry_night", "-o", tmp_path / "a.png",
               "--json", NST_QUICK=None)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert (report["width"], report["height"]) == (512, 384), report
    notes = [line for line in done.stderr.splitlines() if line.startswith("nst: note:")]
    assert notes == ["nst: note: painted at 512 px, the size the network learned its strokes "
                     "at (--size PX for another)"], done.stderr
    done = cli(tmp_path / "IMG_0001.JPG", "--fast", "starry_night", "--size", "200", "-o",
               tmp_path / "b.png", "--json", NST_QUICK=None)
    assert done.returncode == 0 and json.loads(done.stdout)["width"] == 200, done.stderr
    assert "nst: note:" not in done.stderr
