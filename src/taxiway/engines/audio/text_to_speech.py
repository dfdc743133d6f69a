"""The offline text_to_speech engine: a preset (or cloned) voice reads `promptText` (see `tts.py`).

The request's voice settings shape the voice where the offline voices can follow them: `speed` (ElevenLabs)
and `speechRate` (Seed Audio) set the pace, `pitchRate` moves the pitch in semitones, `loudnessRate` the
level, and `stability` how far the intonation may move (lower: livelier). `similarityBoost`, `style`,
`useSpeakerBoost`, `previousText` and `nextText` are accepted and have nothing to act on offline. Audio
tags (`[laughs]`) are stage directions, not words: they are left unspoken.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import numpy as np

from taxiway.catalog.fields import ReferenceAudioVoice
from taxiway.engines.audio import codec, tts, voice_clone
from taxiway.engines.audio.voices import Preset, preset
from taxiway.engines.base import Artifact, EngineRequest, RunContext
from taxiway.engines.fields import PresetVoice, RequestFields
from taxiway.errors import Failure

# Seed Audio's voice when the request names none.
DEFAULT_VOICE = "Maya"
_AUDIO_TAG = re.compile(r"\[[^\]]{1,40}\]")


def preset_id(fields: RequestFields) -> str:
    if not isinstance(fields.voice, PresetVoice):
        raise Failure("INPUT.INVALID", "voice: a runway-preset voice with a presetId is required")
    return fields.voice.preset_id


def shaped(voice: Preset, fields: RequestFields) -> Preset:
    """The voice with the request's pace, pitch and expressiveness applied."""
    speed = (fields.speed or 1.0) * (1.0 + (fields.speech_rate or 0) / 100.0)
    shift = 2.0 ** ((fields.pitch_rate or 0) / 12.0)
    low, high = voice.f0_range
    stability = 0.5 if fields.stability is None else fields.stability
    intonation = voice.intonation * (1.25 - 0.5 * stability)
    return replace(
        voice,
        speed=voice.speed * max(0.25, speed),
        f0_range=(low * shift, high * shift),
        intonation=max(0.0, intonation),
    )


def voice_for(request: EngineRequest, cache: Path) -> Preset:
    """The request's voice: a preset, or (Seed Audio) a clone of the reference recording's speaker."""
    fields = request.fields
    voice = fields.voice
    try:
        if isinstance(voice, ReferenceAudioVoice):
            sample = codec.decode(request.asset(voice.audio_uri), voice_clone.RATE, "voice.audioUri")
            return voice_clone.clone(sample, "reference", cache)
        return preset(DEFAULT_VOICE if voice is None else preset_id(fields))
    except voice_clone.SampleRejected as error:
        raise Failure("ASSET.INVALID", f"voice.audioUri: {error}") from None
    except KeyError:
        raise Failure("INPUT.INVALID", f"voice: unknown preset {preset_id(fields)!r}") from None


class TextToSpeechEngine:
    name = "offline-tts"

    def __init__(self, cache: Path) -> None:
        self.cache = cache  # the engine cache dir, where packaged models are assembled on first use

    def run(self, request: EngineRequest, context: RunContext) -> list[Artifact]:
        fields = request.fields
        text = _AUDIO_TAG.sub(" ", fields.prompt_text or "")
        language = fields.language_code
        context.progress(0.0)
        voice = shaped(voice_for(request, self.cache), fields)
        # Sentence k of n done -> progress k/n, leaving the last 5 % for the encode.
        try:
            clip = tts.synthesize(
                text,
                voice,
                language or None,
                cache=self.cache,
                on_sentence=lambda done, total: context.progress(0.95 * done / total),
            )
        except tts.UnsupportedLanguage as error:
            raise Failure("ASSET.INVALID", f"languageCode: {error}") from None
        except ValueError as error:
            raise Failure("INPUT.INVALID", f"promptText: {error}") from None
        loudness = 1.0 + (fields.loudness_rate or 0) / 100.0
        if loudness != 1.0:
            clip = codec.Clip(np.clip(clip.samples * loudness, -1.0, 1.0).astype(np.float32), clip.rate)
        artifact = codec.delivered(clip, fields.output_format or "mp3", fields.sample_rate, "speech")
        context.progress(1.0)
        return [artifact]
