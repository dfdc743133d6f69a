"""Reusable request-field types, matching the constraints the official SDK documents."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

SEED_MAX = 4_294_967_295


def utf16_length(value: str) -> int:
    """Length in UTF-16 code units, the unit the real API counts prompt limits in."""
    return len(value.encode("utf-16-le")) // 2


def prompt_text(max_units: int | None = None) -> Any:
    """A non-empty prompt, at most `max_units` UTF-16 code units when the model documents a limit."""
    if max_units is None:
        return Annotated[str, Field(min_length=1)]

    def check(value: str) -> str:
        size = utf16_length(value)
        if size > max_units:
            raise ValueError(f"must be at most {max_units} characters (UTF-16 code units), got {size}")
        return value

    limit: dict[str, Any] = {"maxLength": max_units, "description": f"1 to {max_units} UTF-16 code units"}
    return Annotated[str, Field(min_length=1, json_schema_extra=limit), AfterValidator(check)]


class StrictModel(BaseModel):
    """Request bodies are strict like the real API: unknown keys are refused, keys are camelCase."""

    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, populate_by_name=False, frozen=True)


class ContentModeration(StrictModel):
    public_figure_threshold: Literal["auto", "low"] | None = None


TAG_PATTERN = r"^[A-Za-z][A-Za-z0-9_]{2,15}$"


class ReferenceImage(StrictModel):
    uri: Annotated[str, Field(min_length=1, max_length=16_777_216)]
    tag: Annotated[str, Field(pattern=TAG_PATTERN)] | None = None


Seed = Annotated[int, Field(ge=0, le=SEED_MAX)]


def reference_images(min_items: int, max_items: int) -> Any:
    return Annotated[list[ReferenceImage], Field(min_length=min_items, max_length=max_items)]


Uri = Annotated[str, Field(min_length=1, max_length=16_777_216)]


class KeyframeFirst(StrictModel):
    uri: Uri
    position: Literal["first"]


class Keyframe(StrictModel):
    uri: Uri
    position: Literal["first", "last"]


class KeyframeOrReference(StrictModel):
    """seedance-style prompt image: with `position` a keyframe, without it a reference image."""

    uri: Uri
    position: Literal["first", "last"] | None = None


class ImageUri(StrictModel):
    uri: Uri


class TypedImage(StrictModel):
    type: Literal["image"]
    uri: Uri


class TypedVideo(StrictModel):
    type: Literal["video"]
    uri: Uri


class TypedAudio(StrictModel):
    type: Literal["audio"]
    uri: Uri


def prompt_image(item: type[StrictModel], max_items: int) -> Any:
    """A bare URI string (the first frame) or a list of keyframe/reference objects."""
    return Uri | Annotated[list[item], Field(min_length=1, max_length=max_items)]  # type: ignore[valid-type]


def listed(item: Any, max_items: int, min_items: int = 0) -> Any:
    return Annotated[list[item], Field(min_length=min_items, max_length=max_items)]


def int_range(low: int, high: int) -> Any:
    return Annotated[int, Field(ge=low, le=high)]


def one_of(*values: Any) -> Any:
    return Literal[values]


def number_range(low: float, high: float) -> Any:
    """A JSON number in [low, high] (strict JSON validation takes `1` as a number, never `true`)."""
    return Annotated[float, Field(ge=low, le=high)]


def output_count(high: int) -> Any:
    """How many outputs one request makes (`outputCount`, `numVariants`); each is billed."""
    return Annotated[int, Field(ge=1, le=high)]


# A colour as six hex digits, with or without the leading '#' ("FF8800", "#FF8800").
HexColor = Annotated[str, Field(pattern=r"^#?[0-9A-Fa-f]{6}$")]
# "W:H" in pixels, for the models whose `ratio` is a free string (aleph2, seedream5_lite).
PIXEL_RATIO_PATTERN = r"^[1-9][0-9]{1,4}:[1-9][0-9]{1,4}$"


class SubjectImage(StrictModel):
    """A Gemini reference image: a human (character consistency) or an object to include."""

    uri: Uri
    subject: Literal["object", "human"] | None = None
    tag: Annotated[str, Field(pattern=TAG_PATTERN)] | None = None


class LooseVideo(StrictModel):
    """A video reference whose item the SDK leaves untyped (kling_4): `{uri}`, `type` optional."""

    type: Literal["video"] | None = None
    uri: Uri


class KlingFrame(StrictModel):
    """kling_4's keyframes: a first frame, optional middle frames, an optional last frame."""

    uri: Uri
    position: Literal["first", "middle", "last"]


class PositionedImage(StrictModel):
    """A reference image that may also be a keyframe (Kling O3 `references`)."""

    uri: Uri
    position: Literal["first", "last"] | None = None


class PromptSegment(StrictModel):
    prompt: Annotated[str, Field(min_length=1)]
    duration: Annotated[int, Field(ge=1)]


class ShotSettings(StrictModel):
    """Kling's multishot settings: prompt segments with their own durations."""

    multi_prompt: Annotated[list[PromptSegment], Field(min_length=1)] | None = None
    shot_type: Literal["customize", "intelligence"] | None = None


class EditShotSettings(ShotSettings):
    """Kling O3 video-to-video: multishot settings, and whether the input's sound stays."""

    keep_original_sound: bool | None = None


class ReferenceAudioVoice(StrictModel):
    """seed_audio's voice: the speaker of a reference recording."""

    type: Literal["reference-audio"]
    audio_uri: Uri


class EditRange(BaseModel):
    """aleph2's edit window, in whole seconds; its keys are snake_case in the API too."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    start_seconds: Annotated[int, Field(ge=0)]
    end_seconds: Annotated[int, Field(ge=1)]


class TimedKeyframe(StrictModel):
    """A guidance image at an absolute time of the input video."""

    uri: Uri
    seconds: Annotated[float, Field(ge=0)]
    range: EditRange | None = None


class PlacedKeyframe(StrictModel):
    """A guidance image at a fraction of the input video's duration."""

    uri: Uri
    at: Annotated[float, Field(ge=0, le=1)]
    range: EditRange | None = None
