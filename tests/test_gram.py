import pytest
import torch

from nst_helpers.engine.fast_gram import fast_gram_matrix
from nst_helpers.gram import gram_matrix


def slow_gram(features: torch.Tensor) -> torch.Tensor:
    """The definition, one entry at a time: G_ij = sum_k F_ik F_jk / (C*H*W)."""
    b, c, h, w = features.shape
    out = torch.zeros(b, c, c, dtype=torch.float64)
    for n in range(b):
        flat = features[n].reshape(c, h * w).double()
        for i in range(c):
            for j in range(c):
                out[n, i, j] = sum(flat[i, k] * flat[j, k] for k in range(h * w))
    return out / (c * h * w)


def test_matches_slow_reference():
    features = torch.randn(2, 4, 3, 5, generator=torch.Generator().manual_seed(1))
    assert torch.allclose(gram_matrix(features).double(), slow_gram(features), atol=1e-6)


def test_shape_symmetry_and_positive_semidefinite():
    features = torch.rand(1, 8, 6, 7)
    g = gram_matrix(features)
    assert g.shape == (1, 8, 8)
    assert torch.allclose(g, g.transpose(1, 2))
    assert torch.linalg.eigvalsh(g[0].double()).min() > -1e-9


def test_independent_of_image_size_for_a_repeated_pattern():
    tile = torch.rand(1, 3, 4, 4)
    small, large = tile.repeat(1, 1, 2, 2), tile.repeat(1, 1, 8, 8)
    assert torch.allclose(gram_matrix(small), gram_matrix(large), atol=1e-6)


def test_half_precision_input_is_computed_in_float32_without_overflow():
    features = torch.full((1, 4, 64, 64), 300.0, dtype=torch.float16)  # 300^2 > fp16 max / 1
    g = gram_matrix(features)
    assert g.dtype == torch.float32
    assert torch.isfinite(g).all()
    assert torch.allclose(g, torch.full_like(g, 300.0 * 300.0 / 4))


def test_rejects_wrong_rank():
    with pytest.raises(ValueError, match=r"\(B, C, H, W\)"):
        gram_matrix(torch.rand(3, 4, 4))


@pytest.mark.parametrize("layout", [torch.contiguous_format, torch.channels_last])
def test_one_product_gradient_equals_autograds_two(layout):
    """fast_gram_matrix's own backward, (g + g^T) F / n, against autograd through F @ F^T / n,
    for a non-symmetric upstream gradient; the gradient keeps the features' layout."""
    gen = torch.Generator().manual_seed(2)
    base = torch.randn(2, 6, 5, 7, generator=gen)
    weight = torch.randn(2, 6, 6, generator=gen)  # not symmetric
    features = base.contiguous(memory_format=layout).requires_grad_(True)
    (ours,) = torch.autograd.grad((fast_gram_matrix(features) * weight).sum(), features)
    plain = base.clone().requires_grad_(True)
    flat = plain.reshape(2, 6, 35)
    (expected,) = torch.autograd.grad(((flat @ flat.transpose(1, 2) / 210) * weight).sum(), plain)
    assert torch.allclose(ours, expected, atol=1e-6)
    assert ours.is_contiguous(memory_format=layout)


@pytest.mark.parametrize("layout", [torch.contiguous_format, torch.channels_last])
def test_fast_gram_matrix_has_the_values_of_the_definition(layout):
    """The fast version is only faster: with and without gradients, either layout, float16
    input too, its values are gram_matrix's."""
    base = torch.randn(2, 6, 5, 7, generator=torch.Generator().manual_seed(3))
    features = base.contiguous(memory_format=layout)
    assert torch.allclose(fast_gram_matrix(features.requires_grad_(True)), gram_matrix(base),
                          atol=1e-6)
    assert torch.allclose(fast_gram_matrix(features.detach()), gram_matrix(base), atol=1e-6)
    half = base.half().requires_grad_(True)
    assert fast_gram_matrix(half).dtype == torch.float32
    assert torch.allclose(fast_gram_matrix(half), gram_matrix(half.detach()), atol=1e-6)


def test_gradient_is_exact_in_float64():
    from nst_helpers.engine.fast_gram import _Gram

    features = torch.randn(1, 3, 4, 5, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(_Gram.apply, (features,))
