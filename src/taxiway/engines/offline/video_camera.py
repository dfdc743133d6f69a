"""An image-to-video engine that films the prompt image with a virtual camera: offline and deterministic.

Not a generative model: nothing in the picture moves by itself. The prompt's camera vocabulary picks a
move ("push in", "pull out", "pan left", "tilt up", "orbit", "static", ...; a gentle push in otherwise),
eased in and out so it starts and stops like a real rig. The image is cover-cropped to the output ratio
at up to the move's largest zoom, so zooming in does not just magnify pixels. With first and last
keyframes the clip cross-fades from one to the other under the same move; without motion words it then
stays framed on the images, so the clip ends exactly on the last keyframe.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from PIL import Image

from taxiway.engines.base import Artifact, EngineRequest, RunContext
from taxiway.engines.fields import MediaRef
from taxiway.engines.offline.video_common import (
    audio_bed,
    clip_seconds,
    cover,
    earliest_phrase,
    ease,
    frame_size,
    frame_total,
    load_image,
    phrase_matchers,
    ratio_for_aspect,
    render_video,
    similarity,
    warp,
)
from taxiway.engines.offline.video_encode import FPS
from taxiway.errors import Failure

_RATIO_DEFAULTS: Mapping[str, str] = {"gen3a_turbo": "1280:768"}


@dataclass(frozen=True)
class CameraMove:
    """A move as start and end states; offsets are in [-1, 1] of the room the zoom leaves to each side."""

    name: str
    zoom: tuple[float, float]
    offset: tuple[tuple[float, float], tuple[float, float]] = ((0.0, 0.0), (0.0, 0.0))
    degrees: tuple[float, float] = (0.0, 0.0)
    breathe: float = 0.0  # zoom amplitude of a slow (4 s) in-out drift, so "static" shots are not frozen
    swell: float = 0.0  # zoom added mid-clip only (sin(pi t)): movement that leaves both ends untouched

    def state(self, t: float, seconds: float) -> tuple[float, float, float, float]:
        """(zoom, offset x, offset y, degrees) at clip fraction `t`, with easing."""
        e = ease(t)
        zoom = self.zoom[0] + (self.zoom[1] - self.zoom[0]) * e
        zoom += self.breathe * 0.5 * (1.0 - math.cos(2.0 * math.pi * seconds / 4.0))
        zoom += self.swell * math.sin(math.pi * t)
        (x0, y0), (x1, y1) = self.offset
        return (
            zoom,
            x0 + (x1 - x0) * e,
            y0 + (y1 - y0) * e,
            self.degrees[0] + (self.degrees[1] - self.degrees[0]) * e,
        )

    @property
    def max_zoom(self) -> float:
        return max(self.zoom) + self.breathe + self.swell


_PAN = 0.85
MOVES: Mapping[str, CameraMove] = {
    "push_in": CameraMove("push in", (1.0, 1.3)),
    "pull_out": CameraMove("pull out", (1.3, 1.0)),
    # Panning left turns the camera left: the window slides left, so the scene slides right on screen.
    "pan_left": CameraMove("pan left", (1.2, 1.2), ((_PAN, 0.0), (-_PAN, 0.0))),
    "pan_right": CameraMove("pan right", (1.2, 1.2), ((-_PAN, 0.0), (_PAN, 0.0))),
    "tilt_up": CameraMove("tilt up", (1.2, 1.2), ((0.0, _PAN), (0.0, -_PAN))),
    "tilt_down": CameraMove("tilt down", (1.2, 1.2), ((0.0, -_PAN), (0.0, _PAN))),
    # 1.2x zoom covers the corners of a frame rotated by 4 degrees up to a 2.4:1 aspect ratio.
    "orbit_left": CameraMove("orbit left", (1.2, 1.28), degrees=(-4.0, 4.0)),
    "orbit_right": CameraMove("orbit right", (1.2, 1.28), degrees=(4.0, -4.0)),
    "static": CameraMove("static", (1.03, 1.03), breathe=0.015),
    "default": CameraMove("gentle push in", (1.0, 1.12)),
    "keyframes": CameraMove("hold", (1.0, 1.0), swell=0.04),
}

_TO = r"\s+(?:to\s+(?:the\s+)?)?"
_PHRASES: Sequence[tuple[str, str]] = [
    (r"(?:push|zoom|dolly)(?:es|s|ing|ed)?\s+in(?:wards?)?", "push_in"),
    (r"(?:pull|zoom|dolly)(?:s|ing|ed)?\s+(?:out|back)|dollies\s+(?:out|back)", "pull_out"),
    (r"zoom(?:s|ing|ed)?", "push_in"),
    (r"pan(?:s|ning|ned)?" + _TO + "left", "pan_left"),
    (r"pan(?:s|ning|ned)?" + _TO + "right", "pan_right"),
    (r"pan(?:s|ning|ned)?", "pan_right"),
    (r"tilt(?:s|ing|ed)?" + _TO + "up(?:wards?)?", "tilt_up"),
    (r"tilt(?:s|ing|ed)?" + _TO + "down(?:wards?)?", "tilt_down"),
    (r"tilt(?:s|ing|ed)?", "tilt_up"),
    (
        r"(?:orbit|rotat)\w*(?:" + _TO + r"left|\s+(?:counter|anti)-?clockwise)|(?:counter|anti)-?clockwise",
        "orbit_left",
    ),
    (
        r"(?:orbit|rotat)\w*(?:"
        + _TO
        + r"right|\s+clockwise)|orbit(?:s|ing|ed)?|rotat(?:e|es|ed|ing|ion)|clockwise",
        "orbit_right",
    ),
    (r"static|locked(?:\s+off)?|still\s+camera|tripod|fixed\s+camera", "static"),
]
_MATCHERS = phrase_matchers(_PHRASES)


def choose_move(prompt: str, keyframes: bool = False) -> CameraMove:
    """The first camera phrase in the prompt. Bare "push", "pull" or "dolly" are too often about the
    subject ("a man pulls a cart") to count; without any phrase, keyframed clips hold their framing."""
    key = earliest_phrase(prompt, _MATCHERS)
    return MOVES[key or ("keyframes" if keyframes else "default")]


def keyframe_uris(prompt_image: str | Sequence[MediaRef] | None) -> list[str]:
    """The clip's keyframes in order: a bare URI, or {uri, position?} items as first, middle…, last.

    Items without a position are reference images (seedance-style); the first one starts the clip.
    """
    if isinstance(prompt_image, str):
        return [prompt_image]
    items = [item for item in prompt_image or () if item.uri]
    if not items:
        raise Failure("ASSET.INVALID", "promptImage has no usable image")
    first = next((i.uri for i in items if i.position == "first"), None)
    middle = [i.uri for i in items if i.position == "middle"]
    last = next((i.uri for i in items if i.position == "last"), None)
    unplaced = next((i.uri for i in items if i.position is None), None)
    start = first or unplaced or last or items[0].uri
    return [start, *middle, *([last] if last is not None and last != start else [])]


def _blend(keyframes: Sequence[Image.Image], t: float) -> Image.Image:
    """The picture at clip fraction `t`: keyframes spread evenly, each cross-fading into the next."""
    if len(keyframes) == 1:
        return keyframes[0]
    position = t * (len(keyframes) - 1)
    index = min(int(position), len(keyframes) - 2)
    return Image.blend(keyframes[index], keyframes[index + 1], ease(position - index))


def _frames(
    keyframes: Sequence[Image.Image],
    move: CameraMove,
    size: tuple[int, int],
    count: int,
) -> Iterator[Image.Image]:
    width, height = size
    src_w, src_h = keyframes[0].size
    base_scale = width / src_w
    for index in range(count):
        t = index / (count - 1) if count > 1 else 1.0
        zoom, off_x, off_y, degrees = move.state(t, index / FPS)
        source = _blend(keyframes, t)
        # The window centre, moved within the room the zoom leaves on each side.
        centre = (
            src_w / 2 + off_x * src_w * (1 - 1 / zoom) / 2,
            src_h / 2 + off_y * src_h * (1 - 1 / zoom) / 2,
        )
        forward = similarity(
            base_scale * zoom, degrees, centre, (width / 2 - centre[0], height / 2 - centre[1])
        )
        yield warp(source, size, forward)


class CameraMoveEngine:
    """Procedural stand-in for image-to-video models; see the module docstring for the moves."""

    name = "camera-move-video"

    def run(self, request: EngineRequest, context: RunContext) -> list[Artifact]:
        fields = request.fields
        uris = keyframe_uris(fields.prompt_image)
        context.check_cancelled()
        images = [load_image(request, uri, "promptImage") for uri in uris]
        start = images[0]
        context.progress(0.05)

        fallback = _RATIO_DEFAULTS.get(request.model) or ratio_for_aspect(start.width / start.height)
        size = frame_size(request, start.size, fallback)
        seconds = clip_seconds(fields.duration, request.model)
        count = frame_total(seconds)
        move = choose_move(fields.prompt_text or "", keyframes=len(images) > 1)

        # Keep up to the largest zoom's worth of detail, so pushing in reveals the image's own pixels.
        detail = max(1.0, min(move.max_zoom, start.width / size[0], start.height / size[1]))
        source_size = (round(size[0] * detail), round(size[1] * detail))
        keyframes = [cover(image, source_size) for image in images]
        context.progress(0.1)
        audio = audio_bed(request, count / FPS)
        return render_video(request, _frames(keyframes, move, size, count), size, count, context, audio=audio)
