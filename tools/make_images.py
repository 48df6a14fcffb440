"""Re-create every bundled example image in images/ deterministically.

Requires scikit-image (only to run this script; the nst_helpers package does not
need it): the content photos come from ``skimage.data``, which ships them offline.
The style images are generated procedurally with numpy + Pillow only (seeded).

Usage:  python tools/make_images.py [output_dir]   (default: the repository's images/ folder)
See images/CREDITS.md for sources and licences.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

try:
    from skimage import data as skdata
except ImportError:  # pragma: no cover - depends on the environment
    sys.exit("make_images.py needs scikit-image: pip install scikit-image")

SIZE = 512
PHOTO_QUALITY = 90
STYLE_QUALITY = 92
CONTENT = ("chelsea", "astronaut", "coffee", "rocket")


# --------------------------------------------------------------------------- helpers
def _save(img: Image.Image, path: Path, quality: int) -> None:
    img.convert("RGB").save(path, "JPEG", quality=quality, subsampling=0)
    print(f"wrote {path} ({path.stat().st_size / 1024:.0f} KB)")


def _to_img(arr: np.ndarray) -> Image.Image:
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))


def _jitter(rng: np.random.Generator, rgb, amount: float) -> tuple[int, int, int]:
    c = np.asarray(rgb, float) + rng.normal(0, amount, 3)
    return tuple(int(v) for v in np.clip(c, 0, 255))


def _grid() -> tuple[np.ndarray, np.ndarray]:
    y, x = np.mgrid[0:SIZE, 0:SIZE].astype(float)
    return x, y


def _paper(rng: np.random.Generator, base, amount: float = 6.0) -> np.ndarray:
    """Flat ground colour with fine grain and a soft mottled texture."""
    grain = rng.normal(0, amount, (SIZE, SIZE, 1))
    mottle = rng.normal(0, 1, (SIZE // 16, SIZE // 16)).astype(np.float32)
    mottle_img = Image.fromarray(mottle, mode="F").resize((SIZE, SIZE), Image.BICUBIC)
    mottle = np.asarray(mottle_img)[..., None] * amount
    return np.asarray(base, float)[None, None, :] + grain + mottle


# --------------------------------------------------------------------------- photos
def make_content(out: Path) -> None:
    for name in CONTENT:
        img = Image.fromarray(getattr(skdata, name)())
        scale = SIZE / max(img.size)
        if scale < 1:
            new = (round(img.width * scale), round(img.height * scale))
            img = img.resize(new, Image.LANCZOS)
        _save(img, out / f"{name}.jpg", PHOTO_QUALITY)


# --------------------------------------------------------------------------- swirls
def make_swirls(path: Path) -> None:
    """Starry-Night-like: thick curved strokes following a swirling flow field."""
    rng = np.random.default_rng(1889)
    # vortices: (x, y, strength, radius); positive = counter-clockwise
    vortices = [
        (250, 190, 1.0, 95),
        (130, 120, -0.8, 60),
        (390, 110, 0.7, 55),
        (420, 300, -0.6, 60),
    ]
    moons = [
        (440, 80, 36),
        (70, 60, 16),
        (300, 60, 14),
        (200, 300, 13),
        (480, 220, 12),
        (40, 250, 11),
    ]

    def flow(px: float, py: float) -> tuple[float, float]:
        vx, vy = 1.0, 0.15 * np.sin(px / 60.0 + py / 90.0)  # wind blowing left to right
        for cx, cy, s, r in vortices:
            dx, dy = px - cx, py - cy
            d2 = dx * dx + dy * dy
            w = 3.0 * s * np.exp(-d2 / (2 * (1.6 * r) ** 2))
            vx, vy = vx - w * dy / np.sqrt(d2 + 1), vy + w * dx / np.sqrt(d2 + 1)
        for cx, cy, r in moons:  # halo strokes circle around each moon
            dx, dy = px - cx, py - cy
            d2 = dx * dx + dy * dy
            w = 4.0 * np.exp(-d2 / (2 * (2.2 * r) ** 2))
            vx, vy = vx - w * dy / np.sqrt(d2 + 1), vy + w * dx / np.sqrt(d2 + 1)
        n = np.hypot(vx, vy) + 1e-9
        return vx / n, vy / n

    def near(px: float, py: float) -> tuple[float, float]:
        """(closeness to a vortex ring, closeness to a moon halo), both in 0..1."""
        ring = max(
            np.exp(-(((np.hypot(px - cx, py - cy) - 0.8 * r) / (0.45 * r)) ** 2))
            for cx, cy, _, r in vortices
        )
        halo = max(
            np.exp(-(((np.hypot(px - cx, py - cy) - 1.6 * r) / (0.9 * r)) ** 2))
            for cx, cy, r in moons
        )
        return ring, halo

    blues = [
        (18, 40, 110),
        (28, 62, 150),
        (40, 85, 170),
        (22, 50, 125),
        (60, 110, 185),
        (90, 140, 200),
        (12, 30, 80),
    ]
    yellows = [(235, 210, 90), (245, 230, 150), (250, 245, 215), (215, 190, 80)]

    img = Image.new("RGB", (SIZE, SIZE), (20, 45, 115))
    draw = ImageDraw.Draw(img)
    horizon = 395

    def stroke(px, py, colour, length, radius, field=True):
        pts = []
        for _ in range(length):
            pts.append((px, py))
            dx, dy = flow(px, py) if field else (0.0, -1.0)
            px, py = px + 2.2 * dx, py + 2.2 * dy
        dark = tuple(int(c * 0.72) for c in colour)
        light = tuple(min(255, int(c * 1.12 + 12)) for c in colour)
        for i, (qx, qy) in enumerate(pts):  # taper at both ends
            t = min(i + 1, len(pts) - i) / 3.0
            r = radius * min(1.0, 0.55 + 0.45 * t)
            draw.ellipse((qx - r, qy - r, qx + r, qy + r), fill=dark)
        for i, (qx, qy) in enumerate(pts):
            t = min(i + 1, len(pts) - i) / 3.0
            r = radius * min(1.0, 0.55 + 0.45 * t) * 0.62
            draw.ellipse((qx - r, qy - r, qx + r, qy + r), fill=colour)
            if i % 3 == 1:
                draw.ellipse(
                    (qx - r * 0.45, qy - r * 0.45, qx + r * 0.45, qy + r * 0.45), fill=light
                )

    # sky
    for _ in range(5200):
        px, py = rng.uniform(-10, SIZE + 10), rng.uniform(-10, horizon + 20)
        ring, halo = near(px, py)
        u = rng.random()
        if u < 0.75 * halo:
            base = yellows[rng.integers(len(yellows))]
        elif u < 0.75 * halo + 0.55 * ring:
            base = [(245, 235, 180), (235, 215, 110), (120, 170, 215), (200, 215, 220)][
                rng.integers(4)
            ]
        else:
            base = blues[rng.integers(len(blues))]
        stroke(px, py, _jitter(rng, base, 9), int(rng.integers(6, 13)), rng.uniform(3.2, 5.0))
    # village / hills under the horizon: darker, mostly horizontal strokes
    for _ in range(1400):
        px, py = rng.uniform(-10, SIZE + 10), rng.uniform(horizon - 5, SIZE + 5)
        base = [(20, 40, 70), (35, 60, 85), (30, 70, 60), (15, 30, 50), (60, 80, 95)]
        stroke(
            px,
            py,
            _jitter(rng, base[rng.integers(5)], 8),
            int(rng.integers(5, 10)),
            rng.uniform(3.0, 4.5),
        )
    for _ in range(25):  # a few lit windows
        px, py = rng.uniform(180, 500), rng.uniform(horizon + 20, SIZE - 20)
        draw.rectangle((px, py, px + 5, py + 4), fill=_jitter(rng, (240, 210, 90), 10))
    # moons and stars: glowing discs
    for cx, cy, r in moons:
        for k, col in ((1.35, (250, 240, 170)), (1.0, (250, 215, 70)), (0.6, (255, 250, 220))):
            rr = r * k
            draw.ellipse((cx - rr, cy - rr, cx + rr, cy + rr), fill=col)
    # a dark cypress (flame shape) on the left, vertical strokes
    for _ in range(1100):
        h = rng.uniform(0, 1)
        py = SIZE + 10 - h * 430
        half = 55 * (1 - h) ** 0.8 * (0.6 + 0.4 * np.sin(h * 22) ** 2)
        px = 95 + 15 * np.sin(h * 7) + rng.uniform(-half, half)
        base = [(25, 35, 25), (45, 55, 30), (60, 45, 25), (15, 25, 20)][rng.integers(4)]
        stroke(
            px,
            py,
            _jitter(rng, base, 8),
            int(rng.integers(4, 9)),
            rng.uniform(3.0, 4.5),
            field=False,
        )
    img = img.filter(ImageFilter.SMOOTH)
    _save(img, path, STYLE_QUALITY)


# --------------------------------------------------------------------------- cubist
def make_cubist(path: Path) -> None:
    """Analytic-cubism-like: overlapping angular facets with bold dark outlines."""
    rng = np.random.default_rng(1907)
    palette = np.array(
        [
            (196, 150, 70),
            (165, 115, 55),
            (120, 80, 45),
            (92, 62, 40),
            (118, 128, 88),
            (92, 104, 78),
            (145, 140, 128),
            (105, 100, 95),
            (215, 190, 140),
            (60, 50, 42),
        ],
        float,
    )
    x, y = _grid()
    # 1) facet the plane with random straight lines; colour each cell
    n_lines = 16
    code = np.zeros((SIZE, SIZE), np.int64)
    for i in range(n_lines):  # each line passes through a random point at a random angle
        theta = rng.uniform(0, np.pi)
        ox, oy = rng.uniform(0.1, 0.9, 2) * SIZE
        side = ((x - ox) * np.cos(theta) + (y - oy) * np.sin(theta)) > 0
        code += side.astype(np.int64) << i
    cells, inv = np.unique(code, return_inverse=True)
    inv = inv.reshape(SIZE, SIZE)
    cell_col = palette[rng.integers(0, len(palette), len(cells))]
    # each cell gets its own linear shading direction, like faceted modelling
    ang = rng.uniform(0, 2 * np.pi, len(cells))
    amp = rng.uniform(10, 35, len(cells))
    shade = (np.cos(ang)[inv] * (x - SIZE / 2) + np.sin(ang)[inv] * (y - SIZE / 2)) / SIZE
    img = cell_col[inv] + (amp[inv] * 2 * shade)[..., None]
    # dark lines where cells meet
    border = np.zeros((SIZE, SIZE), bool)
    border[:-1] |= inv[:-1] != inv[1:]
    border[:, :-1] |= inv[:, :-1] != inv[:, 1:]
    out = _to_img(img + rng.normal(0, 4, (SIZE, SIZE, 1)))
    bmask = Image.fromarray((border * 255).astype(np.uint8)).filter(ImageFilter.MaxFilter(3))
    out.paste((55, 45, 38), mask=bmask)

    # 2) overlapping angular polygons, clustered in a figure-like column
    draw = ImageDraw.Draw(out, "RGBA")
    for _ in range(46):
        cx = rng.normal(256, 105)
        cy = rng.normal(256, 120)
        n = int(rng.integers(3, 6))
        base = rng.uniform(0, 2 * np.pi)
        angs = np.sort(base + rng.uniform(0, 2 * np.pi, n))
        rad = rng.uniform(30, 95) * rng.uniform(0.6, 1.4, n)
        sx = rng.uniform(0.5, 1.3)
        pts = [(cx + sx * r * np.cos(a), cy + r * np.sin(a)) for a, r in zip(angs, rad)]
        col = palette[rng.integers(len(palette))]
        alpha = int(rng.choice([255, 255, 210]))
        fill = (*_jitter(rng, col, 8), alpha)
        draw.polygon(pts, fill=fill)
        draw.line(
            pts + [pts[0]], fill=(45, 36, 30, 255), width=int(rng.integers(3, 6)), joint="curve"
        )
        if rng.random() < 0.35:  # hatched shading on some facets
            x0, y0 = min(p[0] for p in pts), min(p[1] for p in pts)
            x1, y1 = max(p[0] for p in pts), max(p[1] for p in pts)
            layer = Image.new("L", out.size, 0)
            ImageDraw.Draw(layer).polygon(pts, fill=255)
            hatch = Image.new("L", out.size, 0)
            hd = ImageDraw.Draw(hatch)
            for t in np.arange(x0 - (y1 - y0), x1, 9):
                hd.line((t, y1, t + (y1 - y0), y0), fill=90, width=2)
            mask = Image.fromarray(np.minimum(np.asarray(layer), np.asarray(hatch)))
            out.paste((50, 40, 32), mask=mask)
    # a stylised eye and a few arcs: the Picasso wink
    draw.polygon(
        [(210, 170), (250, 150), (290, 172), (250, 188)],
        fill=(225, 205, 160, 255),
        outline=(40, 32, 28, 255),
        width=4,
    )
    draw.ellipse((240, 160, 262, 182), fill=(45, 36, 30, 255))
    draw.arc((300, 200, 380, 300), 200, 340, fill=(45, 36, 30, 255), width=5)
    draw.line((150, 110, 190, 440), fill=(45, 36, 30, 255), width=5)
    _save(out.filter(ImageFilter.SMOOTH), path, STYLE_QUALITY)


# --------------------------------------------------------------------------- pastel
def _cat(
    draw: ImageDraw.ImageDraw,
    cx: float,
    cy: float,
    s: float,
    flip: bool,
    colour=(32, 28, 38),
    eye=(235, 225, 150),
) -> None:
    """A simple sitting black cat silhouette; (cx, cy) is the base of the body."""
    f = -1 if flip else 1
    # body
    draw.ellipse((cx - 48 * s, cy - 120 * s, cx + 48 * s, cy), fill=colour)
    draw.ellipse((cx - 38 * s, cy - 150 * s, cx + 34 * s, cy - 70 * s), fill=colour)
    # head
    hx, hy, hr = cx + f * 6 * s, cy - 168 * s, 34 * s
    draw.ellipse((hx - hr, hy - hr, hx + hr, hy + hr), fill=colour)
    # ears
    for side in (-1, 1):
        ex = hx + side * 20 * s
        draw.polygon(
            [
                (ex - 14 * s, hy - 18 * s),
                (ex + side * 6 * s, hy - 58 * s),
                (ex + 16 * s, hy - 14 * s),
            ],
            fill=colour,
        )
    # tail: a curve of overlapping discs
    t = np.linspace(0, 1, 60)
    tx = cx - f * (40 * s + 70 * s * np.sin(t * 2.2))
    ty = cy - 10 * s - 150 * s * t**1.6 + 30 * s * np.sin(t * 3.1)
    tx = tx + f * 38 * s * np.clip((t - 0.7) / 0.3, 0, 1) ** 2  # the tip hooks over
    for i, (px, py) in enumerate(zip(tx, ty)):
        r = 9 * s * (1 - 0.35 * i / len(t))
        draw.ellipse((px - r, py - r, px + r, py + r), fill=colour)
    # eyes
    for side in (-1, 1):
        ex, ey = hx + side * 12 * s, hy - 2 * s
        draw.ellipse((ex - 5 * s, ey - 3.5 * s, ex + 5 * s, ey + 3.5 * s), fill=eye)
        draw.ellipse((ex - 1.2 * s, ey - 3.2 * s, ex + 1.2 * s, ey + 3.2 * s), fill=colour)


def make_pastel(path: Path) -> None:
    """Soft pastel washes with two black cats: low contrast, gentle colours."""
    rng = np.random.default_rng(2024)
    colours = [
        (246, 205, 214),
        (196, 232, 214),
        (214, 204, 238),
        (250, 240, 214),
        (250, 220, 200),
        (205, 225, 240),
    ]
    img = Image.new("RGB", (SIZE, SIZE), (248, 236, 222))
    draw = ImageDraw.Draw(img)
    for _ in range(40):  # big washes
        cx, cy = rng.uniform(-50, SIZE + 50, 2)
        rx, ry = rng.uniform(60, 190, 2)
        draw.ellipse((cx - rx, cy - ry, cx + rx, cy + ry), fill=colours[rng.integers(6)])
    img = img.filter(ImageFilter.GaussianBlur(40))
    ld = ImageDraw.Draw(img, "RGBA")
    for _ in range(160):  # soft blotches, blended straight onto the washes
        cx, cy = rng.uniform(0, SIZE, 2)
        r = rng.uniform(8, 45)
        col = _jitter(rng, colours[rng.integers(6)], 6)
        ld.ellipse(
            (cx - r, cy - r * rng.uniform(0.6, 1.0), cx + r, cy + r),
            fill=(*col, int(rng.integers(60, 140))),
        )
    ld.rectangle((0, 425, SIZE, SIZE), fill=(228, 200, 218, 120))  # a soft floor band
    img = img.filter(ImageFilter.GaussianBlur(6))
    # the cats, drawn on their own layer and slightly softened
    cats = Image.new("RGBA", img.size, (0, 0, 0, 0))
    cd = ImageDraw.Draw(cats)
    _cat(cd, 170, 445, 1.15, flip=False)
    _cat(cd, 360, 455, 0.9, flip=True)
    cats = cats.filter(ImageFilter.GaussianBlur(1.2))
    img = Image.alpha_composite(img.convert("RGBA"), cats).convert("RGB")
    arr = np.asarray(img, float) + rng.normal(0, 2.5, (SIZE, SIZE, 1))  # paper grain
    _save(_to_img(arr), path, STYLE_QUALITY)


# --------------------------------------------------------------------------- mosaic
def make_mosaic(path: Path) -> None:
    """Pointillist mosaic: a dense field of small, saturated dots (sunset over the sea)."""
    rng = np.random.default_rng(1884)
    n = 15000
    px, py = rng.uniform(-5, SIZE + 5, n), rng.uniform(-5, SIZE + 5, n)
    u = rng.random(n)

    def pick(colours, count):
        return np.asarray(colours, float)[rng.integers(0, len(colours), count)]

    cold = pick([(25, 70, 215), (55, 125, 240), (20, 45, 170), (110, 80, 225), (0, 150, 230)], n)
    warm = pick(
        [(255, 150, 30), (255, 205, 50), (245, 80, 80), (255, 110, 170), (255, 235, 120)], n
    )
    sunc = pick([(255, 240, 90), (255, 250, 190), (255, 200, 40)], n)
    seac = pick([(15, 60, 200), (0, 115, 205), (95, 40, 190), (0, 165, 190), (40, 90, 230)], n)
    land = pick([(35, 160, 45), (120, 200, 30), (0, 115, 60), (70, 185, 90)], n)
    flower = pick([(240, 40, 50), (255, 215, 0), (170, 60, 220), (255, 120, 0)], n)

    sun = np.hypot(px - 350, py - 150)
    sea_top = 262 + 6 * np.sin(px / 60)
    bank = 430 - 120 * np.exp(-(((px - 40) / 200) ** 2)) + 10 * np.sin(px / 30)
    warmth = 0.9 * np.exp(-sun / 110) + 0.55 * np.clip(py / sea_top, 0, 1) ** 4
    rgb = np.where((u < warmth)[:, None], warm, cold)
    glitter = 0.75 * np.exp(-(((px - 350) / 45) ** 2)) * np.exp(-(py - sea_top) / 160)
    rgb = np.where(((py > sea_top) & (u >= glitter))[:, None], seac, rgb)
    rgb = np.where(((py > sea_top) & (u < glitter))[:, None], warm, rgb)
    rgb = np.where((sun < 46)[:, None], sunc, rgb)
    on_land = py > bank
    rgb = np.where((on_land & (u > 0.2))[:, None], land, rgb)
    rgb = np.where((on_land & (u <= 0.2))[:, None], flower, rgb)
    rgb = np.clip(rgb + rng.normal(0, 12, (n, 3)), 0, 255)

    img = Image.new("RGB", (SIZE, SIZE), (250, 246, 235))
    draw = ImageDraw.Draw(img)
    for x0, y0, c in zip(px, py, rgb):
        r = rng.uniform(3.0, 4.8)
        draw.ellipse((x0 - r, y0 - r, x0 + r, y0 + r), fill=tuple(int(v) for v in c))
    # soften the dot edges a touch: looks more like paint and keeps the JPEG < 300 KB
    _save(img.filter(ImageFilter.SMOOTH), path, STYLE_QUALITY)


# --------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    out = Path(argv[0]) if argv else Path(__file__).resolve().parent.parent / "images"
    out.mkdir(parents=True, exist_ok=True)
    make_content(out)
    make_swirls(out / "swirls.jpg")
    make_cubist(out / "cubist.jpg")
    make_pastel(out / "pastel.jpg")
    make_mosaic(out / "mosaic.jpg")


if __name__ == "__main__":
    main()
