"""The offline text_to_speech engine: a preset voice reads `promptText` (see `tts.py`)."""

from __future__ import annotations

from pathlib import Path

from taxiway.engines.audio import codec, tts
from taxiway.engines.base import Artifact, EngineRequest, RunContext
from taxiway.engines.fields import RequestFields
from taxiway.errors import Failure


def preset_id(fields: RequestFields) -> str:
    if fields.voice is None:
        raise Failure("INPUT.INVALID", "voice: a runway-preset voice with a presetId is required")
    return fields.voice.preset_id


class TextToSpeechEngine:
    name = "offline-tts"

    def __init__(self, cache: Path) -> None:
        self.cache = cache  # the engine cache dir, where packaged models are assembled on first use

    def run(self, request: EngineRequest, context: RunContext) -> list[Artifact]:
        fields = request.fields
        text = fields.prompt_text or ""
        voice = preset_id(fields)
        language = fields.language_code
        context.progress(0.0)
        # Sentence k of n done -> progress k/n, leaving the last 5 % for the MP3 encode.
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
        except KeyError:
            raise Failure("INPUT.INVALID", f"voice: unknown preset {voice!r}") from None
        except ValueError as error:
            raise Failure("INPUT.INVALID", f"promptText: {error}") from None
        artifact = codec.artifact(clip, "speech")
        context.progress(1.0)
        return [artifact]
