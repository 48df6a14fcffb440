"""Every notebook cell and every entry point runs on the profile's device, proven on a CPU.

On a Colab T4 the profile line says ``cuda``; a tensor or a network left on the CPU then stops
a cell with "Expected all tensors to be on the same device", and a network built on the CPU
by default runs there, slowly, without a word. This machine has no GPU, so these tests run
on a simulated accelerator (``tests/simulated_accelerator.py``): ``pick_device()`` answers it,
and any operation that mixes one of its tensors with a CPU tensor fails as CUDA fails.

The notebooks are executed top to bottom at the quick profile with the simulation turned on
in their kernel; the package's entry points are called with inputs from the CPU, as a learner
passes them.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch
from simulated_accelerator import DEVICE, AcceleratorTensor, simulated

#: The simulated accelerator is a tensor subclass whose wrapping torch 2.1 refuses ("the raw
#: Tensor object is already associated to a python object"); CI's main lane (current torch)
#: runs these tests, the floors lane skips them.
pytestmark = pytest.mark.skipif(
    tuple(int(x) for x in torch.__version__.split("+")[0].split(".")[:2]) < (2, 4),
    reason="the simulated accelerator needs torch 2.4 or newer; CI's main lane runs it")

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
ACTIVATE = (f"import sys; sys.path.insert(0, {str(ROOT / 'tests')!r})\n"
            "import simulated_accelerator; simulated_accelerator.activate()")


def run_on_the_accelerator(path: Path) -> str | None:
    """Execute notebook ``path`` (quick profile) with the simulated accelerator on in its
    kernel. Returns ``None``, or "cell N: ErrorName: message" for the first cell that failed
    (N counts the notebook's own cells from 0)."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    nb = nbformat.read(path, as_version=4)
    nb.cells.insert(0, nbformat.v4.new_code_cell(ACTIVATE))
    env = {"NST_QUICK": "1"}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        NotebookClient(nb, timeout=600, kernel_name="python3",
                       resources={"metadata": {"path": str(path.parent)}}).execute()
    except CellExecutionError:
        for index, cell in enumerate(nb.cells):
            for out in cell.get("outputs", []):
                if out.get("output_type") == "error":
                    return f"cell {index - 1}: {out['ename']}: {out['evalue']}"
        raise
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return None


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs_on_the_accelerator(path):
    failure = run_on_the_accelerator(path)
    assert failure is None, f"{path.name}, on the simulated accelerator: {failure}"


# --- the simulation itself fails where CUDA would ---------------------------------------------

def test_the_simulation_fails_where_cuda_would(monkeypatch):
    with simulated(monkeypatch) as device:
        conv = torch.nn.Conv2d(3, 4, 3).to(device)
        image = torch.rand(1, 3, 8, 8)
        with pytest.raises(RuntimeError, match="Expected all tensors to be on the same device"):
            conv(image)  # the image left on the CPU
        out = conv(image.to(device))
        assert isinstance(out, AcceleratorTensor) and out.device == DEVICE
        (out * torch.tensor(2.0)).sum().backward()  # a CPU scalar is allowed, as on CUDA
        assert conv.weight.grad.device == DEVICE
        with pytest.raises(TypeError, match="numpy"):
            out.detach().numpy()
        assert out.detach().cpu().numpy().shape == (1, 4, 6, 6)
        assert torch.zeros(2, device=device).device == DEVICE


# --- the package's entry points ----------------------------------------------------------------

def on_device(tensor) -> bool:
    return isinstance(tensor, AcceleratorTensor)


def test_vgg19_and_the_model_follow_the_profile(monkeypatch):
    from nst_helpers.model import build_model, feature_maps
    from nst_helpers.vgg import load_vgg19

    with simulated(monkeypatch):
        vgg = load_vgg19()
        assert all(on_device(p) for p in vgg.parameters()), "load_vgg19() left VGG19 on the CPU"
        photo, painting = torch.rand(1, 3, 32, 40), torch.rand(1, 3, 40, 32)  # from the CPU
        maps = feature_maps(vgg, photo, {"relu1_1"})
        assert on_device(maps["relu1_1"])
        model = build_model(vgg, photo, painting)
        content, style = model.losses(torch.rand(1, 3, 32, 40))
        assert float(content) > 0 and float(style) > 0


def test_stylize_and_coarse_to_fine_follow_the_profile(monkeypatch):
    from nst_helpers.multiscale import stylize_multiscale
    from nst_helpers.transfer import stylize

    with simulated(monkeypatch):
        photo, painting = torch.rand(1, 3, 32, 40), torch.rand(1, 3, 40, 32)
        result = stylize(photo, painting, steps=3, early_stop=None)
        assert result.steps == 3 and result.image.device.type == "cpu"
        result = stylize_multiscale(torch.rand(1, 3, 64, 80), painting, sizes=(40, 80), steps=2)
        assert result.image.device.type == "cpu"


def test_the_network_and_its_loss_follow_the_profile(monkeypatch):
    from nst_helpers.fast import PerceptualLoss, TransformerNet, load_network, stylize_fast
    from nst_helpers.vgg import load_vgg19

    with simulated(monkeypatch):
        network = load_network("starry_night")
        assert all(on_device(p) for p in network.parameters()), "load_network left it on the CPU"
        photo = torch.rand(1, 3, 36, 44)  # from the CPU
        out = stylize_fast(photo, network)
        assert out.shape == photo.shape
        assert stylize_fast(photo, "great_wave").shape == photo.shape
        loss = PerceptualLoss(load_vgg19(), torch.rand(1, 3, 40, 40))
        content, style = loss(TransformerNet().to(DEVICE)(photo.to(DEVICE)), photo)
        assert float(content) > 0 and float(style) > 0


def test_training_follows_the_profile(monkeypatch, tmp_path):
    from nst_helpers.io.photos import PhotoFolder, bundled_photos_dir
    from nst_helpers.training import train

    with simulated(monkeypatch):
        photos = PhotoFolder(bundled_photos_dir())
        result = train(photos, torch.rand(1, 3, 48, 48), steps=2, batch_size=2, size=32,
                       checkpoint=tmp_path / "net.pt", log=lambda line: None)
        assert result.steps == 2
        assert all(on_device(p) for p in result.network.parameters())
    saved = torch.load(tmp_path / "net.pt", weights_only=True)
    assert all(t.device.type == "cpu" for t in saved["state_dict"].values())


def test_the_command_line_follows_the_profile(monkeypatch, cli, tmp_path):
    with simulated(monkeypatch):
        photo, painting = str(ROOT / "images" / "chelsea.jpg"), str(ROOT / "images" / "pastel.jpg")
        done = cli(photo, painting, "--steps", "2", "-o", "out.png", "--json")
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["device"] == DEVICE.type
        done = cli(photo, "--fast", "starry_night", "-o", "fast.png")
        assert done.returncode == 0, done.stderr
    assert (tmp_path / "out.png").is_file() and (tmp_path / "fast.png").is_file()
