"""The media endpoints the current SDKs added: image upscaling, two video upscalers, sound for a video and
avatar videos, as the SDK's types declare them (runwayml 5.24.0, @runwayml/sdk 4.20.1).

Prices are Runway's where its public pricing gives them (`PriceSource.RUNWAY`: the Magnific upscalers),
taxiway's own otherwise (`PriceSource.TAXIWAY`), in line with the neighbouring models; each price says
which in its description, and so does the README's model table. Limits the SDK does not document
(lengths of inputs, `numVariants`, the avatar script's length) are taxiway's, chosen so an offline CPU
finishes a task in minutes; each is named where it is declared.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Annotated, Any, Literal

from pydantic import Field

from taxiway.catalog.fields import SEED_MAX, StrictModel, Uri, int_range, one_of, prompt_text
from taxiway.catalog.models import (
    AssetField,
    AssetKind,
    Duration,
    EndpointSpec,
    Measured,
    ModelSpec,
    OutputKind,
    Price,
    PriceSource,
)
from taxiway.catalog.video_models import VIDEO_UPSCALE
from taxiway.catalog.voices import LIVE_PRESETS

Problems = list[tuple[list[str | int], str]]

# ---- image_upscale ---------------------------------------------------------------------------------------

UPSCALE_FLAVORS = ("sublime", "photo", "photo_denoiser")
SCALE_FACTORS = (2, 4, 8, 16)
# The SDK's documented limits: each input side 300 to 8000 px, the output at most 25,300,000 pixels.
INPUT_SIDES = (300, 8000)
MAX_OUTPUT_PIXELS = 25_300_000
# Magnific's own defaults for the precision upscaler's finishing controls.
IMAGE_UPSCALE_DEFAULTS: Mapping[str, Any] = {
    "scaleFactor": 2, "flavor": "photo", "sharpen": 7, "smartGrain": 7, "ultraDetail": 30,
}  # fmt: skip
# Runway charges 25 credits an image and 150 for an output "over 4096 px"; taxiway reads that as more
# pixels than a 4096 x 4096 picture (the price is settled before the input's sides are known).
LARGE_OUTPUT_PIXELS = 4096 * 4096


def _scale(params: Mapping[str, Any]) -> int:
    return int(params.get("scaleFactor") or IMAGE_UPSCALE_DEFAULTS["scaleFactor"])


def upscale_limits(params: Mapping[str, Any], measured: Measured) -> Problems:
    """The SDK's pixel limits, on the measured input and the output its `scaleFactor` makes."""
    width, height = measured.width or 0, measured.height or 0
    low, high = INPUT_SIDES
    if not (low <= width <= high and low <= height <= high):
        message = f"imageUri: each side must be {low} to {high} pixels, got {width}x{height}"
        return [(["imageUri"], message)]
    scale = _scale(params)
    pixels = width * scale * height * scale
    if pixels > MAX_OUTPUT_PIXELS:
        largest = max((s for s in SCALE_FACTORS if width * s * height * s <= MAX_OUTPUT_PIXELS), default=None)
        hint = f"; at most {largest} for this image" if largest else ""
        message = (
            f"scaleFactor: {scale} would make {width * scale}x{height * scale} ({pixels:,} pixels) of the "
            f"{width}x{height} imageUri; the output may have at most {MAX_OUTPUT_PIXELS:,} pixels{hint}"
        )
        return [(["scaleFactor"], message)]
    return []


@dataclass(frozen=True)
class ImageUpscalePrice(Price):
    """Credits for one upscaled image, by the output's size; `pixels` are the input's (None: unknown)."""

    base: int = 25
    large: int = 150
    source: PriceSource = PriceSource.RUNWAY

    def credits(self, params: Mapping[str, Any], seconds: float, pixels: int | None = None) -> int:
        if pixels is None:
            return self.large  # held at the larger price until the input is measured
        return self.large if pixels * _scale(params) ** 2 > LARGE_OUTPUT_PIXELS else self.base

    def describe(self) -> str:
        return f"{self.base} credits per image, {self.large} over 4096x4096 px out"


@dataclass(frozen=True)
class OutputPricedSpec(ModelSpec):
    """A model whose price follows what the output turned out to be (its size, its length): held at the
    estimate, charged the output's price. `per_output` multiplies both (`numVariants`)."""

    def final_credits(
        self, params: Mapping[str, Any], output_seconds: float | None, output_pixels: int | None = None
    ) -> int:
        estimate = self.estimated_credits(params)
        effective = self.effective(params)
        if isinstance(self.price, ImageUpscalePrice):
            if output_pixels is None:
                return estimate
            input_pixels = output_pixels // _scale(effective) ** 2
            return min(estimate, self.price.credits(effective, 0.0, input_pixels))
        if output_seconds is None:
            return estimate
        return min(estimate, self.price.credits(effective, output_seconds, output_pixels))


IMAGE_UPSCALE = EndpointSpec(
    name="image_upscale",
    summary="Upscale an image by 2, 4, 8 or 16 (each input side 300 to 8000 px, at most 25.3 MP out).",
    output=OutputKind.IMAGE,
    models=(
        OutputPricedSpec(
            id="magnific_precision_upscaler_v2",
            endpoint="image_upscale",
            output=OutputKind.IMAGE,
            engine="precision-upscale",
            price=ImageUpscalePrice(),
            fields={
                "image_uri": (Uri, ...),
                "flavor": (one_of(*UPSCALE_FLAVORS) | None, None),
                "scale_factor": (one_of(*SCALE_FACTORS) | None, None),
                "sharpen": (int_range(0, 100) | None, None),
                "smart_grain": (int_range(0, 100) | None, None),
                "ultra_detail": (int_range(0, 100) | None, None),
            },
            duration=Duration(from_input="imageUri"),  # the price follows the input's size
            defaults=IMAGE_UPSCALE_DEFAULTS,
            assets=(AssetField("imageUri", AssetKind.IMAGE, measured=(upscale_limits,)),),
            description="Magnific Precision Upscaler v2: 25 credits an image, 150 above 4096x4096 px out.",
        ),
    ),
)

# ---- video_upscale: the Magnific creative upscaler and frame-rate enhancement ------------------------------

# Output picture height for a landscape input (width for a portrait one): 720p, 1080p, 1440p, 2160p.
VIDEO_RESOLUTIONS: Mapping[str, int] = {"720p": 720, "1k": 1080, "2k": 1440, "4k": 2160}
VIDEO_FLAVORS = ("vivid", "natural")
# Runway's per-frame prices for the creative upscaler, counted at 24 frames per second of output
# (`fpsBoost` doubles the frames).
CREDITS_PER_FRAME: Mapping[str, float] = {"720p": 0.7, "1k": 0.7, "2k": 0.9, "4k": 1.2}
PRICED_FPS = 24
# The SDK's `targetFramerate` values: whole rates, and the NTSC ones as 24000/1001 and so on.
TARGET_FRAMERATES: Mapping[str, tuple[int, int]] = {
    "24": (24, 1), "25": (25, 1), "30": (30, 1), "48": (48, 1), "50": (50, 1), "60": (60, 1),
    "120": (120, 1), "23_98": (24000, 1001), "29_97": (30000, 1001), "59_94": (60000, 1001),
}  # fmt: skip
# taxiway's limit on both upscalers' inputs (the SDK documents none): what 2 cores finish in minutes.
MAX_VIDEO_SECONDS = 30.0
CREATIVE_DEFAULTS: Mapping[str, Any] = {
    "resolution": "2k", "creativity": 0, "flavor": "natural", "fpsBoost": False,
    "sharpen": 0, "smartGrain": 0,
}  # fmt: skip


@dataclass(frozen=True)
class PerFramePrice(Price):
    """Credits per output frame by `resolution`, at PRICED_FPS frames a second; `fpsBoost` doubles."""

    by_resolution: Mapping[str, float] = field(default_factory=lambda: dict(CREDITS_PER_FRAME))
    source: PriceSource = PriceSource.RUNWAY

    def credits(self, params: Mapping[str, Any], seconds: float, pixels: int | None = None) -> int:
        rate = self.by_resolution[str(params.get("resolution", CREATIVE_DEFAULTS["resolution"]))]
        frames = round(seconds * PRICED_FPS) * (2 if params.get("fpsBoost") else 1)
        return max(1, math.ceil(rate * frames - 1e-9))

    def describe(self) -> str:
        rates = "/".join(f"{r:g}" for r in dict.fromkeys(self.by_resolution.values()))
        return f"{rates} credits per frame by resolution, 24 frames/s"


@dataclass(frozen=True)
class SourcedPrice(Price):
    """A plain per-second or per-image price that says where it comes from."""

    source: PriceSource = PriceSource.TAXIWAY
    # Each of the `count_field` outputs (`numVariants`) costs the price again; `count_label` names one.
    count_field: str = ""
    count_label: str = ""

    def credits(self, params: Mapping[str, Any], seconds: float, pixels: int | None = None) -> int:
        count = int(params.get(self.count_field) or 1) if self.count_field else 1
        return super().credits(params, seconds * count, pixels)

    def describe(self) -> str:
        each = f" per {self.count_label}" if self.count_label else ""
        return f"{super().describe()}{each}"


VIDEO_INPUT = (AssetField("videoUri", AssetKind.VIDEO, max_seconds=MAX_VIDEO_SECONDS),)
VIDEO_LENGTH = Duration(from_input="videoUri", max_input=MAX_VIDEO_SECONDS)

MAGNIFIC_VIDEO = OutputPricedSpec(
    id="magnific_video_upscaler_creative",
    endpoint="video_upscale",
    output=OutputKind.VIDEO,
    engine="creative-video-upscale",
    price=PerFramePrice(),
    fields={
        "video_uri": (Uri, ...),
        "creativity": (int_range(0, 100) | None, None),
        "flavor": (one_of(*VIDEO_FLAVORS) | None, None),
        "fps_boost": (bool | None, None),
        "resolution": (one_of(*VIDEO_RESOLUTIONS) | None, None),
        "sharpen": (int_range(0, 100) | None, None),
        "smart_grain": (int_range(0, 100) | None, None),
    },
    duration=VIDEO_LENGTH,
    defaults=CREATIVE_DEFAULTS,
    assets=VIDEO_INPUT,
    description="Magnific Creative Video Upscaler: 0.7 credits a frame up to 1k, 0.9 at 2k, 1.2 at 4k; "
    "inputs up to 30 s.",
)

ENHANCE_FRAME_RATE = OutputPricedSpec(
    id="enhance_frame_rate",
    endpoint="video_upscale",
    output=OutputKind.VIDEO,
    engine="motion-interpolation",
    price=SourcedPrice(per_second=2),
    fields={"video_uri": (Uri, ...), "target_framerate": (one_of(*TARGET_FRAMERATES), ...)},
    duration=VIDEO_LENGTH,
    assets=VIDEO_INPUT,
    description="Frame-rate enhancement by motion-compensated interpolation: 2 credits per second of video "
    "(taxiway's price, as upscale_v1's); inputs up to 30 s.",
)

VIDEO_UPSCALE_ALL = replace(
    VIDEO_UPSCALE,
    summary="Upscale a video (Magnific creative, or 4x with upscale_v1) or raise its frame rate.",
    models=(MAGNIFIC_VIDEO, ENHANCE_FRAME_RATE, *VIDEO_UPSCALE.models),
)

# ---- video_to_audio -------------------------------------------------------------------------------------

AUDIO_FORMATS = ("mp3", "wav", "flac")
# taxiway's bounds (the SDK types `duration` as a number and `numVariants` as an integer, no range).
SFX_SECONDS = (1.0, 30.0)
MAX_VARIANTS = 4

VIDEO_TO_AUDIO = EndpointSpec(
    name="video_to_audio",
    summary="Sound effects that follow a video's motion and cuts (audio out, not a new video).",
    output=OutputKind.AUDIO,
    in_node_sdk=False,  # runwayml 5.24.0 has `video_to_audio`; @runwayml/sdk 4.20.1 has no `videoToAudio`
    models=(
        OutputPricedSpec(
            id="mirelo_sfx_2_0",
            endpoint="video_to_audio",
            output=OutputKind.AUDIO,
            engine="motion-foley",
            price=SourcedPrice(per_second=0.2, count_field="numVariants", count_label="variant"),
            fields={
                "video_uri": (Uri, ...),
                "duration": (Annotated[float, Field(ge=SFX_SECONDS[0], le=SFX_SECONDS[1])], ...),
                "format": (one_of(*AUDIO_FORMATS) | None, None),
                "negative_prompt": (prompt_text(1000) | None, None),
                "num_variants": (int_range(1, MAX_VARIANTS) | None, None),
                "preserve_speech": (bool | None, None),
                "prompt_text": (prompt_text(1000) | None, None),
                "seed": (int_range(0, SEED_MAX) | None, None),
            },
            defaults={"format": "mp3", "numVariants": 1, "preserveSpeech": True},
            assets=(AssetField("videoUri", AssetKind.VIDEO, max_seconds=MAX_VIDEO_SECONDS),),
            description="Mirelo SFX 2.0: 1 credit per 5 s of audio per variant; 1 to 30 s, up to 4 variants.",
        ),
    ),
)

# ---- avatar_videos -------------------------------------------------------------------------------------

AVATAR_PRESETS = (
    "game-character", "music-superstar", "game-character-man", "cat-character", "influencer",
    "tennis-coach", "human-resource", "fashion-designer", "cooking-teacher",
)  # fmt: skip
# taxiway's limits on the speech (the SDK documents none): two minutes of video.
MAX_SPEECH_SECONDS = 120.0
MAX_SCRIPT_CHARACTERS = 2000
# A script is priced before it is spoken at this many characters a second (slow voices read about 11).
SCRIPT_CHARACTERS_PER_SECOND = 8.0


class AvatarPreset(StrictModel):
    type: Literal["runway-preset"]
    preset_id: one_of(*AVATAR_PRESETS)  # type: ignore[valid-type]


class AvatarCustom(StrictModel):
    type: Literal["custom"]
    avatar_id: Annotated[str, Field(min_length=1)]


class VoicePreset(StrictModel):
    type: Literal["preset"]
    preset_id: one_of(*LIVE_PRESETS)  # type: ignore[valid-type]


class VoiceCustom(StrictModel):
    type: Literal["custom"]
    id: Annotated[str, Field(min_length=1)]


class SpeechAudio(StrictModel):
    type: Literal["audio"]
    audio: Uri


class SpeechText(StrictModel):
    type: Literal["text"]
    text: prompt_text(MAX_SCRIPT_CHARACTERS)  # type: ignore[valid-type]
    voice: Annotated[VoicePreset | VoiceCustom, Field(discriminator="type")] | None = None


@dataclass(frozen=True)
class SpeechLength(Duration):
    """A script is estimated from its length, an audio file by its measured length (held at the maximum
    until measured); either way the task is billed on the video's real length."""

    def estimate(self, params: Mapping[str, Any], input_seconds: float | None = None) -> float:
        speech = params.get("speech") or {}
        if speech.get("type") == "text":
            seconds = len(str(speech.get("text", ""))) / SCRIPT_CHARACTERS_PER_SECOND + 1.0
            return min(self.max_input or seconds, seconds)
        return super().estimate(params, input_seconds)


# The persona an avatar video is made with, resolved at submission (`tasks.references`): the avatar's
# processed image (a blob key) and the voice it speaks with.
PERSONA_KEY = "__persona"

AVATAR_VIDEOS = EndpointSpec(
    name="avatar_videos",
    summary="A video of an avatar speaking a script (text-to-speech) or an audio file.",
    output=OutputKind.VIDEO,
    models=(
        OutputPricedSpec(
            id="gwm1_avatars",
            endpoint="avatar_videos",
            output=OutputKind.VIDEO,
            engine="talking-avatar",
            price=SourcedPrice(per_second=1 / 3),
            fields={
                "avatar": (Annotated[AvatarPreset | AvatarCustom, Field(discriminator="type")], ...),
                "speech": (Annotated[SpeechAudio | SpeechText, Field(discriminator="type")], ...),
            },
            duration=SpeechLength(from_input="speech", max_input=MAX_SPEECH_SECONDS),
            assets=(
                AssetField("speech.audio", AssetKind.AUDIO, max_seconds=MAX_SPEECH_SECONDS),
                AssetField(f"{PERSONA_KEY}.image", AssetKind.IMAGE, internal=True),
            ),
            description="GWM-1 avatar video: 20 credits a minute, as a realtime session; up to 2 minutes.",
        ),
    ),
)

MEDIA_ENDPOINTS = (IMAGE_UPSCALE, VIDEO_TO_AUDIO, AVATAR_VIDEOS)
