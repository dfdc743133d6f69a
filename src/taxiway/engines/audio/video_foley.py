"""video_to_audio (`mirelo_sfx_2_0`): sound for a video, following what its pictures do. Not a generative
model: the picture is measured, and the procedural sound-effect synthesizer (`sound_effects`) plays it.

1. **Measure.** The video is sampled at `ANALYSIS_FPS` on a small grey copy. Motion is the mean optical
   flow magnitude between samples (OpenCV's DIS); a cut is a sample whose grey-level histogram differs
   from the previous one far more than usual (and by at least `CUT_DISTANCE`).
2. **Play.** A bed from the prompt's sound layers (`promptText`; rain, engine, crowd…; room tone without
   one), minus the layers `negativePrompt` names; a motion layer, band noise whose loudness and
   brightness follow the measured motion; and a low impact at every cut. Past the video's end the bed
   goes on and the motion rests.
3. **Speech.** With `preserveSpeech` (the default) the video's own dialogue is kept: its sound track
   through the voice-isolation denoiser, mixed over the effects, which duck under it.

Every variant (`numVariants`) uses its own seed (the task's plus its index), so variants differ in texture
and detail but not in timing. Each is exactly `duration` x 44100 samples, in `format` (MP3 128 kb/s,
16-bit WAV or FLAC; mono, 44.1 kHz).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import av
import av.error
import cv2
import numpy as np
import numpy.typing as npt
from scipy.signal import butter, sosfilt

from taxiway.engines.audio import codec, sound_effects
from taxiway.engines.audio.codec import Clip
from taxiway.engines.base import Artifact, EngineRequest, RunContext
from taxiway.engines.offline.video_encode import InvalidMedia, decode_frames, probe_video
from taxiway.errors import Failure

RATE = sound_effects.RATE
ANALYSIS_FPS = 12
ANALYSIS_WIDTH = 160
CUT_DISTANCE = 0.35  # Bhattacharyya distance between grey histograms that makes a cut at the least
ROOM_TONE = "ambience"  # no layer matches it: the synthesizer's texture drawn from the word

FloatArray = npt.NDArray[np.float32]
CONTENT_TYPES = {"mp3": "audio/mpeg", "wav": "audio/wav", "flac": "audio/flac"}


@dataclass(frozen=True)
class Picture:
    """What the sound follows: motion per analysis sample (0 = still, about 1 = fast) and cut times."""

    seconds: float
    motion: FloatArray  # one value per 1/ANALYSIS_FPS s
    cuts: tuple[float, ...]


def measure(data: bytes, field: str = "videoUri") -> Picture:
    try:
        info = probe_video(data)
        count = max(2, round(info.duration * ANALYSIS_FPS))
        frames = decode_frames(data, count, fps=ANALYSIS_FPS, duration=info.duration)
        flow = cv2.DISOpticalFlow.create(cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST)
        motion = np.zeros(count, np.float32)
        cuts: list[float] = []
        distances: list[float] = []
        previous: npt.NDArray[np.uint8] | None = None
        previous_hist: Any = None
        for index, image in enumerate(frames):
            scale = ANALYSIS_WIDTH / image.width
            small = image.convert("L").resize((ANALYSIS_WIDTH, max(8, round(image.height * scale))))
            grey = np.asarray(small, np.uint8)
            hist = cv2.calcHist([grey], [0], None, [32], [0, 256])
            cv2.normalize(hist, hist)
            if previous is not None and previous_hist is not None:
                field_ = np.asarray(flow.calc(previous, grey, None), np.float32)  # type: ignore[call-overload]
                # pixels per analysis frame, relative to the picture's width: 2% a frame is brisk
                motion[index] = float(np.linalg.norm(field_, axis=2).mean()) / (ANALYSIS_WIDTH * 0.02)
                distance = float(cv2.compareHist(previous_hist, hist, cv2.HISTCMP_BHATTACHARYYA))
                usual = float(np.median(distances[-24:])) if distances else 0.0
                if distance >= CUT_DISTANCE and distance > 4 * usual + 0.05:
                    cuts.append(index / ANALYSIS_FPS)
                    motion[index] = motion[index - 1]  # a cut is not motion
                distances.append(distance)
            previous, previous_hist = grey, hist
    except (InvalidMedia, av.error.FFmpegError) as error:
        raise Failure("ASSET.INVALID", f"{field} could not be decoded as a video") from error
    return Picture(info.duration, np.clip(motion, 0.0, 2.0), tuple(cuts))


def _follow(values: FloatArray, n: int) -> npt.NDArray[np.float64]:
    """A per-analysis-frame curve as a smooth per-sample envelope over n samples (zero past the video)."""
    times = np.arange(n) / RATE
    points = np.arange(len(values)) / ANALYSIS_FPS
    curve = np.interp(times, points, values.astype(np.float64), right=0.0)
    width = int(0.08 * RATE)
    kernel = np.hanning(width) / np.hanning(width).sum()
    return np.convolve(curve, kernel, mode="same")


def _band(x: npt.NDArray[np.float64], low: float, high: float) -> npt.NDArray[np.float64]:
    sos = butter(2, (low, high), btype="bandpass", fs=RATE, output="sos")
    return np.asarray(sosfilt(sos, x), np.float64)


def motion_layer(picture: Picture, n: int, rng: np.random.Generator) -> npt.NDArray[np.float64]:
    """Air moving with the picture: dark band noise when slow, brighter and louder when fast."""
    envelope = _follow(picture.motion, n)
    noise = rng.standard_normal(n)
    low, high = _band(noise, 80.0, 600.0), _band(noise, 600.0, 4000.0)
    brightness = np.clip(envelope, 0.0, 1.0)
    return envelope * (low * (1.0 - 0.6 * brightness) + 1.5 * high * brightness)


def impacts(picture: Picture, n: int, rng: np.random.Generator) -> npt.NDArray[np.float64]:
    """A low hit with a noisy attack at every cut."""
    out = np.zeros(n)
    length = int(0.6 * RATE)
    t = np.arange(length) / RATE
    for cut in picture.cuts:
        pitch = float(rng.uniform(45.0, 70.0))
        body = np.sin(2 * np.pi * np.cumsum(pitch * (1 + 1.5 * np.exp(-t / 0.03))) / RATE) * np.exp(-t / 0.18)
        attack = rng.standard_normal(length) * np.exp(-t / 0.01)
        start = int(cut * RATE)
        end = min(n, start + length)
        if start < n:
            out[start:end] += (body + 0.5 * attack)[: end - start]
    return out


def bed_prompt(prompt: str, negative: str) -> str:
    """The synthesizer prompt: the prompt's layers less those the negative prompt names."""
    if not prompt.strip():
        return ROOM_TONE
    layers = sound_effects.layers_for(prompt)
    unwanted = {layer.name for layer in sound_effects.layers_for(negative)} if negative.strip() else set()
    kept = [layer for layer in layers if layer.name not in unwanted]
    if not kept:
        return ROOM_TONE
    if kept == [sound_effects.GENERIC]:
        return prompt
    return " ".join(layer.name for layer in kept)


def speech_of(data: bytes, n: int) -> npt.NDArray[np.float64] | None:
    """The video's dialogue, isolated, at RATE and n samples long; None without a sound track."""
    try:
        clip = codec.decode(data, 48000, "videoUri")
    except Failure:
        return None
    from taxiway.engines.audio import isolation  # loads the denoiser only where there is sound

    voice = isolation.denoise(clip).at(RATE).samples.astype(np.float64)
    return np.pad(voice, (0, max(0, n - len(voice))))[:n]


def _unit(x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    peak = float(np.max(np.abs(x))) if len(x) else 0.0
    return x / peak if peak > 0 else x


def mix(
    picture: Picture,
    prompt: str,
    negative: str,
    seed: int,
    seconds: float,
    speech: npt.NDArray[np.float64] | None,
) -> Clip:
    n = max(1, round(seconds * RATE))
    rng = np.random.default_rng(seed)
    bed = sound_effects.render(bed_prompt(prompt, negative), seed, seconds).samples.astype(np.float64)
    motion_weight = 0.0 if "motion" in negative.lower() or "whoosh" in negative.lower() else 0.7
    effects = 0.45 * _unit(bed[:n]) + motion_weight * _unit(motion_layer(picture, n, rng))
    effects += 0.9 * _unit(impacts(picture, n, rng))
    if speech is not None and float(np.max(np.abs(speech), initial=0.0)) > 1e-3:
        voiced = np.convolve(np.abs(speech), np.ones(int(0.05 * RATE)) / int(0.05 * RATE), mode="same")
        duck = 1.0 - 0.6 * np.clip(voiced / (voiced.max() + 1e-9) * 4.0, 0.0, 1.0)
        effects = effects * duck + 1.2 * _unit(speech)
    return Clip(codec.normalize(effects.astype(np.float32)), RATE)


def encoded(clip: Clip, audio_format: str) -> bytes:
    if audio_format == "wav":
        return codec.encode_wav(clip)
    if audio_format == "flac":
        return codec.encode_flac(clip)
    return codec.encode_mp3(clip)


class VideoFoleyEngine:
    name = "motion-foley"

    def run(self, request: EngineRequest, context: RunContext) -> list[Artifact]:
        fields = request.fields
        data = request.asset(fields.required("video_uri"))
        seconds = fields.seconds
        if seconds is None:
            raise Failure("INPUT.INVALID", "duration: a number of seconds is required")
        audio_format = fields.format or "mp3"
        variants = fields.num_variants or 1
        picture = measure(data)
        context.progress(0.3)
        n = max(1, round(seconds * RATE))
        speech = speech_of(data, n) if fields.preserve_speech is not False else None
        context.progress(0.45)
        artifacts: list[Artifact] = []
        for index in range(variants):
            clip = mix(
                picture,
                fields.prompt_text or "",
                fields.negative_prompt or "",
                request.seed + index,
                seconds,
                speech,
            )
            name = f"audio_{index + 1}.{audio_format}" if variants > 1 else f"audio.{audio_format}"
            artifacts.append(
                Artifact(name, encoded(clip, audio_format), CONTENT_TYPES[audio_format], seconds=clip.seconds)
            )
            context.progress(0.45 + 0.55 * (index + 1) / variants)
        return artifacts
