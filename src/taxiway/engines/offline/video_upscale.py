"""A real (non-generative) 4x video upscaler: Lanczos resampling plus unsharp masking. Offline, CPU-only.

It invents no detail, unlike the model it stands in for (upscale_v1); it is the classic signal-processing
upscale, and honest about being one. Each input frame is sharpened at its own size (unsharp mask with a
3x3 box blur) and then Lanczos-scaled by swscale while it is converted for the encoder. Both steps are
linear, so sharpening before scaling looks the same as after while touching 16x fewer pixels.

Output: 4x the input size, reduced to fit 4096 px on the longer side (aspect kept, even sides), 24 fps
with the input's duration (frames resampled by nearest frame, as every output here is 24 fps), no audio.
Inputs longer than 30 seconds are refused, as the hosted API does.
"""

from __future__ import annotations

from av.video.reformatter import Interpolation
from PIL import Image, ImageFilter

from taxiway.engines.base import Artifact, EngineRequest, RunContext
from taxiway.engines.offline.video_common import MAX_INPUT_SECONDS, frame_total, load_video, render_video
from taxiway.engines.offline.video_encode import FPS
from taxiway.errors import Failure

FACTOR = 4
MAX_SIDE = 4096
SHARPEN = 0.6  # unsharp amount: strong enough to offset Lanczos softness, mild enough not to halo


def upscale_size(width: int, height: int) -> tuple[int, int]:
    """4x, or less so that neither side exceeds MAX_SIDE; sides rounded down to even numbers."""
    scale = min(float(FACTOR), MAX_SIDE / max(width, height))
    return (max(2, int(width * scale) // 2 * 2), max(2, int(height * scale) // 2 * 2))


def sharpen(frame: Image.Image) -> Image.Image:
    """Unsharp mask as one extrapolating blend: frame + amount * (frame - blur), clipped by Pillow."""
    return Image.blend(frame.filter(ImageFilter.BoxBlur(1)), frame, 1.0 + SHARPEN)


class UpscaleEngine:
    """Stand-in for upscale_v1; see the module docstring."""

    name = "lanczos-upscale"

    def run(self, request: EngineRequest, context: RunContext) -> list[Artifact]:
        context.check_cancelled()
        video = load_video(request, request.fields.video_uri or "", "videoUri")
        info = video.info
        if info.duration > MAX_INPUT_SECONDS + 0.5 / FPS:
            raise Failure("ASSET.INVALID", "videoUri: video must be at most 30 seconds")
        size = upscale_size(info.width, info.height)
        count = frame_total(info.duration)
        context.progress(0.05)
        frames = (sharpen(frame) for frame in video.frames(count))
        return render_video(request, frames, size, count, context, start=0.05, resample=Interpolation.LANCZOS)
