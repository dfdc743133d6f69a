"""What engines read of a request: every field the catalog's models take, typed.

The catalog validates each body against its own model's schema (exact values, limits); engines then get
this one typed view of it (`EngineRequest.fields`), so they read `fields.prompt_text`, not
`params.get("promptText")`. A field a model does not take is None (or empty). It is strict on names: a
field added to the catalog must be added here too (a test holds the two together), or its tasks fail.
"""

from __future__ import annotations

from typing import Literal

from taxiway.catalog.fields import ContentModeration, ReferenceImage, StrictModel


class MediaRef(StrictModel):
    """An input given as an object: `{uri}`, `{type, uri}` or a keyframe's `{uri, position}`."""

    uri: str
    type: str | None = None
    position: Literal["first", "last"] | None = None


class PresetVoice(StrictModel):
    type: str
    preset_id: str


class RequestFields(StrictModel):
    model: str
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
    reference_images: tuple[ReferenceImage, ...] = ()
    references: tuple[MediaRef, ...] = ()
    reference_audio: tuple[MediaRef, ...] = ()
    reference_videos: tuple[MediaRef, ...] = ()
    character: MediaRef | None = None
    reference: MediaRef | None = None
    media: MediaRef | None = None
    voice: PresetVoice | None = None
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
