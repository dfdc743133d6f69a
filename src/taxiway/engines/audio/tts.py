"""Speech synthesis for every preset voice: text -> sentences -> IPA -> neural voice -> preset transform.

English presets whose base is Piper speak through Piper joe; everything else (other presets, and every
preset in the other languages) through Kokoro-82M, whose speakers read espeak IPA in any language its
training covered. The preset's WORLD transform (`conversion.render`) then gives each of the 79 presets
its own pitch, vocal tract and pace. The output is deterministic: Kokoro has no random kernels and Piper
runs every sentence on a freshly seeded session.

`SUPPORTED_LANGUAGES` lists the languages checked intelligible with Whisper base (every Kokoro pack
used for them transcribes at or near word-perfect); German, Dutch, Russian and Hindi came out only
partly intelligible through espeak IPA, Polish, Japanese and Chinese not at all, so they are refused.
"""

# ruff: noqa: RUF001  (typographic quotes and dashes look like ASCII to the linter; they are meant)

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

import numpy as np

from taxiway.engines.audio import kokoro, phonemes, piper
from taxiway.engines.audio.codec import Clip, FloatArray, normalize, resample
from taxiway.engines.audio.conversion import Analysis, analyze, render
from taxiway.engines.audio.voices import KOKORO_MALE, PIPER, PRESETS, Preset

SUPPORTED_LANGUAGES: tuple[str, ...] = ("en", "es", "fr", "it", "pt")
OUTPUT_RATE = 24_000
MAX_SENTENCE_CHARS = 220

# Kokoro packs that mumble a language through espeak IPA (Whisper base < 60 % of the words), and the
# pack of the same kind that reads it cleanly instead.
_WEAK_PACKS = {"fr": {"jf_alpha"}, "pt": {"jf_alpha", "jf_tebukuro"}}
_STAND_IN = "jf_nezumi"

_PAUSES = {"?": 0.42, "!": 0.36, ".": 0.34, "…": 0.45, ";": 0.25, ":": 0.22, ",": 0.14, "\n": 0.55}
_LEAD_IN = 0.06
_TAIL = 0.12

# A few frequent function words and letters per language; the best-scoring language wins, English
# unless another scores at least two.
_MARKERS = {
    "es": ("el", "la", "los", "las", "que", "de", "y", "es", "por", "una", "con", "para", "está", "muy"),
    "fr": ("le", "la", "les", "des", "est", "et", "une", "que", "pour", "dans", "nous", "vous", "avec"),
    "it": ("il", "lo", "gli", "che", "di", "è", "una", "per", "sono", "con", "non", "della", "questo"),
    "pt": ("o", "os", "as", "que", "de", "é", "uma", "para", "com", "não", "está", "muito", "você", "em"),
    "en": ("the", "and", "is", "are", "you", "to", "of", "it", "that", "with", "this", "for", "what"),
}  # fmt: skip
_LETTERS = {"es": "ñ¿¡", "fr": "çœêëîûù", "it": "ìò", "pt": "ãõ"}


_TYPOGRAPHY = str.maketrans({"“": '"', "”": '"', "‘": "'", "’": "'", "–": ", ", "—": ", "})


class UnsupportedLanguage(ValueError):
    def __init__(self, language: str) -> None:
        super().__init__(
            f"language {language!r} has no offline voice; supported: {', '.join(SUPPORTED_LANGUAGES)}"
        )
        self.language = language


def normalize_text(text: str) -> str:
    """NFC, plain quotes and dashes, no control characters or markup symbols, single spaces."""
    text = unicodedata.normalize("NFC", text)
    text = text.translate(_TYPOGRAPHY)
    text = re.sub(r"https?://\S+", " ", text)
    text = re.sub(r"[*_#~^<>|\\{}\[\]`]", " ", text)
    text = "".join(c if c == "\n" or unicodedata.category(c)[0] != "C" else " " for c in text)
    text = re.sub(r"\n\s*\n+", "\n", text)
    return re.sub(r"[ \t]+", " ", text).strip()


def detect_language(text: str) -> str:
    """A language from SUPPORTED_LANGUAGES by function words and tell-tale letters; English by default."""
    words = re.findall(r"\w+", text.lower())
    scores = {language: sum(word in markers for word in words) for language, markers in _MARKERS.items()}
    for language, letters in _LETTERS.items():
        scores[language] += 2 * sum(text.count(letter) for letter in letters)
    best = max(scores, key=lambda language: (scores[language], language == "en"))
    return best if best == "en" or (scores[best] >= 2 and scores[best] > scores["en"]) else "en"


def split_sentences(text: str) -> list[tuple[str, float]]:
    """Sentences (long ones cut at clause marks, then at spaces) and the pause that follows each."""
    pieces: list[tuple[str, float]] = []
    for line in text.split("\n"):
        for sentence in re.split(r"(?<=[.!?…])\s+", line.strip()):
            if sentence.strip():
                pieces += _cut(sentence.strip())
        if pieces:
            pieces[-1] = (pieces[-1][0], max(pieces[-1][1], _PAUSES["\n"]))
    return pieces


def _cut(sentence: str) -> list[tuple[str, float]]:
    if len(sentence) <= MAX_SENTENCE_CHARS:
        return [(sentence, _pause_after(sentence))]
    parts = re.split(r"(?<=[,;:])\s+", sentence)
    if len(parts) == 1:
        words = sentence.split(" ")
        if len(words) == 1:  # one unbroken run of characters: read it in slices, without pauses
            cut = [
                sentence[start : start + MAX_SENTENCE_CHARS]
                for start in range(0, len(sentence), MAX_SENTENCE_CHARS)
            ]
            return [(piece, 0.0) for piece in cut[:-1]] + [(cut[-1], _pause_after(sentence))]
        half = max(1, len(words) // 2)
        parts = [" ".join(words[:half]) + ",", " ".join(words[half:])]
    out: list[tuple[str, float]] = []
    current = ""
    for part in parts:
        if current and len(current) + len(part) + 1 > MAX_SENTENCE_CHARS:
            out += _cut(current)
            current = part
        else:
            current = f"{current} {part}".strip()
    return out + (_cut(current) if current else [])


def _pause_after(sentence: str) -> float:
    mark = sentence.rstrip()[-1:]
    return _PAUSES.get(mark, _PAUSES["."])


def backend_voice(preset: Preset, language: str) -> str:
    """Piper for English Piper presets; otherwise the preset's Kokoro pack, or a stand-in for it."""
    if preset.base == PIPER:
        return PIPER if language == "en" else KOKORO_MALE
    if preset.base in _WEAK_PACKS.get(language, ()):
        return _STAND_IN
    return preset.base


def _trim(samples: FloatArray, rate: int) -> FloatArray:
    loud = np.flatnonzero(np.abs(samples) > 0.02 * max(float(np.max(np.abs(samples))), 1e-6))
    if not len(loud):
        return samples[:0]
    pad = int(0.03 * rate)
    return samples[max(0, int(loud[0]) - pad) : int(loud[-1]) + pad]


@lru_cache(maxsize=64)
def _sentence(backend: str, language: str, sentence: str, cache: Path) -> Analysis | None:
    """The base voice's reading of one sentence, analysed; cached because the avatar repeats itself and
    every preset on the same base voice shares it."""
    if backend == PIPER:
        samples, rate = piper.synthesize(phonemes.phonemize(sentence, language))
    else:
        samples, rate = kokoro.synthesize(
            phonemes.phonemize(sentence, language, tie=True), language, backend, cache=cache
        )
    samples = _trim(samples, rate)
    if len(samples) < rate // 20:
        return None
    # Every base voice speaks within 65-500 Hz.
    return analyze(Clip(resample(samples, rate, OUTPUT_RATE), OUTPUT_RATE), f0_floor=65.0, f0_ceil=500.0)


def synthesize(
    text: str,
    voice: str | Preset,
    language: str | None = None,
    *,
    cache: Path,
    on_sentence: Callable[[int, int], None] | None = None,
) -> Clip:
    """`text` spoken by `voice` (a preset's id, or a custom voice's `Preset`) in `language` (detected
    when None), mono at 24 kHz.

    Raises UnsupportedLanguage, KeyError for an unknown preset, ValueError when nothing is speakable.
    `on_sentence(done, total)` is called after each sentence (the engine reports progress with it);
    `cache` is the engine cache dir, where the Kokoro model is assembled on first use.
    """
    if isinstance(voice, Preset):
        preset = voice
    elif voice in PRESETS:
        preset = PRESETS[voice]
    else:
        raise KeyError(f"unknown voice preset {voice!r}")
    text = normalize_text(text)
    language = (language or detect_language(text)).lower().split("-")[0]
    if language not in SUPPORTED_LANGUAGES:
        raise UnsupportedLanguage(language)
    sentences = split_sentences(text)
    backend = backend_voice(preset, language)
    chunks: list[FloatArray] = [np.zeros(int(_LEAD_IN * OUTPUT_RATE), np.float32)]
    spoken = 0
    for index, (sentence, pause) in enumerate(sentences):
        analysis = _sentence(backend, language, sentence, cache)
        if analysis is not None and analysis.voiced:
            chunks.append(render(analysis, preset, stretch=1.0 / preset.speed))
            chunks.append(np.zeros(int(pause / preset.speed * OUTPUT_RATE), np.float32))
            spoken += 1
        if on_sentence is not None:
            on_sentence(index + 1, len(sentences))
    if not spoken:
        raise ValueError("the text has nothing to speak")
    chunks[-1] = np.zeros(int(_TAIL * OUTPUT_RATE), np.float32)
    return Clip(normalize(np.concatenate(chunks)), OUTPUT_RATE)
