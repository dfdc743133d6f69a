"""Real-time factor of the signal-path audio engines (isolation, dubbing, sound effects) and of ASR.

RTF here is seconds of audio per second of wall-clock compute (higher is faster; > 1 is faster than real
time). Each case loads its models with one warm-up run on different speech (so per-sentence TTS caches do
not flatter the timing), then times one run through the engine interface.
`bench/audio_engines.py` runs them beside the speech engines, against its baseline; this file alone
prints just these.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from taxiway.config import Settings
from taxiway.engines.audio import asr, tts
from taxiway.engines.audio.codec import Clip, encode_wav
from taxiway.engines.audio.dubbing import DubbingEngine
from taxiway.engines.audio.sound_effects import SoundEffectEngine
from taxiway.engines.audio.voice_isolation import VoiceIsolationEngine
from taxiway.engines.base import EngineRequest, RunContext

TEXT = (
    "Good morning everyone. Today we talk about the weather, the music of the city and the trains that "
    "cross it every night. Thank you for listening, and see you tomorrow."
)
WARM_TEXT = "The library opens at nine. Bring your own books and a warm coat."
URI = "data:bench"
# Where the speech models are assembled: the same dir a server with these settings uses.
CACHE = Settings().engine_cache_dir
Case = Callable[[], tuple[str, float, float]]


def _speech(text: str, seconds: float = 10.0) -> Clip:
    """`seconds` of English speech at 48 kHz with light noise (the text repeats to fill it)."""
    spoken = tts.synthesize(text, "James", "en", cache=CACHE).at(48_000)
    samples = np.resize(spoken.samples, int(seconds * 48_000))
    noise = 0.01 * np.random.default_rng(0).standard_normal(len(samples))
    return Clip((samples + noise).astype(np.float32), 48_000)


def _request(endpoint: str, params: dict[str, Any], text: str | None) -> EngineRequest:
    assets = {URI: encode_wav(_speech(text))} if text else {}
    return EngineRequest("bench", endpoint, str(params["model"]), params, 1, assets)


def _timed(engine: Any, endpoint: str, params: dict[str, Any], speech: bool) -> tuple[float, float]:
    engine.run(_request(endpoint, params, WARM_TEXT if speech else None), RunContext())
    timed = _request(endpoint, params, TEXT if speech else None)
    start = time.perf_counter()
    [result] = engine.run(timed, RunContext())
    return float(result.seconds or 0.0), time.perf_counter() - start


def isolation_case() -> tuple[str, float, float]:
    params = {"model": "eleven_voice_isolation", "audioUri": URI}
    return ("deepfilternet-isolation", *_timed(VoiceIsolationEngine(), "voice_isolation", params, True))


def dubbing_case() -> tuple[str, float, float]:
    params = {"model": "eleven_voice_dubbing", "audioUri": URI, "targetLang": "es"}
    return ("offline-dubbing (en->es)", *_timed(DubbingEngine(CACHE), "voice_dubbing", params, True))


def sound_effect_case() -> tuple[str, float, float]:
    params = {
        "model": "eleven_text_to_sound_v2",
        "promptText": "rain and thunder with wind",
        "duration": 20.0,
    }
    return ("procedural-sound-effects", *_timed(SoundEffectEngine(), "sound_effect", params, False))


def asr_case() -> tuple[str, float, float]:
    asr.transcribe(_speech(WARM_TEXT), cache=CACHE)
    clip = _speech(TEXT)
    start = time.perf_counter()
    asr.transcribe(clip, cache=CACHE)
    return "asr (whisper base)", clip.seconds, time.perf_counter() - start


CASES: list[Case] = [isolation_case, dubbing_case, sound_effect_case, asr_case]


def main() -> None:
    for case in CASES:
        name, audio_seconds, compute_seconds = case()
        rtf = audio_seconds / compute_seconds
        print(f"{name:32s} RTF {rtf:7.2f}  ({audio_seconds:.1f} s of audio in {compute_seconds:.2f} s)")


if __name__ == "__main__":
    main()
