"""Audio I/O shared by the audio engines: decode any input to mono float at a chosen rate, encode outputs.

Engines think in one representation, `Clip` (mono float32 samples in [-1, 1] and their rate), so each
model only ever resamples at the edges. Outputs are MP3 at 44.1 kHz, 128 kb/s, mono: the format the real
service's ElevenLabs-backed models answer with by default. Inputs may be any audio PyAV decodes, or the
audio track of a video (speech_to_speech accepts video media).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from math import gcd

import av
import av.error
import numpy as np
import numpy.typing as npt
from av.audio.stream import AudioStream

from taxiway.engines.base import Artifact
from taxiway.errors import Failure

FloatArray = npt.NDArray[np.float32]

OUTPUT_RATE = 44100
OUTPUT_BITRATE = 128_000
OUTPUT_CONTENT_TYPE = "audio/mpeg"


@dataclass(frozen=True)
class Clip:
    samples: FloatArray
    rate: int

    @property
    def seconds(self) -> float:
        return len(self.samples) / self.rate

    def at(self, rate: int) -> Clip:
        return self if rate == self.rate else Clip(resample(self.samples, self.rate, rate), rate)


def resample(samples: FloatArray, source_rate: int, target_rate: int) -> FloatArray:
    """Polyphase resampling: exact length ratio, no phase shift, good enough for speech and effects."""
    if source_rate == target_rate:
        return samples.astype(np.float32, copy=False)
    from scipy.signal import resample_poly  # scipy.signal takes most of a second to import

    divisor = gcd(source_rate, target_rate)
    out = resample_poly(samples, target_rate // divisor, source_rate // divisor)
    return np.asarray(out, dtype=np.float32)


def decode(data: bytes, rate: int, field: str = "audio") -> Clip:
    """The first audio stream of a file, mixed to mono at `rate`; ASSET.INVALID when there is none."""
    try:
        container = av.open(io.BytesIO(data), mode="r")
    except (av.error.FFmpegError, ValueError, OSError):
        raise Failure("ASSET.INVALID", f"{field}: not a decodable media file") from None
    with container:
        if not container.streams.audio:
            raise Failure("ASSET.INVALID", f"{field}: the file has no audio track")
        resampler = av.AudioResampler(format="flt", layout="mono", rate=rate)
        chunks: list[FloatArray] = []
        try:
            for frame in container.decode(container.streams.audio[0]):
                for converted in resampler.resample(frame):
                    chunks.append(converted.to_ndarray().reshape(-1).astype(np.float32, copy=False))
            for converted in resampler.resample(None):
                chunks.append(converted.to_ndarray().reshape(-1).astype(np.float32, copy=False))
        except av.error.FFmpegError:
            raise Failure("ASSET.INVALID", f"{field}: the audio could not be decoded") from None
    samples = np.concatenate(chunks) if chunks else np.zeros(0, np.float32)
    if not len(samples):
        raise Failure("ASSET.INVALID", f"{field}: the audio track is empty")
    return Clip(samples, rate)


def _encode(clip: Clip, container_format: str, codec: str, bit_rate: int | None) -> bytes:
    samples = np.clip(clip.samples, -1.0, 1.0).astype(np.float32)
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format=container_format) as container:
        stream = container.add_stream(codec, rate=clip.rate)
        assert isinstance(stream, AudioStream)
        stream.layout = "mono"
        if bit_rate:
            stream.bit_rate = bit_rate
        frame_size = stream.codec_context.frame_size or 1152
        fmt = stream.codec_context.format.name if stream.codec_context.format else "flt"
        for offset in range(0, len(samples), frame_size):
            chunk = samples[offset : offset + frame_size]
            frame = av.AudioFrame.from_ndarray(chunk.reshape(1, -1), format="flt", layout="mono")
            frame.sample_rate = clip.rate
            frame.pts = offset
            container.mux(stream.encode(_convert(frame, fmt, clip.rate)))
        container.mux(stream.encode(None))
    return buffer.getvalue()


def _convert(frame: av.AudioFrame, fmt: str, rate: int) -> av.AudioFrame:
    if fmt == "flt":
        return frame
    converted = av.AudioResampler(format=fmt, layout="mono", rate=rate).resample(frame)
    out = converted[0]
    out.pts = frame.pts
    return out


def encode_mp3(clip: Clip) -> bytes:
    return _encode(clip.at(OUTPUT_RATE), "mp3", "mp3", OUTPUT_BITRATE)


def encode_wav(clip: Clip) -> bytes:
    """16-bit PCM WAV at the clip's own rate: lossless (outputs, tests, and other processes' input)."""
    return _encode(clip, "wav", "pcm_s16le", None)


def encode_flac(clip: Clip) -> bytes:
    """FLAC (16-bit, lossless) at 44.1 kHz."""
    return _encode(clip.at(OUTPUT_RATE), "flac", "flac", None)


def artifact(clip: Clip, name: str = "audio") -> Artifact:
    """The task output: MP3, billed and reported on the clip's exact length."""
    return Artifact(f"{name}.mp3", encode_mp3(clip), OUTPUT_CONTENT_TYPE, seconds=clip.seconds)


@dataclass(frozen=True)
class Delivery:
    """An output format a request may ask for: container, codec, file extension and media type."""

    container: str
    codec: str
    extension: str
    content_type: str
    bit_rate: int | None = None
    rates: tuple[int, ...] = ()  # the sample rates the codec takes; () means any


DELIVERIES = {
    "mp3": Delivery("mp3", "mp3", "mp3", OUTPUT_CONTENT_TYPE, OUTPUT_BITRATE),
    "wav": Delivery("wav", "pcm_s16le", "wav", "audio/wav"),
    "flac": Delivery("flac", "flac", "flac", "audio/flac"),
    # Opus runs on its own clocks: other rates are coded at 48 kHz, which every Opus decoder plays.
    "ogg_opus": Delivery("ogg", "libopus", "ogg", "audio/ogg", 64_000, (8000, 12000, 16000, 24000, 48000)),
}


def delivered(clip: Clip, output_format: str, rate: int | None, name: str) -> Artifact:
    """The clip in a requested format (`outputFormat`, `format`) at a requested sample rate (MP3 at
    44.1 kHz unless asked otherwise), billed and reported on its exact length."""
    delivery = DELIVERIES[output_format]
    rate = rate or OUTPUT_RATE
    if delivery.rates and rate not in delivery.rates:
        rate = delivery.rates[-1]
    data = _encode(clip.at(rate), delivery.container, delivery.codec, delivery.bit_rate)
    return Artifact(f"{name}.{delivery.extension}", data, delivery.content_type, seconds=clip.seconds)


def rms(samples: FloatArray) -> float:
    return float(np.sqrt(np.mean(np.square(samples, dtype=np.float64)))) if len(samples) else 0.0


def normalize(samples: FloatArray, peak: float = 0.89) -> FloatArray:
    """Scale to a fixed peak (about -1 dBFS) so every engine's output plays at a similar level."""
    top = float(np.max(np.abs(samples))) if len(samples) else 0.0
    if top < 1e-6:
        return samples.astype(np.float32)
    return (samples * (peak / top)).astype(np.float32)
