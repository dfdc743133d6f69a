"""Input media made at test time: small images, videos and audio as data URIs."""

from __future__ import annotations

import base64
import io
from functools import cache

import av
import numpy as np
from PIL import Image

from support.server import ENGINE_CACHE


def data_uri(data: bytes, media_type: str) -> str:
    return f"data:{media_type};base64," + base64.b64encode(data).decode()


@cache
def png(width: int = 256, height: int = 160, color: tuple[int, int, int] = (200, 80, 40)) -> str:
    yy, xx = np.mgrid[0:height, 0:width]
    pixels = np.zeros((height, width, 3), np.uint8)
    pixels[..., 0] = color[0]
    pixels[..., 1] = (xx * 255 // max(1, width - 1)).astype(np.uint8)
    pixels[..., 2] = (yy * 255 // max(1, height - 1)).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "PNG")
    return data_uri(buffer.getvalue(), "image/png")


@cache
def mp4(width: int = 320, height: int = 180, seconds: float = 2.0, fps: int = 24) -> str:
    """An H.264 clip of a bright square crossing the frame (motion for performance transfer)."""
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"preset": "ultrafast"}
        frames = round(seconds * fps)
        for index in range(frames):
            pixels = np.full((height, width, 3), 30, np.uint8)
            x = int((width - height // 3) * index / max(1, frames - 1))
            pixels[height // 3 : 2 * height // 3, x : x + height // 3] = 230
            container.mux(stream.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")))
        container.mux(stream.encode())
    return data_uri(buffer.getvalue(), "video/mp4")


@cache
def wav(seconds: float = 2.0, rate: int = 16_000) -> str:
    import wave

    t = np.arange(int(seconds * rate)) / rate
    samples = (0.3 * np.sin(2 * np.pi * 220 * t) * 32767).astype("<i2")
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(samples.tobytes())
    return data_uri(buffer.getvalue(), "audio/wav")


SPEECH_TEXT = "The quick brown fox jumps over the lazy dog. Please call me back when you are ready."


@cache
def speech(voice: str = "Mark", text: str = SPEECH_TEXT, seconds: float | None = None) -> str:
    """Real speech as an MP3 data URI, from the offline TTS engine; zero-padded to `seconds` if given."""
    from taxiway.engines.audio import codec, tts

    clip = tts.synthesize(text, voice, cache=ENGINE_CACHE)
    if seconds is not None:
        padded = np.zeros(round(seconds * clip.rate), np.float32)
        used = min(len(padded), len(clip.samples))
        padded[:used] = clip.samples[:used]
        clip = codec.Clip(padded, clip.rate)
    return data_uri(codec.encode_mp3(clip), "audio/mpeg")


@cache
def noisy_speech(seconds: float = 7.0) -> str:
    """Speech under steady noise at about 5 dB SNR, `seconds` long: an input worth isolating."""
    from taxiway.engines.audio import codec, tts

    clip = tts.synthesize(SPEECH_TEXT, "Mark", cache=ENGINE_CACHE).at(48_000)
    voice = np.zeros(round(seconds * clip.rate), np.float32)
    used = min(len(voice), len(clip.samples))
    voice[:used] = clip.samples[:used]
    noise = np.random.default_rng(7).standard_normal(len(voice)).astype(np.float32)
    noise *= codec.rms(voice) / codec.rms(noise) / 10 ** (5 / 20)
    return data_uri(codec.encode_mp3(codec.Clip(voice + noise, clip.rate)), "audio/mpeg")


@cache
def speech_video(seconds: float = 4.0) -> str:
    """An MP4 whose audio track is speech: speech_to_speech's `media: {type: video}`."""
    import base64

    from taxiway.engines.audio import codec
    from taxiway.engines.offline.video_encode import encode_mp4

    audio = codec.decode(base64.b64decode(speech(seconds=seconds).split(",", 1)[1]), 48_000)
    count = round(seconds * 24)
    frames = [np.full((180, 320, 3), 60, np.uint8)] * count
    data = encode_mp4(frames, 320, 180, count, audio=audio.samples.reshape(1, -1), sample_rate=48_000)
    return data_uri(data, "video/mp4")
