"""The bodies of `POST /v1/generate/{image,video,audio}` as the SDK declares them: a router's slug and
a model-agnostic input, which routing maps to the chosen model's own request."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from taxiway.catalog.voices import TTS_PRESETS
from taxiway.routing.data import Modality

Uri = Annotated[str, Field(min_length=1, max_length=16_777_216)]
Seed = Annotated[int, Field(ge=0, le=4_294_967_295)]
Prompt = Annotated[str, Field(min_length=1)]
PresetId = Literal[TTS_PRESETS]  # type: ignore[valid-type]
ImageAspect = Literal["16:9", "9:16", "1:1", "4:3", "3:4", "21:9", "2:3", "3:2", "4:5", "5:4"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class GenerateContentModeration(_Strict):
    publicFigureThreshold: Literal["auto", "low"] | None = None


class ImageReference(_Strict):
    uri: Uri


class ImageInput(_Strict):
    promptText: Prompt
    aspectRatio: ImageAspect | None = None
    contentModeration: GenerateContentModeration | None = None
    outputCount: Annotated[int, Field(ge=1, le=10)] | None = None
    referenceImages: Annotated[list[ImageReference], Field(max_length=16)] | None = None
    resolution: Literal["1k", "2k", "4k"] | None = None
    seed: Seed | None = None


class KeyframeRange(_Strict):
    start_seconds: Annotated[int, Field(ge=0)]
    end_seconds: Annotated[int, Field(ge=0)]


class KeyframeAtSeconds(_Strict):
    seconds: Annotated[float, Field(ge=0)]
    uri: Uri
    range: KeyframeRange | None = None


class KeyframeAt(_Strict):
    at: Annotated[float, Field(ge=0)]
    uri: Uri
    range: KeyframeRange | None = None


class VideoImage(_Strict):
    role: Literal["first", "last", "reference"]
    uri: Uri


class VideoVideo(_Strict):
    role: Literal["source", "reference"]
    uri: Uri


class AudioReference(_Strict):
    uri: Uri


class VideoInput(_Strict):
    aspectRatio: Literal["16:9", "9:16", "1:1", "4:3", "3:4", "21:9"] | None = None
    audio: bool | None = None
    contentModeration: GenerateContentModeration | None = None
    duration: Annotated[int, Field(ge=1, le=60)] | None = None
    keyframes: Annotated[list[KeyframeAtSeconds | KeyframeAt], Field(max_length=16)] | None = None
    negativePrompt: Prompt | None = None
    promptText: Prompt | None = None
    referenceAudio: Annotated[list[AudioReference], Field(max_length=9)] | None = None
    referenceImages: Annotated[list[VideoImage], Field(max_length=16)] | None = None
    referenceVideos: Annotated[list[VideoVideo], Field(max_length=9)] | None = None
    resolution: Literal["480p", "720p", "1080p", "4k"] | None = None
    seed: Seed | None = None

    def images(self, role: str) -> list[VideoImage]:
        return [image for image in self.referenceImages or () if image.role == role]

    def videos(self, role: str) -> list[VideoVideo]:
        return [video for video in self.referenceVideos or () if video.role == role]


class GeneratePresetVoice(_Strict):
    type: Literal["preset"]
    presetId: PresetId


class GenerateReferenceVoice(_Strict):
    type: Literal["reference-audio"]
    audioUri: Uri


class AudioInput(_Strict):
    promptText: Prompt
    type: Literal["speech", "audio"]
    duration: Annotated[float, Field(gt=0, le=600)] | None = None
    loop: bool | None = None
    referenceAudios: Annotated[list[AudioReference], Field(max_length=9)] | None = None
    voice: Annotated[GeneratePresetVoice | GenerateReferenceVoice, Field(discriminator="type")] | None = None


ConfigId = Annotated[str, Field(min_length=1, max_length=64, description="The slug of a saved Model Router")]


class ImageGenerate(_Strict):
    configId: ConfigId
    input: ImageInput


class VideoGenerate(_Strict):
    configId: ConfigId
    input: VideoInput


class AudioGenerate(_Strict):
    configId: ConfigId
    input: AudioInput


BODIES: dict[Modality, type[ImageGenerate | VideoGenerate | AudioGenerate]] = {
    Modality.IMAGE: ImageGenerate,
    Modality.VIDEO: VideoGenerate,
    Modality.AUDIO: AudioGenerate,
}

GenericInput = ImageInput | VideoInput | AudioInput


def plain(value: Any) -> Any:
    """A model as JSON-ready data without the fields left out."""
    return value.model_dump(mode="json", exclude_none=True) if isinstance(value, BaseModel) else value


def problems(given: GenericInput) -> list[tuple[list[str | int], str]]:
    """What the schema cannot say about a video input: one image per frame role, one source video,
    keyframes only with a source, and something to generate from. (path in the body, message)."""
    if not isinstance(given, VideoInput):
        return []
    found: list[tuple[list[str | int], str]] = []
    for role in ("first", "last"):
        if len(given.images(role)) > 1:
            found.append((["input", "referenceImages"], f"at most one image with role {role!r}"))
    if len(given.videos("source")) > 1:
        found.append((["input", "referenceVideos"], "at most one video with role 'source'"))
    if given.keyframes and not given.videos("source"):
        found.append((["input", "keyframes"], "keyframes guide a restyle: give a referenceVideos source"))
    if not (given.promptText or given.images("first") or given.images("last") or given.videos("source")):
        found.append((["input", "promptText"], "required without a first or last frame or a source video"))
    return found
