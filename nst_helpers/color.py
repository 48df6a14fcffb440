"""Keeping the content's colours (Gatys et al. 2016, "Preserving Color in Neural Artistic Style
Transfer"): luminance-only transfer (:func:`luminance_only_inputs`, then
:func:`combine_luminance_chroma`), colour histogram matching (:func:`match_color_histogram`),
or the naive chroma swap afterwards. Colour space YIQ: Y the luminance in [0, 1], I and Q the
chroma; images are ``(B, 3, H, W)`` RGB in [0, 1] (luminance ``(B, 1, H, W)``).
"""

from __future__ import annotations

import torch

__all__ = ["PRESERVE_COLOR", "rgb_to_yiq", "yiq_to_rgb", "luminance", "grey", "match_luminance",
           "combine_luminance_chroma", "match_color_histogram", "luminance_only_inputs",
           "color_inputs", "chroma_distance"]

#: The values ``stylize(preserve_color=...)`` and ``nst --preserve-color`` accept.
PRESERVE_COLOR = ("none", "luminance", "histogram")

# RGB -> YIQ (FCC NTSC); Y is the same luminance as ITU-R BT.601.
_RGB_TO_YIQ = ((0.299, 0.587, 0.114),
               (0.595716, -0.274453, -0.321263),
               (0.211456, -0.522591, 0.311135))


def _matrix(image: torch.Tensor, inverse: bool = False) -> torch.Tensor:
    m = torch.tensor(_RGB_TO_YIQ, dtype=torch.float64)
    if inverse:
        m = torch.linalg.inv(m)
    return m.to(image.device, torch.float32)


def _check(image: torch.Tensor, name: str = "image") -> None:
    if image.dim() != 4 or image.shape[1] != 3:
        raise ValueError(f"{name} must be (B, 3, H, W), got shape {tuple(image.shape)}")


def rgb_to_yiq(image: torch.Tensor) -> torch.Tensor:
    """RGB ``(B, 3, H, W)`` in [0, 1] -> YIQ ``(B, 3, H, W)``: Y in [0, 1], I and Q signed."""
    _check(image)
    return torch.einsum("ij,bjhw->bihw", _matrix(image), image.float())


def yiq_to_rgb(yiq: torch.Tensor) -> torch.Tensor:
    """YIQ ``(B, 3, H, W)`` -> RGB ``(B, 3, H, W)``; not clamped (out of gamut can leave [0, 1])."""
    _check(yiq, "yiq")
    return torch.einsum("ij,bjhw->bihw", _matrix(yiq, inverse=True), yiq.float())


def luminance(image: torch.Tensor) -> torch.Tensor:
    """The Y channel of RGB ``(B, 3, H, W)`` in [0, 1]: ``(B, 1, H, W)`` in [0, 1]."""
    return rgb_to_yiq(image)[:, :1]


def grey(lum: torch.Tensor) -> torch.Tensor:
    """Luminance ``(B, 1, H, W)`` as a grey RGB image ``(B, 3, H, W)``, as VGG19 is shown it."""
    return lum.expand(-1, 3, -1, -1).clamp(0, 1).contiguous()


def match_luminance(style_lum: torch.Tensor, content_lum: torch.Tensor) -> torch.Tensor:
    """Shift and scale ``style_lum`` ``(B, 1, h, w)`` to ``content_lum``'s mean and standard
    deviation: ``L_s' = sigma_c / sigma_s * (L_s - mu_s) + mu_c`` (Gatys et al. 2016, eq. 1),
    clamped to [0, 1]."""
    mu_s, sigma_s = style_lum.mean(), style_lum.std()
    mu_c, sigma_c = content_lum.mean(), content_lum.std()
    return ((style_lum - mu_s) * (sigma_c / sigma_s.clamp_min(1e-6)) + mu_c).clamp(0, 1)


def combine_luminance_chroma(image: torch.Tensor, content: torch.Tensor) -> torch.Tensor:
    """``image``'s luminance with ``content``'s chroma (I and Q), in RGB clamped to [0, 1];
    both ``(B, 3, H, W)`` RGB in [0, 1], the same size."""
    _check(image)
    _check(content, "content")
    if image.shape[-2:] != content.shape[-2:]:
        raise ValueError(f"image is {tuple(image.shape[-2:])} and content "
                         f"{tuple(content.shape[-2:])} (H, W): they must be the same size")
    yiq = rgb_to_yiq(content.to(image.device))
    yiq = torch.cat([luminance(image), yiq[:, 1:]], dim=1)
    return yiq_to_rgb(yiq).clamp(0, 1)


def _sqrt_and_inverse_sqrt(cov: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    values, vectors = torch.linalg.eigh(cov)
    values = values.clamp_min(1e-8)
    root = vectors @ torch.diag(values.sqrt()) @ vectors.T
    inverse_root = vectors @ torch.diag(values.rsqrt()) @ vectors.T
    return root, inverse_root


def _mean_and_covariance(image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    pixels = image.double().permute(1, 0, 2, 3).reshape(3, -1)  # 3 x N
    mean = pixels.mean(dim=1, keepdim=True)
    centred = pixels - mean
    cov = centred @ centred.T / max(centred.shape[1] - 1, 1)
    return mean, cov + 1e-5 * torch.eye(3, dtype=cov.dtype, device=cov.device)


def match_color_histogram(style: torch.Tensor, content: torch.Tensor, *,
                          method: str = "eigh") -> torch.Tensor:
    """The style image with its colours linearly moved to the content's mean and covariance.

    Each pixel ``p`` of ``style`` ``(1, 3, h, w)`` becomes ``A (p - mu_s) + mu_c`` with
    ``A Sigma_s A^T = Sigma_c`` (Gatys et al. 2016, section 2.2), clamped to [0, 1]; ``"eigh"``:
    ``A = Sigma_c^(1/2) Sigma_s^(-1/2)``, ``"cholesky"``: ``A = L_c L_s^(-1)`` (``Sigma = L L^T``).
    """
    _check(style, "style")
    _check(content, "content")
    if method not in ("eigh", "cholesky"):
        raise ValueError(f"unknown method {method!r}: use 'eigh' or 'cholesky'")
    mu_s, cov_s = _mean_and_covariance(style)
    mu_c, cov_c = _mean_and_covariance(content.to(style.device))
    if method == "eigh":
        transform = _sqrt_and_inverse_sqrt(cov_c)[0] @ _sqrt_and_inverse_sqrt(cov_s)[1]
    else:
        transform = torch.linalg.cholesky(cov_c) @ torch.linalg.inv(torch.linalg.cholesky(cov_s))
    pixels = style.double().permute(1, 0, 2, 3).reshape(3, -1)
    moved = transform @ (pixels - mu_s) + mu_c
    b, _, h, w = style.shape
    return moved.reshape(3, b, h, w).permute(1, 0, 2, 3).float().clamp(0, 1).contiguous()


def luminance_only_inputs(content: torch.Tensor, styles: list[torch.Tensor]
                          ) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """``(content_grey, style_greys)``: the grey images a luminance-only run optimises on,
    each style's luminance matched to the content's (:func:`match_luminance`)."""
    content_lum = luminance(content)
    return grey(content_lum), [grey(match_luminance(luminance(s), content_lum)) for s in styles]


def color_inputs(preserve_color: str, content: torch.Tensor, styles: list[torch.Tensor],
                 init: str | torch.Tensor):
    """``(content, styles, init)`` as the run optimises them under ``preserve_color``:
    unchanged (``"none"``), styles colour-matched (``"histogram"``) or grey (``"luminance"``)."""
    if preserve_color == "histogram":
        styles = [match_color_histogram(s, content) for s in styles]
    elif preserve_color == "luminance":
        content, styles = luminance_only_inputs(content, styles)
        if isinstance(init, torch.Tensor):
            init = grey(luminance(init))
    return content, styles, init


def chroma_distance(image: torch.Tensor, reference: torch.Tensor) -> float:
    """Mean absolute difference of the I and Q channels of two same-size RGB images: 0 when
    the colours agree everywhere; blind to luminance."""
    if image.shape != reference.shape:
        raise ValueError(f"shapes differ: {tuple(image.shape)} and {tuple(reference.shape)}")
    a, b = rgb_to_yiq(image)[:, 1:], rgb_to_yiq(reference.to(image.device))[:, 1:]
    return (a - b).abs().mean().item()
