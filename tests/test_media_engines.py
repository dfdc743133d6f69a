"""The engines behind image_upscale, the two new video_upscale models, video_to_audio and avatar_videos:
called directly on small media made here, and judged on what they produce."""

from __future__ import annotations

import io
from fractions import Fraction
from typing import Any

import av
import numpy as np
import pytest
from PIL import Image

from support.server import ENGINE_CACHE
from taxiway.catalog.media_models import PERSONA_KEY, upscale_limits
from taxiway.catalog.models import Measured
from taxiway.engines.audio import codec
from taxiway.engines.base import EngineRequest, RunContext
from taxiway.engines.offline import upscaling
from taxiway.engines.offline.creative_upscale import CreativeUpscaleEngine
from taxiway.engines.offline.frame_rate import MotionInterpolationEngine
from taxiway.engines.offline.precision_upscale import PrecisionUpscaleEngine
from taxiway.engines.offline.talking_avatar import TalkingAvatarEngine
from taxiway.engines.offline.video_encode import encode_mp4, probe_video, timed_frames

CONTEXT = RunContext()


def request(endpoint: str, model: str, params: dict[str, Any], assets: dict[str, bytes]) -> EngineRequest:
    return EngineRequest("task", endpoint, model, {"model": model, **params}, 7, assets)


def square_clip(
    seconds: float, fps: int, size: tuple[int, int] = (160, 96), cut_at: float | None = None
) -> bytes:
    """A bright square crossing a dark frame at constant speed; after `cut_at` a different, still scene."""
    width, height = size
    count = round(seconds * fps)
    frames = []
    for index in range(count):
        if cut_at is not None and index / fps >= cut_at:
            frames.append(np.full((height, width, 3), (200, 180, 40), np.uint8))
            continue
        pixels = np.full((height, width, 3), 20, np.uint8)
        x = 8 + 4 * index * 24 // fps
        pixels[32:64, x : x + 24] = 235
        frames.append(pixels)
    return encode_mp4(frames, width, height, count, fps=fps)


def png_bytes(width: int, height: int) -> bytes:
    rng = np.random.default_rng(3)
    yy, xx = np.mgrid[0:height, 0:width]
    pixels = np.stack([xx * 255 // width, yy * 255 // height, (xx ^ yy) & 255], axis=2).astype(np.uint8)
    pixels = np.clip(pixels + rng.integers(0, 8, pixels.shape), 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "PNG")
    return buffer.getvalue()


def test_image_upscale_is_the_exact_size_and_keeps_the_picture() -> None:
    source = png_bytes(320, 300)
    params = {"imageUri": "in", "scaleFactor": 2, "sharpen": 7, "smartGrain": 7, "ultraDetail": 30}
    [out] = PrecisionUpscaleEngine().run(request("image_upscale", "m", params, {"in": source}), RunContext())
    image = Image.open(io.BytesIO(out.data))
    assert (image.format, image.size) == ("PNG", (640, 600))
    assert out.pixels == 640 * 600
    back = np.asarray(image.convert("RGB").resize((320, 300), Image.Resampling.BOX), np.float64)
    original = np.asarray(Image.open(io.BytesIO(source)).convert("RGB"), np.float64)
    psnr = 10 * np.log10(255**2 / np.mean((back - original) ** 2))
    assert psnr > 26


def test_real_esrgan_runs_where_installed() -> None:
    pixels = np.asarray(Image.open(io.BytesIO(png_bytes(64, 48))).convert("RGB"))
    upscaled, neural = upscaling.super_resolve(pixels, (256, 192))
    assert upscaled.shape == (192, 256, 3)
    assert neural is (upscaling.neural() is not None)


def test_pixel_limits_name_the_field() -> None:
    assert upscale_limits({}, Measured(299, 500))[0][0] == ["imageUri"]
    assert upscale_limits({}, Measured(8001, 500))[0][0] == ["imageUri"]
    [(path, message)] = upscale_limits({"scaleFactor": 2}, Measured(4000, 4000))
    assert path == ["scaleFactor"] and "25,300,000" in message
    problem = upscale_limits({"scaleFactor": 16}, Measured(400, 400))
    assert problem[0][0] == ["scaleFactor"] and "at most 8" in problem[0][1]
    assert upscale_limits({"scaleFactor": 16}, Measured(300, 300)) == []


def frames_of(data: bytes) -> list[np.ndarray]:
    return [frame for _time, frame in timed_frames(data)]


def test_frame_rate_interpolates_motion_instead_of_blending() -> None:
    source = square_clip(1.0, 12)
    params = {"videoUri": "in", "targetFramerate": "24"}
    [out] = MotionInterpolationEngine().run(request("video_upscale", "m", params, {"in": source}), CONTEXT)
    info = probe_video(out.data)
    assert (info.width, info.height, info.frame_count) == (160, 96, 24)
    assert info.fps == pytest.approx(24)
    frames = frames_of(out.data)
    # Output frame 3 lies halfway between source frames 1 (square at x=16) and 2 (x=24): at x=20.
    middle = frames[3][32:64].astype(np.float64).mean(axis=(0, 2))
    bright = np.flatnonzero(middle > 128)
    assert bright.size > 16, "the square kept its brightness (a blend would halve it)"
    assert (bright.min() + bright.max() + 1) / 2 == pytest.approx(20 + 12, abs=2)


def test_frame_rate_writes_ntsc_rates() -> None:
    source = square_clip(0.5, 24)
    params = {"videoUri": "in", "targetFramerate": "29_97"}
    [out] = MotionInterpolationEngine().run(request("video_upscale", "m", params, {"in": source}), CONTEXT)
    info = probe_video(out.data)
    assert Fraction(info.fps).limit_denominator(1001) == Fraction(30000, 1001)
    assert info.frame_count == round(0.5 * 30000 / 1001)


def test_creative_upscale_reaches_the_resolution_and_boosts_the_frame_rate() -> None:
    source = square_clip(0.25, 12, (128, 72))
    params = {"videoUri": "in", "resolution": "720p", "fpsBoost": True, "creativity": 40, "flavor": "vivid"}
    [out] = CreativeUpscaleEngine().run(request("video_upscale", "m", params, {"in": source}), RunContext())
    info = probe_video(out.data)
    assert (info.width, info.height) == (1280, 720)
    assert info.fps == pytest.approx(24)
    assert info.frame_count == 6


def test_sound_follows_motion_and_cuts() -> None:
    from taxiway.engines.audio.video_foley import RATE, VideoFoleyEngine, measure

    clip = square_clip(3.0, 24, cut_at=2.0)
    picture = measure(clip)
    assert picture.cuts and abs(picture.cuts[0] - 2.0) < 0.15
    params = {"videoUri": "in", "duration": 4.0, "format": "wav", "numVariants": 2, "promptText": ""}
    outputs = VideoFoleyEngine().run(request("video_to_audio", "m", params, {"in": clip}), RunContext())
    assert len(outputs) == 2 and outputs[0].data != outputs[1].data
    sound = codec.decode(outputs[0].data, RATE)
    assert len(sound.samples) == 4 * RATE
    level = [codec.rms(sound.samples[int(a * RATE) : int(b * RATE)]) for a, b in ((0.3, 1.8), (2.4, 3.8))]
    assert level[0] > 1.5 * level[1], "moving picture louder than the still one"
    hit = codec.rms(sound.samples[int(2.0 * RATE) : int(2.2 * RATE)])
    assert hit > 2 * level[1], "an impact at the cut"


@pytest.mark.parametrize("audio_format", ["mp3", "flac"])
def test_sound_formats(audio_format: str) -> None:
    from taxiway.engines.audio.video_foley import VideoFoleyEngine

    params = {"videoUri": "in", "duration": 1.5, "format": audio_format, "promptText": "rain"}
    [out] = VideoFoleyEngine().run(
        request("video_to_audio", "m", params, {"in": square_clip(1.0, 12)}), RunContext()
    )
    with av.open(io.BytesIO(out.data)) as container:
        stream = container.streams.audio[0]
        assert stream.codec_context.name.startswith(audio_format)
    assert codec.decode(out.data, 44100).seconds == pytest.approx(1.5, abs=0.03)


def test_avatar_mouth_follows_the_speech() -> None:
    rate = 48000
    t = np.arange(int(2.0 * rate)) / rate
    voice = (0.4 * np.sin(2 * np.pi * 180 * t) * ((t % 0.5) < 0.25)).astype(np.float32)  # bursts
    audio = codec.encode_wav(codec.Clip(voice, rate))
    params = {
        "avatar": {"type": "runway-preset", "presetId": "influencer"},
        "speech": {"type": "audio", "audio": "speech"},
        PERSONA_KEY: {"voice": {"preset": "summer"}},
    }
    [out] = TalkingAvatarEngine(ENGINE_CACHE).run(
        request("avatar_videos", "gwm1_avatars", params, {"speech": audio}), RunContext()
    )
    info = probe_video(out.data)
    assert (info.width, info.height, info.frame_count, info.has_audio) == (1088, 704, 48, True)
    frames = frames_of(out.data)
    mouth = [float(f[405:440, 500:588].mean()) for f in frames]  # the mouth region of the drawn face
    loud = [index for index in range(48) if (index / 24) % 0.5 < 0.2 and index % 12 > 2]
    quiet = [index for index in range(48) if (index / 24) % 0.5 > 0.4]
    assert np.mean([mouth[i] for i in loud]) < np.mean([mouth[i] for i in quiet]) - 5, "open mouth is dark"
