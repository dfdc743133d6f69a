"""The offline speech_to_speech engine: the input's speech re-voiced as a preset (see `conversion.py`).

Words, timing and length are the input's; pitch range and vocal-tract size are the preset's. Video
media contribute their audio track. With `removeBackgroundNoise` the voice isolation engine's denoiser
runs first, when it is installed, so noise is not re-synthesized as if it were voice.
"""

from __future__ import annotations

import importlib
from typing import Any

from taxiway.engines.audio import codec, conversion
from taxiway.engines.audio.codec import Clip
from taxiway.engines.audio.text_to_speech import preset_id
from taxiway.engines.audio.voices import PRESETS
from taxiway.engines.base import Artifact, EngineRequest, RunContext
from taxiway.errors import Failure

# WORLD is run at this rate: all of speech's energy is below 12 kHz.
RATE = 24_000
# Quieter than this (RMS, about -60 dBFS) is silence, whatever the analysis finds in it.
SILENCE_RMS = 1e-3


def denoise(clip: Clip) -> Clip:
    """The isolation engine's denoiser; the clip unchanged where that module is not installed."""
    try:
        isolation: Any = importlib.import_module("taxiway.engines.audio.isolation")
    except ModuleNotFoundError:
        return clip
    cleaned = isolation.denoise(clip)
    assert isinstance(cleaned, Clip)
    return cleaned.at(clip.rate)


class SpeechToSpeechEngine:
    name = "offline-voice-conversion"

    def run(self, request: EngineRequest, context: RunContext) -> list[Artifact]:
        fields = request.fields
        voice = preset_id(fields)
        if voice not in PRESETS:
            raise Failure("INPUT.INVALID", f"voice: unknown preset {voice!r}")
        if fields.media is None:
            raise Failure("INPUT.INVALID", "media: an audio or video uri is required")
        context.progress(0.0)
        clip = codec.decode(request.asset(fields.media.uri), RATE, "media")
        context.progress(0.1)
        if fields.remove_background_noise:
            clip = denoise(clip)
            context.progress(0.3)
        if codec.rms(clip.samples) < SILENCE_RMS:
            raise Failure("ASSET.INVALID", "media: no speech found")
        try:
            converted = conversion.convert(clip, PRESETS[voice])
        except ValueError:
            raise Failure("ASSET.INVALID", "media: no speech found") from None
        context.progress(0.9)
        artifact = codec.artifact(converted, "speech")
        context.progress(1.0)
        return [artifact]
