"""A procedural sound-effect engine: offline, CPU-only, deterministic for (prompt, seed, duration, loop).

Not a generative model (no bundled text-to-audio weights exist offline). Keywords in the prompt pick
layers from a small synthesizer - shaped noise, oscillators, impulse trains and decay envelopes - so each
effect has the acoustic signature its name promises: rain is broadband noise, thunder a decaying
low-frequency rumble, wind slowly gusting band noise, an engine a low fundamental with harmonics, a beep a
pure tone. Several keywords layer ("rain and thunder"); a prompt with none gets a texture whose band,
partials and motion are drawn from its words, so different prompts still sound different.

Length: `duration` when given, exactly round(duration x 44100) samples. Otherwise a number of seconds
written in the prompt ("a 5 second whoosh"), else the longest natural length of the matched layers:
ambiences (rain, wind, water, fire, birds, crowd, engine...) 10 s, one-shots their own short length
(beep 1 s, click 0.5 s, whoosh 1.5 s, explosion 3 s, thunder 6 s...), unknown prompts 5 s; always
0.5-30 s. `loop` renders a little extra and crossfades that tail into the head (equal power), so the
last sample runs straight into the first and the texture across the wrap matches the rest.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.signal import butter, istft, sosfilt

from taxiway.engines.audio.codec import Clip, decode, delivered, normalize
from taxiway.engines.base import Artifact, EngineRequest, RunContext
from taxiway.engines.fields import RequestFields
from taxiway.errors import Failure

RATE = 44100
MIN_SECONDS = 0.5
MAX_SECONDS = 30.0
GENERIC_SECONDS = 5.0

Signal = npt.NDArray[np.float64]
Render = Callable[[np.random.Generator, int, frozenset[str]], Signal]

_STFT_SIZE = 1024
_STFT_HOP = _STFT_SIZE // 4


# --- building blocks -------------------------------------------------------------------------------


def _times(n: int) -> Signal:
    return np.arange(n, dtype=np.float64) / RATE


def _filter(x: Signal, kind: str, cutoff: float | tuple[float, float], order: int = 4) -> Signal:
    sos = butter(order, cutoff, btype=kind, fs=RATE, output="sos")
    return np.asarray(sosfilt(sos, x), dtype=np.float64)


def _brown(rng: np.random.Generator, n: int) -> Signal:
    """Integrated white noise (1/f^2), high-passed so it does not drift: the body of rumbles and surf."""
    return _filter(np.cumsum(rng.standard_normal(n)), "highpass", 35.0, order=2)


def _wander(rng: np.random.Generator, n: int, rate_hz: float, low: float = 0.0, high: float = 1.0) -> Signal:
    """A smooth random curve in [low, high] that changes about `rate_hz` times a second."""
    points = max(2, int(n / RATE * rate_hz) + 3)
    knots = rng.uniform(0.0, 1.0, points)
    position = np.linspace(0.0, points - 3, n) + 1.0
    index = np.floor(position).astype(np.int64)
    frac = position - index
    smooth = frac * frac * (3.0 - 2.0 * frac)
    curve = knots[index] * (1.0 - smooth) + knots[index + 1] * smooth
    return low + (high - low) * curve


def _shaped_noise(rng: np.random.Generator, n: int, gain: Callable[[Signal, Signal], Signal]) -> Signal:
    """Noise whose spectrum over time is `gain(freqs[:, None], times[None, :])`: complex Gaussian frames
    shaped in the STFT domain and overlap-added, which makes any time-varying filter one array product."""
    frames = n // _STFT_HOP + 2
    bins = _STFT_SIZE // 2 + 1
    spectrum = rng.standard_normal((bins, frames)) + 1j * rng.standard_normal((bins, frames))
    freqs = np.linspace(0.0, RATE / 2, bins)[:, None]
    times = (np.arange(frames) * _STFT_HOP / RATE)[None, :]
    _, out = istft(
        spectrum * gain(freqs, times), fs=RATE, nperseg=_STFT_SIZE, noverlap=_STFT_SIZE - _STFT_HOP
    )
    return _fit(np.asarray(out, dtype=np.float64), n)


def _unit(x: Signal) -> Signal:
    """Scaled to a peak of 1 (silence stays silence), so layers and parts mix at chosen levels."""
    peak = float(np.max(np.abs(x))) if len(x) else 0.0
    return x / peak if peak > 0 else x


def _fit(x: Signal, n: int) -> Signal:
    return x[:n] if len(x) >= n else np.pad(x, (0, n - len(x)))


def _add(target: Signal, start: int, sound: Signal) -> None:
    """Mix `sound` into `target` at sample `start`, clipped to the target's bounds."""
    if start >= len(target) or start + len(sound) <= 0:
        return
    lo = max(0, -start)
    hi = min(len(sound), len(target) - start)
    target[start + lo : start + hi] += sound[lo:hi]


def _decay(n: int, seconds: float) -> Signal:
    return np.exp(-_times(n) / seconds)


def _fade(x: Signal, seconds: float = 0.005) -> Signal:
    """Short raised-cosine ramps at both ends so tones start and stop without clicks."""
    ramp = min(len(x) // 2, int(seconds * RATE))
    if ramp > 0:
        window = 0.5 - 0.5 * np.cos(np.linspace(0.0, np.pi, ramp))
        x[:ramp] *= window
        x[-ramp:] *= window[::-1]
    return x


def _onsets(
    rng: np.random.Generator, n: int, mean_gap: float, jitter: float = 0.1, first: float = 0.0
) -> Signal:
    """Event times from `first` onwards, about `mean_gap` apart (each gap varied by ±jitter)."""
    limit = n / RATE
    count = int(limit / mean_gap) + 2
    gaps = mean_gap * (1.0 + rng.uniform(-jitter, jitter, count))
    times = first + np.concatenate([[0.0], np.cumsum(gaps[:-1])])
    return times[times < limit]


# --- layers ----------------------------------------------------------------------------------------


def _rain(rng: np.random.Generator, n: int, words: frozenset[str]) -> Signal:
    heavy = bool(words & {"heavy", "downpour", "storm", "stormy", "thunderstorm", "pouring"})
    hiss = _filter(_filter(rng.standard_normal(n), "highpass", 300.0), "lowpass", 14000.0, order=1)
    hiss *= 0.85 + 0.15 * _wander(rng, n, 0.3)
    drops = np.zeros(n)
    for start in rng.uniform(0.0, n / RATE, int(n / RATE * (90 if heavy else 45))):
        length = int(rng.uniform(0.002, 0.006) * RATE)
        pitch = rng.uniform(1800.0, 6000.0)
        t = _times(length)
        _add(
            drops,
            int(start * RATE),
            rng.uniform(0.5, 2.0) * np.sin(2 * np.pi * pitch * t) * _decay(length, 0.0015),
        )
    return hiss + 0.4 * drops


def _thunder(rng: np.random.Generator, n: int, words: frozenset[str]) -> Signal:
    t = _times(n)
    span = min(n / RATE, 8.0)
    rumble = _filter(_brown(rng, n), "lowpass", 160.0)
    rolls = np.zeros(n)
    for start in np.sort(rng.uniform(0.0, span * 0.25, 4)):
        rolls += rng.uniform(0.4, 1.0) * np.where(t >= start, np.exp(-(t - start) / (span * 0.18)), 0.0)
    attack = np.clip(t / 0.04, 0.0, 1.0)
    crack = _filter(rng.standard_normal(n), "bandpass", (300.0, 3000.0)) * _decay(n, 0.05)
    body = _unit(rumble)
    return attack * rolls * body + 0.15 * _unit(crack)


def _wind(rng: np.random.Generator, n: int, words: frozenset[str]) -> Signal:
    strong = bool(words & {"howling", "howl", "strong", "storm", "stormy", "gale", "blizzard"})
    frames = n // _STFT_HOP + 2
    centre = np.interp(np.arange(frames), np.linspace(0, frames, 8), rng.uniform(250.0, 900.0, 8))[None, :]
    width = 0.35 if strong else 0.55

    def gain(freqs: Signal, times: Signal) -> Signal:
        octaves = np.log2(np.maximum(freqs, 20.0) / centre)
        return np.asarray(np.exp(-0.5 * (octaves / width) ** 2), dtype=np.float64)

    gusts = 0.25 + 0.75 * _wander(rng, n, rng.uniform(0.25, 0.5)) ** 1.5
    return _shaped_noise(rng, n, gain) * gusts


def _engine(rng: np.random.Generator, n: int, words: frozenset[str]) -> Signal:
    t = _times(n)
    base = (
        rng.uniform(32.0, 48.0)
        if words & {"truck", "diesel", "tractor", "idle", "idling"}
        else rng.uniform(40.0, 60.0)
    )
    f0 = base * (1.0 + 0.015 * (2.0 * _wander(rng, n, 0.8) - 1.0))
    if words & {"rev", "revs", "revving", "accelerating", "accelerate", "racing"}:
        f0 *= 1.0 + 1.8 * np.sin(np.pi * np.clip(t / max(t[-1], 1e-9), 0.0, 1.0)) ** 2
    phase = 2.0 * np.pi * np.cumsum(f0) / RATE
    tone = np.zeros(n)
    for k in range(1, 31):
        tone += np.sin(k * phase + rng.uniform(0.0, 2 * np.pi)) / k**0.9
    tone = _filter(tone, "lowpass", 1200.0, order=2)
    clatter = _filter(rng.standard_normal(n), "bandpass", (1500.0, 4000.0)) * (0.5 + 0.5 * np.sin(phase))
    return _unit(tone) + 0.05 * _unit(clatter)


def _beep(rng: np.random.Generator, n: int, words: frozenset[str]) -> Signal:
    out = np.zeros(n)
    pitch = float(rng.choice([880.0, 1000.0, 1200.0]))
    length = int(0.22 * RATE)
    tone = _fade(np.sin(2 * np.pi * pitch * _times(length)))
    for start in _onsets(rng, n, 1.0, jitter=0.0, first=0.02):
        _add(out, int(start * RATE), tone)
    return out


def _alarm(rng: np.random.Generator, n: int, words: frozenset[str]) -> Signal:
    t = _times(n)
    if words & {"siren", "sirens", "police", "ambulance"}:
        pitch = 900.0 + 350.0 * np.sin(2 * np.pi * 0.35 * t)
        phase = 2 * np.pi * np.cumsum(pitch) / RATE
        return np.sin(phase) + 0.2 * np.sin(3 * phase)
    high, low = (float(x) for x in rng.choice([[960.0, 720.0], [1100.0, 880.0]]))
    pitch = np.where((t / 0.25).astype(np.int64) % 2 == 0, high, low)
    phase = 2 * np.pi * np.cumsum(pitch) / RATE
    gate = ((t % 1.0) < 0.75).astype(np.float64)
    gate = _filter(gate, "lowpass", 200.0, order=2)
    return (np.sin(phase) + 0.25 * np.sin(3 * phase)) * gate


def _whoosh(rng: np.random.Generator, n: int, words: frozenset[str]) -> Signal:
    span = min(n / RATE, rng.uniform(0.9, 1.3))
    peak = rng.uniform(0.45, 0.6) * span
    low, high = rng.uniform(250.0, 450.0), rng.uniform(2500.0, 4500.0)

    def shape(times: Signal) -> Signal:
        rise = np.clip(times / peak, 0.0, 1.0)
        fall = np.clip((span - times) / (span - peak), 0.0, 1.0)
        return np.asarray(np.where(times < peak, rise, fall), dtype=np.float64)

    def gain(freqs: Signal, times: Signal) -> Signal:
        level = shape(times)
        centre = low * (high / low) ** level
        octaves = np.log2(np.maximum(freqs, 20.0) / centre)
        return np.asarray(np.exp(-0.5 * (octaves / 0.6) ** 2) * level**2, dtype=np.float64)

    return _shaped_noise(rng, n, gain)


def _footsteps(rng: np.random.Generator, n: int, words: frozenset[str]) -> Signal:
    running = bool(words & {"running", "run", "runs", "jogging", "sprint", "sprinting"})
    out = np.zeros(n)
    heel_length, toe_length = int(0.08 * RATE), int(0.12 * RATE)
    for start in _onsets(rng, n, 0.32 if running else 0.55, jitter=0.06, first=0.05):
        level = rng.uniform(0.8, 1.0)
        heel = _filter(rng.standard_normal(heel_length), "bandpass", (70.0, 500.0)) * _decay(
            heel_length, 0.015
        )
        toe = _filter(rng.standard_normal(toe_length), "bandpass", (900.0, 5000.0)) * _decay(toe_length, 0.03)
        _add(out, int(start * RATE), level * heel)
        _add(out, int((start + 0.045) * RATE), 0.25 * level * toe)
    return out


def _water(rng: np.random.Generator, n: int, words: frozenset[str]) -> Signal:
    if words & {"ocean", "oceans", "wave", "waves", "sea", "surf", "beach", "shore", "tide"}:
        period = rng.uniform(6.0, 9.0)
        times = np.arange(n // _STFT_HOP + 2) * _STFT_HOP / RATE
        heights = rng.uniform(0.6, 1.0, int(times[-1] / period) + 2)
        cycle = (times / period) % 1.0
        swell = heights[(times / period).astype(np.int64)] * np.sin(np.pi * cycle) ** 4

        def gain(freqs: Signal, _times: Signal) -> Signal:
            cutoff = 300.0 + 3500.0 * swell[None, :]
            level = 0.08 + swell[None, :]
            return np.asarray(level / (1.0 + (freqs / cutoff) ** 2), dtype=np.float64)

        return _shaped_noise(rng, n, gain)
    flow = _filter(rng.standard_normal(n), "bandpass", (250.0, 3500.0), order=2) * (
        0.8 + 0.2 * _wander(rng, n, 2.0)
    )
    bubbles = np.zeros(n)
    for start in rng.uniform(0.0, n / RATE, int(n / RATE * 25)):
        length = int(rng.uniform(0.01, 0.03) * RATE)
        t = _times(length)
        pitch = rng.uniform(400.0, 1400.0) * (1.0 + 3.0 * t / t[-1])
        _add(bubbles, int(start * RATE), np.sin(2 * np.pi * np.cumsum(pitch) / RATE) * np.hanning(length))
    return _unit(flow) + 0.3 * bubbles


def _fire(rng: np.random.Generator, n: int, words: frozenset[str]) -> Signal:
    roar = _filter(_brown(rng, n), "lowpass", 400.0) * (0.6 + 0.4 * _wander(rng, n, 3.0))
    roar /= np.max(np.abs(roar)) + 1e-9
    crackle = np.zeros(n)
    for start in rng.uniform(0.0, n / RATE, int(n / RATE * 18)):
        for _ in range(int(rng.integers(1, 5))):
            length = int(rng.uniform(0.002, 0.012) * RATE)
            pop = rng.standard_normal(length) * _decay(length, length / RATE / 4) * rng.pareto(2.0)
            _add(crackle, int((start + rng.uniform(0.0, 0.04)) * RATE), pop)
    crackle = _filter(crackle, "highpass", 1000.0, order=2)
    return 0.2 * roar + _unit(crackle)


def _strike(
    rng: np.random.Generator, length: int, pitch: float, ratios: Sequence[float], decay: float
) -> Signal:
    t = _times(length)
    out = np.zeros(length)
    for index, ratio in enumerate(ratios):
        level = rng.uniform(0.4, 1.0) / (1.0 + 0.4 * index)
        out += level * np.sin(2 * np.pi * pitch * ratio * t) * np.exp(-t * ratio / decay)
    return _fade(out, 0.002)


def _bell(rng: np.random.Generator, n: int, words: frozenset[str]) -> Signal:
    out = np.zeros(n)
    if words & {"chime", "chimes"}:
        bar = (1.0, 2.756, 5.404, 8.933)  # free-free bar modes: tubular chimes
        notes = rng.uniform(900.0, 2400.0, 5)
        for start in _onsets(rng, n, 0.45, jitter=0.6, first=0.01):
            length = int(2.5 * RATE)
            _add(
                out,
                int(start * RATE),
                rng.uniform(0.3, 1.0) * _strike(rng, length, float(rng.choice(notes)), bar, 1.2),
            )
        return out
    church = (0.5, 1.0, 1.19, 1.5, 2.0, 2.51, 2.66, 3.01, 4.17)  # hum, prime, minor third, ... of a bell
    gong = bool(words & {"gong"})
    pitch = rng.uniform(90.0, 140.0) if gong else rng.uniform(420.0, 900.0)
    length = min(n, int((8.0 if gong else 4.0) * RATE))
    _add(out, int(0.005 * RATE), _strike(rng, length, pitch, church, 3.0 if gong else 1.5))
    return out


def _explosion(rng: np.random.Generator, n: int, words: frozenset[str]) -> Signal:
    t = _times(n)
    blast = _filter(rng.standard_normal(n), "lowpass", 6000.0) * _decay(n, 0.06)
    body = _filter(_brown(rng, n), "lowpass", 500.0)
    body *= np.clip(t / 0.01, 0.0, 1.0) * _decay(n, 0.9)
    sub = np.sin(2 * np.pi * np.cumsum(25.0 + 45.0 * np.exp(-t / 0.3)) / RATE) * _decay(n, 0.6)
    debris = np.zeros(n)
    for start in rng.uniform(0.3, 2.0, 25):
        length = int(0.01 * RATE)
        _add(debris, int(start * RATE), rng.standard_normal(length) * _decay(length, 0.002) * np.exp(-start))
    parts = (blast, body, sub, _filter(debris, "highpass", 800.0, order=2))
    levels = (0.7, 1.0, 0.8, 0.2)
    return sum((level * _unit(p) for level, p in zip(levels, parts, strict=True)), np.zeros(n))


def _birds(rng: np.random.Generator, n: int, words: frozenset[str]) -> Signal:
    out = np.zeros(n)
    for bird in range(int(rng.integers(2, 4))):
        base = rng.uniform(2500.0, 5500.0)
        sweep = rng.uniform(-1500.0, 1500.0)
        for start in _onsets(rng, n, rng.uniform(0.9, 2.0), jitter=0.5, first=rng.uniform(0.0, 0.8)):
            at = start
            for _ in range(int(rng.integers(2, 7))):
                length = int(rng.uniform(0.04, 0.11) * RATE)
                t = _times(length)
                pitch = base + sweep * t / t[-1] + 250.0 * np.sin(2 * np.pi * rng.uniform(25.0, 55.0) * t)
                chirp = np.sin(2 * np.pi * np.cumsum(pitch) / RATE) * np.hanning(length)
                _add(out, int(at * RATE), rng.uniform(0.4, 1.0) / (1 + bird) * chirp)
                at += length / RATE + rng.uniform(0.03, 0.08)
    air = _filter(rng.standard_normal(n), "bandpass", (200.0, 2000.0), order=2)
    return out + 0.02 * air


def _applause(rng: np.random.Generator, n: int, words: frozenset[str]) -> Signal:
    out = np.zeros(n)
    length = int(0.012 * RATE)
    for _ in range(int(rng.integers(25, 40))):
        centre = rng.uniform(900.0, 2600.0)
        clap = _filter(rng.standard_normal(length), "bandpass", (centre * 0.6, centre * 1.6), order=2)
        clap *= _decay(length, 0.003)
        for start in _onsets(rng, n, rng.uniform(0.17, 0.26), jitter=0.15, first=rng.uniform(0.0, 0.25)):
            _add(out, int(start * RATE), rng.uniform(0.5, 1.0) * clap)
    t = _times(n)
    swell = np.clip(t / 0.4, 0.0, 1.0)
    return out * swell


def _crowd(rng: np.random.Generator, n: int, words: frozenset[str]) -> Signal:
    """Babble: voices as noise through vowel formants that change every syllable, pulsing at 3-5 Hz."""
    frames = n // _STFT_HOP + 2
    bins = _STFT_SIZE // 2 + 1
    freqs = np.linspace(0.0, RATE / 2, bins)[:, None]
    vowels = np.array([[730, 1090], [270, 2290], [300, 870], [530, 1840], [640, 1190], [490, 1350]], float)
    total = np.zeros((bins, frames), dtype=np.complex128)
    frame_rate = RATE / _STFT_HOP
    for _ in range(10):
        rate = rng.uniform(3.0, 5.0)
        syllable = (np.arange(frames) / frame_rate * rate + rng.uniform(0, 1)).astype(np.int64)
        formants = vowels[rng.integers(0, len(vowels), syllable.max() + 1)][syllable] * rng.uniform(0.9, 1.2)
        pulse = np.sin(np.pi * ((np.arange(frames) / frame_rate * rate) % 1.0)) ** 2
        pulse *= _wander(rng, frames * _STFT_HOP, 0.4)[::_STFT_HOP][:frames] > 0.3
        shape = sum(
            np.exp(-0.5 * ((freqs - formants[None, :, k]) / (80.0 + 40.0 * k)) ** 2) for k in range(2)
        )
        noise = rng.standard_normal((bins, frames)) + 1j * rng.standard_normal((bins, frames))
        total += noise * shape * pulse[None, :]
    _, out = istft(total, fs=RATE, nperseg=_STFT_SIZE, noverlap=_STFT_SIZE - _STFT_HOP)
    return _fit(np.asarray(out, dtype=np.float64), n)


def _click(rng: np.random.Generator, n: int, mode: str) -> Signal:
    out = np.zeros(n)
    length = int(0.01 * RATE)

    def one(pitch: float) -> Signal:
        t = _times(length)
        body = rng.standard_normal(length) * _decay(length, 0.0008) + 0.5 * np.sin(
            2 * np.pi * pitch * t
        ) * _decay(length, 0.002)
        return _filter(body, "highpass", 1500.0, order=2)

    if mode == "typing":
        starts = np.cumsum(rng.uniform(0.08, 0.3, int(n / RATE / 0.08) + 1)) - 0.06
        pitches = rng.uniform(2500.0, 4500.0, len(starts))
    elif mode == "clock":
        starts = np.arange(0.02, n / RATE, 0.5)
        pitches = np.where(np.arange(len(starts)) % 2 == 0, 3200.0, 2400.0)
    else:
        starts = np.arange(0.01, n / RATE, 1.0)
        pitches = np.full(len(starts), rng.uniform(3000.0, 4500.0))
    for start, pitch in zip(starts, pitches, strict=True):
        _add(out, int(start * RATE), one(float(pitch)))
    return out


def _laser(rng: np.random.Generator, n: int, words: frozenset[str]) -> Signal:
    out = np.zeros(n)
    for start in _onsets(rng, n, 0.6, jitter=0.15, first=0.01):
        length = int(rng.uniform(0.2, 0.32) * RATE)
        t = _times(length)
        pitch = rng.uniform(2200.0, 3200.0) * (rng.uniform(150.0, 300.0) / 2800.0) ** (t / t[-1])
        phase = 2 * np.pi * np.cumsum(pitch) / RATE
        zap = (np.sin(phase) + 0.35 * np.sin(3 * phase) + 0.15 * np.sin(5 * phase)) * _decay(length, 0.12)
        _add(out, int(start * RATE), _fade(zap, 0.002))
    return out


def _scifi(rng: np.random.Generator, n: int, words: frozenset[str]) -> Signal:
    t = _times(n)
    root = rng.uniform(45.0, 70.0)
    drone = np.zeros(n)
    for multiple, detune in ((1, 0.0), (1, 0.004), (2, -0.003), (3, 0.002)):
        drone += np.sin(2 * np.pi * root * multiple * (1.0 + detune) * t + rng.uniform(0, 6.3)) / multiple
    shimmer = np.sin(2 * np.pi * root * 16 * t) * np.sin(2 * np.pi * rng.uniform(0.2, 0.6) * t) ** 2
    frames = n // _STFT_HOP + 2
    sweep = 600.0 + 1800.0 * _wander(rng, frames * _STFT_HOP, 0.2)[::_STFT_HOP][:frames][None, :]

    def gain(freqs: Signal, _times: Signal) -> Signal:
        return np.asarray(
            np.exp(-0.5 * (np.log2(np.maximum(freqs, 20.0) / sweep) / 0.3) ** 2), dtype=np.float64
        )

    air = _shaped_noise(rng, n, gain)
    return np.asarray(drone + 0.3 * shimmer + 0.4 * _unit(air), dtype=np.float64)


def _generic(rng: np.random.Generator, n: int, words: frozenset[str]) -> Signal:
    """A texture for prompts no layer knows: band noise and a few drifting partials, all from the words."""
    t = _times(n)
    centre = float(np.exp(rng.uniform(np.log(150.0), np.log(5000.0))))
    width = rng.uniform(0.3, 1.5)
    motion = _wander(rng, n, rng.uniform(0.1, 2.0), 0.3, 1.0)
    band = _filter(
        rng.standard_normal(n), "bandpass", (centre * 2**-width, min(centre * 2**width, 20000.0)), order=2
    )
    partials = np.zeros(n)
    for _ in range(int(rng.integers(0, 4))):
        pitch = centre * rng.uniform(0.25, 2.0) * (1.0 + 0.02 * _wander(rng, n, 0.5))
        partials += rng.uniform(0.2, 0.6) * np.sin(2 * np.pi * np.cumsum(pitch) / RATE)
    band /= np.max(np.abs(band)) + 1e-9
    return (band + partials) * motion * np.clip(t / 0.05, 0.0, 1.0)


@dataclass(frozen=True)
class Layer:
    name: str
    keywords: tuple[str, ...]
    seconds: float  # natural length, used when the request gives no duration
    ambience: bool  # continuous texture (long default, long loop crossfade) rather than a one-shot
    render: Render
    level: float = 1.0


def _layer(
    name: str, keywords: str, seconds: float, ambience: bool, render: Render, level: float = 1.0
) -> Layer:
    return Layer(name, tuple(keywords.split()), seconds, ambience, render, level)


def _clicks(mode: str) -> Render:
    return lambda rng, n, _words: _click(rng, n, mode)


LAYERS: tuple[Layer, ...] = (
    _layer("rain", "rain drizzl downpour storm thunderstorm pouring", 10.0, True, _rain, 0.6),
    _layer("thunder", "thunder storm lightning", 6.0, False, _thunder),
    _layer("wind", "wind breeze gust howl blizzard gale", 10.0, True, _wind, 0.8),
    _layer("engine", "engine motor car truck diesel tractor idling revving generator", 10.0, True, _engine),
    _layer("beep", "beep bleep ping buzzer microwave", 1.0, False, _beep, 0.8),
    _layer("alarm", "alarm siren alert warning", 4.0, False, _alarm, 0.8),
    _layer("whoosh", "whoosh swoosh woosh swish swoop swipe transition", 1.5, False, _whoosh),
    _layer("footsteps", "footstep steps walking running jogging stomp", 5.0, True, _footsteps),
    _layer("water", "water ocean wave sea surf beach stream river brook creek shore", 10.0, True, _water),
    _layer("fire", "fire crackl campfire fireplace burning flame bonfire", 10.0, True, _fire),
    _layer("bell", "bell chime ding gong ring", 4.0, False, _bell, 0.8),
    _layer("explosion", "explosion explod boom blast bomb detonat grenade", 3.0, False, _explosion),
    _layer("birds", "bird chirp tweet songbird sparrow robin forest", 10.0, True, _birds, 0.6),
    _layer("applause", "applause applaud clap cheer ovation", 5.0, True, _applause, 0.8),
    _layer(
        "crowd", "crowd audience chatter murmur babble people cafe restaurant party", 10.0, True, _crowd, 0.7
    ),
    _layer("click", "click button mouse switch", 0.5, False, _clicks("click")),
    _layer("clock", "tick clock tock metronome", 5.0, True, _clicks("clock")),
    _layer("typing", "typing keyboard typewriter keystroke", 5.0, True, _clicks("typing")),
    _layer("laser", "laser zap blaster phaser pew", 1.2, False, _laser, 0.8),
    _layer("sci-fi", "sci-fi scifi spaceship starship futuristic hum drone", 10.0, True, _scifi, 0.7),
)
GENERIC = Layer("generic", (), GENERIC_SECONDS, True, _generic)

_SECONDS_IN_PROMPT = re.compile(r"(\d+(?:\.\d+)?)\s*(?:-\s*)?(?:s|sec|secs|second|seconds)\b")


def words_of(prompt: str) -> frozenset[str]:
    text = re.sub(r"\bwind\s+chime", "chime", prompt.lower())  # a chime, not wind
    return frozenset(re.findall(r"[a-z]+(?:-[a-z]+)*", text))


def _matches(keyword: str, word: str) -> bool:
    # Stems of five letters or more also match inflections ("raining", "explodes"); short ones must be
    # whole words or plurals, so "car" does not fire on "carpet".
    if len(keyword) >= 5 or keyword in {
        "rain",
        "wind",
        "fire",
        "bell",
        "wave",
        "bird",
        "clap",
        "boom",
        "beep",
    }:
        return word.startswith(keyword)
    return word in (keyword, keyword + "s", keyword + "es")


def _named(layer: Layer, words: frozenset[str]) -> bool:
    return any(_matches(k, w) for k in layer.keywords for w in words)


def layers_for(prompt: str, avoid: str = "") -> list[Layer]:
    """The layers the prompt names, less those `avoid` names (Mirelo's `negativePrompt`)."""
    words, unwanted = words_of(prompt), words_of(avoid)
    found = [layer for layer in LAYERS if _named(layer, words) and not _named(layer, unwanted)]
    return found or [GENERIC]


def natural_seconds(prompt: str) -> float:
    """The length used when the request has no `duration`: see the module docstring."""
    spoken = _SECONDS_IN_PROMPT.search(prompt.lower())
    seconds = float(spoken.group(1)) if spoken else max(layer.seconds for layer in layers_for(prompt))
    return float(min(MAX_SECONDS, max(MIN_SECONDS, seconds)))


def _generator(prompt: str, seed: int, layer: str) -> np.random.Generator:
    # Each layer draws from its own stream, so adding a word to a prompt leaves the other layers unchanged.
    digest = hashlib.blake2b(f"{layer}|{prompt}".encode(), digest_size=16).digest()
    words = np.frombuffer(digest, dtype=np.uint32).tolist()
    return np.random.default_rng([seed & 0xFFFFFFFF, seed >> 32, *words])


def _crossfade_loop(x: Signal, n: int, fade: int) -> Signal:
    """An n-sample loop cut from `x` (n + fade + search samples long).

    The loop starts at the offset s (within the search span) where x[s:] and x[s+n:] are most alike, and
    the `fade` samples past its end are folded into its head: y[0] continues y[n-1] exactly as x[s+n]
    continued x[s+n-1], and the head blends into the fresh start. Picking s that way puts the tonal parts
    of the two ends in phase, so the blend does not comb-filter them; the fade is equal-power when the
    ends are unrelated (noise) and linear when they are alike (tones), keeping the level steady."""
    search = len(x) - n - fade
    start, alike = 0, 0.0
    if fade > 0 and search > 0:
        head, tail = x[: search + fade], x[n : n + search + fade]

        def windowed(values: Signal) -> Signal:
            total = np.concatenate([[0.0], np.cumsum(values)])
            return np.asarray(total[fade:] - total[:-fade], dtype=np.float64)

        similarity = windowed(head * tail) / np.sqrt(windowed(head**2) * windowed(tail**2) + 1e-12)
        start = int(np.argmax(similarity))
        alike = float(similarity[start])
    out = x[start : start + n].copy()
    if fade > 0:
        phase = np.linspace(0.0, 1.0, fade, endpoint=False)
        if alike > 0.5:
            fade_in = 0.5 - 0.5 * np.cos(np.pi * phase)
            fade_out = 1.0 - fade_in
        else:
            fade_in, fade_out = np.sin(0.5 * np.pi * phase), np.cos(0.5 * np.pi * phase)
        out[:fade] = x[start : start + fade] * fade_in + x[start + n : start + n + fade] * fade_out
    return out


def render(
    prompt: str,
    seed: int,
    duration: float | None = None,
    loop: bool = False,
    progress: Callable[[float], None] | None = None,
    avoid: str = "",
) -> Clip:
    """The effect for `prompt`: exactly round(duration x 44100) samples at 44.1 kHz, peak-normalized."""
    seconds = natural_seconds(prompt) if duration is None else float(duration)
    n = max(1, round(seconds * RATE))
    layers = layers_for(prompt, avoid)
    words = words_of(prompt)
    fade = search = 0
    if loop:
        ambience = any(layer.ambience for layer in layers)
        fade = min(n // 4, int((0.5 if ambience else 0.02) * RATE))
        # Up to one period of a 20 Hz tone; one-shots keep their onset where it is.
        search = int(0.05 * RATE) if ambience else 0
    extra = fade + search
    mix = np.zeros(n + extra)
    for index, layer in enumerate(layers):
        sound = layer.render(_generator(prompt, seed, layer.name), n + extra, words)
        peak = float(np.max(np.abs(sound)))
        if peak > 0:
            mix += layer.level * sound / peak
        if progress:
            progress((index + 1) / (len(layers) + 1))
    out = _crossfade_loop(mix, n, fade) if loop else mix
    return Clip(normalize(out.astype(np.float32)), RATE)


_AUDIO_MENTION = re.compile(r"@audio([123])\b", re.IGNORECASE)


def with_references(clip: Clip, prompt: str, references: list[Clip]) -> Clip:
    """Seed Audio's `@Audio1`…: each reference clip mixed in where the prompt names it, in the prompt's
    order over the effect's length (unnamed references follow the named ones)."""
    if not references:
        return clip
    named = [int(m.group(1)) - 1 for m in _AUDIO_MENTION.finditer(prompt)]
    order = list(dict.fromkeys([i for i in named if i < len(references)] + list(range(len(references)))))
    mix = clip.samples.astype(np.float32).copy()
    slot = len(mix) / len(order)
    for position, index in enumerate(order):
        start = int(position * slot)
        sound = references[index].samples[: len(mix) - start]
        mix[start : start + len(sound)] += 0.8 * sound
    return Clip(normalize(mix), clip.rate)


def adjusted(clip: Clip, fields: RequestFields) -> Clip:
    """Seed Audio's relative rates: pace (`speechRate`) and pitch (`pitchRate`) move together, as a
    varispeed does, and `loudnessRate` scales the level. A slowed effect still ends by `MAX_SECONDS`."""
    factor = (1.0 + (fields.speech_rate or 0) / 100.0) * 2.0 ** ((fields.pitch_rate or 0) / 12.0)
    samples = clip.samples
    if abs(factor - 1.0) > 1e-6:
        positions = np.arange(0.0, len(samples) - 1, factor)
        samples = np.interp(positions, np.arange(len(samples)), samples).astype(np.float32)
        samples = samples[: round(MAX_SECONDS * clip.rate)]
    loudness = 1.0 + (fields.loudness_rate or 0) / 100.0
    return Clip(np.clip(samples * loudness, -1.0, 1.0).astype(np.float32), clip.rate)


class SoundEffectEngine:
    """sound_effect: a procedural effect shaped by the prompt's keywords (see the module docstring)."""

    name = "procedural-sound-effects"

    def run(self, request: EngineRequest, context: RunContext) -> list[Artifact]:
        fields = request.fields
        prompt = (fields.prompt_text or "").strip()
        if not prompt:
            raise Failure("INPUT.INVALID", "promptText: must not be empty")
        duration = fields.seconds
        if duration is not None and not MIN_SECONDS <= duration <= MAX_SECONDS:
            raise Failure("INPUT.INVALID", f"duration: must be between {MIN_SECONDS} and {MAX_SECONDS}")
        references = [
            decode(request.asset(str(uri)), RATE, f"referenceAudios[{index}]")
            for index, uri in enumerate(fields.reference_audios)
        ]
        variants = fields.num_variants or 1
        output_format = fields.output_format or fields.format or "mp3"
        context.progress(0.0)
        artifacts = []
        for variant in range(variants):

            def report(fraction: float, done: int = variant) -> None:
                context.progress(0.9 * (done + fraction) / variants)

            clip = render(
                prompt,
                request.seed + variant,
                duration,
                bool(fields.loop),
                progress=report,
                avoid=fields.negative_prompt or "",
            )
            clip = adjusted(with_references(clip, prompt, references), fields)
            name = "sound_effect" if variants == 1 else f"sound_effect_{variant + 1}"
            artifacts.append(delivered(clip, output_format, fields.sample_rate, name))
        context.progress(1.0)
        return artifacts
