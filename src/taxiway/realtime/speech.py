"""The two speech seams of the avatar worker, so any TTS/ASR engine plugs in without touching the loop.

Engines are synchronous and CPU-bound; the worker calls them in a thread. Audio crosses these seams as
mono float32 samples in [-1, 1] with their sample rate, whatever rate the engine prefers.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
import numpy.typing as npt

from taxiway.engines.audio.codec import resample as resample
from taxiway.engines.audio.voices import Preset

FloatArray = npt.NDArray[np.float32]
# A live preset's id (`clara`), or the derived preset of a custom voice (Voices API).
SpeakingVoice = str | Preset


class Synthesizer(Protocol):
    def synthesize(
        self, text: str, voice: SpeakingVoice, language: str | None = None
    ) -> tuple[FloatArray, int]:
        """Speech for `text` in `voice` (a live preset such as `clara`, or a custom voice's preset):
        samples and their rate."""
        ...


class Transcriber(Protocol):
    def transcribe(self, samples: FloatArray, sample_rate: int, language: str | None = None) -> str:
        """The words spoken in `samples`; empty when nothing intelligible was said."""
        ...


def to_int16(samples: FloatArray) -> npt.NDArray[np.int16]:
    return np.asarray(np.clip(samples, -1.0, 1.0) * 32767.0, dtype=np.int16)


def from_int16(pcm: npt.NDArray[np.int16]) -> FloatArray:
    return np.asarray(pcm, dtype=np.float32) / 32768.0
