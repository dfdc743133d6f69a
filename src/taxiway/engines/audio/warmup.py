"""Start-up warm-up of the offline audio engines (`TAXIWAY_AUDIO_WARMUP`).

Their models ship inside packages but are assembled into the cache dir (Kokoro, Whisper base) and
loaded on first use, which costs the first speech task many seconds. Warming runs the same code
paths on a short sentence in a background thread; a task arriving meanwhile waits on the same locks,
so nothing is built twice.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

log = logging.getLogger("taxiway.engines.audio")


def _speech(cache: Path) -> None:
    from taxiway.engines.audio import tts
    from taxiway.engines.audio.voices import PIPER, PRESETS

    piper = next(name for name, preset in PRESETS.items() if preset.base == PIPER)
    kokoro = next(name for name, preset in PRESETS.items() if preset.base != PIPER)
    for voice in (piper, kokoro):
        tts.synthesize("Warming up.", voice, "en", cache=cache)


def _denoiser(cache: Path) -> None:
    from taxiway.engines.audio import isolation
    from taxiway.engines.audio.codec import Clip

    isolation.denoise(Clip(np.zeros(isolation.RATE // 2, dtype=np.float32), isolation.RATE))


def _conversion(cache: Path) -> None:
    from taxiway.engines.audio import conversion

    conversion.world()
    _denoiser(cache)


def _recognition(cache: Path) -> None:
    from taxiway.engines.audio import asr
    from taxiway.engines.audio.codec import Clip

    asr.speech_regions(Clip(np.zeros(asr.RATE, dtype=np.float32), asr.RATE))
    asr.preload(asr.BASE, cache)
    _speech(cache)


# Engine name -> what its first task would otherwise load.
WARMERS: dict[str, Callable[[Path], None]] = {
    "offline-tts": _speech,
    "offline-voice-conversion": _conversion,
    "deepfilternet-isolation": _denoiser,
    "offline-dubbing": _recognition,
}


def warm(engines: Iterable[str], cache: Path) -> dict[str, float]:
    """Warm every listed engine that has a warmer, building into the engine cache dir `cache`; seconds
    each took. Failures are logged, not raised:
    the engine then loads on first use as it would have anyway."""
    took: dict[str, float] = {}
    for name in sorted(set(engines) & WARMERS.keys()):
        started = time.perf_counter()
        try:
            WARMERS[name](cache)
        except Exception:
            log.exception("audio warm-up of %s failed; it will load on first use", name)
            continue
        took[name] = time.perf_counter() - started
        fields = {"engine": name, "seconds": round(took[name], 3)}
        log.info("audio engine %s warm in %.1f s", name, took[name], extra=fields)
    return took


def start(engines: Iterable[str], cache: Path) -> threading.Thread:
    """Warm in a daemon thread, so start-up and requests go on meanwhile."""
    names = list(engines)

    def run() -> None:
        started = time.perf_counter()
        took = warm(names, cache)
        log.info(
            "audio warm-up done in %.1f s (%s)",
            time.perf_counter() - started,
            ", ".join(took) or "nothing to warm",
            extra={"event": "audio.warm", "engines": sorted(took)},
        )

    thread = threading.Thread(target=run, name="taxiway-audio-warmup", daemon=True)
    thread.start()
    return thread
