"""The signal-path audio engines do their real job, measured on the signal: sound effects are shaped by
their prompt and loop seamlessly, isolation raises SNR, ASR hears synthesized speech, dubbing speaks the
translation in the target language at the source's length.

Speech comes from the project's own TTS; noise is generated here. Whisper and TTS models load once per
test session (module-level caches in the engines)."""

from __future__ import annotations

import shutil
import threading
from itertools import pairwise
from typing import Any

import numpy as np
import pytest
from scipy.signal import welch

from support.server import ENGINE_CACHE
from taxiway.engines.audio import asr, isolation, sound_effects, translation, tts
from taxiway.engines.audio.codec import Clip, decode, encode_wav
from taxiway.engines.audio.dubbing import DubbingEngine, wsola
from taxiway.engines.audio.sound_effects import RATE, SoundEffectEngine, render
from taxiway.engines.audio.voice_isolation import VoiceIsolationEngine
from taxiway.engines.base import Artifact, EngineRequest, RunContext, TaskCancelled
from taxiway.engines.fields import RequestFields
from taxiway.errors import Failure

ENGLISH = "Good morning everyone. Today we talk about the weather and the music of the city."
SPANISH = "Buenos días a todos. Hoy hablamos de la música de la ciudad."
apertium = pytest.mark.skipif(
    shutil.which("apertium") is None, reason="apertium is not on PATH (apt: apertium-eng-spa)"
)


# --- helpers ----------------------------------------------------------------------------------------


def run_engine(
    engine: Any, endpoint: str, params: dict[str, Any], assets: dict[str, bytes] | None = None, seed: int = 7
) -> tuple[Artifact, list[float]]:
    progress: list[float] = []
    request = EngineRequest("task", endpoint, str(params.get("model", "")), params, seed, assets or {})
    [result] = engine.run(request, RunContext(on_progress=progress.append))
    return result, progress


def cancelled_after_first_progress(
    engine: Any, endpoint: str, params: dict[str, Any], assets: dict[str, bytes]
) -> None:
    context = RunContext()
    seen: list[float] = []

    def on_progress(fraction: float) -> None:
        seen.append(fraction)
        context.cancel_event.set()

    context.on_progress = on_progress
    with pytest.raises(TaskCancelled):
        engine.run(EngineRequest("task", endpoint, "m", params, 1, assets), context)
    assert len(seen) == 1


def wav_asset(clip: Clip) -> tuple[str, dict[str, bytes]]:
    uri = "data:audio/wav;base64,source"
    return uri, {uri: encode_wav(clip)}


def psd(x: np.ndarray[Any, Any]) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    freqs, power = welch(np.asarray(x, dtype=np.float64), fs=RATE, nperseg=4096)
    return freqs, power


def envelope(x: np.ndarray[Any, Any], hop_s: float = 0.05) -> np.ndarray[Any, Any]:
    hop = int(hop_s * RATE)
    frames = len(x) // hop
    return np.sqrt(np.mean(np.square(x[: frames * hop].astype(np.float64)).reshape(frames, hop), axis=1))


def snr_db(clean: np.ndarray[Any, Any], estimate: np.ndarray[Any, Any]) -> float:
    clean = clean.astype(np.float64)
    return float(10 * np.log10(np.sum(clean**2) / np.sum((estimate.astype(np.float64) - clean) ** 2)))


@pytest.fixture(scope="module")
def english() -> Clip:
    return tts.synthesize(ENGLISH, "James", "en", cache=ENGINE_CACHE)


@pytest.fixture(scope="module")
def spanish() -> Clip:
    return tts.synthesize(SPANISH, "Lisa", "es", cache=ENGINE_CACHE)


def padded(clip: Clip, rate: int, seconds: float = 0.5) -> Clip:
    pad = np.zeros(int(seconds * rate), np.float32)
    return Clip(np.concatenate([pad, clip.at(rate).samples, pad]), rate)


# --- sound effects ----------------------------------------------------------------------------------


@pytest.mark.parametrize("duration", [0.5, 1.234567, 7.0, 30.0])
def test_sound_effect_is_exactly_the_requested_length(duration: float) -> None:
    clip = render("rain on a tin roof", 3, duration)
    assert clip.rate == RATE and len(clip.samples) == round(duration * RATE)


def test_sound_effect_length_without_duration_follows_the_prompt() -> None:
    assert sound_effects.natural_seconds("a short beep") == 1.0
    assert sound_effects.natural_seconds("huge explosion") == 3.0
    assert sound_effects.natural_seconds("gentle rain") == 10.0
    assert sound_effects.natural_seconds("thunder and rain") == 10.0  # the ambience sets the length
    assert sound_effects.natural_seconds("a 4.5 second whoosh") == 4.5
    assert sound_effects.natural_seconds("an hour of rain, 3600 seconds") == 30.0
    assert sound_effects.natural_seconds("glorp wibble") == sound_effects.GENERIC_SECONDS


def rates(body: dict[str, int]) -> RequestFields:
    return RequestFields.model_validate(body)


def test_seed_audio_rates_change_pace_and_level_within_the_length_limit() -> None:
    tone = Clip((0.5 * np.sin(np.arange(20 * RATE) * 2 * np.pi * 440 / RATE)).astype(np.float32), RATE)
    faster = sound_effects.adjusted(tone, rates({"speechRate": 100, "loudnessRate": -50}))
    assert len(faster.samples) == pytest.approx(10 * RATE, abs=2)
    assert np.max(np.abs(faster.samples)) == pytest.approx(0.25, abs=0.01)
    slower = sound_effects.adjusted(tone, rates({"speechRate": -50}))  # 40 s at half speed: 30 s at most
    assert len(slower.samples) == round(sound_effects.MAX_SECONDS * RATE)
    assert len(sound_effects.adjusted(tone, RequestFields()).samples) == len(tone.samples)


def test_sound_effect_is_deterministic_and_seeded() -> None:
    a = render("wind in the trees", 11, 2.0).samples
    assert np.array_equal(a, render("wind in the trees", 11, 2.0).samples)
    assert not np.allclose(a, render("wind in the trees", 12, 2.0).samples)
    assert not np.allclose(a, render("wind in the pines", 11, 2.0).samples)


def test_prompts_layer_keywords_and_unknown_prompts_still_differ() -> None:
    assert [layer.name for layer in sound_effects.layers_for("rain and distant thunder")] == [
        "rain",
        "thunder",
    ]
    assert [layer.name for layer in sound_effects.layers_for("wind chimes")] == ["bell"]
    assert [layer.name for layer in sound_effects.layers_for("carpet")] == ["generic"]
    first, second = render("glorp wibble", 1, 3.0).samples, render("zonk fizzle", 1, 3.0).samples
    f1, p1 = psd(first)
    f2, p2 = psd(second)
    assert abs(np.log10(np.sum(f1 * p1) / np.sum(p1)) - np.log10(np.sum(f2 * p2) / np.sum(p2))) > 0.05


def test_rain_is_broadband_noise() -> None:
    freqs, power = psd(render("rain", 1, 5.0).samples)
    band = power[(freqs >= 500) & (freqs <= 10000)]
    flatness = np.exp(np.mean(np.log(band))) / np.mean(band)
    assert flatness > 0.6  # white noise ~1, a tone ~0


def test_thunder_is_low_frequency_and_decays() -> None:
    samples = render("thunder", 1, 6.0).samples
    freqs, power = psd(samples)
    assert power[freqs < 250].sum() / power.sum() > 0.8
    env = envelope(samples)
    third = len(env) // 3
    assert env[:third].mean() > 5 * env[-third:].mean()


def test_beep_is_a_tone() -> None:
    freqs, power = psd(render("beep", 1, 1.0).samples)
    assert 10 * np.log10(power.max() / np.median(power)) > 60
    assert 700 < freqs[np.argmax(power)] < 1300


def test_wind_gusts_slowly() -> None:
    env = envelope(render("wind", 1, 10.0).samples)
    rain_env = envelope(render("rain", 1, 10.0).samples)
    assert env.std() / env.mean() > 0.15 > 3 * rain_env.std() / rain_env.mean()
    spectrum = np.abs(np.fft.rfft(env - env.mean()))
    rates = np.fft.rfftfreq(len(env), 0.05)
    assert rates[1 + np.argmax(spectrum[1:])] < 1.0  # the strongest modulation is slower than 1 Hz


def test_engine_has_a_low_fundamental_with_harmonics() -> None:
    freqs, power = psd(render("car engine idling", 1, 5.0).samples)
    low = (freqs > 20) & (freqs < 150)
    f0 = freqs[low][np.argmax(power[low])]
    assert 25 < f0 < 80
    floor = np.median(power[freqs < 2000])
    for k in (2, 3, 4):
        near = np.abs(freqs - k * f0) < 6
        assert 10 * np.log10(power[near].max() / floor) > 20, k


def _bands(segment: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """Log power in 24 log-spaced bands, floored 60 dB below the loudest (inaudible bands don't count)."""
    spectrum = np.abs(np.fft.rfft(segment * np.hanning(len(segment)))) ** 2
    edges = np.unique(np.geomspace(4, len(spectrum) - 1, 25).astype(int))
    levels = np.log10(np.array([spectrum[a:b].sum() for a, b in pairwise(edges)]) + 1e-20)
    return np.maximum(levels, levels.max() - 6.0)


def _seam(y: np.ndarray[Any, Any], width: int = 2048) -> tuple[float, float, float]:
    """(wrap step / largest step near the wrap, spectral change across the wrap, largest such change
    anywhere inside). The spectral change at c compares the window centred on c with the mean of its
    two neighbours, so slow evolution of the texture does not count, a discontinuity does."""

    def change(centre: int) -> float:
        def window(first: int) -> np.ndarray[Any, Any]:
            return np.take(y, np.arange(first, first + width), mode="wrap")

        middle = _bands(window(centre - width // 2))
        sides = (_bands(window(centre - width // 2 - width)) + _bands(window(centre + width // 2))) / 2
        return float(np.sqrt(np.mean((middle - sides) ** 2)))

    inside = [change(c) for c in range(2 * width, len(y) - 2 * width, width // 2)]
    near = np.abs(np.diff(np.concatenate([y[-width:], y[:width]])))
    near = np.delete(near, width - 1)  # the wrap step itself
    return abs(float(y[0]) - float(y[-1])) / float(near.max()), change(0), max(inside)


@pytest.mark.parametrize("prompt", ["engine", "wind", "sci-fi hum"])
def test_loop_wraps_without_a_seam(prompt: str) -> None:
    """The jump from last to first sample is no bigger than the steps around it, and the spectrum changes
    across the wrap no more than it does anywhere inside; without `loop` the same check finds the seam."""
    step, across, inside = _seam(render(prompt, 7, 4.0, loop=True).samples.astype(np.float64))
    assert step <= 1.0 and across <= inside
    step, across, inside = _seam(render(prompt, 7, 4.0, loop=False).samples.astype(np.float64))
    assert step > 1.0 or across > inside


def test_sound_effect_engine_reports_progress_and_honours_cancel() -> None:
    params = {
        "model": "eleven_text_to_sound_v2",
        "promptText": "explosion then birds",
        "duration": 2.5,
        "loop": True,
    }
    result, progress = run_engine(SoundEffectEngine(), "sound_effect", params)
    assert result.content_type == "audio/mpeg" and result.seconds == round(2.5 * RATE) / RATE
    assert abs(decode(result.data, RATE).seconds - 2.5) < 0.06
    assert progress == sorted(progress) and progress[-1] == 1.0
    auto, _ = run_engine(SoundEffectEngine(), "sound_effect", {"promptText": "a short beep"})
    assert auto.seconds == 1.0
    cancelled_after_first_progress(SoundEffectEngine(), "sound_effect", params, {})


# --- isolation --------------------------------------------------------------------------------------


def _noisy(clean: np.ndarray[Any, Any], noise: np.ndarray[Any, Any], snr: float) -> np.ndarray[Any, Any]:
    scale = np.sqrt(np.sum(clean.astype(np.float64) ** 2) / np.sum(noise**2) / 10 ** (snr / 10))
    return (clean + scale * noise).astype(np.float32)


def _hum_and_swelling_noise(n: int, rate: int, rng: np.random.Generator) -> np.ndarray[Any, Any]:
    from scipy.signal import butter, sosfilt

    t = np.arange(n) / rate
    hum = np.sin(2 * np.pi * 50 * t) + 0.5 * np.sin(2 * np.pi * 150 * t) + 0.3 * np.sin(2 * np.pi * 250 * t)
    rumble = sosfilt(butter(2, 1000, "low", fs=rate, output="sos"), rng.standard_normal(n))
    return np.asarray(hum + 3 * rumble * (0.5 + 0.5 * np.abs(np.sin(2 * np.pi * 0.7 * t))))


@pytest.mark.parametrize(
    ("noise", "improvement"),
    [("white", 10.0), ("hum + swelling noise", 8.0), ("crowd babble", 6.0)],
)
def test_isolation_improves_snr_at_5_db_input(english: Clip, noise: str, improvement: float) -> None:
    """5 dB SNR in. Measured on this speech: white noise +13.6 dB, mains hum with swelling low noise
    +10.5 dB, crowd babble +8.5 dB; asserted with about 2.5 dB of margin below each."""
    clean = padded(english, isolation.RATE).samples
    rng = np.random.default_rng(5)
    if noise == "white":
        interference = rng.standard_normal(len(clean))
    elif noise == "crowd babble":
        babble = render("crowd babble", 5, len(clean) / RATE).at(isolation.RATE).samples
        interference = np.resize(babble, len(clean)).astype(np.float64)
    else:
        interference = _hum_and_swelling_noise(len(clean), isolation.RATE, rng)
    mixture = _noisy(clean, interference, 5.0)
    assert abs(snr_db(clean, mixture) - 5.0) < 0.01
    out = isolation.denoise(Clip(mixture, isolation.RATE)).samples
    assert len(out) == len(mixture)
    assert snr_db(clean, out) - 5.0 >= improvement


def test_isolation_output_is_aligned_at_any_input_rate(english: Clip) -> None:
    clean = padded(english, 16_000).samples
    mixture = _noisy(clean, np.random.default_rng(1).standard_normal(len(clean)), 5.0)
    out = isolation.denoise(Clip(mixture, 16_000)).samples
    assert len(out) == len(clean)
    aligned = snr_db(clean, out)
    assert aligned > 12.0
    assert aligned > snr_db(clean[:-2], out[2:]) + 1.0  # two samples off is clearly worse


def test_voice_isolation_engine(english: Clip) -> None:
    clean = padded(english, isolation.RATE, seconds=1.0)
    assert clean.seconds > 4.6
    noisy = Clip(
        _noisy(clean.samples, np.random.default_rng(2).standard_normal(len(clean.samples)), 5.0), clean.rate
    )
    uri, assets = wav_asset(noisy)
    params = {"model": "eleven_voice_isolation", "audioUri": uri}
    result, progress = run_engine(VoiceIsolationEngine(), "voice_isolation", params, assets)
    assert result.seconds == pytest.approx(clean.seconds, abs=1e-3)
    assert progress == sorted(progress) and progress[-1] == 1.0
    out = decode(result.data, isolation.RATE).samples
    assert len(out) >= len(clean.samples)
    assert snr_db(clean.samples, out[: len(clean.samples)]) > 10.0  # through MP3 too
    cancelled_after_first_progress(VoiceIsolationEngine(), "voice_isolation", params, assets)


def test_voice_isolation_refuses_too_short_audio(english: Clip) -> None:
    short = Clip(english.samples[: int(4.0 * english.rate)], english.rate)
    uri, assets = wav_asset(short)
    with pytest.raises(Failure) as info:
        run_engine(VoiceIsolationEngine(), "voice_isolation", {"audioUri": uri}, assets)
    assert info.value.code == "ASSET.INVALID"
    assert (
        info.value.message.startswith("audioUri: ") and "between 4.6 and 3600 seconds" in info.value.message
    )


# --- ASR --------------------------------------------------------------------------------------------


def _words(text: str) -> set[str]:
    return {w.strip(".,;:!?¿¡").lower() for w in text.split()}


def test_asr_transcribes_synthesized_speech_with_times(english: Clip) -> None:
    clip = padded(english, 16_000, seconds=1.5)
    result = asr.transcribe(clip, cache=ENGINE_CACHE)
    assert result.language == "en"
    assert {"morning", "weather", "music", "city"} <= _words(result.text)
    assert result.segments and 1.0 <= result.segments[0].start < 2.0
    assert result.segments[-1].end <= clip.seconds
    assert {"morning", "weather", "music"} <= _words(
        asr.transcribe(clip, "en", fast=True, cache=ENGINE_CACHE).text
    )  # tiny.en


def test_asr_translates_speech_into_english(spanish: Clip) -> None:
    assert asr.transcribe(spanish, cache=ENGINE_CACHE).language == "es"
    english = asr.transcribe(spanish, "es", task="translate", cache=ENGINE_CACHE)
    assert {"morning", "music", "city"} <= _words(english.text)


def test_asr_hears_nothing_in_noise_free_silence() -> None:
    result = asr.transcribe(Clip(np.zeros(3 * 16_000, np.float32), 16_000), cache=ENGINE_CACHE)
    assert result.text == "" and result.segments == ()


def test_asr_is_safe_from_several_threads(english: Clip) -> None:
    texts: list[str] = []
    workers = [
        threading.Thread(target=lambda: texts.append(asr.transcribe(english, "en", cache=ENGINE_CACHE).text))
        for _ in range(2)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert len(texts) == 2 and all("weather" in _words(text) for text in texts)


# --- translation and dubbing ------------------------------------------------------------------------


@apertium
def test_apertium_pairs_are_detected_and_translate() -> None:
    assert ("en", "es") in translation.supported_pairs() and ("es", "en") in translation.supported_pairs()
    [spanish] = translation.translate(["Good morning, my friend."], "en", "es")
    assert "buenos" in spanish.lower()
    assert translation.translate(["a", "b"], "en", "en") == ["a", "b"]
    with pytest.raises(translation.UnsupportedPair, match=r"supported: .*en->es"):
        translation.translate(["hello"], "en", "ko")


def test_wsola_changes_length_not_pitch(english: Clip) -> None:
    tone = np.sin(2 * np.pi * 220 * np.arange(24_000) / 24_000).astype(np.float32)
    for speed in (0.7, 1.5):
        out = wsola(tone, 24_000, speed)
        assert len(out) == round(len(tone) / speed)
        spectrum = np.abs(np.fft.rfft(out[2400:-2400] * np.hanning(len(out) - 4800)))
        peak = np.fft.rfftfreq(len(out) - 4800, 1 / 24_000)[np.argmax(spectrum)]
        assert abs(peak - 220) < 5


def _dub(source: Clip, target: str, **options: Any) -> tuple[Artifact, list[float]]:
    uri, assets = wav_asset(source)
    params = {"model": "eleven_voice_dubbing", "audioUri": uri, "targetLang": target, **options}
    return run_engine(DubbingEngine(ENGINE_CACHE), "voice_dubbing", params, assets)


BACKGROUND_HZ = 5000.0  # a steady whistle: above any voice's harmonics' dominant range, easy to find


def _with_background(speech: Clip) -> Clip:
    source = padded(speech, 48_000)
    t = np.arange(len(source.samples)) / 48_000
    return Clip((source.samples + 0.02 * np.sin(2 * np.pi * BACKGROUND_HZ * t)).astype(np.float32), 48_000)


def _background_level(dubbed: Clip) -> float:
    """Power at the background whistle over the median power around it (~1 when absent)."""
    freqs, power = welch(dubbed.samples.astype(np.float64), fs=dubbed.rate, nperseg=8192)
    around = (np.abs(freqs - BACKGROUND_HZ) < 300) & (np.abs(freqs - BACKGROUND_HZ) > 30)
    return float(power[np.argmin(np.abs(freqs - BACKGROUND_HZ))] / np.median(power[around]))


@apertium
def test_dubbing_english_to_spanish(english: Clip) -> None:
    source = _with_background(english)
    result, progress = _dub(source, "es")
    assert result.seconds == pytest.approx(source.seconds, abs=1e-6)
    assert progress == sorted(progress) and progress[-1] == 1.0
    dubbed = decode(result.data, 16_000)
    heard = asr.transcribe(dubbed, cache=ENGINE_CACHE)
    assert heard.language == "es"
    assert len({"buenos", "días", "tiempo", "música", "ciudad"} & _words(heard.text)) >= 3, heard.text
    assert _background_level(dubbed) > 100  # the background is kept under the dub by default


def test_dubbing_spanish_to_english_with_whisper_translation(spanish: Clip) -> None:
    source = _with_background(spanish)
    result, _ = _dub(source, "en", dropBackgroundAudio=True, disableVoiceCloning=True)
    assert result.seconds == pytest.approx(source.seconds, abs=1e-6)
    dubbed = decode(result.data, 16_000)
    heard = asr.transcribe(dubbed, cache=ENGINE_CACHE)
    assert heard.language == "en"
    assert len({"morning", "music", "city", "everyone", "everybody"} & _words(heard.text)) >= 2, heard.text
    assert _background_level(dubbed) < 10  # dropped


def test_dubbing_refuses_a_pair_without_offline_support(english: Clip) -> None:
    with pytest.raises(Failure) as info:
        _dub(padded(english, 48_000), "ko")
    assert info.value.code == "ASSET.INVALID"
    assert info.value.message.startswith("voice_dubbing: no offline translation from en to ko; supported: ")
    assert "en (from any language" in info.value.message


def test_dubbing_needs_speech_and_honours_cancel(english: Clip) -> None:
    hum = np.sin(2 * np.pi * 110 * np.arange(5 * 48_000) / 48_000).astype(np.float32) * 0.1
    with pytest.raises(Failure) as info:
        _dub(Clip(hum, 48_000), "es")
    assert info.value.code == "ASSET.INVALID" and "no speech" in info.value.message
    uri, assets = wav_asset(padded(english, 48_000))
    cancelled_after_first_progress(
        DubbingEngine(ENGINE_CACHE), "voice_dubbing", {"audioUri": uri, "targetLang": "es"}, assets
    )


def test_voice_follows_the_speakers_pitch() -> None:
    from taxiway.engines.audio.dubbing import pick_voice
    from taxiway.engines.audio.voices import PRESETS

    assert PRESETS[pick_voice(100.0)].character == "male"
    assert PRESETS[pick_voice(220.0)].character == "female"
