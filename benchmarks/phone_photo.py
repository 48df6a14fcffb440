"""A phone-sized photo through ``nst --fast``: how long it takes, and the scale of its strokes.

    python benchmarks/phone_photo.py                 # china.jpg and coffee.jpg, 4000x3000
    python benchmarks/phone_photo.py --photos china --threads 2

For each photo, a 4000x3000 JPEG is made from it (upscaled: the bundled photos are smaller)
and painted three ways with the shipped *Starry Night* network:

* ``nst BIG.jpg --fast starry_night``, timed from the command's start to its exit (a fresh
  process: importing PyTorch and loading the network included) and by its JSON ``seconds``
  (the pass alone); it paints at the network's trained size, 512 px;
* the photo loaded at 512 px and painted directly (in this process);
* the photo painted at its own 4000x3000, as ``--fast`` did before it painted at the trained
  size, then shrunk to 512 px.

Each result is scored at 512 px by the package's style loss against *The Starry Night* at
512 px (``PerceptualLoss``, float32): the ratio of the first and the third to the second
says how far each is from the strokes the network learned. Prints one JSON line per photo.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NST = "import sys; from nst_helpers.cli import main; sys.exit(main())"  # the nst command


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", nargs="+", default=["china", "coffee"])
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args(argv)

    import torch
    from PIL import Image

    from nst_helpers.fast import PerceptualLoss, load_network, stylize_fast
    from nst_helpers.io.images import example_image, load_image, resize
    from nst_helpers.vgg import load_vgg19

    if args.threads:
        torch.set_num_threads(args.threads)
    network = load_network("starry_night", "cpu")
    score = PerceptualLoss(load_vgg19(device="cpu"),
                           load_image(example_image("starry_night"), 512))

    def style_loss(image):
        with torch.no_grad():
            return float(score(image, image)[1])

    with tempfile.TemporaryDirectory() as folder:
        for name in args.photos:
            big = Path(folder) / f"{name}_4000x3000.jpg"
            with Image.open(example_image(name)) as photo:
                photo.convert("RGB").resize((4000, 3000), Image.Resampling.BICUBIC).save(
                    big, quality=92)
            out = Path(folder) / f"{name}_fast.png"
            command = [sys.executable, "-c", NST, str(big), "--fast",
                       "starry_night", "-o", str(out), "--json", "--device", "cpu"]
            began = time.perf_counter()
            done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
            command_seconds = time.perf_counter() - began
            if done.returncode != 0:
                print(done.stderr, file=sys.stderr)
                return 1
            report = json.loads(done.stdout)
            by_command = load_image(out)
            direct = stylize_fast(load_image(big, 512), network)
            began = time.perf_counter()
            full = stylize_fast(load_image(big), network)
            full_seconds = time.perf_counter() - began
            shrunk = resize(full, 512)
            losses = {"command": style_loss(by_command), "direct_512": style_loss(direct),
                      "own_size_shrunk": style_loss(shrunk)}
            print(json.dumps({
                "photo": name, "size": [4000, 3000], "threads": torch.get_num_threads(),
                "command_seconds": round(command_seconds, 2),
                "command_pass_seconds": report["seconds"],
                "command_result": [report["width"], report["height"]],
                "own_size_seconds": round(full_seconds, 2),
                "style_loss": {k: round(v, 5) for k, v in losses.items()},
                "ratio_command": round(losses["command"] / losses["direct_512"], 3),
                "ratio_own_size": round(losses["own_size_shrunk"] / losses["direct_512"], 3),
                "stderr": done.stderr.strip().splitlines()}), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
