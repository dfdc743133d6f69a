"""Video-to-video engines: a prompt-driven restyle and a character performance transfer. Offline, CPU-only.

Neither is a generative model; both are classic image processing steered by the request:

- `RestyleVideoEngine` grades every frame toward the prompt's colour words (the still engine's colour
  table; a reference image's shadows and highlights; a seeded hue otherwise) with a colour matrix and
  curves, then applies the first style the prompt names: sketch, noir, neon, watercolor, vintage,
  cartoon or pixel.
- `PerformanceTransferEngine` measures the performer's motion in the reference video (background by
  temporal median, subject by the centroid and spread of what differs from it, activity by frame
  differences) and replays it on the character as a rubber-sheet head move: rigid inside a head-sized
  ellipse above the centre, fading out around it, so nothing is cut out and nothing ghosts. With
  `bodyControl` the whole frame follows the performer as well.

Both keep the input's timing: duration (capped at 30 s) and 24 fps, resampled by nearest frame.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from PIL import Image, ImageChops, ImageFilter, ImageOps

from taxiway.engines.base import Artifact, EngineRequest, RunContext
from taxiway.engines.fields import MediaRef, RequestFields
from taxiway.engines.offline.procedural_image import (
    COLOURS,
    FloatArray,
    Rgb,
    _words,
    generator_for,
    plan_scene,
)
from taxiway.engines.offline.video_common import (
    PROGRESS_EVERY,
    Matrix,
    audio_bed,
    clip_seconds,
    cover,
    earliest_phrase,
    ease,
    frame_size,
    frame_total,
    input_audio,
    keeps_input_audio,
    load_image,
    load_video,
    phrase_matchers,
    render_video,
    similarity,
    spec_of,
    warp,
)
from taxiway.engines.offline.video_encode import FPS
from taxiway.errors import Failure

_LUMA = np.array([0.2126, 0.7152, 0.0722], np.float32)  # Rec. 709, matching the encoder's colour matrix
_GRAIN_VARIANTS = 4

_STYLE_PHRASES: Sequence[tuple[str, str]] = [
    (r"sketch\w*|pencil|drawing|drawn|charcoal|graphite", "sketch"),
    (r"noir|black\s+and\s+white|black\s*&\s*white|b\s*&\s*w|monochrome|gr[ae]yscale", "noir"),
    (r"neon|cyberpunk|synthwave|glowing", "neon"),
    (r"watercolou?rs?|painting|painted|oil\s+paint\w*|impressionis\w*", "watercolor"),
    (r"vintage|retro|sepia|old\s+film|film\s+grain|faded|(?:19)?70s|super\s*8", "vintage"),
    (r"cartoon\w*|anime|comic\w*|cel[\s-]shad\w*|toon", "cartoon"),
    (r"pixel\w*|8[\s-]?bit", "pixel"),
]
_STYLE_MATCHERS = phrase_matchers(_STYLE_PHRASES)


def choose_style(prompt: str) -> str:
    """The first style the prompt names, or "grade" (colour grading only)."""
    return earliest_phrase(prompt, _STYLE_MATCHERS) or "grade"


# ---- colour grading -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Grade:
    """Where the colours go. Tints keep each pixel's luma, so grading never crushes or blows out."""

    style: str
    tint: Rgb | None = None
    tint_strength: float = 0.0
    shadows: Rgb | None = None  # split toning, e.g. from a reference image's darkest pixels
    highlights: Rgb | None = None


def _normalised(colour: Rgb) -> FloatArray:
    """The colour scaled to unit luma: mixing toward luma * this changes hue, not brightness."""
    target = np.asarray(colour, np.float32)
    return (target / max(float(target @ _LUMA), 0.05)).astype(np.float32)


def _toward_matrix(colour: Rgb, weight: float) -> FloatArray:
    return ((1.0 - weight) * np.eye(3) + weight * np.outer(_normalised(colour), _LUMA)).astype(np.float32)


def _saturation_matrix(amount: float) -> FloatArray:
    return (amount * np.eye(3) + (1.0 - amount) * np.outer(np.ones(3), _LUMA)).astype(np.float32)


def _s_curve(x: FloatArray, amount: float) -> FloatArray:
    return x + (x * x * (3.0 - 2.0 * x) - x) * amount


@dataclass(frozen=True)
class CompiledGrade:
    """A grade as Pillow runs it fast: a 3x3 colour matrix (~2 ms at 720p), then per-channel curves
    (~1 ms). A full 3D LUT would allow more but costs ~16 ms a frame in Pillow."""

    matrix: tuple[float, ...]  # 12 values, row-major with zero offsets, for Image.convert("RGB", matrix)
    curves: list[int]  # 768 entries for Image.point

    def apply(self, frame: Image.Image) -> Image.Image:
        return frame.convert("RGB", self.matrix).point(self.curves)


def compile_grade(grade: Grade) -> CompiledGrade:
    """Linear steps (tint at constant luma, saturation, sepia, greyscale) fold into one matrix; the rest
    (contrast curve, lifted blacks, split toning approximated per channel) into the curves."""
    matrix: FloatArray = np.eye(3, dtype=np.float32)
    style = grade.style
    if grade.tint is not None and style != "noir":
        matrix = _toward_matrix(grade.tint, grade.tint_strength) @ matrix
    if style == "noir":
        matrix = np.outer(np.ones(3), _LUMA).astype(np.float32) @ matrix
    elif style == "vintage":
        matrix = (0.4 * np.eye(3) + 0.6 * np.outer([1.08, 0.86, 0.62], _LUMA)).astype(np.float32) @ matrix
    elif style in ("neon", "watercolor", "cartoon", "pixel"):
        amount = {"neon": 1.8, "watercolor": 0.85}.get(style, 1.35)
        matrix = _saturation_matrix(amount) @ matrix

    x: FloatArray = np.linspace(0.0, 1.0, 256, dtype=np.float32)[:, None].repeat(3, axis=1)  # (256, channel)
    if grade.shadows is not None:
        x = x * (1.0 + 0.35 * (1.0 - x) ** 2 * (_normalised(grade.shadows) - 1.0))
    if grade.highlights is not None:
        x = x * (1.0 + 0.3 * x**2 * (_normalised(grade.highlights) - 1.0))
    x = np.clip(x, 0.0, 1.0)
    if style == "noir":
        x = _s_curve(x, 0.8)
    elif style == "vintage":
        x = 0.07 + 0.85 * x  # lifted blacks, dimmed whites: faded print
    elif style == "neon":
        x = x**1.5  # deep shadows for the glow to stand on
    elif style == "watercolor":
        x = 0.08 + 0.92 * x  # paper shows through
    elif style != "sketch":
        x = _s_curve(x, 0.25)
    curves = np.clip(x * 255.0 + 0.5, 0, 255).astype(np.int64).T.reshape(-1).tolist()
    coefficients = [float(value) for row in matrix for value in (*row, 0.0)]
    return CompiledGrade(tuple(coefficients), curves)


def palette_of(image: Image.Image) -> tuple[Rgb, Rgb, Rgb]:
    """(shadows, mid-tones, highlights): mean colours of the darkest, all and brightest thirds."""
    pixels = np.asarray(ImageOps.contain(image, (64, 64)), np.float32).reshape(-1, 3) / 255.0
    order = np.argsort(pixels @ _LUMA)
    third = max(1, order.size // 3)

    def mean(rows: Any) -> Rgb:
        r, g, b = (float(v) for v in pixels[rows].mean(axis=0))
        return (r, g, b)

    return mean(order[:third]), mean(slice(None)), mean(order[-third:])


def plan_grade(prompt: str, rng: np.random.Generator, reference: Image.Image | None) -> Grade:
    """Colour words tint strongly; a reference image split-tones; otherwise a faint seeded hue."""
    style = choose_style(prompt)
    words = [COLOURS[word] for word in _words(prompt) if word in COLOURS]
    if words:
        r, g, b = (sum(channel) / len(words) for channel in zip(*words, strict=True))
        return _with_reference(Grade(style, (r, g, b), 0.4), reference)
    if reference is not None:
        return _with_reference(Grade(style), reference)
    return Grade(style, plan_scene(prompt, rng).accents[0], 0.15)


def _with_reference(grade: Grade, reference: Image.Image | None) -> Grade:
    if reference is None:
        return grade
    shadows, middle, highlights = palette_of(reference)
    tint, strength = (grade.tint, grade.tint_strength) if grade.tint else (middle, 0.25)
    return Grade(grade.style, tint, strength, shadows, highlights)


# ---- stylization --------------------------------------------------------------------------------------


def _vignette(size: tuple[int, int], strength: float) -> Image.Image:
    width, height = size
    ys = np.linspace(-1.0, 1.0, height, dtype=np.float32)[:, None]
    xs = np.linspace(-1.0, 1.0, width, dtype=np.float32)[None, :]
    mask = 1.0 - strength * np.clip((xs * xs + ys * ys) / 2.0, 0.0, 1.0) ** 1.5
    grey = Image.fromarray((mask * 255.0 + 0.5).astype(np.uint8), "L")
    return Image.merge("RGB", (grey, grey, grey))


def _grain(rng: np.random.Generator, size: tuple[int, int], amplitude: float) -> Image.Image:
    """Mono grain centred on 128, drawn at half size so its clumps are two pixels wide, like film's."""
    width, height = size
    noise = rng.normal(128.0, amplitude, (max(1, height // 2), max(1, width // 2)))
    grey = Image.fromarray(np.clip(noise, 0, 255).astype(np.uint8), "L").resize(
        size, Image.Resampling.BILINEAR
    )
    return Image.merge("RGB", (grey, grey, grey))


class Stylist:
    """Everything that does not change between frames is prepared once; `__call__` styles one frame.

    Spatial filters run on a half-size copy: Pillow's 3x3 filters cost ~25 ms on a 720p RGB frame, and
    every style here is soft enough that filtering small and scaling up is indistinguishable.
    """

    def __init__(self, grade: Grade, size: tuple[int, int], rng: np.random.Generator, count: int) -> None:
        self.grade = grade
        self.size = size
        self.grading = compile_grade(grade)
        style = grade.style
        grain = {"noir": 6.0, "vintage": 5.0}.get(style, 0.0)
        self.grains = [_grain(rng, size, grain) for _ in range(_GRAIN_VARIANTS)] if grain else []
        # An irregular grain order: a fixed cycle of a few patterns would read as a flicker.
        self.grain_order = rng.integers(0, _GRAIN_VARIANTS, count) if grain else np.zeros(0, np.int64)
        self.flicker = 1.0 + rng.normal(0.0, 0.025, count) if style == "vintage" else None
        strength = {"noir": 0.55, "vintage": 0.45, "grade": 0.15}.get(style, 0.0)
        self.vignette = _vignette(size, strength) if strength else None
        self.paper = _grain(rng, size, 5.0) if style == "watercolor" else None  # static: paper does not boil
        self.unit = max(1, min(size) // 480)  # filter radii scale with the picture, in half-size pixels
        self._styles: Mapping[str, Callable[[Image.Image], Image.Image]] = {
            "sketch": self._sketch,
            "neon": self._neon,
            "watercolor": self._watercolor,
            "cartoon": self._cartoon,
            "pixel": self._pixel,
        }

    def __call__(self, frame: Image.Image, index: int) -> Image.Image:
        styled = self.grading.apply(frame)
        special = self._styles.get(self.grade.style)
        if special is not None:
            styled = special(styled)
        if self.vignette is not None:
            styled = ImageChops.multiply(styled, self.vignette)
        if self.paper is not None:
            styled = ImageChops.add(styled, self.paper, offset=-128)
        if self.grains:
            styled = ImageChops.add(styled, self.grains[int(self.grain_order[index])], offset=-128)
        if self.flicker is not None:
            gain = float(self.flicker[index])
            styled = styled.point([min(255, round(v * gain)) for v in range(256)] * 3)
        return styled

    def _up(self, image: Image.Image) -> Image.Image:
        return image.resize(self.size, Image.Resampling.BILINEAR)

    def _sketch(self, frame: Image.Image) -> Image.Image:
        """Colour dodge of the greyscale by its blurred negative: the classic pencil-sketch recipe."""
        grey = frame.convert("L")
        negative = ImageOps.invert(grey.reduce(2)).filter(ImageFilter.GaussianBlur(2 * self.unit))
        g = np.asarray(grey, np.float32)
        b = np.asarray(self._up(negative), np.float32)
        dodge = np.clip(g / np.maximum(255.0 - b, 1.0), 0.0, 1.0) ** 1.8  # the power adds pencil shading
        pencil = (dodge * 255.0 + 0.5).astype(np.uint8)
        ink = tuple(round(c * 90) for c in self.grade.tint or (0.2, 0.2, 0.25))
        return ImageOps.colorize(Image.fromarray(pencil, "L"), ink, (250, 246, 236))

    def _neon(self, frame: Image.Image) -> Image.Image:
        """Edges in their own (saturated) colours, doubled into tubes, with a halo, screened on top."""
        edges = frame.reduce(2).filter(ImageFilter.FIND_EDGES)
        edges = ImageChops.add(edges, edges)
        glow = edges.filter(ImageFilter.BoxBlur(2 * self.unit))
        return ImageChops.screen(frame, self._up(ImageChops.screen(edges, glow)))

    def _watercolor(self, frame: Image.Image) -> Image.Image:
        """Flat pigment pools (a blurred, posterized quarter-size copy), darker where washes meet."""
        small = frame.reduce(4).filter(ImageFilter.BoxBlur(1))
        washes = ImageOps.posterize(small, 5).resize(self.size, Image.Resampling.BICUBIC)
        rims = (
            small.convert("L")
            .filter(ImageFilter.FIND_EDGES)
            .point([255 - min(110, 3 * v) for v in range(256)])
        )
        rims = rims.resize(self.size, Image.Resampling.BILINEAR)
        return ImageChops.multiply(washes, Image.merge("RGB", (rims, rims, rims)))

    def _cartoon(self, frame: Image.Image) -> Image.Image:
        """Flat colour bands under dark outlines."""
        small = frame.reduce(2).filter(ImageFilter.BoxBlur(1))
        flat = self._up(ImageOps.posterize(small, 3))
        edges = small.convert("L").filter(ImageFilter.FIND_EDGES)
        outline = self._up(edges).point([255 if v > 24 else 0 for v in range(256)])
        return Image.composite(Image.new("RGB", self.size, (12, 10, 14)), flat, outline)

    def _pixel(self, frame: Image.Image) -> Image.Image:
        block = max(4, min(self.size) // 90)
        grid = (max(1, self.size[0] // block), max(1, self.size[1] // block))
        small = frame.resize(grid, Image.Resampling.BOX)
        return ImageOps.posterize(small, 4).resize(self.size, Image.Resampling.NEAREST)


@dataclass(frozen=True)
class Timeline:
    """How long a video-to-video output is: `kept` frames follow the input (looped when the output is
    longer), then `added` frames continue it (`mode: extend`)."""

    kept: int
    added: int = 0

    @property
    def count(self) -> int:
        return self.kept + self.added


def timeline(request: EngineRequest, input_seconds: float) -> Timeline:
    """The input's length where the model keeps it (an edit, or no `duration`); `duration` otherwise
    (`auto`: the input's, up to the model's maximum); `extend` adds `duration` after the whole input."""
    fields = request.fields
    spec = spec_of(request)
    duration = fields.duration
    if spec is None or duration is None:
        return Timeline(frame_total(input_seconds))
    if fields.mode == "extend":
        added = clip_seconds(duration, request.model)
        return Timeline(frame_total(input_seconds), frame_total(added))
    if spec.duration.follows_input(request.params) or duration == "auto":
        return Timeline(frame_total(min(input_seconds, spec.duration.auto_max or input_seconds)))
    return Timeline(frame_total(clip_seconds(duration, request.model)))


def _guide_uri(fields: RequestFields) -> tuple[str, str] | None:
    """The image that guides the grade: the first reference, or aleph2's first keyframe."""
    for field, items in (("references", fields.references), ("keyframes", fields.keyframes)):
        if items and items[0].uri:
            return items[0].uri, f"{field}[0]"
    return None


def _continued(last: Image.Image, count: int) -> Iterator[Image.Image]:
    """An extension after the input's last frame: a slow, eased push in on it."""
    width, height = last.size
    for index in range(count):
        zoom = 1.0 + 0.08 * ease((index + 1) / max(1, count))
        yield warp(last, last.size, similarity(zoom, 0.0, (width / 2, height / 2)))


class RestyleVideoEngine:
    """Procedural stand-in for video-to-video models; see the module docstring for what it does."""

    name = "restyle-video"

    def run(self, request: EngineRequest, context: RunContext) -> list[Artifact]:
        fields = request.fields
        field = "videoUri" if fields.video_uri else "promptVideo"
        context.check_cancelled()
        video = load_video(request, fields.video_uri or fields.prompt_video or "", field)
        guide = _guide_uri(fields)
        reference = load_image(request, *guide) if guide else None
        context.progress(0.05)

        info = video.info
        size = frame_size(request, (info.width, info.height), (info.width, info.height))
        plan = timeline(request, video.seconds)
        prompt = fields.prompt_text or ""
        rng = generator_for(request.model, f"{size[0]}:{size[1]}", request.seed, prompt)
        stylist = Stylist(plan_grade(prompt, rng, reference), size, rng, plan.count)
        last: list[Image.Image] = []

        def kept() -> Iterator[Image.Image]:
            for frame in video.frames(plan.kept, loop=True):
                fitted = cover(frame, size, Image.Resampling.BILINEAR)
                last[:] = [fitted]
                yield fitted

        sources = itertools.chain(kept(), _continued_lazily(last, plan.added))
        frames = (stylist(frame, index) for index, frame in enumerate(sources))
        if keeps_input_audio(request):
            audio = input_audio(video.data, field)
        else:
            audio = audio_bed(request, plan.count / FPS)
        context.progress(0.1)
        artifacts = render_video(request, frames, size, plan.count, context, audio=audio)
        if plan.added:  # billed on the footage it added, not on the input it repeats
            artifacts = [replace(a, seconds=plan.added / FPS) for a in artifacts]
        return artifacts


def _continued_lazily(last: list[Image.Image], count: int) -> Iterator[Image.Image]:
    """`_continued` on the last kept frame, known only once the kept frames have been read."""
    if count:
        yield from _continued(last[0], count)


# ---- performance transfer -----------------------------------------------------------------------------

_ANALYSIS_SIDE = 96  # long side of the greyscale copies motion is measured on
_HEAD_CENTRE = (0.5, 0.36)  # where a portrait's face usually sits, as fractions of the frame
_HEAD_RADII = (0.2, 0.26)  # of the short side: the ellipse that moves rigidly
_FALLOFF = 2.2  # the move fades to nothing at this many head radii
_HEAD_LIMIT = (0.07, 0.06)  # largest head shift, fractions of the frame
_BODY_OVERSCAN = 1.12  # with bodyControl the character is framed 12% larger so moves never show an edge
_BODY_LIMIT = (0.05, 0.05)  # largest body shift: inside the 6% overscan margin on each side
_MESH_CELLS = 16  # mesh cells along the short side; the displacement is smooth, so bilinear cells suffice


@dataclass(frozen=True)
class Performance:
    """The performer's motion per output frame; x right and y down, in fractions of the frame."""

    dx: FloatArray  # subject displacement since the first frame
    dy: FloatArray
    scale: FloatArray  # subject size relative to the first frame (leaning in > 1)
    energy: FloatArray  # mean absolute difference from the previous frame: how animated the performer is


def _smooth(values: FloatArray, width: int = 5) -> FloatArray:
    padded = np.pad(values, width // 2, mode="edge")
    return np.convolve(padded, np.ones(width, np.float32) / width, mode="valid").astype(np.float32)


def _fill_gaps(values: FloatArray, valid: np.ndarray[Any, np.dtype[np.bool_]]) -> FloatArray:
    """Hold the last measured value over frames where nothing moved (no foreground to measure)."""
    if not valid.any():
        return np.zeros_like(values)
    index = np.where(valid, np.arange(values.size), 0)
    np.maximum.accumulate(index, out=index)
    index[: int(np.argmax(valid))] = int(np.argmax(valid))
    return values[index]


def analyze_performance(frames: Iterable[Image.Image], on_frame: Callable[[int], None]) -> Performance:
    """Subject = what differs from the temporal median (the static background), located by centroid."""
    smalls = []
    for index, frame in enumerate(frames):
        small = frame.convert("L")
        small.thumbnail((_ANALYSIS_SIDE, _ANALYSIS_SIDE), Image.Resampling.BOX)
        smalls.append(np.asarray(small, np.float32) / 255.0)
        on_frame(index)
    stack = np.stack(smalls)
    count, height, width = stack.shape
    weight = np.maximum(np.abs(stack - np.median(stack, axis=0)) - 0.03, 0.0)  # 0.03: codec noise floor
    mass = weight.sum(axis=(1, 2))
    valid = mass > 1e-3 * height * width
    safe = np.maximum(mass, 1e-9)
    ys = ((np.arange(height, dtype=np.float32) + 0.5) / height)[None, :, None]
    xs = ((np.arange(width, dtype=np.float32) + 0.5) / width)[None, None, :]
    cx = _fill_gaps((weight * xs).sum(axis=(1, 2)) / safe, valid)
    cy = _fill_gaps((weight * ys).sum(axis=(1, 2)) / safe, valid)
    spread_sq = (weight * ((xs - cx[:, None, None]) ** 2 + (ys - cy[:, None, None]) ** 2)).sum(axis=(1, 2))
    spread = _fill_gaps(np.sqrt(spread_sq / safe), valid)
    energy = np.zeros(count, np.float32)
    energy[1:] = np.abs(np.diff(stack, axis=0)).mean(axis=(1, 2))
    cx, cy, spread = _smooth(cx), _smooth(cy), _smooth(spread)
    return Performance(
        dx=(cx - cx[0]).astype(np.float32),
        dy=(cy - cy[0]).astype(np.float32),
        scale=(spread / max(float(spread[0]), 1e-3)).astype(np.float32),
        energy=_smooth(energy),
    )


@dataclass(frozen=True)
class _Pose:
    head: Matrix  # forward maps in output pixels
    body: Matrix


def _soft_limit(values: FloatArray, limit: float) -> FloatArray:
    """Proportional for small moves, easing into `limit`: big gestures compress instead of clipping."""
    limited: FloatArray = (limit * np.tanh(values / limit)).astype(np.float32)
    return limited


def _poses(performance: Performance, size: tuple[int, int], intensity: float, body: bool) -> list[_Pose]:
    """Performer motion to character motion: the head follows at half amplitude and leans into movement;
    with `body` the whole frame follows too, within the overscan margin."""
    width, height = size
    k = intensity / 3.0
    pivot = (_HEAD_CENTRE[0] * width, _HEAD_CENTRE[1] * height)
    velocity = np.gradient(performance.dx) * FPS if performance.dx.size > 1 else np.zeros(1, np.float32)
    calm = float(np.median(performance.energy))
    nod = _soft_limit((performance.energy - calm) / (calm + 0.005) * 0.01 * k, 0.02)
    head_scale = 1.0 + _soft_limit((performance.scale - 1.0) * 0.3 * k, 0.1)
    lean = _soft_limit(velocity * 10.0 * k, 8.0)
    head_x = _soft_limit(performance.dx * 0.5 * k, _HEAD_LIMIT[0]) * width
    head_y = (_soft_limit(performance.dy * 0.5 * k, _HEAD_LIMIT[1]) + nod) * height
    body_x = _soft_limit(performance.dx * 0.8 * k, _BODY_LIMIT[0]) * width
    body_y = _soft_limit(performance.dy * 0.8 * k, _BODY_LIMIT[1]) * height
    return [
        _Pose(
            head=similarity(
                float(head_scale[i]), float(lean[i]), pivot, (float(head_x[i]), float(head_y[i]))
            ),
            body=similarity(shift=(float(body_x[i]), float(body_y[i]))) if body else np.eye(3),
        )
        for i in range(performance.dx.size)
    ]


class _RubberSheet:
    """A mesh warp: rigid head motion inside the ellipse, blending smoothly into the body's motion.

    The body's move is a plain translation (a fast sub-pixel crop); only the region the head's falloff can
    reach is mesh-warped (~40% of the frame) and pasted over it, with nothing to blend at its border.
    """

    def __init__(self, size: tuple[int, int], base_size: tuple[int, int]) -> None:
        width, height = size
        short = min(size)
        self.size = size
        self.centre = (_HEAD_CENTRE[0] * width, _HEAD_CENTRE[1] * height)
        self.radii = (_HEAD_RADII[0] * short, _HEAD_RADII[1] * short)
        # Base pixels -> output pixels at rest: the base is centred, larger with overscan.
        self.to_output = similarity(shift=((width - base_size[0]) / 2, (height - base_size[1]) / 2))
        reach_x = _FALLOFF * self.radii[0] + _BODY_LIMIT[0] * width
        reach_y = _FALLOFF * self.radii[1] + _BODY_LIMIT[1] * height
        x0, x1 = max(0, math.floor(self.centre[0] - reach_x)), min(width, math.ceil(self.centre[0] + reach_x))
        y0, y1 = (
            max(0, math.floor(self.centre[1] - reach_y)),
            min(height, math.ceil(self.centre[1] + reach_y)),
        )
        self.origin = (x0, y0)
        self.region = (x1 - x0, y1 - y0)
        cell = max(8, short // _MESH_CELLS)
        xs = np.unique(np.append(np.arange(x0, x1, cell), x1)).astype(np.float64)
        ys = np.unique(np.append(np.arange(y0, y1, cell), y1)).astype(np.float64)
        grid_x, grid_y = np.meshgrid(xs, ys)
        self.points = np.stack([grid_x, grid_y, np.ones_like(grid_x)], axis=-1)  # (rows, cols, 3)
        self.boxes = [
            (int(left) - x0, int(top) - y0, int(right) - x0, int(bottom) - y0)
            for top, bottom in itertools.pairwise(ys)
            for left, right in itertools.pairwise(xs)
        ]

    def _weight(self, points: np.ndarray[Any, np.dtype[np.float64]]) -> np.ndarray[Any, np.dtype[np.float64]]:
        dx = (points[..., 0] - self.centre[0]) / self.radii[0]
        dy = (points[..., 1] - self.centre[1]) / self.radii[1]
        t = np.clip((np.sqrt(dx * dx + dy * dy) - 1.0) / (_FALLOFF - 1.0), 0.0, 1.0)
        return 1.0 - t * t * (3.0 - 2.0 * t)

    def render(self, base: Image.Image, pose: _Pose) -> Image.Image:
        frame = warp(base, self.size, pose.body @ self.to_output)
        # Per mesh vertex, the inverse map: output -> rest pose (undo the body) -> before the head move,
        # weighted by the falloff -> base pixels.
        rest = self.points @ np.linalg.inv(pose.body).T
        unheaded = rest @ np.linalg.inv(pose.head).T
        source = (rest + (unheaded - rest) * self._weight(rest)[..., None]) @ np.linalg.inv(self.to_output).T
        # Clamped to the base: where the sheet stretches past its edge, edge pixels repeat instead of black.
        sx = np.clip(source[..., 0], 0.0, base.width)
        sy = np.clip(source[..., 1], 0.0, base.height)
        # Pillow's quads run upper-left, lower-left, lower-right, upper-right.
        corners = [
            sx[:-1, :-1],
            sy[:-1, :-1],
            sx[1:, :-1],
            sy[1:, :-1],
            sx[1:, 1:],
            sy[1:, 1:],
            sx[:-1, 1:],
            sy[:-1, 1:],
        ]
        quads = np.stack(corners, axis=-1).reshape(-1, 8).tolist()
        mesh = list(zip(self.boxes, map(tuple, quads), strict=True))
        frame.paste(
            base.transform(self.region, Image.Transform.MESH, mesh, Image.Resampling.BILINEAR), self.origin
        )
        return frame


def _asset_ref(value: MediaRef | None, field: str) -> tuple[str, str]:
    if value is None or not value.uri:
        raise Failure("ASSET.INVALID", f"{field}.uri is required")
    return value.type or "image", value.uri


class PerformanceTransferEngine:
    """Procedural stand-in for act_two; see the module docstring. The face is not animated, only moved."""

    name = "performance-transfer"

    def run(self, request: EngineRequest, context: RunContext) -> list[Artifact]:
        fields = request.fields
        character_type, character_uri = _asset_ref(fields.character, "character")
        _reference_type, reference_uri = _asset_ref(fields.reference, "reference")
        context.check_cancelled()
        reference = load_video(request, reference_uri, "reference")
        size = frame_size(request, None, "1280:720")
        body = fields.body_control is True
        expression = fields.expression_intensity
        intensity = float(min(5, max(1, 3 if expression is None else expression)))
        overscan = _BODY_OVERSCAN if body else 1.0
        base_size = (round(size[0] * overscan), round(size[1] * overscan))
        count = frame_total(reference.seconds)

        bases: Iterator[Image.Image]
        if character_type == "video":
            character = load_video(request, character_uri, "character")
            bases = (cover(frame, base_size) for frame in character.frames(count, loop=True))
        else:
            bases = itertools.repeat(cover(load_image(request, character_uri, "character"), base_size))

        def analysed(index: int) -> None:
            if (index + 1) % PROGRESS_EVERY == 0:
                context.progress(0.05 + 0.25 * (index + 1) / count)

        performance = analyze_performance(reference.frames(count), analysed)
        poses = _poses(performance, size, intensity, body)
        sheet = _RubberSheet(size, base_size)
        frames = (sheet.render(base, pose) for base, pose in zip(bases, poses, strict=False))
        # Act-Two's output carries the performance's own sound: the words the face now says.
        audio = input_audio(reference.data, "reference") if keeps_input_audio(request) else None
        return render_video(request, frames, size, count, context, start=0.3, audio=audio)
