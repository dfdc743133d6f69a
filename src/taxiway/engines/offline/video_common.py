"""Request-level helpers shared by the offline video engines: durations, sizes, inputs, geometry, output.

Kept apart from `video_encode` (pure media I/O) because these know the API's parameters and its failure
codes; the engines themselves only decide what each frame looks like.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import numpy.typing as npt
from av.video.reformatter import Interpolation
from PIL import Image, ImageOps

from taxiway.catalog import CATALOG, ModelSpec, framing
from taxiway.catalog.models import InputAudio
from taxiway.catalog.video_models import PRORES_DEFAULT_PROFILE
from taxiway.engines.base import Artifact, EngineRequest, RunContext
from taxiway.engines.offline.procedural_image import _open_image, generator_for, parse_ratio, source_size
from taxiway.engines.offline.video_encode import (
    FPS,
    FloatArray,
    InvalidMedia,
    VideoInfo,
    decode_frames,
    probe_video,
    read_audio,
    synthesize_ambience,
)
from taxiway.engines.offline.video_formats import write_video
from taxiway.errors import Failure

MAX_INPUT_SECONDS = 30.0
# `outputFormat`s that name a container: seedance2_5's `mov` keeps "high colour precision for grading and
# compositing", so it is the 10-bit ProRes 422 HQ delivery.
CONTAINER_FORMATS: Mapping[str, tuple[str, str]] = {"mov": ("prores", "422 HQ")}
MAX_IMAGE_SIDE = 4096
PROGRESS_EVERY = 6  # frames between progress reports: 4 per second of video, so cancelling is prompt
_SHORT_SIDE_FOR_ASPECT = 720

Matrix = npt.NDArray[np.float64]


# ---- parameters ---------------------------------------------------------------------------------------


def clip_seconds(value: object, model: str) -> float:
    """The requested `duration`; absent or "auto" means the model's default (Veo: 8 s, others: 5 s)."""
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return float(value)
    return 8.0 if model.startswith("veo") else 5.0


def frame_total(seconds: float) -> int:
    return max(1, round(seconds * FPS))


def _even(value: int) -> int:
    return max(2, value - value % 2)


def output_size(ratio: object, fallback: str | tuple[int, int]) -> tuple[int, int]:
    """Pixel size for a "W:H" ratio, else `fallback` (a ratio, or a size such as the input video's).
    Odd sides are rounded down: yuv420p needs even ones.

    Small requested pairs like "16:9" are aspect ratios, not pixels: they get a 720-pixel short side.
    """
    if isinstance(ratio, str):
        try:
            width, height = parse_ratio(ratio)
        except ValueError:
            pass  # "auto_720p", "adaptive", ...: the caller's fallback decides
        else:
            if max(width, height) < 64:
                scale = _SHORT_SIDE_FOR_ASPECT / min(width, height)
                width, height = round(width * scale), round(height * scale)
            return _even(width), _even(height)
    width, height = parse_ratio(fallback) if isinstance(fallback, str) else fallback
    return _even(width), _even(height)


def spec_of(request: EngineRequest) -> ModelSpec | None:
    """The request's catalog entry; None for models outside it (engines called directly, custom ones)."""
    return CATALOG.get((request.endpoint, request.model))


def frame_size(
    request: EngineRequest, source: tuple[int, int] | None, fallback: str | tuple[int, int]
) -> tuple[int, int]:
    """The output's size as the model frames it (`catalog/framing.py`): from the ratio, the size tier and
    the input it follows. Outside the catalog: the ratio's pixels, else `fallback`."""
    spec = spec_of(request)
    if spec is None:
        return output_size(request.fields.ratio, fallback)
    return framing.output_size(spec, request.params, source)


def reference_size(request: EngineRequest) -> tuple[int, int] | None:
    """The size of a text-to-video request's first reference (an image, else a video): what `adaptive`
    and `auto_720p` frame like. None without references, or when the first cannot be read."""
    fields = request.fields
    for items, kind in ((fields.references, "image"), (fields.reference_videos, "video")):
        if not items:
            continue
        data = request.assets.get(items[0].uri)
        if data is None:
            return None
        if kind == "image":
            return source_size(data)
        try:
            info = probe_video(data)
        except InvalidMedia:
            return None
        return info.width, info.height
    return None


def ratio_for_aspect(aspect: float) -> str:
    """The 720p catalog ratio closest in orientation to an input's width / height."""
    if aspect > 1.1:
        return "1280:720"
    if aspect < 1 / 1.1:
        return "720:1280"
    return "960:960"


def earliest_phrase(text: str, matchers: Sequence[tuple[re.Pattern[str], str]]) -> str | None:
    """The key of the phrase that starts first in `text`; at one position the longest ("pan left" beats
    "pan"). Prompts name several things, and the first mention is the one people mean most."""
    lowered = text.lower()
    found = [
        (m.start(), -len(m.group(0)), key) for pattern, key in matchers if (m := pattern.search(lowered))
    ]
    return min(found)[2] if found else None


def phrase_matchers(phrases: Sequence[tuple[str, str]]) -> list[tuple[re.Pattern[str], str]]:
    """Compile (regex, key) pairs as whole-word, so "pan" does not match "pancake"."""
    return [(re.compile(rf"\b(?:{phrase})\b"), key) for phrase, key in phrases]


def keeps_input_audio(request: EngineRequest) -> bool:
    """Whether the model keeps its input video's sound: edits of the same footage do (not a new video made
    in its likeness, `mode: reference`), unless Kling's `providerSettings.keepOriginalSound` is false."""
    spec = spec_of(request)
    fields = request.fields
    if spec is None or spec.input_audio is not InputAudio.KEEP or fields.mode == "reference":
        return False
    settings = fields.provider_settings
    return settings is None or settings.keep_original_sound is not False


def input_audio(data: bytes, field: str) -> FloatArray | None:
    """A video input's own sound (None without a track); ASSET.INVALID when the track is broken."""
    try:
        return read_audio(data)
    except InvalidMedia as error:
        raise Failure("ASSET.INVALID", f"{field}: {error}") from error


def audio_bed(request: EngineRequest, seconds: float, brightness: float = 1.0) -> FloatArray | None:
    """The ambience track when the request asked for audio; seeded apart from the picture."""
    if request.fields.audio is not True:
        return None
    prompt = request.fields.prompt_text or ""
    rng = generator_for(request.model, "audio", request.seed, prompt)
    return synthesize_ambience(rng, seconds, brightness=brightness)


# ---- inputs -------------------------------------------------------------------------------------------


def load_image(request: EngineRequest, uri: str, field: str) -> Image.Image:
    """Decode an input image as RGB, or fail the task with ASSET.INVALID naming the field."""
    data = request.asset(uri)
    try:
        return _open_image(data, MAX_IMAGE_SIDE).convert("RGB")
    # Pillow reports broken or unknown data as OSError (UnidentifiedImageError) or one of these.
    except (ValueError, OSError, SyntaxError, EOFError, Image.DecompressionBombError) as error:
        raise Failure("ASSET.INVALID", f"{field} could not be decoded as an image") from error


@dataclass(frozen=True)
class InputVideo:
    data: bytes
    info: VideoInfo
    field: str

    @property
    def seconds(self) -> float:
        """The duration the engines work with: the input's, capped at MAX_INPUT_SECONDS."""
        return min(self.info.duration, MAX_INPUT_SECONDS)

    def frames(self, count: int, *, loop: bool = False) -> Iterator[Image.Image]:
        """`count` frames resampled to 24 fps; damage found mid-stream still fails with ASSET.INVALID."""
        try:
            yield from decode_frames(self.data, count, loop=loop, duration=self.info.duration)
        except InvalidMedia as error:
            raise Failure("ASSET.INVALID", f"{self.field} could not be decoded as a video") from error


def load_video(request: EngineRequest, uri: str, field: str) -> InputVideo:
    data = request.asset(uri)
    try:
        info = probe_video(data)
    except InvalidMedia as error:
        raise Failure("ASSET.INVALID", f"{field} could not be decoded as a video") from error
    return InputVideo(data, info, field)


# ---- geometry -----------------------------------------------------------------------------------------


def cover(image: Image.Image, size: tuple[int, int], resample: int = Image.Resampling.BICUBIC) -> Image.Image:
    """Scale to cover `size` and centre-crop the overflow: outputs never get letterbox bars."""
    if image.size == size:
        return image
    return ImageOps.fit(image, size, resample)


def ease(t: float) -> float:
    """Smoothstep: camera moves start and stop gently instead of jerking."""
    t = min(1.0, max(0.0, t))
    return t * t * (3.0 - 2.0 * t)


def similarity(
    scale: float = 1.0,
    degrees: float = 0.0,
    pivot: tuple[float, float] = (0.0, 0.0),
    shift: tuple[float, float] = (0.0, 0.0),
) -> Matrix:
    """Forward 3x3 map: scale and rotate about `pivot`, then translate by `shift` (pixels, y down)."""
    radians = math.radians(degrees)
    cos, sin = math.cos(radians) * scale, math.sin(radians) * scale
    px, py = pivot
    return np.array(
        [
            [cos, -sin, px - cos * px + sin * py + shift[0]],
            [sin, cos, py - sin * px - cos * py + shift[1]],
            [0.0, 0.0, 1.0],
        ]
    )


def warp(image: Image.Image, size: tuple[int, int], forward: Matrix) -> Image.Image:
    """Render `image` moved by `forward` (source pixels -> output pixels) into an output of `size`.

    Without rotation this is a sub-pixel crop-and-resize, which Pillow does ~5x faster than an affine
    transform, and antialiased when shrinking; with rotation it is a bilinear affine transform. Both take
    the inverse map (output -> source), in pixel-edge coordinates.
    """
    inverse = np.linalg.inv(forward)
    (a, b, c), (d, e, f) = (tuple(float(value) for value in row) for row in inverse[:2])
    if abs(b) < 1e-9 and abs(d) < 1e-9 and a > 0 and e > 0:
        box = (c, f, c + a * size[0], f + e * size[1])
        return image.resize(size, Image.Resampling.BILINEAR, box=box)
    return image.transform(size, Image.Transform.AFFINE, (a, b, c, d, e, f), Image.Resampling.BILINEAR)


# ---- output -------------------------------------------------------------------------------------------


def render_video(
    request: EngineRequest,
    frames: Iterable[Image.Image | npt.NDArray[np.uint8]],
    size: tuple[int, int],
    count: int,
    context: RunContext,
    *,
    audio: FloatArray | None = None,
    start: float = 0.1,
    resample: Interpolation = Interpolation.BICUBIC,
    threads: int = 1,
    fps: int | Fraction = FPS,
) -> list[Artifact]:
    """Write the frames (any size with the output's aspect) as the request's `outputFormat` (MP4 unless it
    names another; see `video_formats`), reporting progress from `start` up to 0.99 every few frames.

    Every video engine ends here, so each honours every format its model accepts without code of its own.
    """
    output_format = request.fields.output_format or "mp4"
    profile = request.fields.prores_profile or PRORES_DEFAULT_PROFILE.get(output_format)
    if output_format in CONTAINER_FORMATS:
        output_format, profile = CONTAINER_FORMATS[output_format]

    def on_step(done: int, total: int) -> None:
        if done % PROGRESS_EVERY == 0 or done == total:
            context.progress(start + (0.99 - start) * done / total)

    context.check_cancelled()
    artifacts = write_video(
        frames,
        size[0],
        size[1],
        count,
        output_format=output_format,
        prores_profile=None if profile is None else str(profile),
        audio=audio,
        on_step=on_step,
        resample=resample,
        threads=threads,
        fps=fps,
    )
    context.progress(1.0)
    return artifacts
