"""Prose that stays true on any machine (issue 45): a figure typed into a notebook's markdown
goes stale when the notebook is re-run elsewhere, unless it is a constant of the package.

Every number with a unit or a multiplier in a markdown cell (s, ms, min, px, MB, %, x, times,
steps; ``512x384``) must be one of the package's constants or profile sizes, or be printed by
that notebook's own outputs, within the rounding the sentence uses: a prose 330 s matches a
printed 329.6, 0.28 matches 0.2791; after "about" or "~", anything within 10 %. A vague time
("tens of seconds", "under a second") cannot be checked at all, so it is refused: a
sentence about a run's time points to the line that prints it. Inline code, code blocks, LaTeX
and link targets are not prose and are skipped.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
import re
from dataclasses import astuple
from pathlib import Path

import nst_helpers
from nst_helpers.io.profiles import PROFILES

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))

#: Phrases (not bare numbers) whose figures are facts, not a run's measurement, so they cannot
#: go stale; per notebook, each with its reason. The fewer the better.
ALLOWED: dict[str, dict[str, str]] = {
    "01_gram_matrices": {
        "region of 156 x 156 pixels": "relu5_1's receptive field: VGG19's, notebook 02 prints it",
        "features see 156 px": "relu5_1's receptive field: VGG19's, notebook 02 prints it",
    },
    "02_inside_vgg19": {
        "an 80 MB download": "the size of the original VGG19 weights file",
        "a 548 MB download": "the size of torchvision's VGG19 weights file",
    },
    "04_full_run_on_a_gpu": {
        "the 156 px patch": "relu5_1's receptive field: VGG19's, notebook 02 prints it",
    },
    "05_style_weight_explorer": {
        "from 100 times smaller to 100 times larger": "the sweep's factors, set in its code cell",
        "at 128 to 384 px": "the sizes the default style weight was chosen at (its docstring)",
    },
    "07_going_big": {
        "its 14.7 GiB": "the T4's memory as CUDA reports it: the card's, not a run's",
    },
    "08_a_network_that_paints": {
        "saved every 100 steps": "the default of train's checkpoint_every",
    },
    "09_your_own_photo": {
        "a phone photo is 2-6 MB": "typical phone photos, not a file of this notebook",
        "A 4000x3000 phone photo": "an example of a phone photo's size, not a file's",
        "5.5 MB phone photo of a coffee cup (4000x2664)": "the photo in the committed screenshot",
        "at 256, 512 and 1024 px": "exercise 1's sizes, set in its code cell",
        "smallest at 1024 px": "exercise 1's sizes, set in its code cell",
    },
}

DIGITS = r"(?:\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?)(?![\d.,]?\d)"  # 1,555 or 0.28, not 2.14.1
NUM = rf"(?<![\w.,]){DIGITS}"
UNIT = r"(?:ms|s|sec|seconds?|min|minutes?|px|pixels?|[KMG]i?B|times|steps?)\b|%"
FIGURE = re.compile(
    rf"(?<![\w.,])\d{{3,}}x\d{{3,}}(?:\s*(?:px|pixels?)\b)?"  # 512x384, 1024x567 px
    rf"|{NUM} ?x ?{NUM}\s*(?:px|pixels?)\b"  # 156 x 156 pixels (a bare 3x3 or 3 x 3 is a shape)
    rf"|{NUM}(?:\s*(?:-|–|to)\s*{NUM})?(?:x(?!\w)|\s?(?:{UNIT}))"  # 330 s, 4-5x, 2-6 MB, 20 %
)
APPROX = re.compile(r"(?:about|around|roughly|nearly|almost|~|≈)\s*$", re.I)
#: A number that names a section, notebook or cell, not an amount: "section 6 times a 1024 px".
NAMES = re.compile(r"\b(?:sections?|notebooks?|cells?|exercises?|figures?)\s*$", re.I)
VAGUE = re.compile(
    r"\b(?:a couple of|a few|several|tens of|hundreds of|thousands of)(?: hundred| thousand)?"
    r" (?:milliseconds|seconds|minutes|hours)\b|\b(?:tens|hundreds|thousands) of times\b"
    r"|\ba (?:second|minute|hour) or (?:more|two|so)\b|\ba fraction of a second\b"
    r"|\b(?:about|around|under|over|nearly|almost) (?:a|one) (?:second|minute|hour)\b"
    r"|\btak(?:e|es|ing) (?:seconds|minutes|hours)\b",
    re.I,
)
NOT_PROSE = [r"```.*?```", r"\$\$.*?\$\$", r"`[^`]*`", r"\$[^$]*\$", r"\]\([^)]*\)",
             r"https?://\S+", r"<[^>]+>"]


def prose(cell: dict) -> str:
    text = "".join(cell["source"])
    for pattern in NOT_PROSE:
        text = re.sub(pattern, " ", text, flags=re.S)
    return re.sub(r"\s+", " ", text)


def numbers(text: str) -> list[float]:
    return [float(n.replace(",", "")) for n in re.findall(NUM, text)]



def output_text(notebook: dict) -> str:
    """What the notebook's cells printed: stream text and text/plain results."""
    texts = []
    for cell in notebook["cells"]:
        for out in cell.get("outputs", []):
            texts.append("".join(out.get("text", "")))
            texts.append("".join(out.get("data", {}).get("text/plain", "")))
    return "\n".join(texts)


def package_numbers() -> dict[str, set[float]]:
    """Every public numeric module-level constant of every nst_helpers module (in a tuple or a
    dict too) and every profile's sizes and steps, by the unit they may be written in: a
    fraction also as a percentage ("%"), a ``*_BYTES`` count also in KB..GB and KiB..GiB ("B")."""
    plain: set[float] = {float(v) for profile in PROFILES.values() for v in astuple(profile)[1:]}
    percent, size = set(), set()
    for info in pkgutil.walk_packages(nst_helpers.__path__, "nst_helpers."):
        if info.name.endswith("__main__"):
            continue
        for name, value in vars(importlib.import_module(info.name)).items():
            if name.startswith("_"):
                continue
            items = value.values() if isinstance(value, dict) else (
                value if isinstance(value, tuple) else [value])
            for item in items:
                if isinstance(item, bool) or not isinstance(item, (int, float)):
                    continue
                plain.add(float(item))
                percent.update([item * 100] if 0 < item < 1 else [])
                if name.endswith("_BYTES"):
                    size.update(item / base**k for base in (1000, 1024) for k in (1, 2, 3))
    return {"": plain, "%": plain | percent, "B": plain | size}


def agrees(written: str, value: float, approx: bool) -> bool:
    """``value`` rounds to the number ``written`` at the decimals it is written with (within
    10 % after "about")."""
    target = float(written.replace(",", ""))
    if approx:
        return abs(value - target) <= 0.1 * target
    return abs(value - target) <= 0.5 * 10 ** -len(written.partition(".")[2]) + 1e-9


def findings(notebook: dict, name: str, constants: dict[str, set[float]]) -> list[str]:
    printed = numbers(output_text(notebook))
    allowed = ALLOWED.get(name, {})
    found = []
    for index, cell in enumerate(notebook["cells"]):
        if cell["cell_type"] != "markdown":
            continue
        text = prose(cell)
        for match in VAGUE.finditer(text):
            if any(match[0] in p and p in text for p in allowed):
                continue
            found.append(f"{name} cell {index}: {match[0]!r}: a vague time cannot be checked; "
                         "say it without the run's figure, or point to the line that prints it")
        for match in FIGURE.finditer(text):
            before = text[: match.start()]
            if NAMES.search(before) or any(match[0] in p and p in text for p in allowed):
                continue
            unit = "%" if match[0].endswith("%") else "B" if match[0].endswith("B") else ""
            approx = bool(APPROX.search(before))
            stale = [w for w in re.findall(DIGITS, match[0])  # both sides of 512x384
                     if not any(agrees(w, v, approx) for v in [*constants[unit], *printed])]
            if stale:
                found.append(f"{name} cell {index}: {match[0]!r}: {', '.join(stale)}: not a "
                             "package constant, and no output of this notebook prints it")
    return found


def test_every_figure_in_the_prose_is_a_constant_or_printed():
    constants = package_numbers()
    found = []
    for path in NOTEBOOKS:
        found += findings(json.loads(path.read_text()), path.stem, constants)
    assert not found, f"{len(found)} figures in the prose can go stale:\n" + "\n".join(found)


def test_the_check_catches_a_stale_figure():
    notebook = {"cells": [
        {"cell_type": "code", "source": "", "outputs": [{"text": "took 329.6 s, 0.2791 s\n"}]},
        {"cell_type": "markdown", "source": "It took 330 s, then 0.28 s, about 200x faster "
         "than 12 s, so `9 s` in code is fine (section 3 times a 512 px image); 3 x 3 is a "
         "shape; 1024x512 px runs take tens of\nseconds."},
    ]}
    found = findings(notebook, "nb", {"": {512.0}})
    assert [line.split(": ")[1] for line in found] == [
        "'tens of seconds'", "'200x'", "'12 s'", "'1024x512 px'"]
    assert found[1] == ("nb cell 1: '200x': 200: not a package constant, and no output of this "
                        "notebook prints it")
