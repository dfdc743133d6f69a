"""Motion-compensated frame-rate conversion (video_upscale `enhance_frame_rate`, and the creative
upscaler's `fpsBoost`).

Between two source frames A (time 0) and B (time 1), the frame at time t is not a cross-fade: the motion
between them is measured as dense optical flow both ways (OpenCV's DIS, on a grey copy at most
`FLOW_WIDTH` wide, the field scaled back up), each frame is warped along its flow to where its pixels
are at time t, and the two warps are mixed by nearness, with more weight where forward and backward
flow agree (occlusions trust the frame that still sees the pixel):

    At(x) = A(x - t * F_ab(x)),   Bt(x) = B(x - (1 - t) * F_ba(x))

A moving edge therefore lands at its interpolated position, where blending would show it twice at
half strength. Output instants that fall on a source frame take it unchanged. The output runs at the
target rate for the source's duration (its frame count over its frame rate), keeps its size (odd sides
lose a pixel) and its audio; lowering the rate picks the interpolated instants just the same.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from fractions import Fraction
from typing import Any

import av
import av.error
import cv2
import numpy as np
import numpy.typing as npt

from taxiway.catalog.media_models import TARGET_FRAMERATES
from taxiway.engines.base import Artifact, EngineRequest, RunContext
from taxiway.engines.offline.video_common import render_video
from taxiway.engines.offline.video_encode import InvalidMedia, VideoInfo, probe_video, timed_frames
from taxiway.engines.offline.video_hdr import Source, source_audio
from taxiway.errors import Failure

Rgb = npt.NDArray[np.uint8]
Flow = npt.NDArray[np.float32]
FLOW_WIDTH = 480
_EXACT = 1e-3  # output instants this close (in frames) to a source frame take that frame


class FlowPair:
    """The flow both ways between two frames, measured once and used for every instant between them."""

    def __init__(self, first: Rgb, second: Rgb, estimator: cv2.DISOpticalFlow) -> None:
        self.first, self.second = first, second
        height, width = first.shape[:2]
        scale = min(1.0, FLOW_WIDTH / width)
        size = (max(8, round(width * scale)), max(8, round(height * scale)))
        grey_a = cv2.resize(cv2.cvtColor(first, cv2.COLOR_RGB2GRAY), size, interpolation=cv2.INTER_AREA)
        grey_b = cv2.resize(cv2.cvtColor(second, cv2.COLOR_RGB2GRAY), size, interpolation=cv2.INTER_AREA)
        self.forward = self._full(_flow(estimator, grey_a, grey_b), width, height)
        self.backward = self._full(_flow(estimator, grey_b, grey_a), width, height)
        self._grid = np.mgrid[0:height, 0:width][::-1].astype(np.float32)  # (x, y) planes
        # Where following the flow forward then backward returns home, both frames see the pixel.
        disagreement = np.linalg.norm(self.forward + self._sample(self.backward, self.forward, 1.0), axis=2)
        self.trust_first = np.exp(-disagreement / 2.0).astype(np.float32)

    @staticmethod
    def _full(flow: Flow, width: int, height: int) -> Flow:
        small_h, small_w = flow.shape[:2]
        full = cv2.resize(flow, (width, height), interpolation=cv2.INTER_LINEAR)
        full[..., 0] *= width / small_w
        full[..., 1] *= height / small_h
        return np.asarray(full, np.float32)

    def _sample(self, image: npt.NDArray[Any], flow: Flow, amount: float) -> npt.NDArray[np.float32]:
        """`image` read at x + amount * flow(x), for every output pixel x."""
        map_x = self._grid[0] + amount * flow[..., 0]
        map_y = self._grid[1] + amount * flow[..., 1]
        sampled = cv2.remap(
            image, map_x, map_y, interpolation=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
        )
        return np.asarray(sampled, np.float32)

    def at(self, t: float) -> Rgb:
        """The frame at fraction `t` of the way from the first to the second."""
        from_first = self._sample(self.first, self.forward, -t)
        from_second = self._sample(self.second, self.backward, -(1.0 - t))
        trust = self._sample(self.trust_first, self.forward, -t)
        weight_first = (1.0 - t) * (0.5 + 0.5 * trust)
        weight_second = t * (0.5 + 0.5 * (1.0 - trust))
        total = weight_first + weight_second + 1e-6
        mixed = from_first * weight_first[..., None] + from_second * weight_second[..., None]
        out: Rgb = np.clip(mixed / total[..., None] + 0.5, 0, 255).astype(np.uint8)
        return out


def _flow(estimator: cv2.DISOpticalFlow, first: Any, second: Any) -> Flow:
    return np.asarray(estimator.calc(first, second, None), np.float32)  # type: ignore[call-overload]


def flow_estimator() -> cv2.DISOpticalFlow:
    return cv2.DISOpticalFlow.create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)


def retime(
    frames: Iterable[tuple[float, Rgb]], source_fps: float, fps: Fraction, count: int
) -> Iterator[Rgb]:
    """`count` frames at `fps` from source frames with their times, interpolated by motion."""
    estimator = flow_estimator()
    source = iter(frames)
    current = next(source, None)
    if current is None:
        raise InvalidMedia("the video stream has no frames")
    upcoming = next(source, None)
    pair: FlowPair | None = None
    for index in range(count):
        instant = float(index / fps)
        while upcoming is not None and upcoming[0] <= instant + _EXACT / source_fps:
            current, upcoming, pair = upcoming, next(source, None), None
        span = (upcoming[0] - current[0]) if upcoming is not None else 0.0
        t = (instant - current[0]) / span if span > 0 else 0.0
        if upcoming is None or t <= _EXACT:
            yield current[1]
            continue
        if pair is None:
            pair = FlowPair(current[1], upcoming[1], estimator)
        yield pair.at(min(1.0, t))


def target_rate(name: str) -> Fraction:
    numerator, denominator = TARGET_FRAMERATES[name]
    return Fraction(numerator, denominator)


def open_video(data: bytes, field: str) -> VideoInfo:
    try:
        info = probe_video(data)
    except InvalidMedia as error:
        raise Failure("ASSET.INVALID", f"{field} could not be decoded as a video") from error
    if info.width < 2 or info.height < 2:
        raise Failure("ASSET.INVALID", f"{field}: must be at least 2x2 pixels")
    return info


def source_seconds(info: VideoInfo) -> float:
    """The source's length as its frames show it: frame count over frame rate."""
    if info.frame_count > 0 and info.fps > 0:
        return info.frame_count / info.fps
    return info.duration


def audio_of(data: bytes, info: VideoInfo, field: str) -> npt.NDArray[np.float32] | None:
    """The source's sound at 48 kHz, kept by the video engines that only change the picture."""
    if not info.has_audio:
        return None
    source = Source(
        data, info.width, info.height, info.frame_count, Fraction(info.fps).limit_denominator(1001),
        info.codec, info.pix_fmt, False, True,
    )  # fmt: skip
    try:
        return source_audio(source, field)
    except Failure:
        return None  # a broken sound track does not spoil the picture


def even_size(width: int, height: int) -> tuple[int, int]:
    return max(2, width - width % 2), max(2, height - height % 2)


def checked_frames(data: bytes, field: str) -> Iterator[tuple[float, Rgb]]:
    try:
        yield from timed_frames(data)
    except (InvalidMedia, av.error.FFmpegError) as error:
        raise Failure("ASSET.INVALID", f"{field} could not be decoded as a video") from error


class MotionInterpolationEngine:
    name = "motion-interpolation"

    def run(self, request: EngineRequest, context: RunContext) -> list[Artifact]:
        field = "videoUri"
        data = request.asset(request.fields.required("video_uri"))
        info = open_video(data, field)
        fps = target_rate(request.fields.required("target_framerate"))
        seconds = source_seconds(info)
        count = max(1, round(seconds * fps))
        size = even_size(info.width, info.height)
        context.progress(0.05)
        frames = (
            frame[: size[1], : size[0]] for frame in retime(checked_frames(data, field), info.fps, fps, count)
        )
        return render_video(
            request, frames, size, count, context, audio=audio_of(data, info, field), start=0.05, fps=fps
        )
