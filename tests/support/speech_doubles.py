"""A tiny tone code standing in for TTS and ASR, so the avatar loop is tested with real audio.

`ToneSynthesizer` turns each character into a 50 ms sine (one frequency per character) followed by
10 ms of silence; `ToneTranscriber` finds each tone's onset and reads its frequency back. The audio
survives what the worker does to speech — resampling, int16 frames, endpointing, splitting into
video ticks — so the words a test puts into the "microphone" are the words the worker hears, and the
audio the avatar publishes decodes back to the words it said.
"""

from __future__ import annotations

import numpy as np

from taxiway.realtime.speech import FloatArray, resample

ALPHABET = " abcdefghijklmnopqrstuvwxyz0123456789.,?!'-:"
RATE = 16_000
TONE = 800  # 50 ms
GAP = 160  # 10 ms
BASE_HZ = 400.0
STEP_HZ = 50.0
AMPLITUDE = 0.3
ONSET = 0.05


def _tone(index: int) -> FloatArray:
    t = np.arange(TONE) / RATE
    wave = AMPLITUDE * np.sin(2 * np.pi * (BASE_HZ + STEP_HZ * index) * t)
    ramp = np.minimum(1.0, np.minimum(np.arange(TONE), np.arange(TONE)[::-1]) / 32.0)
    return np.concatenate([wave * ramp, np.zeros(GAP)]).astype(np.float32)


class ToneSynthesizer:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str, str | None]] = []

    def synthesize(self, text: str, voice: str, language: str | None = None) -> tuple[FloatArray, int]:
        self.calls.append((text, voice, language))
        symbols = [ALPHABET.index(c) for c in text.lower() if c in ALPHABET]
        if not symbols:
            return np.zeros(0, dtype=np.float32), RATE
        return np.concatenate([_tone(i) for i in symbols]), RATE


class ToneTranscriber:
    def __init__(self) -> None:
        self.heard: list[str] = []

    def transcribe(self, samples: FloatArray, sample_rate: int, language: str | None = None) -> str:
        text = decode(samples, sample_rate)
        self.heard.append(text)
        return text


def decode(samples: FloatArray, sample_rate: int) -> str:
    audio = resample(np.asarray(samples, dtype=np.float32), sample_rate, RATE)
    loud = np.flatnonzero(np.abs(audio) > ONSET)
    chars: list[str] = []
    position = 0
    while True:
        onsets = loud[loud >= position]
        if not onsets.size:
            break
        start = int(onsets[0])
        window = audio[start + 60 : start + 700]
        if len(window) < 320:
            break
        spectrum = np.abs(np.fft.rfft(window * np.hanning(len(window)), n=16_384))
        peak = float(np.argmax(spectrum)) * RATE / 16_384
        index = round((peak - BASE_HZ) / STEP_HZ)
        if 0 <= index < len(ALPHABET):
            chars.append(ALPHABET[index])
        position = start + TONE + GAP // 2  # into the gap after this tone
    return "".join(chars).strip()
