"""What engines read of a request: every field the catalog's models take, typed.

The catalog validates each body against its own model's schema (exact values, limits); engines then get
this one typed view of it (`EngineRequest.fields`), so they read `fields.prompt_text`, not
`params.get("promptText")`. A field a model does not take is None (or empty). Names are strict: a field
added to the catalog must be declared here too (a test holds the two together), or its tasks fail.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from taxiway.catalog.fields import (
    ContentModeration,
    EditShotSettings,
    PlacedKeyframe,
    ReferenceAudioVoice,
    ReferenceImage,
    StrictModel,
    SubjectImage,
    TimedKeyframe,
)
from taxiway.catalog.media_models import PERSONA_KEY
from taxiway.errors import Failure


class MediaRef(StrictModel):
    """An input given as an object: `{uri}`, `{type, uri}`, a keyframe's `{uri, position}` (Kling's may be
    "middle") or a reference image's `{uri, subject, tag}`."""

    uri: str
    type: str | None = None
    position: Literal["first", "middle", "last"] | None = None
    subject: str | None = None
    tag: str | None = None


class PresetVoice(StrictModel):
    """text_to_speech and speech_to_speech's `voice`."""

    type: str
    preset_id: str


class AvatarChoice(StrictModel):
    """avatar_videos' `avatar`: a preset or one of the organization's avatars."""

    type: Literal["runway-preset", "custom"]
    preset_id: str | None = None
    avatar_id: str | None = None


class SpeechVoice(StrictModel):
    type: Literal["preset", "custom"]
    preset_id: str | None = None
    id: str | None = None


class Speech(StrictModel):
    """avatar_videos' `speech`: an audio file, or a text spoken in a voice."""

    type: Literal["audio", "text"]
    audio: str | None = None
    text: str | None = None
    voice: SpeechVoice | None = None


class PersonaVoice(StrictModel):
    preset: str | None = None
    custom: dict[str, Any] | None = None  # a custom voice's stored preset (`Preset.to_json`)


class Persona(StrictModel):
    """What the server resolved at submission for an avatar video (see `tasks.references`)."""

    image: str | None = None  # the blob key of the avatar's processed image; none for presets
    voice: PersonaVoice = PersonaVoice()


class RequestFields(StrictModel):
    model: str | None = None
    prompt_text: str | None = None
    negative_prompt: str | None = None
    ratio: str | None = None
    # Seconds; "auto" (or absent) leaves it to the model or to the input's length.
    duration: int | float | Literal["auto"] | None = None
    seed: int | None = None
    audio: bool | None = None
    # A bare URI (the first frame) or keyframes / reference images.
    prompt_image: str | tuple[MediaRef, ...] | None = None
    prompt_video: str | None = None
    video_uri: str | None = None
    audio_uri: str | None = None
    image_uri: str | None = None
    reference_images: tuple[ReferenceImage | SubjectImage, ...] = ()
    references: tuple[MediaRef, ...] = ()
    reference_audio: tuple[MediaRef, ...] = ()
    reference_videos: tuple[MediaRef, ...] = ()
    character: MediaRef | None = None
    reference: MediaRef | None = None
    media: MediaRef | None = None
    voice: PresetVoice | ReferenceAudioVoice | None = None
    avatar: AvatarChoice | None = None
    speech: Speech | None = None
    body_control: bool | None = None
    expression_intensity: int | None = None
    output_format: str | None = None
    prores_profile: str | None = None
    content_moderation: ContentModeration | None = None
    loop: bool | None = None
    language_code: str | None = None
    target_lang: str | None = None
    num_speakers: int | None = None
    disable_voice_cloning: bool | None = None
    drop_background_audio: bool | None = None
    remove_background_noise: bool | None = None
    # Upscaling and frame rates.
    scale_factor: int | None = None
    resolution: str | None = None
    flavor: str | None = None
    creativity: int | None = None
    sharpen: int | None = None
    smart_grain: int | None = None
    ultra_detail: int | None = None
    fps_boost: bool | None = None
    target_framerate: str | None = None
    # Audio outputs.
    format: str | None = None
    num_variants: int | None = None
    preserve_speech: bool | None = None
    # Newer models' knobs: counts, quality tiers, edits and voices.
    output_count: int | None = None
    quality: str | None = None
    background: str | None = None
    background_color: str | None = None
    colors: tuple[str, ...] = ()
    mask_uri: str | None = None
    precise_edit: bool | None = None
    edit: bool | None = None
    grounding: bool | None = None
    thinking_level: str | None = None
    mode: Literal["reference", "extend", "edit"] | None = None
    draft: bool | None = None
    draft_task_id: str | None = None
    keyframes: tuple[TimedKeyframe | PlacedKeyframe, ...] = ()
    target_aspect_ratio: str | None = None
    cfg_scale: float | None = None
    prompt_expansion_mode: str | None = None
    provider_settings: EditShotSettings | None = None
    # Speech and sound knobs (ElevenLabs, Seed Audio).
    stability: float | None = None
    similarity_boost: float | None = None
    style: float | None = None
    speed: float | None = None
    use_speaker_boost: bool | None = None
    apply_text_normalization: str | None = None
    previous_text: str | None = None
    next_text: str | None = None
    speech_rate: int | None = None
    pitch_rate: int | None = None
    loudness_rate: int | None = None
    sample_rate: int | None = None
    reference_audios: tuple[str, ...] = ()
    persona: Persona | None = Field(default=None, alias=PERSONA_KEY)

    @property
    def seconds(self) -> float | None:
        """`duration` in seconds; None when it is absent or "auto"."""
        value = self.duration
        return None if value is None or value == "auto" else float(value)

    def required(self, name: str) -> str:
        """A string field the model requires (an input's URI), or INPUT.INVALID naming it."""
        value = getattr(self, name)
        if not isinstance(value, str) or not value:
            alias = type(self).model_fields[name].alias or name
            raise Failure("INPUT.INVALID", f"{alias}: is required")
        return value
