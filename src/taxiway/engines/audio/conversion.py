"""Voice conversion with the WORLD vocoder: move speech toward a preset's pitch range and vocal tract.

WORLD splits speech into an F0 contour, a spectral envelope and aperiodicity, each per 5 ms frame. The
contour is re-centred on the preset's range in log-F0 (its median lands on the range's geometric centre,
its swings are kept, or narrowed to fit the range), the envelope is stretched along frequency by the
preset's formant factor (> 1: a smaller vocal tract), and the frames are re-synthesized. Words and
timing stay; with `stretch` the frames are resampled in time for a preset's speaking rate (TTS only).
This is pitch and timbre shifting, not cloning.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import threading
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import numpy.typing as npt

from taxiway.engines.audio.codec import Clip, FloatArray
from taxiway.engines.audio.voices import Preset

Float64Array = npt.NDArray[np.float64]

FRAME_MS = 5.0
# Below this many voiced frames (0.1 s) there is no speech to convert.
MIN_VOICED_FRAMES = 20

_world: ModuleType | None = None
_world_lock = threading.Lock()
# WORLD's synthesis draws its noise from a generator in C globals: one call at a time.
_synthesis_lock = threading.Lock()


def world() -> Any:
    """The compiled `pyworld` module. pyworld 0.3.5's package `__init__` imports `pkg_resources` only to
    read its own version, and setuptools no longer ships it; the extension itself needs nothing."""
    global _world
    with _world_lock:
        if _world is None:
            try:
                import pyworld

                _world = pyworld
            except ModuleNotFoundError as error:
                if error.name != "pkg_resources":
                    raise
                _world = _load_extension()
        return _world


def _load_extension() -> ModuleType:
    spec = importlib.util.find_spec("pyworld")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("pyworld is not installed", name="pyworld")
    folder = Path(next(iter(spec.submodule_search_locations)))
    binary = next(folder.glob("pyworld*.so"), None) or next(folder.glob("pyworld*.pyd"))
    loader = importlib.machinery.ExtensionFileLoader("pyworld.pyworld", str(binary))
    module_spec = importlib.util.spec_from_file_location("pyworld.pyworld", binary, loader=loader)
    assert module_spec is not None
    module = importlib.util.module_from_spec(module_spec)
    loader.exec_module(module)
    return module


@dataclass(frozen=True)
class Analysis:
    f0: Float64Array
    envelope: Float64Array
    aperiodicity: Float64Array
    rate: int
    length: int

    @property
    def voiced(self) -> int:
        return int(np.count_nonzero(self.f0 > 0))


def analyze(clip: Clip, f0_floor: float = 50.0, f0_ceil: float = 700.0) -> Analysis:
    """Harvest (robust against octave errors, unlike DIO), CheapTrick and D4C at the clip's rate. A
    narrower F0 search range, where the speaker is known, makes Harvest faster."""
    pw = world()
    x = clip.samples.astype(np.float64)
    f0, times = pw.harvest(x, clip.rate, f0_floor=f0_floor, f0_ceil=f0_ceil, frame_period=FRAME_MS)
    envelope = pw.cheaptrick(x, f0, times, clip.rate)
    aperiodicity = pw.d4c(x, f0, times, clip.rate)
    return Analysis(f0, envelope, aperiodicity, clip.rate, len(clip.samples))


def map_f0(f0: Float64Array, low: float, high: float, intonation: float = 1.0) -> Float64Array:
    """Voiced frames re-centred on the range's geometric centre in log-F0; a spread wider than a quarter
    of the range per standard deviation is narrowed to it, so the contour fits while keeping its shape."""
    voiced = f0 > 0
    out = np.zeros_like(f0)
    if not voiced.any():
        return out
    log_f0 = np.log(f0[voiced])
    centre = 0.5 * (np.log(low) + np.log(high))
    spread = float(np.std(log_f0))
    target_spread = (np.log(high) - np.log(low)) / 4.0
    scale = intonation * (min(1.0, target_spread / spread) if spread > 1e-6 else 1.0)
    out[voiced] = np.exp(centre + (log_f0 - float(np.median(log_f0))) * scale)
    return out


def warp_envelope(envelope: Float64Array, factor: float) -> Float64Array:
    """Stretch each frame's envelope along frequency: formants move by `factor`."""
    if abs(factor - 1.0) < 1e-6:
        return envelope
    bins = envelope.shape[1]
    source = np.minimum(np.arange(bins) / factor, bins - 1)
    below = np.floor(source).astype(np.int64)
    above = np.minimum(below + 1, bins - 1)
    weight = source - below
    warped = envelope[:, below] * (1.0 - weight) + envelope[:, above] * weight
    # Keep each frame's energy, so a larger tract does not also sound louder.
    ratio = envelope.sum(axis=1, keepdims=True) / np.maximum(warped.sum(axis=1, keepdims=True), 1e-20)
    return np.asarray(warped * ratio, dtype=np.float64)


def _stretch_frames(analysis: Analysis, stretch: float) -> tuple[Float64Array, Float64Array, Float64Array]:
    frames = len(analysis.f0)
    if abs(stretch - 1.0) < 1e-6:
        return analysis.f0, analysis.envelope, analysis.aperiodicity
    count = max(1, round(frames * stretch))
    index = np.minimum(np.round(np.arange(count) / stretch).astype(np.int64), frames - 1)
    return analysis.f0[index], analysis.envelope[index], analysis.aperiodicity[index]


def render(analysis: Analysis, preset: Preset, stretch: float = 1.0) -> FloatArray:
    """Re-synthesize `analysis` in the preset's voice; `stretch` > 1 is slower speech (1.0 keeps the
    length exactly, to the sample)."""
    f0, envelope, aperiodicity = _stretch_frames(analysis, stretch)
    low, high = preset.f0_range
    f0 = map_f0(f0, low, high, preset.intonation)
    envelope = warp_envelope(envelope, preset.formant)
    with _synthesis_lock:
        audio = world().synthesize(
            np.ascontiguousarray(f0),
            np.ascontiguousarray(envelope),
            np.ascontiguousarray(aperiodicity),
            analysis.rate,
            FRAME_MS,
        )
    length = analysis.length if abs(stretch - 1.0) < 1e-6 else round(analysis.length * stretch)
    out = np.zeros(length, dtype=np.float32)
    count = min(length, len(audio))
    out[:count] = audio[:count]
    return out


def convert(clip: Clip, preset: Preset) -> Clip:
    """The clip spoken in the preset's voice, same length and loudness; ValueError without speech."""
    analysis = analyze(clip)
    if analysis.voiced < MIN_VOICED_FRAMES:
        raise ValueError("no speech found")
    audio = render(analysis, preset)
    source_peak = float(np.max(np.abs(clip.samples)))
    peak = float(np.max(np.abs(audio)))
    if peak > 1e-6:
        audio = (audio * min(source_peak / peak, 0.99 / peak)).astype(np.float32)
    return Clip(audio, clip.rate)
