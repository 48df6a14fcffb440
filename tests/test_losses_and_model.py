import pytest
import torch
from helpers import photo_like, stripes

from nst_helpers.gram import gram_matrix
from nst_helpers.losses import ContentLoss, StyleLoss, relative_squared_error, total_variation
from nst_helpers.model import build_model
from nst_helpers.vgg import LAYER_NAMES, load_vgg19


@pytest.fixture(scope="module")
def vgg():
    return load_vgg19("original")


def test_relative_squared_error():
    t = torch.tensor([3.0, 4.0])
    assert relative_squared_error(t, t) == 0
    assert torch.isclose(relative_squared_error(torch.zeros(2), t), torch.tensor(1.0))
    assert torch.isclose(relative_squared_error(t * 2, t), torch.tensor(1.0))


def test_content_loss_passes_input_through_and_measures_distance():
    target = torch.rand(1, 4, 5, 5)
    module = ContentLoss(target)
    x = torch.rand(1, 4, 5, 5)
    assert module(x) is x
    assert torch.isclose(module.loss, ((x - target) ** 2).sum() / (target ** 2).sum())
    module(target.clone())
    assert module.loss == 0


def test_style_loss_blends_several_styles():
    a, b = torch.rand(1, 4, 6, 6), torch.rand(1, 4, 6, 6) * 3
    module = StyleLoss([gram_matrix(a), gram_matrix(b)], blend=[0.7, 0.3])
    x = torch.rand(1, 4, 8, 9)
    assert module(x) is x
    la = relative_squared_error(gram_matrix(x), gram_matrix(a))
    lb = relative_squared_error(gram_matrix(x), gram_matrix(b))
    assert torch.isclose(module.loss, 0.7 * la + 0.3 * lb)
    with pytest.raises(ValueError, match="one weight per style"):
        StyleLoss([gram_matrix(a)], blend=[0.5, 0.5])


def test_total_variation():
    assert total_variation(torch.ones(1, 3, 8, 8)) == 0
    assert total_variation(torch.rand(1, 3, 8, 8)) > 0.05


def test_losses_inserted_after_their_layers_and_network_cut(vgg):
    model = build_model(vgg, photo_like(), stripes())
    names = [name for name, _ in model.network.named_children()]
    assert names[0] == "normalization"
    assert names[-1] == "style_relu5_1"  # nothing after the last loss layer
    # after the ReLU that follows each convolution, as Gatys' Caffe read them
    assert names.index("content_relu4_2") == names.index("relu4_2") + 1
    assert names.index("relu4_2") == names.index("conv4_2") + 1
    for layer in ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"):
        assert names.index(f"style_{layer}") == names.index(layer) + 1
    layers = [n for n in names if n in LAYER_NAMES]
    assert layers == list(LAYER_NAMES[: LAYER_NAMES.index("relu5_1") + 1])
    assert list(model.content_losses) == ["relu4_2"]
    assert list(model.style_losses) == ["relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"]


def test_cut_follows_the_deepest_loss(vgg):
    model = build_model(vgg, photo_like(), stripes(), content_layers=["conv2_2"],
                        style_layers=["conv1_1"])
    assert [n for n, _ in model.network.named_children()][-1] == "content_conv2_2"


def test_content_image_has_zero_content_loss_and_any_sizes_work(vgg):
    content, style = photo_like(64, 96), stripes(80, 50)  # different sizes and aspect ratios
    model = build_model(vgg, content, style)
    c, s = model.losses(content)
    assert c.item() == pytest.approx(0, abs=1e-6)
    assert s.item() > 0.05
    style_only = build_model(vgg, None, style)
    _, s_style = style_only.losses(stripes(100, 70))  # the same pattern at another size
    assert s_style.item() < s.item() / 5


def test_gradient_reaches_the_input_only(vgg):
    content = photo_like()
    model = build_model(vgg, content, stripes())
    image = content.clone().requires_grad_(True)
    c, s = model.losses(image)
    (c + 10 * s).backward()
    assert image.grad is not None and image.grad.abs().sum() > 0
    assert all(p.grad is None for p in model.network.parameters())


def test_balance_is_about_the_same_at_two_sizes(vgg):
    """Relative losses: the style loss of a photo against a painting hardly depends on size."""
    values = []
    for size in (64, 128):
        content = torch.nn.functional.interpolate(photo_like(96, 120), size=(size, size * 5 // 4))
        style = torch.nn.functional.interpolate(stripes(96, 96, period=12), size=(size, size))
        values.append(build_model(vgg, content, style).losses(content)[1].item())
    assert 0.5 < values[0] / values[1] < 2.0


def test_bad_arguments(vgg):
    with pytest.raises(ValueError, match="unknown VGG19 layer"):
        build_model(vgg, photo_like(), stripes(), style_layers=["conv9_9"])
    with pytest.raises(ValueError, match="one weight per layer"):
        build_model(vgg, photo_like(), stripes(), style_layer_weights=[1.0])
    with pytest.raises(ValueError, match="not all 0"):  # would silently drop the style loss
        build_model(vgg, photo_like(), stripes(), style_layer_weights=[0, 0, 0, 0, 0])
    with pytest.raises(ValueError, match="nothing to measure"):
        build_model(vgg, None, [])
    with pytest.raises(ValueError, match="named twice"):  # one loss module, weights misread
        build_model(vgg, photo_like(), stripes(), style_layers=["relu1_1", "relu2_1", "relu1_1"],
                    style_layer_weights=[0.5, 0.3, 0.2])


def test_content_only_and_style_only_models(vgg):
    content_only = build_model(vgg, photo_like(), [])
    assert not content_only.style_losses and list(content_only.content_losses) == ["relu4_2"]
    assert [n for n, _ in content_only.network.named_children()][-1] == "content_relu4_2"
    no_style_layers = build_model(vgg, photo_like(), stripes(), style_layers=[])
    assert not no_style_layers.style_losses
    c, s = content_only.losses(photo_like())
    assert c.item() == pytest.approx(0, abs=1e-6) and s.item() == 0
    style_only = build_model(vgg, None, stripes())
    assert not style_only.content_losses and len(style_only.style_losses) == 5
