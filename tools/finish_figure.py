"""The side-by-side figure of benchmarks/finish.py: for each pair, the images of the runs in
one row, each under its name and its final loss, at the size they were made.

    python benchmarks/finish.py --size 512 --json finish.json --images out/
    python tools/finish_figure.py finish.json out/ benchmarks/figures/finish_512.jpg

By default the row shows float32 and bfloat16 over every step (the precision parity) and the
default run, and coarse to fine; ``--runs`` picks others (the names of finish.py's table).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

LABEL = 40  # px of text above each image: two lines


def figure(report: dict, images: Path, runs: list[str], panel: int | None = None) -> Image.Image:
    """One row per pair of ``report`` (finish.py's JSON), one column per run; each image
    ``panel`` px wide (default: as made)."""
    size = report["size"]
    font = ImageFont.load_default(size=14)
    rows = []
    for pair in report["pairs"]:
        stem = f"{pair['content']}_{pair['style']}_{size}"
        cells = []
        for column, name in enumerate(runs):
            image = Image.open(images / f"{stem}_{name.replace(' ', '_')}.png").convert("RGB")
            if panel and panel != image.width:
                image = image.resize((panel, round(image.height * panel / image.width)),
                                     Image.LANCZOS)
            row = pair["runs"][name]
            title = f"{pair['content']} x {pair['style']}: " if column == 0 else ""
            text = (f"{title}{name}\nloss {row['loss']:.4f} ({row['loss_vs_fp32']:+.1%}), "
                    f"{row['steps']} steps, {row['time_vs_fp32']:.2f}x the time")
            cell = Image.new("RGB", (image.width, image.height + LABEL), "white")
            cell.paste(image, (0, LABEL))
            ImageDraw.Draw(cell).text((4, 3), text, fill="black", font=font)
            cells.append(cell)
        rows.append(cells)
    width = max(sum(c.width for c in row) for row in rows)
    height = sum(max(c.height for c in row) for row in rows)
    out = Image.new("RGB", (width, height), "white")
    y = 0
    for row in rows:
        x = 0
        for cell in row:
            out.paste(cell, (x, y))
            x += cell.width
        y += max(c.height for c in row)
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("report", type=Path, help="finish.py's --json file")
    parser.add_argument("images", type=Path, help="finish.py's --images folder")
    parser.add_argument("output", type=Path, help="the figure (.jpg or .png)")
    parser.add_argument("--panel", type=int, help="width of each image, px (default: as made)")
    parser.add_argument("--runs", nargs="+", default=["fp32 x300", "bf16 x300", "default",
                                                      "coarse to fine"])
    args = parser.parse_args(argv)
    report = json.loads(args.report.read_text())
    try:
        image = figure(report, args.images, args.runs, args.panel)
    except (FileNotFoundError, KeyError) as err:
        print(f"finish_figure: {err}: run finish.py with --images and these --runs",
              file=sys.stderr)
        return 2
    args.output.parent.mkdir(parents=True, exist_ok=True)
    image.save(args.output, quality=85)
    print(f"wrote {args.output} ({image.width}x{image.height})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
