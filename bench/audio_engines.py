"""Real-time factor of each offline audio engine on this machine: seconds of audio per second of compute.

Every case runs its engine once to load models, then `--runs` times; the best wall-clock run counts
(engines use several threads, so CPU time would overstate them). The baseline, measured in the same
run, is MP3-encoding the same length of audio with `codec.encode_mp3`, which every engine does last;
the ratio column is each engine's RTF over the baseline's.

A case is a callable in `CASES` taking the run count and returning (name, audio seconds, compute
seconds); add an engine by appending one.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from audio_cases_signal import CACHE
from audio_cases_signal import CASES as SIGNAL_CASES
from taxiway.engines.audio import codec, phonemes, piper, tts
from taxiway.engines.audio.codec import Clip
from taxiway.engines.audio.speech_to_speech import SpeechToSpeechEngine
from taxiway.engines.audio.text_to_speech import TextToSpeechEngine
from taxiway.engines.audio.voices import PRESETS
from taxiway.engines.base import Artifact, EngineRequest, RunContext

Case = Callable[[int], tuple[str, float, float]]

PARAGRAPH = (
    "Good morning, and welcome to the weekly update. The new build is ready for testing, "
    "and the release notes are in the shared folder. Please send your feedback by Friday."
)
SOURCE_SPEECH = "The quick brown fox jumps over the lazy dog. Please call me back this afternoon."


def best_of(runs: int, work: Callable[[], Any]) -> tuple[Any, float]:
    result = work()  # warm-up: model loading is not part of the steady-state rate
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        result = work()
        times.append(time.perf_counter() - start)
    return result, min(times)


def _tts_case(preset: str) -> Case:
    def case(runs: int) -> tuple[str, float, float]:
        params: dict[str, Any] = {
            "model": "eleven_multilingual_v2",
            "promptText": PARAGRAPH,
            "voice": {"type": "runway-preset", "presetId": preset},
            "languageCode": "en",
        }
        request = EngineRequest("bench", "text_to_speech", params["model"], params, seed=1)

        def work() -> list[Artifact]:
            tts._sentence.cache_clear()  # measure synthesis, not the avatar's repeated-sentence cache
            return TextToSpeechEngine(CACHE).run(request, RunContext())

        artifacts, seconds = best_of(runs, work)
        return (
            f"offline-tts ({preset}, {tts.backend_voice(PRESETS[preset], 'en')})",
            artifacts[0].seconds,
            seconds,
        )

    return case


def _sts_case(runs: int) -> tuple[str, float, float]:
    samples, rate = piper.synthesize(phonemes.phonemize(SOURCE_SPEECH, "en"))
    source = Clip(samples, rate)
    uri = "data:audio/wav;base64,source"
    params: dict[str, Any] = {
        "model": "eleven_multilingual_sts_v2",
        "media": {"type": "audio", "uri": uri},
        "voice": {"type": "runway-preset", "presetId": "clara"},
    }
    request = EngineRequest(
        "bench", "speech_to_speech", params["model"], params, 1, {uri: codec.encode_wav(source)}
    )
    _, seconds = best_of(runs, lambda: SpeechToSpeechEngine().run(request, RunContext()))
    return "offline-voice-conversion (clara)", source.seconds, seconds


def _signal(case: Callable[[], tuple[str, float, float]]) -> Case:
    """The signal-path engines' cases (`audio_cases_signal.py`) time one run after their own warm-up."""
    return lambda _runs: case()


CASES: list[Case] = [
    _tts_case("Clint"),
    _tts_case("clara"),
    _sts_case,
    *(_signal(case) for case in SIGNAL_CASES),
]


def baseline(runs: int, seconds: float = 10.0) -> float:
    """Compute seconds to MP3-encode `seconds` of speech-like audio."""
    rng = np.random.default_rng(0)
    t = np.arange(int(seconds * 24_000)) / 24_000
    samples = (0.3 * np.sin(2 * np.pi * 140 * t) + 0.05 * rng.standard_normal(len(t))).astype(np.float32)
    _, compute = best_of(runs, lambda: codec.encode_mp3(Clip(samples, 24_000)))
    return float(compute)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    base_rtf = 10.0 / baseline(args.runs)
    rows = [("mp3-encode-only (baseline)", 10.0, 10.0 / base_rtf)]
    rows += [case(args.runs) for case in CASES]
    table = [
        {
            "engine": name,
            "audio_s": audio,
            "compute_s": compute,
            "rtf": audio / compute,
            "vs_baseline": audio / compute / base_rtf,
        }
        for name, audio, compute in rows
    ]
    if args.json:
        print(json.dumps(table, indent=2))
        return
    print(f"{'engine':48} {'audio s':>8} {'compute s':>10} {'RTF (x real time)':>18} {'vs baseline':>12}")
    for row in table:
        figures = (
            f"{row['audio_s']:8.2f} {row['compute_s']:10.3f} {row['rtf']:18.1f} {row['vs_baseline']:12.4f}"
        )
        print(f"{row['engine']:48} {figures}")


if __name__ == "__main__":
    main()
