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
