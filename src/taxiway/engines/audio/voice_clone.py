"""Voice cloning by measurement: a speech sample becomes a derived `Preset` (base voice + WORLD transform).

taxiway's voices are base voices moved by a WORLD transform (`conversion.py`), so a clone is the transform
that moves a base voice closest to the sample:

- **Pitch range.** Harvest F0 of the sample's voiced frames. The centre is the median of the phrases'
  medians (the TTS maps each sentence's median to the centre, so this is what a preset's speech
  measures back to); the range spans two standard deviations of log-F0 either side, the deviation
  estimated from the interquartile range, which octave errors and creaks barely move.
- **Base voice.** The pitch centre names the candidates: the two distinct base voices of the bank
  presets nearest in pitch (a man's always Piper joe and Kokoro's jm_kumo, a woman's two of Kokoro's
  four packs). Of those, the one whose long-term spectral envelope best matches the sample's wins.
- **Formant factor.** The long-term average of the log spectral envelope (CheapTrick, voiced frames) is
  compared with the base voice's own, measured once on `REFERENCE_TEXT`: the stretch along frequency
  that aligns them best (gain and spectral tilt removed, 200-4500 Hz) is the factor.
- **Pace.** Syllable nuclei (peaks of the 300-2500 Hz band energy) per second of active speech, against
  the base voice's on its reference. What is said moves this measure about as much as pace does, so
  only half of the difference (in log) is taken, within ±15 %.

Intonation is kept (1.0): the base voice's own pitch movement, narrowed to the measured range.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import numpy.typing as npt

from taxiway.engines.audio import codec, conversion, tts
from taxiway.engines.audio.codec import Clip
from taxiway.engines.audio.voices import PRESETS, Preset
from taxiway.engines.cache import build_once, cache_dir

Float64Array = npt.NDArray[np.float64]

RATE = 24_000
MIN_SECONDS = 10.0
MAX_SECONDS = 300.0
# Only the first half minute is analysed: Harvest costs about a fifth of real time.
ANALYSIS_SECONDS = 30.0
MIN_VOICED_SECONDS = 3.0
F0_FLOOR, F0_CEIL = 50.0, 600.0
SILENCE_RMS = 1e-3
FORMANT_LIMITS = (0.72, 1.4)
SPEED_LIMITS = (0.85, 1.15)
SIGMA_LIMITS = (0.03, 0.2)
# Bank presets are split at this pitch centre into men's and women's voices.
FEMALE_FROM_HZ = 160.0

REFERENCE_TEXT = (
    "Hello! This is how my new voice sounds. I can read stories, answer questions and keep you company "
    "on a long afternoon. Please remember to bring your umbrella tomorrow, because the forecast says it "
    "will rain all day in the city. We finally finished the project last night, and the whole team went "
    "out for pizza to celebrate together."
)
# A base voice's reference reads sentences until it has this much voiced speech (Piper joe is voiced
# less of the time than Kokoro's packs, so it reads more of the text).
REFERENCE_VOICED_FRAMES = 1000
_REFERENCE_VERSION = 1

# Log-spaced frequency grid of the long-term envelopes, and the band compared.
_GRID = np.geomspace(100.0, 7000.0, 320)
_BAND = (_GRID >= 200.0) & (_GRID <= 4500.0)
_FACTORS = np.geomspace(FORMANT_LIMITS[0], FORMANT_LIMITS[1], 241)
_PHRASE_GAP_FRAMES = 40  # 200 ms of unvoiced frames ends a phrase
_MIN_PHRASE_FRAMES = 20


class SampleRejected(ValueError):
    """A sample that cannot make a voice; the text becomes the voice's `failureReason`."""


@dataclass(frozen=True)
class Profile:
    """What the clone compares: the long-term log envelope on `_GRID`, and syllables per second."""

    envelope: Float64Array
    syllable_rate: float


@dataclass(frozen=True)
class Spectra:
    """Per 5 ms frame: F0 (0 where unvoiced) and the CheapTrick spectral envelope, at `rate`."""

    f0: Float64Array
    envelope: Float64Array
    rate: int

    @property
    def voiced_seconds(self) -> float:
        return int(np.count_nonzero(self.f0 > 0)) * conversion.FRAME_MS / 1000.0


@dataclass(frozen=True)
class Measured:
    """The sample's measurements, kept for tests and logs."""

    f0_centre: float
    f0_sigma: float
    base: str
    formant: float
    speed: float
    fit_error: float


def spectra(clip: Clip) -> Spectra:
    """Harvest F0 and CheapTrick envelopes; no aperiodicity, which the clone does not use."""
    pw = conversion.world()
    x = clip.samples.astype(np.float64)
    f0, times = pw.harvest(x, clip.rate, f0_floor=F0_FLOOR, f0_ceil=F0_CEIL, frame_period=conversion.FRAME_MS)
    return Spectra(f0, pw.cheaptrick(x, f0, times, clip.rate), clip.rate)


def long_term_envelope(spectra: Spectra) -> Float64Array:
    """Mean log spectral envelope of the voiced frames, on the shared log-frequency grid."""
    voiced = spectra.f0 > 0
    mean = np.log(spectra.envelope[voiced] + 1e-12).mean(axis=0)
    freqs = np.linspace(0.0, spectra.rate / 2, spectra.envelope.shape[1])
    return np.asarray(np.interp(_GRID, freqs, mean), dtype=np.float64)


def syllable_rate(spectra: Spectra) -> float:
    """Syllable nuclei per second of active speech, from the envelope's 300-2500 Hz energy."""
    from scipy.signal import find_peaks

    freqs = np.linspace(0.0, spectra.rate / 2, spectra.envelope.shape[1])
    band = (freqs >= 300.0) & (freqs <= 2500.0)
    level = 10.0 * np.log10(spectra.envelope[:, band].sum(axis=1) + 1e-12)
    window = np.hanning(9)
    level = np.convolve(level, window / window.sum(), mode="same")
    top = float(np.percentile(level, 95))
    active = int(np.count_nonzero(level > top - 35.0))
    peaks, _ = find_peaks(level, prominence=4.0, distance=8)
    nuclei = int(np.count_nonzero(level[peaks] > top - 25.0))
    return nuclei / max(active * conversion.FRAME_MS / 1000.0, 1e-3)


def _profile(spectra: Spectra) -> Profile:
    return Profile(long_term_envelope(spectra), syllable_rate(spectra))


def _read_reference(base: str, cache: Path) -> Spectra:
    """The base voice reading `REFERENCE_TEXT` (untransformed), the sentences' analyses joined."""
    f0: list[Float64Array] = []
    envelope: list[Float64Array] = []
    for sentence, _ in tts.split_sentences(REFERENCE_TEXT):
        analysis = tts._sentence(base, "en", sentence, cache)
        if analysis is not None:
            f0.append(analysis.f0)
            envelope.append(analysis.envelope)
        if sum(int(np.count_nonzero(part > 0)) for part in f0) >= REFERENCE_VOICED_FRAMES:
            break
    return Spectra(np.concatenate(f0), np.concatenate(envelope), tts.OUTPUT_RATE)


@lru_cache(maxsize=8)
def reference(base: str, cache: Path) -> Profile:
    """A base voice's profile, built once per machine into the engine cache (Kokoro reads slowly)."""

    def build(target: Path) -> None:
        profile = _profile(_read_reference(base, cache))
        data = {"envelope": profile.envelope.tolist(), "syllableRate": profile.syllable_rate}
        target.write_text(json.dumps(data))

    name = f"{base}-v{_REFERENCE_VERSION}.json"
    path = build_once(cache_dir(cache, "voice-references") / name, build)
    data = json.loads(path.read_text())
    return Profile(np.asarray(data["envelope"], dtype=np.float64), float(data["syllableRate"]))


def fit_formant(sample: Float64Array, base: Float64Array) -> tuple[float, float]:
    """The factor k with sample(f) ≈ base(f / k) (what `warp_envelope` does), and its residual."""
    log_grid = np.log(_GRID)
    x = log_grid[_BAND] - log_grid[_BAND].mean()
    best = (1.0, np.inf)
    for factor in _FACTORS:
        warped = np.interp(log_grid - np.log(factor), log_grid, base)
        diff = sample[_BAND] - warped[_BAND]
        diff = diff - diff.mean()
        # Spectral tilt belongs to the recording, not to the vocal tract.
        diff = diff - x * (float(x @ diff) / float(x @ x))
        error = float(np.mean(diff**2))
        if error < best[1]:
            best = (float(factor), error)
    return best


def candidates(f0_centre: float) -> list[str]:
    """The two distinct base voices of the bank presets nearest in pitch."""
    ranked = sorted(PRESETS.values(), key=lambda preset: abs(np.log(preset.f0_centre / f0_centre)))
    bases: list[str] = []
    for preset in ranked:
        if preset.base not in bases:
            bases.append(preset.base)
        if len(bases) == 2:
            break
    return bases


def _phrase_centre(f0: Float64Array) -> float:
    voiced = np.flatnonzero(f0 > 0)
    breaks = np.flatnonzero(np.diff(voiced) > _PHRASE_GAP_FRAMES) + 1
    medians = [float(np.median(f0[group])) for group in np.split(voiced, breaks)]
    sizes = [len(group) for group in np.split(voiced, breaks)]
    kept = [median for median, size in zip(medians, sizes, strict=True) if size >= _MIN_PHRASE_FRAMES]
    return float(np.median(kept or medians))


def measure(clip: Clip, cache: Path) -> Measured:
    """Everything a clone is made of; SampleRejected when the sample has too little speech."""
    if not MIN_SECONDS <= clip.seconds <= MAX_SECONDS + 0.05:
        raise SampleRejected(
            f"The audio sample is {clip.seconds:.1f} s long; it must be between {MIN_SECONDS:g} seconds"
            f" and {MAX_SECONDS / 60:g} minutes."
        )
    clip = clip.at(RATE)
    head = Clip(clip.samples[: int(ANALYSIS_SECONDS * RATE)], RATE)
    if codec.rms(head.samples) < SILENCE_RMS:
        raise SampleRejected("The audio sample is silent; it must contain speech.")
    analysis = spectra(head)
    voiced_seconds = analysis.voiced_seconds
    if voiced_seconds < MIN_VOICED_SECONDS:
        raise SampleRejected(
            f"The audio sample has {voiced_seconds:.1f} s of voiced speech; at least"
            f" {MIN_VOICED_SECONDS:g} s are needed to clone a voice."
        )
    centre = _phrase_centre(analysis.f0)
    low_q, high_q = np.percentile(np.log(analysis.f0[analysis.f0 > 0]), [25, 75])
    sigma = float(np.clip((high_q - low_q) / 1.349, *SIGMA_LIMITS))
    sample = _profile(analysis)
    fits = {
        base: fit_formant(sample.envelope, reference(base, cache).envelope) for base in candidates(centre)
    }
    base = min(fits, key=lambda name: fits[name][1])
    formant, error = fits[base]
    pace = (sample.syllable_rate / reference(base, cache).syllable_rate) ** 0.5
    speed = float(np.clip(pace, *SPEED_LIMITS))
    return Measured(centre, sigma, base, formant, speed, error)


def clone(clip: Clip, name: str, cache: Path) -> Preset:
    """The preset that speaks like the sample (blocking, seconds of CPU: run it in a thread)."""
    measured = measure(clip, cache)
    centre, spread = measured.f0_centre, float(np.exp(2.0 * measured.f0_sigma))
    return Preset(
        name=name,
        character="female" if centre >= FEMALE_FROM_HZ else "male",
        base=measured.base,
        f0_range=(round(centre / spread, 1), round(centre * spread, 1)),
        formant=round(measured.formant, 3),
        speed=round(measured.speed, 3),
    )
