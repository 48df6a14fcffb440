"""Make the README's gallery from the bundled images, and record the settings used.

    python tools/make_gallery.py [--size 320] [--steps 200]

Writes images/gallery/<content>_<style>.jpg and images/gallery/SETTINGS.md (its sections after
the table, the hero's, are kept).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from nst_helpers.io.images import example_image, load_image, save_image  # noqa: E402
from nst_helpers.io.profiles import versions  # noqa: E402
from nst_helpers.transfer import DEFAULT_STYLE_WEIGHT, stylize  # noqa: E402
from nst_helpers.vgg import CONTENT_LAYERS, STYLE_LAYERS  # noqa: E402

PAIRS = [("chelsea", "starry_night"), ("chelsea", "pastel"), ("astronaut", "cubist"),
         ("coffee", "mosaic"), ("rocket", "great_wave")]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=320)
    parser.add_argument("--steps", type=int, default=200)
    args = parser.parse_args()
    out_dir = ROOT / "images" / "gallery"
    out_dir.mkdir(exist_ok=True)
    rows = []
    for content_name, style_name in PAIRS:
        content = load_image(example_image(content_name), size=args.size)
        style = load_image(example_image(style_name), size=args.size)
        result = stylize(content, style, steps=args.steps)
        path = save_image(result.image, out_dir / f"{content_name}_{style_name}.jpg")
        losses = result.final_losses
        rows.append(f"| {path.name} | {content_name}.jpg | {style_name}.jpg | "
                    f"{result.image.shape[-1]}x{result.image.shape[-2]} | {result.steps} | "
                    f"{losses['content']:.3f} | {losses['style']:.4f} | {result.seconds:.0f} s |")
        print(rows[-1], flush=True)
    # The hero's section (made by hand, see notebook 07) is kept as it is.
    settings = out_dir / "SETTINGS.md"
    kept = settings.read_text().partition("\n## ")[1:] if settings.exists() else ("", "")
    settings.write_text(
        "# Gallery settings\n\nMade by `python tools/make_gallery.py --size "
        f"{args.size} --steps {args.steps}` on {time.strftime('%Y-%m-%d')} with the defaults: "
        "the bundled VGG19 weights (the Oxford VGG group's, 8-bit), L-BFGS, init from content, "
        f"style weight {DEFAULT_STYLE_WEIGHT:g}, content weight 1, "
        f"content at {', '.join(CONTENT_LAYERS)}, "
        f"style at {', '.join(STYLE_LAYERS)} (the paper's layers, read after the ReLU), max "
        "pooling, no TV loss. The losses are those of the image written (relative, "
        "unweighted).\n\n"
        f"Environment: {versions()} (CPU).\n\n"
        "| result | content | style | size | steps | content loss | style loss | time |\n"
        "|---|---|---|---|---|---|---|---|\n"
        + "\n".join(rows) + "\n" + "".join(kept))
    return 0


if __name__ == "__main__":
    sys.exit(main())
