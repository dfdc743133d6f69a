"""voice_dubbing offline: recognize -> translate -> speak in the target language, timed to the source.

1. Decode; Silero VAD + Whisper base find the speech segments, their times and the source language.
2. Translate each segment: same language keeps the text; into English, Whisper's own speech translation
   (`task="translate"`) is run on the audio and its English segments are used; otherwise Apertium
   (`translation.py`, directly or through one pivot language). No route, or no TTS voice for the target
   language: ASSET.INVALID listing what is supported.
3. Voice: the source speech's median F0 picks the nearest male or female preset (a low voice gets a
   male preset, a high one a female preset; English male voices come from the presets built on the
   native English voice); `disableVoiceCloning` uses a fixed preset instead. This is voice matching by
   pitch, not cloning. `numSpeakers` is accepted and ignored (one dub voice).
4. Each segment's speech is time-stretched with WSOLA (pitch kept, no resampling) to fill its source
   slot, by a factor bounded to 0.7-1.5x the natural rate; what still overruns the gap before the next
   segment is faded out there. Segments start at their source start times.
5. `dropBackgroundAudio` false (default): the background - the source minus DeepFilterNet's speech
   estimate - is mixed under the dub; true: the dub alone. The output has exactly the source's length.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from taxiway.engines.audio import asr, isolation, translation, tts
from taxiway.engines.audio.codec import Clip, FloatArray, artifact, decode, normalize, rms
from taxiway.engines.audio.conversion import world
from taxiway.engines.audio.voices import PIPER, PRESETS, Preset
from taxiway.engines.base import Artifact, EngineRequest, RunContext
from taxiway.errors import Failure

RATE = isolation.RATE  # work at DeepFilterNet's rate; the artifact is resampled once, to 44.1 kHz
MIN_SPEED, MAX_SPEED = 0.7, 1.5  # bounds on how much faster (>1) or slower (<1) a dub segment is spoken
DEFAULT_VOICE = "James"
_FADE_S = 0.03
_VOICE_PRESETS = tuple(
    p for p in PRESETS.values() if p.character in ("male", "female") and p.name[0].isupper()
)


@dataclass(frozen=True)
class Line:
    start: float
    end: float
    text: str


def _fail(source: str, target: str) -> Failure:
    return Failure(
        "ASSET.INVALID",
        f"voice_dubbing: no offline translation from {source} to {target}; supported: {supported()}",
    )


def supported() -> str:
    """What can be dubbed into what on this machine, e.g. `en (from any language), es (from en, es)`."""
    pairs = translation.supported_pairs()
    parts = []
    for target in tts.SUPPORTED_LANGUAGES:
        if target == "en":
            parts.append("en (from any language Whisper recognizes)")
            continue
        sources = sorted({target, *(a for a, b in pairs if b == target)})
        parts.append(f"{target} (from {', '.join(sources)})")
    return "; ".join(parts)


# Debian packages that bring a translation into each offline voice language from English (one pivot
# step through Spanish is allowed).
INSTALL_FOR: Mapping[str, str] = {
    "es": "apertium-eng-spa",
    "fr": "apertium-eng-spa apertium-fr-es",
    "it": "apertium-eng-spa apertium-spa-ita",
    "pt": "apertium-eng-spa apertium-es-pt",
}


def available_targets() -> list[str]:
    """The languages this machine can dub into now: English from any speech Whisper knows, and each
    offline voice language that some installed Apertium pair translates into."""
    into = {target for _source, target in translation.supported_pairs()}
    return [code for code in tts.SUPPORTED_LANGUAGES if code == "en" or code in into]


def target_refusal(target: str) -> str | None:
    """Why `targetLang` cannot be dubbed into on this machine, with what to install; None when it can."""
    target = target.lower()
    available = ", ".join(available_targets())
    if target not in tts.SUPPORTED_LANGUAGES:
        return (
            f"no offline voice speaks '{target}'; this server dubs into {available} (serve voice_dubbing "
            "with another engine to reach more languages)"
        )
    if target in available_targets():
        return None
    return (
        f"no translation into '{target}' is installed; this server dubs into {available}. Install Apertium "
        f"and a pair into it (`apt-get install apertium {INSTALL_FOR[target]}`); no restart is needed"
    )


def can_dub(source: str, target: str) -> bool:
    if target not in tts.SUPPORTED_LANGUAGES:
        return False
    return target == "en" or translation.can_translate(source, target)


def median_f0(speech: Clip) -> float | None:
    """Median F0 of the voiced frames (WORLD DIO + StoneMask at 16 kHz); None when nothing is voiced."""
    pw = world()
    x = speech.at(16_000).samples.astype(np.float64)
    f0, times = pw.dio(x, 16_000, f0_floor=60.0, f0_ceil=500.0, frame_period=10.0)
    f0 = pw.stonemask(x, f0, times, 16_000)
    voiced = f0[f0 > 0]
    return float(np.median(voiced)) if len(voiced) >= 10 else None


def pick_voice(f0: float | None, target: str = "") -> str:
    """The preset whose pitch centre is nearest (in log-F0) to the speaker's median F0. For English, male
    voices come from the presets built on the native English (Piper) voice when one is as close."""
    if f0 is None:
        return DEFAULT_VOICE

    def distance(preset: Preset) -> float:
        return float(abs(np.log(preset.f0_centre / f0)))

    best = min(_VOICE_PRESETS, key=distance)
    if target == "en" and best.character == "male":
        native = [p for p in _VOICE_PRESETS if p.base == PIPER and p.character == "male"]
        best = min(native, key=distance)
    return best.name


def wsola(samples: FloatArray, rate: int, speed: float) -> FloatArray:
    """Waveform-similarity overlap-add: `speed` > 1 shortens, < 1 lengthens, pitch unchanged."""
    if abs(speed - 1.0) < 1e-3 or len(samples) < rate // 10:
        return samples.astype(np.float32, copy=True)
    frame = int(0.03 * rate)
    hop = frame // 2
    tolerance = int(0.008 * rate)
    window = np.hanning(frame).astype(np.float64)
    out_length = round(len(samples) / speed)
    padded = np.pad(samples.astype(np.float64), (tolerance, frame + tolerance + hop))
    out = np.zeros(out_length + frame)
    weight = np.zeros(out_length + frame)
    previous = tolerance  # padded index of the last frame taken
    for index in range(out_length // hop + 1):
        nominal = tolerance + round(index * hop * speed)
        if nominal + tolerance + frame > len(padded):
            break
        if index == 0:
            chosen = nominal
        else:
            natural = padded[previous + hop : previous + hop + frame]
            region = padded[nominal - tolerance : nominal + tolerance + frame]
            score = np.correlate(region, natural, mode="valid")
            chosen = nominal - tolerance + int(np.argmax(score))
        position = index * hop
        out[position : position + frame] += padded[chosen : chosen + frame] * window
        weight[position : position + frame] += window
        previous = chosen
    out = out / np.maximum(weight, 1e-3)
    return out[:out_length].astype(np.float32)


def _lines(clip: Clip, source: str, target: str, context: RunContext, cache: Path) -> list[Line]:
    if target == "en" and source != "en":
        english = asr.transcribe(clip, language=source, task="translate", cache=cache)
        return [Line(s.start, s.end, s.text) for s in english.segments]
    heard = asr.transcribe(clip, language=source, cache=cache)
    context.progress(0.3)
    texts = translation.translate([s.text for s in heard.segments], source, target)
    return [Line(s.start, s.end, text) for s, text in zip(heard.segments, texts, strict=True) if text.strip()]


def _fade_out(samples: FloatArray, length: int, rate: int) -> FloatArray:
    cut = samples[:length].copy()
    ramp = min(len(cut), int(_FADE_S * rate))
    if ramp:
        cut[-ramp:] *= np.linspace(1.0, 0.0, ramp, dtype=np.float32)
    return cut


def place(lines: Sequence[Line], speech: Sequence[Clip], total: int) -> FloatArray:
    """Each line's speech stretched into its slot and laid at its start time, on a `total`-sample track."""
    track = np.zeros(total, dtype=np.float32)
    for index, (line, clip) in enumerate(zip(lines, speech, strict=True)):
        start = min(total, int(line.start * RATE))
        slot = max(1, int((line.end - line.start) * RATE))
        following = lines[index + 1].start if index + 1 < len(lines) else total / RATE
        room = max(1, min(total, int(following * RATE)) - start)
        samples = clip.at(RATE).samples
        speed = float(np.clip(len(samples) / slot, MIN_SPEED, MAX_SPEED))
        fitted = wsola(samples, RATE, speed)
        if len(fitted) > room:
            fitted = _fade_out(fitted, room, RATE)
        track[start : start + len(fitted)] += fitted
    return track


class DubbingEngine:
    name = "offline-dubbing"

    def __init__(self, cache: Path) -> None:
        self.cache = cache  # the engine cache dir, where packaged models are assembled on first use

    @staticmethod
    def refusals(params: Mapping[str, Any]) -> list[tuple[list[str | int], str]]:
        """A target language this machine cannot dub into is refused at submission, naming it."""
        problem = target_refusal(str(params.get("targetLang", "")))
        return [(["targetLang"], problem)] if problem else []

    def run(self, request: EngineRequest, context: RunContext) -> list[Artifact]:
        fields = request.fields
        target = fields.required("target_lang").lower()
        source_clip = decode(request.asset(fields.required("audio_uri")), RATE, "audioUri")
        context.progress(0.02)
        detected = asr.detect_language(source_clip, cache=self.cache)
        if detected is None:
            raise Failure("ASSET.INVALID", "audioUri: no speech was found in the audio")
        source = detected[0]
        if not can_dub(source, target):
            raise _fail(source, target)
        context.progress(0.1)
        lines = _lines(source_clip, source, target, context, self.cache)
        if not lines:
            raise Failure("ASSET.INVALID", "audioUri: no speech was found in the audio")
        context.progress(0.4)
        keep_background = not fields.drop_background_audio
        speech_estimate = isolation.denoise(source_clip) if keep_background else None
        if fields.disable_voice_cloning:
            voice = DEFAULT_VOICE
        else:
            voice = pick_voice(
                median_f0(speech_estimate if speech_estimate is not None else source_clip), target
            )
        context.progress(0.45)
        spoken: list[Line] = []
        clips: list[Clip] = []
        for index, line in enumerate(lines):
            try:
                clips.append(tts.synthesize(line.text, voice, language=target, cache=self.cache))
                spoken.append(line)
            except ValueError:
                pass  # nothing speakable in this line (e.g. only punctuation)
            context.progress(0.45 + 0.4 * (index + 1) / len(lines))
        if not clips:
            raise Failure("ASSET.INVALID", "audioUri: no speech was found in the audio")
        total = len(source_clip.samples)
        dub = place(spoken, clips, total)
        if speech_estimate is None:
            mix = normalize(dub)
        else:
            # The dub speaks at the source speech's level over the same slots, so the background keeps
            # its original balance against the voice.
            slots = np.zeros(total, dtype=bool)
            for line in spoken:
                slots[int(line.start * RATE) : int(line.end * RATE)] = True
            level = rms(speech_estimate.samples[slots]) / max(rms(dub[slots]), 1e-6)
            mix = dub * float(np.clip(level, 0.1, 10.0)) + (source_clip.samples - speech_estimate.samples)
            peak = float(np.max(np.abs(mix)))
            if peak > 0.98:
                mix = mix * (0.98 / peak)
        context.progress(0.95)
        result = artifact(Clip(mix.astype(np.float32), RATE), "dubbed")
        context.progress(1.0)
        return [result]
