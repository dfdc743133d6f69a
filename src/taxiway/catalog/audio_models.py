"""Audio models of the five audio endpoints, per the official SDK, accepting the seeds' older shapes (§21).

The SDK's shapes are canonical; the seeds' (`text`, `targetLanguage`, `audioUri` on speech_to_speech,
the live voices `clara`/`victoria`/`vincent` as TTS voices) are rewritten to them before validation, so
the mission documents' curl examples and the SDK both work.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import Field, create_model

from taxiway.catalog.fields import StrictModel, Uri, one_of, prompt_text
from taxiway.catalog.models import (
    Alias,
    AssetField,
    AssetKind,
    Check,
    Duration,
    EndpointSpec,
    ModelSpec,
    OutputKind,
    Price,
)
from taxiway.catalog.voices import LIVE_PRESETS, TTS_PRESETS

# Languages the offline voices speak (`languageCode`); the TTS engine's own list must equal it.
TTS_LANGUAGES = ("en", "es", "fr", "it", "pt")
# Target languages of eleven_voice_dubbing, as the SDK lists them; which pairs run offline is the
# dubbing engine's business (an unsupported pair fails the task with ASSET.INVALID).
DUBBING_LANGUAGES = (
    "en", "hi", "pt", "zh", "es", "fr", "de", "ja", "ar", "ru", "ko", "id", "it", "nl", "tr",
    "pl", "sv", "fil", "ms", "ro", "uk", "el", "cs", "da", "fi", "bg", "hr", "sk", "ta",
)  # fmt: skip

ISOLATION_SECONDS = (4.6, 3600.0)
# The SDK sets no length limit for dubbing and speech-to-speech; these are taxiway's, for offline CPUs.
DUBBING_MAX_SECONDS = 600.0
STS_MAX_SECONDS = 600.0


PresetVoice = create_model(
    "PresetVoice",
    __base__=StrictModel,
    type=(one_of("runway-preset"), ...),
    preset_id=(one_of(*TTS_PRESETS, *LIVE_PRESETS), ...),
)


class SpeechMedia(StrictModel):
    type: Literal["audio", "video"]
    uri: Uri


# Any BCP 47-looking code is read (so the message below can name the languages); /openapi.json lists
# only the languages a voice speaks, as `language_spoken` refuses the rest.
_SPOKEN = "|".join("".join(f"[{c.upper()}{c}]" for c in code) for code in TTS_LANGUAGES)
SPOKEN_PATTERN = f"^(?:{_SPOKEN})(-[A-Za-z0-9]{{2,8}})*$"
LanguageCode = Annotated[
    str, Field(pattern=r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$", json_schema_extra={"pattern": SPOKEN_PATTERN})
]


def language_spoken(params: Mapping[str, Any]) -> list[tuple[list[str | int], str]]:
    code = params.get("languageCode")
    if code is None or code.split("-")[0].lower() in TTS_LANGUAGES:
        return []
    return [(["languageCode"], f"no voice speaks '{code}'; supported languages: {', '.join(TTS_LANGUAGES)}")]


TTS_CHECKS: tuple[Check, ...] = (language_spoken,)

TEXT_TO_SPEECH = EndpointSpec(
    name="text_to_speech",
    summary="Speak a text in a preset voice.",
    output=OutputKind.AUDIO,
    models=(
        ModelSpec(
            id="eleven_multilingual_v2",
            endpoint="text_to_speech",
            output=OutputKind.AUDIO,
            engine="offline-tts",
            price=Price(characters_per_credit=50),
            fields={
                "prompt_text": (prompt_text(1000), ...),
                "voice": (PresetVoice, ...),
                "language_code": (LanguageCode | None, None),
            },
            checks=TTS_CHECKS,
            aliases=(Alias("text", "promptText"),),
            description="ElevenLabs Multilingual v2: 1 credit per 50 characters; MP3 out.",
        ),
    ),
)

SOUND_EFFECT = EndpointSpec(
    name="sound_effect",
    summary="Generate a sound effect from a text description.",
    output=OutputKind.AUDIO,
    models=(
        ModelSpec(
            id="eleven_text_to_sound_v2",
            endpoint="sound_effect",
            output=OutputKind.AUDIO,
            engine="procedural-sound-effects",
            price=Price(by_length=((15.0, 1), (30.0, 2))),
            fields={
                "prompt_text": (prompt_text(), ...),
                "duration": (Annotated[float, Field(ge=0.5, le=30)] | None, None),
                "loop": (bool | None, None),
            },
            duration=Duration(auto_max=30, absent_is_auto=True),
            description="ElevenLabs Sound Effects v2: 1 credit up to 15 s, 2 up to 30 s; MP3 out.",
        ),
    ),
)

VOICE_ISOLATION = EndpointSpec(
    name="voice_isolation",
    summary="Isolate the voice in a recording, removing background noise.",
    output=OutputKind.AUDIO,
    models=(
        ModelSpec(
            id="eleven_voice_isolation",
            endpoint="voice_isolation",
            output=OutputKind.AUDIO,
            engine="deepfilternet-isolation",
            price=Price(per_second=1 / 6),
            fields={"audio_uri": (Uri, ...)},
            duration=Duration(from_input="audioUri", max_input=ISOLATION_SECONDS[1]),
            assets=(
                AssetField(
                    "audioUri",
                    AssetKind.AUDIO,
                    min_seconds=ISOLATION_SECONDS[0],
                    max_seconds=ISOLATION_SECONDS[1],
                    exclusive_min=True,
                ),
            ),
            aliases=(Alias("audioUrl", "audioUri"),),
            description="ElevenLabs Voice Isolator: 1 credit per 6 s of input; audio over 4.6 s, under 1 h.",
        ),
    ),
)

VOICE_DUBBING = EndpointSpec(
    name="voice_dubbing",
    summary="Dub speech into another language, timed to the source.",
    output=OutputKind.AUDIO,
    models=(
        ModelSpec(
            id="eleven_voice_dubbing",
            endpoint="voice_dubbing",
            output=OutputKind.AUDIO,
            engine="offline-dubbing",
            price=Price(per_second=1 / 2),
            fields={
                "audio_uri": (Uri, ...),
                "target_lang": (one_of(*DUBBING_LANGUAGES), ...),
                "disable_voice_cloning": (bool | None, None),
                "drop_background_audio": (bool | None, None),
                "num_speakers": (Annotated[int, Field(ge=1)] | None, None),
            },
            duration=Duration(from_input="audioUri", max_input=DUBBING_MAX_SECONDS),
            assets=(AssetField("audioUri", AssetKind.AUDIO, max_seconds=DUBBING_MAX_SECONDS),),
            aliases=(Alias("targetLanguage", "targetLang"),),
            description="ElevenLabs Dubbing: 1 credit per 2 s of input; MP3 out.",
        ),
    ),
)

SPEECH_TO_SPEECH = EndpointSpec(
    name="speech_to_speech",
    summary="Re-voice speech (audio, or a video's audio track) in a preset voice.",
    output=OutputKind.AUDIO,
    models=(
        ModelSpec(
            id="eleven_multilingual_sts_v2",
            endpoint="speech_to_speech",
            output=OutputKind.AUDIO,
            engine="offline-voice-conversion",
            price=Price(per_second=1 / 3),
            fields={
                "media": (SpeechMedia, ...),
                "voice": (PresetVoice, ...),
                "remove_background_noise": (bool | None, None),
            },
            duration=Duration(from_input="media", max_input=STS_MAX_SECONDS),
            assets=(AssetField("media.uri", None, max_seconds=STS_MAX_SECONDS),),
            aliases=(Alias("audioUri", "media.uri", {"type": "audio"}),),
            description="ElevenLabs Speech-to-Speech v2: 1 credit per 3 s of input; MP3 out.",
        ),
    ),
)

AUDIO_ENDPOINTS = (TEXT_TO_SPEECH, SOUND_EFFECT, VOICE_ISOLATION, VOICE_DUBBING, SPEECH_TO_SPEECH)
