"""Ad localization offline: find the text of an image, translate it, and set it back in its place.

Text is found with Tesseract (Apache-2.0, run as the `tesseract` command, English model) line by line;
each line is translated with Apertium (GPL, a subprocess: see `engines.audio.translation`), its box
is painted over with the colour around it, and the translation is drawn in the line's own colour,
sized to the box. Lines Tesseract is not sure of are left alone. The source text is taken to be
English, the language ads are most often made in; a target the installed Apertium data cannot reach
from English fails the task naming the pairs there are.
"""

from __future__ import annotations

import csv
import io
import shutil
import subprocess
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from taxiway.engines.audio import translation
from taxiway.engines.base import RunContext
from taxiway.errors import Failure

SOURCE_LANGUAGE = "en"
MIN_CONFIDENCE = 60.0
_TIMEOUT_S = 60.0
UNSUPPORTED = "INPUT_PREPROCESSING.INTERNAL"


@dataclass(frozen=True)
class Line:
    text: str
    box: tuple[int, int, int, int]  # left, top, right, bottom


def find_lines(image: Image.Image) -> list[Line]:
    """Text lines with their boxes, from Tesseract's TSV (words grouped by block, paragraph and line)."""
    binary = shutil.which("tesseract")
    if binary is None:
        raise Failure(
            UNSUPPORTED, "ad localization needs Tesseract OCR (`tesseract`), which is not installed"
        )
    png = io.BytesIO()
    image.save(png, format="PNG")
    try:
        done = subprocess.run(
            [binary, "stdin", "stdout", "-l", "eng", "--psm", "11", "tsv"],
            input=png.getvalue(),
            capture_output=True,
            timeout=_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise Failure(UNSUPPORTED, f"tesseract failed: {error}") from error
    if done.returncode != 0:
        raise Failure(UNSUPPORTED, f"tesseract failed: {done.stderr.decode(errors='replace')[:200]}")
    lines: dict[tuple[str, str, str], list[dict[str, str]]] = {}
    for row in csv.DictReader(
        io.StringIO(done.stdout.decode(errors="replace")), delimiter="\t", quoting=csv.QUOTE_NONE
    ):
        text = (row.get("text") or "").strip()
        if row.get("level") != "5" or not text or float(row.get("conf") or -1) < MIN_CONFIDENCE:
            continue
        lines.setdefault((row["block_num"], row["par_num"], row["line_num"]), []).append(row)
    found = []
    for words in lines.values():
        left = min(int(w["left"]) for w in words)
        top = min(int(w["top"]) for w in words)
        right = max(int(w["left"]) + int(w["width"]) for w in words)
        bottom = max(int(w["top"]) + int(w["height"]) for w in words)
        found.append(Line(" ".join(w["text"] for w in words), (left, top, right, bottom)))
    return found


def _colours(pixels: np.ndarray, box: tuple[int, int, int, int]) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """The background (median of a ring around the box) and the text colour (the box's pixels
    farthest from it)."""
    left, top, right, bottom = box
    height, width = pixels.shape[:2]
    pad = max(2, (bottom - top) // 4)
    outer = pixels[
        max(0, top - pad) : min(height, bottom + pad), max(0, left - pad) : min(width, right + pad)
    ]
    ring = np.concatenate([outer[:pad].reshape(-1, 3), outer[-pad:].reshape(-1, 3)])
    background = np.median(ring, axis=0)
    inside = pixels[top:bottom, left:right].reshape(-1, 3).astype(np.float32)
    distance = np.linalg.norm(inside - background, axis=1)
    ink = inside[distance >= np.percentile(distance, 90)].mean(axis=0) if len(inside) else 255 - background
    return tuple(int(v) for v in background), tuple(int(v) for v in ink)


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=max(8, size))


def _fitted(
    draw: ImageDraw.ImageDraw, text: str, width: int, height: int
) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """The largest font that fits the text in the box (at least 8 px)."""
    size = max(8, int(height * 1.2))
    while size > 8:
        font = _font(size)
        left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
        if right - left <= width and bottom - top <= height * 1.25:
            return font
        size -= max(1, size // 12)
    return _font(8)


def _translate(texts: list[str], target: str) -> list[str]:
    """Translations that keep each line's case. Ad headlines are often in capitals or title case,
    which rule-based translation reads as names, so they are translated in lower case and re-cased."""
    cases = ["upper" if t.isupper() else "title" if t.istitle() else "" for t in texts]
    source = [text.lower() if case else text for text, case in zip(texts, cases, strict=True)]
    out = translation.translate(source, SOURCE_LANGUAGE, target)
    return [
        text.upper() if case == "upper" else text[:1].upper() + text[1:] if case == "title" else text
        for text, case in zip(out, cases, strict=True)
    ]


def localize(image: Image.Image, target: str, context: RunContext) -> Image.Image:
    """The image with every confidently read line replaced by its translation."""
    if not translation.can_translate(SOURCE_LANGUAGE, target):
        pairs = ", ".join(f"{a}->{b}" for a, b in translation.supported_pairs() if a == SOURCE_LANGUAGE)
        raise Failure(
            UNSUPPORTED,
            f"targetLanguage: no offline translation from {SOURCE_LANGUAGE} to {target} here "
            f"(installed: {pairs or 'none'})",
        )
    lines = find_lines(image)
    context.progress(0.4)
    if not lines:
        return image.copy()
    translated = _translate([line.text for line in lines], target)
    context.progress(0.7)
    out = image.convert("RGB")
    pixels = np.asarray(out)
    draw = ImageDraw.Draw(out)
    for line, text in zip(lines, translated, strict=True):
        background, ink = _colours(pixels, line.box)
        left, top, right, bottom = line.box
        pad = max(1, (bottom - top) // 6)
        draw.rectangle((left - pad, top - pad, right + pad, bottom + pad), fill=background)
        font = _fitted(draw, text, right - left + 2 * pad, bottom - top)
        box = draw.textbbox((0, 0), text, font=font)
        x = left + (right - left - (box[2] - box[0])) / 2 - box[0]
        y = top + (bottom - top - (box[3] - box[1])) / 2 - box[1]
        draw.text((x, y), text, fill=ink, font=font)
    return out
