"""Media I/O for the offline video engines: H.264/AAC MP4 encoding, resampled decoding, probing, audio beds.

Every engine's MP4 comes from `encode_mp4` (other `outputFormat`s: `video_formats`), so all share one
contract: H.264 yuv420p (BT.709, limited range), exactly `frame_count` frames at a constant rate,
container duration exactly `frame_count / fps`, optional stereo AAC of the same duration, `moov` atom
first for progressive playback.

Bytes are reproducible for identical inputs: swscale runs bit-exact and single-threaded, and x264 without
its AVX-512 code, which made this build's output vary between identical runs (`x264_asm_without_avx512`).
Nothing here touches the network.
"""

from __future__ import annotations

import contextlib
import functools
import io
import os
import tempfile
from collections.abc import Callable, Generator, Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction

import av
import av.error
import numpy as np
import numpy.typing as npt
from av.audio.stream import AudioStream
from av.container import OutputContainer
from av.video.frame import VideoFrame
from av.video.reformatter import Interpolation
from av.video.stream import VideoStream
from PIL import Image

FPS = 24
SAMPLE_RATE = 48000
X264_PRESET = "veryfast"
X264_CRF = "23"
# One encoder thread per task: engines already run one per worker thread, so a task costs about one core
# and several tasks share the machine predictably. (Bytes do not depend on it: see x264_asm_without_avx512.)
# GPU engines, whose tasks leave the host's cores idle, ask for more.
X264_THREADS = 1
_AAC_FRAME = 1024
# AVCOL_SPC/PRI/TRC_BT709: HD players assume it for untagged video anyway; tagging makes it explicit.
_BT709 = 1
_MPEG_RANGE = 1

Frame = npt.NDArray[np.uint8] | Image.Image
FloatArray = npt.NDArray[np.float32]


class InvalidMedia(ValueError):
    """The bytes are not a decodable video (or have no video stream); engines map it to ASSET.INVALID."""


@dataclass(frozen=True)
class VideoInfo:
    width: int
    height: int
    fps: float
    frame_count: int
    duration: float  # seconds, of the video stream when the container says, else of the container
    codec: str
    pix_fmt: str
    has_audio: bool
    audio_duration: float | None


# ---- encoding -----------------------------------------------------------------------------------------


def _to_video_frame(frame: Frame, width: int, height: int, index: int, resample: Interpolation) -> VideoFrame:
    if isinstance(frame, Image.Image):
        frame = np.asarray(frame if frame.mode == "RGB" else frame.convert("RGB"))
    rgb = VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
    # swscale scales and converts in one SIMD pass (~1 ms at 720p, ~8x faster than Pillow's resize);
    # ACCURATE_RND | BITEXACT make its output independent of the CPU's instruction set.
    scaling = (rgb.width, rgb.height) != (width, height)
    flags = (
        (resample if scaling else Interpolation.BILINEAR)
        | Interpolation.ACCURATE_RND
        | Interpolation.BITEXACT
    )
    yuv = rgb.reformat(
        width,
        height,
        "yuv420p",
        dst_colorspace=_BT709,
        dst_color_range=_MPEG_RANGE,
        interpolation=flags,
        threads=1,
    )
    yuv.pts = index
    return yuv


# x264 CPU-flag names and the /proc/cpuinfo flags that mean the CPU (and OS) support them.
_X264_CPU_NAMES = (
    ("MMX2", "sse"),
    ("SSE", "sse"),
    ("SSE2", "sse2"),
    ("SSE3", "pni"),
    ("SSSE3", "ssse3"),
    ("SSE4.1", "sse4_1"),
    ("SSE4.2", "sse4_2"),
    ("LZCNT", "abm"),
    ("AVX", "avx"),
    ("XOP", "xop"),
    ("FMA4", "fma4"),
    ("FMA3", "fma"),
    ("BMI1", "bmi1"),
    ("BMI2", "bmi2"),
    ("AVX2", "avx2"),
)


@functools.cache
def x264_asm_without_avx512() -> str | None:
    """x264's `asm` value for this CPU minus AVX-512, or None to keep x264's own detection.

    With its AVX-512 code (mbtree propagation with B-frames), this x264 build's output for identical frames
    varied with the state of the heap - uninitialised reads - so reruns were not byte-identical. x264's asm
    is otherwise bit-exact with its C code, so dropping one instruction set changes speed, not output. The
    flags come from /proc/cpuinfo because x264 trusts a named list blindly; elsewhere nothing is changed.
    """
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as info:
            line = next((row for row in info if row.startswith("flags")), "")
    except OSError:
        return None
    flags = set(line.partition(":")[2].split())
    if not any(flag.startswith("avx512") for flag in flags):
        return None
    return ",".join(name for name, flag in _X264_CPU_NAMES if flag in flags)


def _add_video_stream(
    container: OutputContainer, width: int, height: int, fps: int | Fraction, threads: int = X264_THREADS
) -> VideoStream:
    options = {"preset": X264_PRESET, "crf": X264_CRF}
    asm = x264_asm_without_avx512()
    if asm is not None:
        options["x264-params"] = f"asm={asm}"
    stream = container.add_stream("libx264", rate=fps, options=options)
    stream.width = width
    stream.height = height
    stream.pix_fmt = "yuv420p"
    stream.time_base = 1 / Fraction(fps)
    context = stream.codec_context
    context.thread_count = threads
    context.colorspace = context.color_primaries = context.color_trc = _BT709
    context.color_range = _MPEG_RANGE
    return stream


def audio_frames(audio: FloatArray, sample_rate: int, start: int, stop: int) -> Iterator[av.AudioFrame]:
    """AAC consumes 1024-sample frames; only the very last one may be shorter."""
    layout = "stereo" if audio.shape[0] == 2 else "mono"
    for offset in range(start, stop, _AAC_FRAME):
        chunk = np.ascontiguousarray(audio[:, offset : min(stop, offset + _AAC_FRAME)])
        frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout=layout)
        frame.sample_rate = sample_rate
        frame.pts = offset
        yield frame


def encode_mp4(
    frames: Iterable[Frame],
    width: int,
    height: int,
    frame_count: int,
    *,
    fps: int | Fraction = FPS,
    audio: FloatArray | None = None,
    sample_rate: int = SAMPLE_RATE,
    on_frame: Callable[[int], None] | None = None,
    resample: Interpolation = Interpolation.BICUBIC,
    threads: int = X264_THREADS,
) -> bytes:
    """Encode the first `frame_count` frames: RGB uint8 (H, W, 3) arrays or PIL images.

    Frames of another size are scaled to width x height with `resample` while being converted to YUV,
    which is the cheapest place to do it: engines render small and let swscale upscale. Scaling does not
    crop, so such frames must already have the output's aspect ratio.

    `audio` is float32 (channels, samples) in [-1, 1], 1 or 2 channels; it is cut or zero-padded to the
    video's duration. `on_frame(index)` runs after each frame is encoded; whatever it raises (e.g.
    TaskCancelled) propagates after the container and the frame source are closed.
    """
    if width % 2 or height % 2 or width <= 0 or height <= 0:
        raise ValueError(f"H.264 yuv420p needs positive even sizes, got {width}x{height}")
    if frame_count <= 0:
        raise ValueError("frame_count must be positive")
    if audio is not None and (audio.ndim != 2 or audio.shape[0] not in (1, 2)):
        raise ValueError("audio must be shaped (channels, samples) with 1 or 2 channels")
    rate = Fraction(fps)
    total_samples = frame_count * sample_rate * rate.denominator // rate.numerator
    if audio is not None:
        padded = np.zeros((audio.shape[0], total_samples), np.float32)
        used = min(total_samples, audio.shape[1])
        padded[:, :used] = audio[:, :used]
        audio = padded

    source = iter(frames)
    # The mp4 muxer's faststart pass re-opens its output by name, so it cannot write to a BytesIO.
    with tempfile.TemporaryDirectory(prefix="taxiway-video-") as directory:
        path = os.path.join(directory, "output.mp4")
        container = av.open(path, mode="w", format="mp4", options={"movflags": "+faststart"})
        try:
            video = _add_video_stream(container, width, height, fps, threads)
            audio_stream: AudioStream | None = None
            if audio is not None:
                audio_stream = container.add_stream("aac", rate=sample_rate)
                audio_stream.layout = "stereo" if audio.shape[0] == 2 else "mono"
            audio_done = 0
            for index in range(frame_count):
                frame = next(source, None)
                if frame is None:
                    raise ValueError(f"the frame source ended after {index} of {frame_count} frames")
                container.mux(video.encode(_to_video_frame(frame, width, height, index, resample)))
                if audio is not None and audio_stream is not None:
                    # Interleave: keep the audio up to the end of this video frame.
                    target = (index + 1) * sample_rate * rate.denominator // rate.numerator
                    for chunk in audio_frames(audio, sample_rate, audio_done, target):
                        container.mux(audio_stream.encode(chunk))
                    audio_done = target
                if on_frame is not None:
                    on_frame(index)
            container.mux(video.encode(None))
            if audio_stream is not None:
                container.mux(audio_stream.encode(None))
        except BaseException:
            # Closing may fail on a half-written file; the original error is the one worth reporting.
            with contextlib.suppress(Exception):
                container.close()
            raise
        finally:
            close = getattr(source, "close", None)
            if close is not None:
                close()  # a generator decoding an input video closes its container now, not at GC
        container.close()
        with open(path, "rb") as output:
            return output.read()


# ---- probing and decoding -----------------------------------------------------------------------------


def _open_input(data: bytes) -> av.container.InputContainer:
    try:
        container = av.open(io.BytesIO(data), mode="r")  # BytesIO shares, not copies, bytes
    except (av.error.FFmpegError, ValueError, OSError) as error:
        raise InvalidMedia("not a decodable media file") from error
    if not container.streams.video:
        container.close()
        raise InvalidMedia("no video stream")
    return container


def probe_video(data: bytes) -> VideoInfo:
    """Read the container header (no decoding except when it does not count its frames)."""
    with _open_input(data) as container:
        stream = container.streams.video[0]
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        fps = float(rate) if rate else float(FPS)
        if stream.duration is not None and stream.time_base is not None:
            duration = float(stream.duration * stream.time_base)
        elif container.duration is not None:
            duration = container.duration / av.time_base
        else:
            duration = 0.0
        frame_count = stream.frames
        codec = stream.codec_context.name
        pix_fmt = stream.codec_context.pix_fmt or ""
        width, height = stream.codec_context.width, stream.codec_context.height
        audio_duration = None
        if container.streams.audio:
            track = container.streams.audio[0]
            if track.duration is not None and track.time_base is not None:
                audio_duration = float(track.duration * track.time_base)
        has_audio = bool(container.streams.audio)
    if frame_count <= 0 or duration <= 0.0:
        times = [time for time, _frame in _decoded(data)]
        frame_count = len(times)
        if duration <= 0.0 and times:
            duration = times[-1] + 1.0 / fps
    return VideoInfo(width, height, fps, frame_count, duration, codec, pix_fmt, has_audio, audio_duration)


def _decoded(data: bytes) -> Iterator[tuple[float, VideoFrame]]:
    """(seconds since the first frame, frame) in presentation order; damaged data raises InvalidMedia."""
    with _open_input(data) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"  # decoders are bit-exact whatever their threading
        first: float | None = None
        index = 0
        try:
            for frame in container.decode(stream):
                time = frame.time if frame.time is not None else index / FPS
                if first is None:
                    first = time
                yield time - first, frame
                index += 1
        except av.error.FFmpegError as error:
            raise InvalidMedia("the video stream could not be decoded") from error
        if first is None:
            raise InvalidMedia("the video stream has no frames")


def timed_frames(data: bytes) -> Iterator[tuple[float, npt.NDArray[np.uint8]]]:
    """Every frame as it is stored: (seconds since the first frame, RGB array), in presentation order;
    damaged data raises InvalidMedia."""
    for time, frame in _decoded(data):
        rgb = frame.to_ndarray(format="rgb24", src_color_range=frame.color_range or None, threads=1)
        yield time, np.asarray(rgb, np.uint8)


def _to_image(frame: VideoFrame) -> Image.Image:
    pixels = frame.to_ndarray(format="rgb24", src_color_range=frame.color_range or None, threads=1)
    return Image.fromarray(pixels, "RGB")


def _timeline(
    data: bytes, loop: bool, period: float | None
) -> Generator[tuple[float, VideoFrame], None, None]:
    offset = 0.0
    while True:
        last = 0.0
        for time, frame in _decoded(data):
            last = time
            yield offset + time, frame
        if not loop:
            return
        offset += max(period or 0.0, last + 1.0 / FPS)


def decode_frames(
    data: bytes, count: int, *, fps: float = FPS, loop: bool = False, duration: float | None = None
) -> Iterator[Image.Image]:
    """Exactly `count` RGB frames sampled at `fps` by sample-and-hold (the frame showing at each instant).

    Frames are decoded lazily and converted only when used, so a 30 s 1080p input never sits in memory.
    When the input runs out, its last frame is held, or with `loop` it restarts after `duration` seconds
    (at least its last timestamp plus a frame).
    """
    timeline = _timeline(data, loop, duration)
    try:
        current = next(timeline)
        upcoming = next(timeline, None)
        image: Image.Image | None = None
        for index in range(count):
            instant = index / fps + 1e-3  # timestamps are rational in the container, floats here
            while upcoming is not None and upcoming[0] <= instant:
                current, upcoming, image = upcoming, next(timeline, None), None
            if image is None:
                image = _to_image(current[1])
            yield image
    finally:
        timeline.close()


# ---- audio --------------------------------------------------------------------------------------------


def read_audio(data: bytes) -> FloatArray | None:
    """A file's first audio track at SAMPLE_RATE (mono stays mono, more channels mix to stereo), aligned
    with the picture's start; None without one. InvalidMedia when the track cannot be decoded."""
    chunks: list[FloatArray] = []
    try:
        with av.open(io.BytesIO(data), mode="r") as container:
            if not container.streams.audio:
                return None
            track = container.streams.audio[0]
            video = container.streams.video[0] if container.streams.video else None
            layout = "mono" if track.codec_context.channels == 1 else "stereo"
            resampler = av.AudioResampler(format="fltp", layout=layout, rate=SAMPLE_RATE)
            for frame in container.decode(track):
                chunks += [np.asarray(out.to_ndarray(), np.float32) for out in resampler.resample(frame)]
            chunks += [np.asarray(out.to_ndarray(), np.float32) for out in resampler.resample(None)]
            offset = _stream_start(track) - (_stream_start(video) if video is not None else 0.0)
    except (av.error.FFmpegError, ValueError) as error:
        raise InvalidMedia("the audio track could not be decoded") from error
    if not chunks:
        return None
    audio = np.concatenate(chunks, axis=1)
    shift = round(offset * SAMPLE_RATE)
    if shift > 0:  # the sound starts after the picture
        audio = np.concatenate([np.zeros((audio.shape[0], shift), np.float32), audio], axis=1)
    return audio[:, max(0, -shift) :]


def _stream_start(stream: VideoStream | AudioStream) -> float:
    if stream.start_time is None or stream.time_base is None:
        return 0.0
    return float(stream.start_time * stream.time_base)


def synthesize_ambience(
    rng: np.random.Generator, seconds: float, *, sample_rate: int = SAMPLE_RATE, brightness: float = 1.0
) -> FloatArray:
    """A stereo ambience bed: spectrally shaped noise ("air") under a slow, enveloped chord.

    Procedural, not generated from the prompt's meaning. `brightness` (0.3-1.5) moves the noise's
    low-pass cutoff and the chord's register, so darker scenes sound darker. Deterministic in `rng`.
    """
    samples = max(1, round(seconds * sample_rate))
    t = np.arange(samples, dtype=np.float64) / sample_rate

    # Noise: white noise filtered in the frequency domain (no per-sample IIR loop in Python).
    white = rng.standard_normal((2, samples))
    spectrum = np.fft.rfft(white, axis=1)
    freqs = np.fft.rfftfreq(samples, 1.0 / sample_rate)
    cutoff = float(rng.uniform(600.0, 1800.0)) * brightness
    shape = 1.0 / np.sqrt(np.maximum(freqs, 20.0)) / (1.0 + (freqs / cutoff) ** 4)
    shape *= freqs > 30.0
    noise = np.fft.irfft(spectrum * shape, n=samples, axis=1)
    noise /= float(np.sqrt(np.mean(noise**2))) + 1e-12
    # Gusts: a smooth random envelope with a knot every ~1.5 s.
    knots = rng.uniform(0.35, 1.0, max(2, int(seconds / 1.5) + 2))
    gusts = np.interp(t, np.linspace(0.0, seconds, knots.size), knots)

    # Chord: a root from the seed, then a fifth, an octave and a tenth or a ninth, slightly detuned.
    root = 55.0 * 2.0 ** ((int(rng.integers(0, 12)) + 12 * (brightness > 1.0)) / 12.0)
    intervals = [0, 7, 12, int(rng.choice([14, 15, 16]))]
    tones = np.zeros((2, samples))
    for rank, semitones in enumerate(intervals):
        frequency = root * 2.0 ** (semitones / 12.0)
        rate = float(rng.uniform(0.05, 0.2))
        phase = float(rng.uniform(0.0, 2 * np.pi))
        swell = 0.6 + 0.4 * np.sin(2 * np.pi * rate * t + phase)
        for channel, detune in enumerate((0.998, 1.002)):
            tones[channel] += (
                np.sin(2 * np.pi * frequency * detune * t + phase * channel) * swell / (rank + 1)
            )

    mix = 0.35 * noise * gusts + 0.65 * tones / np.abs(tones).max(initial=1e-9)
    fade = min(0.5, seconds / 4)
    envelope = np.clip(np.minimum(t, seconds - t) / max(fade, 1e-3), 0.0, 1.0)
    mix *= envelope
    peak = float(np.abs(mix).max(initial=0.0))
    bed: FloatArray = (mix * (0.5 / peak if peak > 0 else 0.0)).astype(np.float32)  # -6 dBFS peak
    return bed
