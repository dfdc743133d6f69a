"""video_upscale `magnific_video_upscaler_creative`: every frame upscaled to the requested `resolution`.

`resolution` sets the output's short side (720p 720, 1k 1080, 2k 1440, 4k 2160 px); the long side keeps
the source's aspect (even sides). Each frame goes through the image upscaler's path (`upscaling`):
Real-ESRGAN's compact model where `creativity` asks for invented detail and the frame fits its budget
(`NEURAL_MAX_FRAME_PIXELS`; mixed over the Lanczos picture by `creativity`), else Lanczos, then
`ultraDetail`-style local contrast growing with `creativity`, `sharpen`, and `smartGrain` (a fresh grain
per frame, as film has). `flavor: vivid` adds saturation and contrast; `natural` keeps the source's
colours. The source's frame rate and audio are kept; `fpsBoost` doubles the rate by motion-compensated
interpolation (`frame_rate`).
"""

from __future__ import annotations

from collections.abc import Iterator
from fractions import Fraction

import numpy as np

from taxiway.catalog.media_models import CREATIVE_DEFAULTS, VIDEO_RESOLUTIONS
from taxiway.engines.base import Artifact, EngineRequest, RunContext
from taxiway.engines.offline import upscaling
from taxiway.engines.offline.frame_rate import (
    Rgb,
    audio_of,
    checked_frames,
    open_video,
    retime,
    source_seconds,
)
from taxiway.engines.offline.video_common import render_video

# Frames up to this size get one neural pass when `creativity` is above 0 (under a second a frame on 2
# cores); larger ones, and the rest of the factor, are Lanczos.
NEURAL_MAX_FRAME_PIXELS = 160_000


def output_size(width: int, height: int, resolution: str) -> tuple[int, int]:
    short = VIDEO_RESOLUTIONS[resolution]
    scale = short / min(width, height)
    long_side = round(max(width, height) * scale / 2) * 2
    return (long_side, short) if width >= height else (short, long_side)


class CreativeUpscaleEngine:
    name = "creative-video-upscale"

    def run(self, request: EngineRequest, context: RunContext) -> list[Artifact]:
        fields = request.fields_over(CREATIVE_DEFAULTS)
        field = "videoUri"
        data = request.asset(fields.required("video_uri"))
        info = open_video(data, field)
        size = output_size(info.width, info.height, fields.required("resolution"))
        creativity = float(fields.creativity or 0) / 100.0
        neural = creativity > 0 and info.width * info.height <= NEURAL_MAX_FRAME_PIXELS
        source_rate = Fraction(info.fps).limit_denominator(1001)
        fps = source_rate * 2 if fields.fps_boost else source_rate
        count = max(1, round(source_seconds(info) * fps))
        context.progress(0.05)

        def upscale(index: int, frame: Rgb) -> Rgb:
            base = upscaling.lanczos(frame, size)
            if neural:
                learned, _ = upscaling.super_resolve(frame, size, max_passes=1)
                mixed = base.astype(np.float32) * (1 - creativity) + learned.astype(np.float32) * creativity
                base = np.clip(mixed + 0.5, 0, 255).astype(np.uint8)
            if fields.flavor == "vivid":
                base = upscaling.vivid(base)
            return upscaling.finish(
                base,
                sharpen=float(fields.sharpen or 0),
                ultra_detail=60.0 * creativity,
                smart_grain=float(fields.smart_grain or 0),
                seed=request.seed + index,
            )

        def frames() -> Iterator[Rgb]:
            source = checked_frames(data, field)
            if fields.fps_boost:
                retimed = retime(source, info.fps, fps, count)
                yield from (upscale(i, f) for i, f in enumerate(retimed))
            else:
                yield from (upscale(i, frame) for i, (_time, frame) in enumerate(source))
                # a source that counted more frames than it decodes holds its last one
            return

        return render_video(
            request, _padded(frames(), count), size, count, context,
            audio=audio_of(data, info, field), start=0.05, fps=fps,
        )  # fmt: skip


def _padded(frames: Iterator[Rgb], count: int) -> Iterator[Rgb]:
    """Exactly `count` frames: the last one held if the source decodes fewer than it declared."""
    last: Rgb | None = None
    produced = 0
    for frame in frames:
        if produced == count:
            return
        last = frame
        produced += 1
        yield frame
    while last is not None and produced < count:
        produced += 1
        yield last
