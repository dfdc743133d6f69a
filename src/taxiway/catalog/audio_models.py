"""Audio models of the five audio endpoints, per the official SDK, accepting the seeds' older shapes (§21).

The SDK's shapes are canonical; the seeds' (`text`, `targetLanguage`, `audioUri` on speech_to_speech,
the live voices `clara`/`victoria`/`vincent` as TTS voices) are rewritten to them before validation, so
the mission documents' curl examples and the SDK both work.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import Field, create_model

from taxiway.catalog.fields import (
    ReferenceAudioVoice,
    Seed,
    StrictModel,
    Uri,
    int_range,
    listed,
    number_range,
    one_of,
    prompt_text,
)
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
    PriceSource,
)
from taxiway.catalog.voices import LIVE_PRESETS, TTS_PRESETS

# Languages the offline voices speak (`languageCode`); the TTS engine's own list must equal it.
TTS_LANGUAGES = ("en", "es", "fr", "it", "pt")
# Target languages of eleven_voice_dubbing, as the SDK lists them; which of them this machine reaches is
# the dubbing engine's business (`DubbingEngine.refusals`: a 400 naming `targetLang` at submission).
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
# The newer ElevenLabs models take the SDK's presets only; the seeds never named them.
SpeechPreset = create_model(
    "SpeechPreset",
    __base__=StrictModel,
    type=(one_of("runway-preset"), ...),
    preset_id=(one_of(*TTS_PRESETS), ...),
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
# Longest text the newer speech models take: the SDK documents none; taxiway's, as ElevenLabs' v3.
LONG_TEXT = 5000
UNIT = number_range(0, 1)
# The Seed Audio models' relative rates: the SDK documents no range; ByteDance's (speech and loudness
# -50 to 100 percent, pitch one octave either way in semitones).
PERCENT_RATE = int_range(-50, 100)
SEMITONES = int_range(-12, 12)
AUDIO_FORMATS = ("mp3", "ogg_opus", "wav")
SAMPLE_RATES = (8000, 16000, 24000, 32000, 44100, 48000)
SEED_AUDIO_RATES: Mapping[str, tuple[Any, Any]] = {
    "loudness_rate": (PERCENT_RATE | None, None),
    "output_format": (one_of(*AUDIO_FORMATS) | None, None),
    "pitch_rate": (SEMITONES | None, None),
    "sample_rate": (one_of(*SAMPLE_RATES) | None, None),
    "speech_rate": (PERCENT_RATE | None, None),
}
SEED_AUDIO_DEFAULTS = {"outputFormat": "mp3", "sampleRate": 24000}


def _eleven(id: str, extra: Mapping[str, tuple[Any, Any]], description: str) -> ModelSpec:
    return ModelSpec(
        id=id,
        endpoint="text_to_speech",
        output=OutputKind.AUDIO,
        engine="offline-tts",
        # Runway publishes no price for the newer ElevenLabs voices: ours, as Multilingual v2's.
        price=Price(source=PriceSource.TAXIWAY, characters_per_credit=50),
        fields={
            "prompt_text": (prompt_text(LONG_TEXT), ...),
            "voice": (SpeechPreset, ...),
            "language_code": (LanguageCode | None, None),
            "seed": (Seed | None, None),
            "similarity_boost": (UNIT | None, None),
            "speed": (number_range(0.7, 1.2) | None, None),
            "stability": (UNIT | None, None),
            "style": (UNIT | None, None),
            "use_speaker_boost": (bool | None, None),
            **extra,
        },
        checks=TTS_CHECKS,
        description=description,
    )


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
            price=Price(source=PriceSource.RUNWAY, characters_per_credit=50),
            fields={
                "prompt_text": (prompt_text(1000), ...),
                "voice": (PresetVoice, ...),
                "language_code": (LanguageCode | None, None),
            },
            checks=TTS_CHECKS,
            aliases=(Alias("text", "promptText"),),
            description="ElevenLabs Multilingual v2: 1 credit per 50 characters; MP3 out.",
        ),
        _eleven(
            "eleven_v3",
            {"apply_text_normalization": (one_of("auto", "on", "off") | None, None)},
            "ElevenLabs v3: 1 credit per 50 characters (ours); MP3 out. `speed` and `stability` shape the "
            "offline voice; the other voice settings are accepted.",
        ),
        _eleven(
            "eleven_v4",
            {"next_text": (str | None, None), "previous_text": (str | None, None)},
            "ElevenLabs v4: 1 credit per 50 characters (ours); MP3 out. `speed` and `stability` shape the "
            "offline voice; the other voice settings are accepted.",
        ),
        ModelSpec(
            id="seed_audio",
            endpoint="text_to_speech",
            output=OutputKind.AUDIO,
            engine="offline-tts",
            price=Price(source=PriceSource.TAXIWAY, characters_per_credit=100),
            fields={
                "prompt_text": (prompt_text(LONG_TEXT), ...),
                **SEED_AUDIO_RATES,
                "voice": (ReferenceAudioVoice | None, None),
            },
            defaults=SEED_AUDIO_DEFAULTS,
            # A voice is cloned from 10 s to 5 min of speech (the Voices API's bounds).
            assets=(AssetField("voice.audioUri", AssetKind.AUDIO, min_seconds=10, max_seconds=300),),
            description="ByteDance Seed Audio: 1 credit per 100 characters (ours); speaks in the voice of "
            "`voice.audioUri` (a clone of its pitch, timbre and pace) or a default voice.",
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
            price=Price(source=PriceSource.RUNWAY, by_length=((15.0, 1), (30.0, 2))),
            fields={
                "prompt_text": (prompt_text(), ...),
                "duration": (Annotated[float, Field(ge=0.5, le=30)] | None, None),
                "loop": (bool | None, None),
            },
            duration=Duration(auto_max=30, absent_is_auto=True),
            description="ElevenLabs Sound Effects v2: 1 credit up to 15 s, 2 up to 30 s; MP3 out.",
        ),
        ModelSpec(
            id="seed_audio",
            endpoint="sound_effect",
            output=OutputKind.AUDIO,
            engine="procedural-sound-effects",
            price=Price(source=PriceSource.TAXIWAY, by_length=((15.0, 2), (30.0, 4))),
            fields={
                "prompt_text": (prompt_text(), ...),
                **SEED_AUDIO_RATES,
                "reference_audios": (listed(Uri, 3) | None, None),
            },
            defaults=SEED_AUDIO_DEFAULTS,
            duration=Duration(auto_max=30, absent_is_auto=True),
            assets=(AssetField("referenceAudios[]", AssetKind.AUDIO, max_seconds=30),),
            description="ByteDance Seed Audio, text to audio: 2 credits up to 15 s, 4 up to 30 s (ours); the "
            "prompt's sounds, with `@Audio1`… the reference clips mixed in where the prompt names them.",
        ),
        ModelSpec(
            id="mirelo_sfx_2_0",
            endpoint="sound_effect",
            output=OutputKind.AUDIO,
            engine="procedural-sound-effects",
            price=Price(source=PriceSource.TAXIWAY, per_second=1 / 2),
            fields={
                "prompt_text": (prompt_text(), ...),
                # The SDK documents no bounds: taxiway's, as ElevenLabs' sound effects.
                "duration": (number_range(0.5, 30), ...),
                "format": (one_of("mp3", "wav", "flac") | None, None),
                "negative_prompt": (str | None, None),
                "num_variants": (int_range(1, 4) | None, None),
                "seed": (Seed | None, None),
            },
            defaults={"format": "mp3"},
            count_field="numVariants",
            description="Mirelo SFX 2.0: 1 credit per 2 s per variant (ours); `negativePrompt` leaves out "
            "the sounds it names.",
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
            price=Price(source=PriceSource.RUNWAY, per_second=1 / 6),
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
            price=Price(source=PriceSource.RUNWAY, per_second=1 / 2),
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
            price=Price(source=PriceSource.RUNWAY, per_second=1 / 3),
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
