"""A procedural text-to-image engine: offline, CPU-only and deterministic.

This is not a generative model. It paints a gradient landscape from a few prompt keywords so that a
self-hosted install works end to end (and tests run) without weights, downloads or a GPU:

- colour words ("red", "teal", "gold", ...) tint the whole palette; the first one colours the largest
  shape, standing in for the subject;
- sky words ("sunset", "dusk", "night", "sky", ...) choose the sky, the light (sun, moon, stars) and the
  overall brightness; ground words ("ocean", "forest", "snow", "desert", "mountain", ...) choose the land
  below the horizon and how hilly it is;
- everything else - palette when no word matches, horizon, shapes, texture - comes from a PCG64 generator
  seeded by blake2b(model|ratio|seed|prompt), so the same request always yields the same PNG bytes.

Data-URI reference images are composited as feathered insets; other URIs need a `fetch` callable.
"""

from __future__ import annotations

import base64
import colorsys
import hashlib
import io
import re
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageOps
from pydantic.alias_generators import to_snake

from taxiway.catalog import CATALOG, framing
from taxiway.catalog.fields import ReferenceImage, SubjectImage
from taxiway.engines.base import Artifact, EngineRequest, RunContext
from taxiway.engines.png_encode import encode_png
from taxiway.errors import Failure

Rgb = tuple[float, float, float]
FloatArray = npt.NDArray[np.floating[Any]]  # float32 at run time; numpy's annotations widen mixed arithmetic

# Rendering happens at this long side and is upscaled: everything is smooth, so detail is not lost,
# and the numpy work shrinks ~16x at 1080p. PNG encoding of the full frame dominates the run time.
RENDER_LONG_SIDE = 480
PNG_COMPRESS_LEVEL = 2
MAX_SIDE = 12_288  # the largest SDK size is 11712 px (nano_banana_2.1)

COLOURS: Mapping[str, Rgb] = {
    "red": (0.86, 0.13, 0.11),
    "crimson": (0.70, 0.05, 0.16),
    "maroon": (0.45, 0.06, 0.10),
    "orange": (0.96, 0.52, 0.11),
    "yellow": (0.98, 0.86, 0.22),
    "gold": (0.90, 0.72, 0.24),
    "golden": (0.90, 0.72, 0.24),
    "green": (0.20, 0.64, 0.26),
    "teal": (0.09, 0.55, 0.55),
    "turquoise": (0.20, 0.80, 0.76),
    "cyan": (0.15, 0.80, 0.88),
    "blue": (0.14, 0.34, 0.86),
    "navy": (0.06, 0.10, 0.36),
    "indigo": (0.26, 0.16, 0.55),
    "purple": (0.50, 0.20, 0.70),
    "violet": (0.58, 0.36, 0.84),
    "magenta": (0.86, 0.16, 0.66),
    "pink": (0.96, 0.52, 0.72),
    "white": (0.97, 0.97, 0.97),
    "silver": (0.76, 0.77, 0.80),
    "gray": (0.50, 0.50, 0.52),
    "grey": (0.50, 0.50, 0.52),
    "black": (0.05, 0.05, 0.06),
    "brown": (0.45, 0.28, 0.15),
    "beige": (0.89, 0.83, 0.70),
}


@dataclass(frozen=True)
class _Sky:
    top: Rgb
    bottom: Rgb
    brightness: float
    light: str | None  # "sun", "moon" or None
    glow: float


@dataclass(frozen=True)
class _Ground:
    top: Rgb
    bottom: Rgb
    horizon: float  # fraction of the height
    hills: float  # horizon undulation, fraction of the height
    streaks: bool  # horizontal bands, for water


_DAY = _Sky((0.30, 0.52, 0.86), (0.78, 0.87, 0.96), 1.0, None, 0.15)
_SUNSET = _Sky((0.36, 0.20, 0.50), (0.98, 0.58, 0.25), 0.95, "sun", 0.6)
_DAWN = _Sky((0.45, 0.55, 0.80), (0.98, 0.76, 0.56), 1.0, "sun", 0.45)
_DUSK = _Sky((0.12, 0.12, 0.35), (0.86, 0.46, 0.45), 0.78, None, 0.5)
_NIGHT = _Sky((0.01, 0.02, 0.08), (0.08, 0.12, 0.28), 0.6, "moon", 0.1)
SKIES: Mapping[str, _Sky] = {
    "sky": _DAY, "day": _DAY, "noon": _DAY, "sunny": _DAY,
    "sunset": _SUNSET, "sunrise": _DAWN, "dawn": _DAWN, "morning": _DAWN,
    "dusk": _DUSK, "twilight": _DUSK, "evening": _DUSK,
    "night": _NIGHT, "midnight": _NIGHT, "stars": _NIGHT, "starry": _NIGHT,
}  # fmt: skip

_OCEAN = _Ground((0.20, 0.45, 0.70), (0.03, 0.15, 0.38), 0.48, 0.0, True)
_FOREST = _Ground((0.16, 0.38, 0.18), (0.05, 0.18, 0.08), 0.58, 0.06, False)
_SNOW = _Ground((0.94, 0.96, 0.99), (0.78, 0.84, 0.93), 0.60, 0.04, False)
_DESERT = _Ground((0.93, 0.72, 0.45), (0.78, 0.50, 0.25), 0.60, 0.05, False)
_MOUNTAIN = _Ground((0.42, 0.45, 0.52), (0.20, 0.22, 0.28), 0.62, 0.18, False)
_MEADOW = _Ground((0.45, 0.66, 0.30), (0.22, 0.42, 0.16), 0.62, 0.03, False)
GROUNDS: Mapping[str, _Ground] = {
    "ocean": _OCEAN, "sea": _OCEAN, "lake": _OCEAN, "water": _OCEAN, "beach": _OCEAN,
    "forest": _FOREST, "jungle": _FOREST, "woods": _FOREST, "tree": _FOREST,
    "snow": _SNOW, "snowy": _SNOW, "winter": _SNOW, "ice": _SNOW, "arctic": _SNOW,
    "desert": _DESERT, "dune": _DESERT, "sand": _DESERT,
    "mountain": _MOUNTAIN, "peak": _MOUNTAIN, "hill": _MOUNTAIN,
    "meadow": _MEADOW, "field": _MEADOW, "grass": _MEADOW, "garden": _MEADOW,
}  # fmt: skip

_SKY_ONLY_HORIZON = 0.82
_TINT = 0.4  # how far colour words pull the background stops


@dataclass(frozen=True)
class Scene:
    """What the prompt asked for, resolved to numbers; kept separate from drawing so it is explainable."""

    sky_top: Rgb
    sky_bottom: Rgb
    ground_top: Rgb
    ground_bottom: Rgb
    horizon: float
    hills: float
    streaks: bool
    brightness: float
    light: str | None
    glow: float
    subject: Rgb | None  # the first colour word, painted as the largest shape
    accents: tuple[Rgb, ...]


def _words(prompt: str) -> list[str]:
    """Lower-case words with a naive plural strip, so "mountains" finds "mountain" but "grass" stays."""
    known = COLOURS.keys() | SKIES.keys() | GROUNDS.keys()
    words = []
    for word in re.findall(r"[a-z]+", prompt.lower()):
        if word not in known and word.endswith("s") and word[:-1] in known:
            word = word[:-1]
        words.append(word)
    return words


def _hsv(hue: float, saturation: float, value: float) -> Rgb:
    return colorsys.hsv_to_rgb(hue % 1.0, saturation, value)


def _mix(a: Rgb, b: Rgb, weight: float) -> Rgb:
    return (
        a[0] + (b[0] - a[0]) * weight,
        a[1] + (b[1] - a[1]) * weight,
        a[2] + (b[2] - a[2]) * weight,
    )


def plan_scene(prompt: str, rng: np.random.Generator) -> Scene:
    """Map prompt keywords to a scene; the first sky word and the first ground word win."""
    words = _words(prompt)
    colours = list(dict.fromkeys(COLOURS[w] for w in words if w in COLOURS))
    sky = next((SKIES[w] for w in words if w in SKIES), None)
    ground = next((GROUNDS[w] for w in words if w in GROUNDS), None)

    # The hash palette is always drawn, so the random stream (and thus layout) does not depend on words.
    hue = float(rng.random())
    # Accents are analogous or complementary to the base hue, so unprompted images still look coherent.
    hashed_accents = tuple(
        _hsv(
            hue + float(rng.uniform(-0.12, 0.12)) + 0.5 * int(rng.integers(0, 2)),
            float(rng.uniform(0.45, 0.9)),
            float(rng.uniform(0.6, 0.95)),
        )
        for _ in range(4)
    )
    hashed_light = "sun" if rng.random() < 0.35 else None
    hashed_sky = _Sky(_hsv(hue, 0.55, 0.55), _hsv(hue + 0.08, 0.3, 0.92), 1.0, hashed_light, 0.3)
    hashed_ground = _Ground(
        _hsv(hue + 0.5, 0.5, 0.62),
        _hsv(hue + 0.45, 0.6, 0.3),
        float(rng.uniform(0.42, 0.72)),
        float(rng.uniform(0.02, 0.1)),
        False,
    )

    if sky is None:
        sky = _DAY if ground is not None else hashed_sky
    if ground is None:
        ground = hashed_ground
        if sky is _DAY and "sky" in words:
            ground = _Ground(ground.top, ground.bottom, _SKY_ONLY_HORIZON, ground.hills, False)

    stops = [sky.top, sky.bottom, ground.top, ground.bottom]
    if colours:
        stops = [_mix(stop, colours[i % len(colours)], _TINT) for i, stop in enumerate(stops)]
    return Scene(
        sky_top=stops[0],
        sky_bottom=stops[1],
        ground_top=stops[2],
        ground_bottom=stops[3],
        horizon=ground.horizon,
        hills=ground.hills,
        streaks=ground.streaks,
        brightness=sky.brightness,
        light=sky.light,
        glow=sky.glow,
        subject=colours[0] if colours else None,
        accents=tuple(colours) + hashed_accents if colours else hashed_accents,
    )


# ---- drawing helpers (all vectorised, float32 in [0, 1]) ---------------------------------------------


def _smoothstep(edge0: float | FloatArray, edge1: float | FloatArray, x: FloatArray) -> FloatArray:
    t = np.clip((x - edge0) / (np.asarray(edge1) - edge0 + 1e-6), 0.0, 1.0)
    return (t * t * (3.0 - 2.0 * t)).astype(np.float32)


def _value_noise(rng: np.random.Generator, height: int, width: int, cells_y: int, cells_x: int) -> FloatArray:
    """Smoothly interpolated random lattice: cheap, seamless-enough texture without per-pixel loops."""
    grid = rng.random((cells_y + 1, cells_x + 1), dtype=np.float32)
    ys = np.linspace(0.0, cells_y, height, endpoint=False, dtype=np.float32)
    xs = np.linspace(0.0, cells_x, width, endpoint=False, dtype=np.float32)
    y0 = ys.astype(np.intp)
    x0 = xs.astype(np.intp)
    ty = ys - y0
    tx = xs - x0
    fy: FloatArray = (ty * ty * (3.0 - 2.0 * ty))[:, None]
    fx: FloatArray = (tx * tx * (3.0 - 2.0 * tx))[None, :]
    rows0 = grid[y0]
    rows1 = grid[y0 + 1]
    top = rows0[:, x0] * (1.0 - fx) + rows0[:, x0 + 1] * fx
    bottom = rows1[:, x0] * (1.0 - fx) + rows1[:, x0 + 1] * fx
    return (top * (1.0 - fy) + bottom * fy).astype(np.float32)


def _fbm(rng: np.random.Generator, height: int, width: int, base_cells: int, octaves: int) -> FloatArray:
    aspect = width / height
    total = np.zeros((height, width), np.float32)
    norm = 0.0
    for octave in range(octaves):
        cells = base_cells * 2**octave
        amplitude = 0.5**octave
        total += amplitude * _value_noise(rng, height, width, cells, max(1, round(cells * aspect)))
        norm += amplitude
    return total / np.float32(norm)


def _lerp_rgb(a: Rgb, b: Rgb, t: FloatArray) -> FloatArray:
    ca = np.asarray(a, np.float32)
    cb = np.asarray(b, np.float32)
    return (ca + (cb - ca) * t[..., None]).astype(np.float32)


def _over(image: FloatArray, colour: FloatArray | Rgb, alpha: FloatArray) -> None:
    a = alpha[..., None]
    image *= 1.0 - a
    image += np.asarray(colour, np.float32) * a


@dataclass(frozen=True)
class _Grid:
    ys: FloatArray  # (h, 1), 0 at the top, 1 at the bottom
    xs: FloatArray  # (1, w), 0 at the left, 1 at the right
    aspect: float  # width / height, to keep shapes round


def _grid(height: int, width: int) -> _Grid:
    ys = ((np.arange(height, dtype=np.float32) + 0.5) / height)[:, None]
    xs = ((np.arange(width, dtype=np.float32) + 0.5) / width)[None, :]
    return _Grid(ys, xs, width / height)


def paint_background(scene: Scene, rng: np.random.Generator, height: int, width: int) -> FloatArray:
    """Sky gradient, sun/moon/stars, undulating ground and a glow along the horizon."""
    g = _grid(height, width)
    slope = float(rng.uniform(-0.15, 0.15))
    sky_t = np.clip((g.ys + slope * (g.xs - 0.5)) / scene.horizon, 0.0, 1.0)
    image = _lerp_rgb(scene.sky_top, scene.sky_bottom, sky_t**1.3)

    if scene.light is not None:
        cx = float(rng.uniform(0.2, 0.8))
        cy = scene.horizon - float(rng.uniform(0.03, 0.22)) * (1.0 if scene.light == "sun" else 2.0)
        radius = float(rng.uniform(0.05, 0.09))
        dist = np.sqrt(((g.xs - cx) * g.aspect) ** 2 + (g.ys - cy) ** 2)
        disc = 1.0 - _smoothstep(radius * 0.9, radius * 1.05, dist)
        halo = np.exp(-((dist / (radius * 3.0)) ** 2)).astype(np.float32) * 0.5
        light: Rgb = (1.0, 0.93, 0.72) if scene.light == "sun" else (0.92, 0.94, 1.0)
        _over(image, light, np.maximum(disc, halo))
    if scene.light == "moon":
        count = int(rng.integers(80, 200))
        sy = (rng.random(count) * scene.horizon * 0.95 * height).astype(np.intp)
        sx = (rng.random(count) * width).astype(np.intp)
        image[sy, sx] = np.maximum(image[sy, sx], rng.uniform(0.5, 1.0, (count, 1)).astype(np.float32))

    ridge = _value_noise(rng, 1, width, 1, max(2, round(6 * g.aspect)))
    fine = _value_noise(rng, 1, width, 1, max(4, round(24 * g.aspect)))
    horizon = (
        scene.horizon + scene.hills * ((ridge - 0.5) * 2.0 + 0.25 * (fine - 0.5)) + slope * 0.3 * (g.xs - 0.5)
    )
    edge = 1.5 / height
    ground_mask = _smoothstep(horizon - edge, horizon + edge, g.ys)
    ground_t = np.clip((g.ys - horizon) / np.maximum(1.0 - horizon, 0.05), 0.0, 1.0)
    ground = _lerp_rgb(scene.ground_top, scene.ground_bottom, ground_t**0.8)
    if scene.streaks:
        bands = _value_noise(rng, height, width, 48, max(1, round(3 * g.aspect)))
        ground *= (0.88 + 0.24 * bands)[..., None]
    _over(image, ground, ground_mask)

    glow = np.exp(-(((g.ys - horizon) / 0.035) ** 2)).astype(np.float32) * scene.glow
    image += np.asarray(_mix(scene.sky_bottom, (1.0, 1.0, 1.0), 0.4), np.float32) * glow[..., None] * 0.6
    return image


def paint_shapes(scene: Scene, rng: np.random.Generator, image: FloatArray) -> None:
    """Soft blobs; the first, largest one sits near the horizon and takes the subject colour."""
    height, width = image.shape[:2]
    g = _grid(height, width)
    count = int(rng.integers(3, 8))
    for index in range(count):
        if index == 0:
            cx = float(rng.uniform(0.3, 0.7))
            cy = scene.horizon + float(rng.uniform(-0.05, 0.12))
            radius = float(rng.uniform(0.12, 0.2))
            pick = int(rng.integers(0, len(scene.accents)))
            colour = scene.subject if scene.subject is not None else scene.accents[pick]
            opacity = 0.95
        else:
            cx = float(rng.uniform(0.05, 0.95))
            cy = float(rng.uniform(0.1, 0.9))
            radius = float(rng.uniform(0.03, 0.11))
            colour = scene.accents[int(rng.integers(0, len(scene.accents)))]
            opacity = float(rng.uniform(0.45, 0.85))
        lobes = int(rng.integers(2, 6))
        wobble = rng.uniform(0.0, 0.18, 2)
        phase = rng.uniform(0.0, 2 * np.pi, 2)
        dx = (g.xs - cx) * g.aspect
        dy = g.ys - cy
        dist = np.sqrt(dx * dx + dy * dy)
        angle = np.arctan2(dy, dx)
        edge = radius * (
            1.0
            + wobble[0] * np.sin(lobes * angle + phase[0])
            + wobble[1] * np.sin((lobes + 1) * angle + phase[1])
        )
        feather = radius * 0.12
        alpha = (1.0 - _smoothstep(edge - feather, edge + feather, dist)) * opacity
        # Light from the upper left, so blobs read as objects rather than flat stickers.
        shade = 1.0 + 0.25 * np.clip((-dx - dy) / radius, -1.0, 1.0)
        _over(image, np.asarray(colour, np.float32) * shade[..., None], alpha.astype(np.float32))


def apply_texture(scene: Scene, rng: np.random.Generator, image: FloatArray) -> None:
    """Fractal value noise plus a vignette and the sky's brightness: breaks up flat gradients."""
    height, width = image.shape[:2]
    noise = _fbm(rng, height, width, 3, 5)
    tint = _fbm(rng, height, width, 2, 2)
    g = _grid(height, width)
    vignette = 1.0 - 0.35 * ((g.xs - 0.5) ** 2 + (g.ys - 0.5) ** 2)
    factor = (1.0 + 0.22 * (noise - 0.5)) * vignette * scene.brightness
    image *= factor[..., None]
    image[..., 0] += 0.04 * (tint - 0.5)
    image[..., 2] -= 0.04 * (tint - 0.5)


# ---- reference images -------------------------------------------------------------------------------


def _data_uri_bytes(uri: str) -> bytes:
    header, sep, payload = uri.partition(",")
    if not sep:
        raise ValueError("data URI without a comma")
    if header.lower().endswith(";base64"):
        return base64.b64decode(payload)
    return urllib.parse.unquote_to_bytes(payload)


def _open_image(data: bytes, max_side: int) -> Image.Image:
    with Image.open(io.BytesIO(data)) as opened:
        # JPEG decodes at a reduced scale here, so a large phone photo stays cheap.
        opened.draft("RGB", (max_side, max_side))
        image = ImageOps.exif_transpose(opened).convert("RGBA")
    image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    return image


def load_references(
    references: Sequence[ReferenceImage | SubjectImage], fetch: Callable[[str], bytes] | None, max_side: int
) -> list[Image.Image]:
    """Decode every usable reference up front, so a bad one fails the task before any rendering."""
    images = []
    for index, reference in enumerate(references):
        uri = reference.uri
        try:
            if uri[:5].lower() == "data:":
                data = _data_uri_bytes(uri)
            elif fetch is not None:
                data = fetch(uri)
            else:
                continue
            images.append(_open_image(data, max_side))
        except Failure:
            raise
        # binascii.Error is a ValueError; Pillow reports broken or unknown data as OSError.
        except (ValueError, OSError, SyntaxError, EOFError, Image.DecompressionBombError) as error:
            raise Failure(
                "ASSET.INVALID", f"referenceImages[{index}] could not be decoded as an image"
            ) from error
    return images


def composite_references(
    canvas: Image.Image, references: Sequence[Image.Image], rng: np.random.Generator
) -> None:
    """Feathered, rounded insets with a soft shadow, one per column slot so they never pile up."""
    width, height = canvas.size
    slot = width / len(references)
    box = max(8, int(min(0.8 * slot, 0.42 * height)))
    for index, reference in enumerate(references):
        inset = ImageOps.contain(reference, (box, box), Image.Resampling.LANCZOS)
        if min(inset.size) < 8:  # a sliver would leave no room for the rounded, feathered edge
            inset = inset.resize((max(8, inset.width), max(8, inset.height)), Image.Resampling.BICUBIC)
        w, h = inset.size
        feather = max(1, round(0.025 * min(w, h)))
        mask = Image.new("L", (w, h), 0)
        ImageDraw.Draw(mask).rounded_rectangle(
            (feather, feather, w - 1 - feather, h - 1 - feather),
            radius=max(2, round(0.08 * min(w, h))),
            fill=255,
        )
        mask = ImageChops.multiply(mask.filter(ImageFilter.GaussianBlur(feather)), inset.getchannel("A"))
        spare = max(0.0, (slot - w) / 2)
        x = round(index * slot + (slot - w) / 2 + float(rng.uniform(-0.8, 0.8)) * spare)
        y = round(float(rng.uniform(0.06, 0.94)) * max(0, height - h))
        # The shadow gets a margin, or its blur would be clipped into a hard edge by the inset's bounds.
        blur = feather * 3
        shadow = Image.new("L", (w + 4 * blur, h + 4 * blur), 0)
        shadow.paste(mask, (2 * blur, 2 * blur))
        shadow = shadow.filter(ImageFilter.GaussianBlur(blur)).point([v * 2 // 5 for v in range(256)])
        offset = max(2, feather * 2)
        canvas.paste((0, 0, 0), (x + offset - 2 * blur, y + offset - 2 * blur), shadow)
        canvas.paste(inset.convert("RGB"), (x, y), mask)


# ---- the engine -------------------------------------------------------------------------------------


def parse_ratio(ratio: str) -> tuple[int, int]:
    """Parse "W:H". The API validates ratios before submission, so a bad one here is a programming error."""
    width_text, sep, height_text = ratio.partition(":")
    if not sep or not width_text.isdigit() or not height_text.isdigit():
        raise ValueError(f"ratio must look like '1920:1080', got {ratio!r}")
    width, height = int(width_text), int(height_text)
    if not (0 < width <= MAX_SIDE and 0 < height <= MAX_SIDE):
        raise ValueError(f"ratio sides must be within 1..{MAX_SIDE}, got {ratio!r}")
    return width, height


def generator_for(model: str, ratio: str, seed: int, prompt: str) -> np.random.Generator:
    """Seeded from blake2b, not hash(): the latter is salted per process and would break reruns."""
    digest = hashlib.blake2b(f"{model}|{ratio}|{seed}|{prompt}".encode(), digest_size=32).digest()
    return np.random.Generator(np.random.PCG64(int.from_bytes(digest, "big")))


def hex_colour(value: str) -> Rgb:
    digits = value.lstrip("#")
    return (int(digits[0:2], 16) / 255.0, int(digits[2:4], 16) / 255.0, int(digits[4:6], 16) / 255.0)


def with_palette(scene: Scene, background: str | None, colours: Sequence[str]) -> Scene:
    """Recraft's colour hints: `backgroundColor` tints the backdrop, `colors` become the shapes' colours."""
    if background:
        tone = hex_colour(background)
        scene = replace(
            scene,
            sky_top=_mix(scene.sky_top, tone, 0.75),
            sky_bottom=_mix(scene.sky_bottom, tone, 0.75),
            ground_top=_mix(scene.ground_top, tone, 0.5),
            ground_bottom=_mix(scene.ground_bottom, tone, 0.5),
        )
    if colours:
        palette = tuple(hex_colour(c) for c in colours)
        scene = replace(scene, subject=palette[0], accents=palette)
    return scene


def plan_for(request: EngineRequest, prompt: str, rng: np.random.Generator) -> Scene:
    fields = request.fields
    return with_palette(plan_scene(prompt, rng), fields.background_color or None, list(fields.colors))


def shape_layer(scene: Scene, rng: np.random.Generator, height: int, width: int) -> Image.Image:
    """`paint_shapes` composites straight onto an image; painting the same shapes (same generator state)
    over black and over white recovers their colour and coverage as a separate RGBA layer."""
    state = rng.bit_generator.state
    on_black = np.zeros((height, width, 3), np.float32)
    paint_shapes(scene, rng, on_black)
    rng.bit_generator.state = state
    on_white = np.ones((height, width, 3), np.float32)
    paint_shapes(scene, rng, on_white)
    alpha = np.clip(1.0 - (on_white - on_black).mean(axis=2), 0.0, 1.0)
    return rgba(on_black / np.maximum(alpha, 1e-3)[..., None], alpha)


def rgba(colour: FloatArray, alpha: FloatArray) -> Image.Image:
    pixels = np.concatenate([np.clip(colour, 0.0, 1.0), np.clip(alpha, 0.0, 1.0)[..., None]], axis=2)
    return Image.fromarray((pixels * 255.0 + 0.5).astype(np.uint8), "RGBA")


def _low_size(width: int, height: int) -> tuple[int, int]:
    scale = min(1.0, RENDER_LONG_SIDE / max(width, height))
    return max(2, round(width * scale)), max(2, round(height * scale))


def render_scene(
    request: EngineRequest, key: str, seed: int, size: tuple[int, int], context: RunContext
) -> Image.Image:
    """The prompt's scene at `size`: painted small, textured, then upscaled (it is smooth everywhere)."""
    prompt = request.fields.prompt_text or ""
    rng = generator_for(request.model, key, seed, prompt)
    low_w, low_h = _low_size(*size)
    scene = plan_for(request, prompt, rng)
    image = paint_background(scene, rng, low_h, low_w)
    context.progress(0.3)
    paint_shapes(scene, rng, image)
    context.progress(0.5)
    apply_texture(scene, rng, image)
    context.progress(0.65)
    pixels = (np.clip(image, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    canvas = Image.fromarray(pixels, "RGB")
    return canvas if canvas.size == size else canvas.resize(size, Image.Resampling.BICUBIC)


def render_cutout(request: EngineRequest, key: str, seed: int, size: tuple[int, int]) -> Image.Image:
    """`background: transparent`: the scene's shapes alone, on full transparency (RGBA)."""
    prompt = request.fields.prompt_text or ""
    rng = generator_for(request.model, key, seed, prompt)
    scene = plan_for(request, prompt, rng)
    low_w, low_h = _low_size(*size)
    layer = shape_layer(scene, rng, low_h, low_w)
    return layer if layer.size == size else layer.resize(size, Image.Resampling.BICUBIC)


def render_edit(
    request: EngineRequest, base: Image.Image, scene: Image.Image, mask: Image.Image | None
) -> Image.Image:
    """An edit of `base`: inside the mask (white) the prompt's scene replaces the picture, feathered;
    without a mask the whole picture is graded toward the scene's palette, its shapes kept legible."""
    base = ImageOps.fit(base.convert("RGB"), scene.size, Image.Resampling.LANCZOS)
    if mask is not None:
        weight = ImageOps.fit(mask.convert("L"), scene.size, Image.Resampling.BILINEAR)
        weight = weight.filter(ImageFilter.GaussianBlur(max(1, min(scene.size) // 200)))
        return Image.composite(scene, base, weight)
    graded = Image.blend(base, scene.filter(ImageFilter.GaussianBlur(max(2, min(scene.size) // 40))), 0.35)
    return ImageChops.overlay(graded, base) if request.fields.precise_edit else graded


OUTPUT_TYPES: Mapping[str, tuple[str, str]] = {
    "png": ("png", "image/png"),
    "jpeg": ("jpg", "image/jpeg"),
    "webp": ("webp", "image/webp"),
}


def encode_image(image: Image.Image, output_format: str) -> bytes:
    """PNG through the parallel encoder (RGB or RGBA); JPEG and WebP through Pillow at quality 90."""
    if output_format == "png":
        return encode_png(np.asarray(image), level=PNG_COMPRESS_LEVEL)
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, "JPEG" if output_format == "jpeg" else "WEBP", quality=90)
    return buffer.getvalue()


def output_name(index: int, count: int, extension: str) -> str:
    """`output.png` for a single image, `output_1.png`… when a request makes several."""
    return f"output.{extension}" if count == 1 else f"output_{index + 1}.{extension}"


def source_size(data: bytes) -> tuple[int, int] | None:
    """An input image's size from its header alone; None when it cannot be read."""
    try:
        with Image.open(io.BytesIO(data)) as opened:
            width, height = opened.size
            orientation = opened.getexif().get(0x0112, 1)
    except (ValueError, OSError, SyntaxError, EOFError, Image.DecompressionBombError):
        return None
    return (height, width) if orientation in (5, 6, 7, 8) else (width, height)


@dataclass(frozen=True)
class ImagePlan:
    """What one text_to_image request makes: size, how many, in which format, and from what."""

    size: tuple[int, int]
    count: int
    output_format: str
    transparent: bool
    edits: bool


def plan_image(request: EngineRequest, first_reference: bytes | None) -> ImagePlan:
    """The request resolved against its catalog entry; models outside the catalog get the seed shape."""
    fields = request.fields
    spec = CATALOG.get((request.endpoint, request.model))
    if spec is None:
        size = parse_ratio(fields.ratio or "1024:1024")
        return ImagePlan(size, 1, "png", False, False)
    source = source_size(first_reference) if first_reference is not None else None
    width, height = framing.output_size(spec, request.params, source)
    if not (0 < width <= MAX_SIDE and 0 < height <= MAX_SIDE):
        raise ValueError(f"output size {width}x{height} is beyond {MAX_SIDE} pixels per side")
    triggers = spec.edits_reference
    edits = (
        first_reference is not None
        and triggers is not None
        and (not triggers or any(getattr(fields, to_snake(name)) not in (None, False) for name in triggers))
    )
    return ImagePlan(
        (width, height),
        spec.output_count(request.params),
        fields.output_format or "png",
        fields.background == "transparent",
        edits,
    )


class ProceduralImageEngine:
    """Procedural stand-in for text-to-image models; see the module docstring for how prompts steer it."""

    name = "procedural-image"

    def __init__(self, fetch: Callable[[str], bytes] | None = None) -> None:
        self._fetch = fetch

    def run(self, request: EngineRequest, context: RunContext) -> list[Artifact]:
        fields = request.fields
        prompt = fields.prompt_text or ""
        context.check_cancelled()
        # Inputs the server fetched before the run take precedence; `fetch` serves direct use.
        fetch = _once(request.asset if request.assets else self._fetch)
        listed = fields.reference_images
        first = _reference_bytes(listed[0], fetch) if listed else None
        plan = plan_image(request, first)
        width, height = plan.size
        references = load_references(listed, fetch, max(64, max(width, height) // 2))
        mask = None
        if fields.mask_uri and fetch is not None:
            mask = load_references([ReferenceImage(uri=fields.mask_uri)], fetch, max(width, height))[0]
        context.progress(0.1)

        extension, content_type = OUTPUT_TYPES[plan.output_format]
        key = fields.ratio or f"{width}:{height}"
        artifacts = []
        for index in range(plan.count):
            seed = request.seed + index
            if plan.transparent:
                canvas = render_cutout(request, key, seed, plan.size)
            else:
                canvas = render_scene(request, key, seed, plan.size, context)
            if plan.edits and first is not None:
                canvas = render_edit(request, _open_image(first, max(width, height)), canvas, mask)
            elif references:
                composite_references(canvas, references, generator_for(request.model, key, seed, prompt))
            context.progress(0.8 * (index + 1) / plan.count)
            data = encode_image(canvas, plan.output_format)
            artifacts.append(Artifact(output_name(index, plan.count, extension), data, content_type))
        context.progress(1.0)
        return artifacts


def _once(fetch: Callable[[str], bytes] | None) -> Callable[[str], bytes] | None:
    """`fetch`, each URI at most once: framing reads the first reference before compositing does."""
    if fetch is None:
        return None
    seen: dict[str, bytes] = {}

    def fetch_once(uri: str) -> bytes:
        if uri not in seen:
            seen[uri] = fetch(uri)
        return seen[uri]

    return fetch_once


def _reference_bytes(
    reference: ReferenceImage | SubjectImage, fetch: Callable[[str], bytes] | None
) -> bytes | None:
    uri = reference.uri
    if uri[:5].lower() == "data:":
        try:
            return _data_uri_bytes(uri)
        except ValueError:
            return None
    return fetch(uri) if fetch is not None and uri else None
