"""Catalog entries. Add a model here and validation, pricing, docs and the CLI listing follow."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal

from taxiway.catalog.fields import ContentModeration, Seed, prompt_text, reference_images


class OutputKind(StrEnum):
    IMAGE = "image"
    VIDEO = "video"
    AUDIO = "audio"


@dataclass(frozen=True)
class Price:
    """Credits for one task: a flat amount per image or per second, optionally by ratio."""

    per_image: int = 0
    per_second: float = 0.0
    by_ratio: Mapping[str, int] = field(default_factory=dict)

    def credits(self, params: Mapping[str, Any]) -> int:
        if self.by_ratio and params.get("ratio") in self.by_ratio:
            return self.by_ratio[params["ratio"]]
        if self.per_second:
            return math.ceil(self.per_second * float(params.get("duration") or 0))
        return self.per_image

    def describe(self) -> str:
        if self.by_ratio:
            amounts = sorted(set(self.by_ratio.values()))
            return "/".join(str(a) for a in amounts) + " credits per image (by ratio)"
        if self.per_second:
            return f"{self.per_second:g} credits per second"
        return f"{self.per_image} credits per image"


@dataclass(frozen=True)
class ModelSpec:
    """One model as one endpoint serves it."""

    id: str
    endpoint: str
    output: OutputKind
    price: Price
    engine: str
    ratios: tuple[str, ...] = ()
    # Extra request fields beyond `model`: name -> (annotation, default or ... when required).
    fields: Mapping[str, tuple[Any, Any]] = field(default_factory=dict)
    description: str = ""

    def estimated_credits(self, params: Mapping[str, Any]) -> int:
        return self.price.credits(params)

    @staticmethod
    def size_of(ratio: str) -> tuple[int, int]:
        width, height = ratio.split(":")
        return int(width), int(height)


@dataclass(frozen=True)
class EndpointSpec:
    name: str
    summary: str
    models: tuple[ModelSpec, ...]

    @property
    def path(self) -> str:
        return f"/v1/{self.name}"


GEN4_IMAGE_1080P = (
    "1920:1080", "1080:1920", "1024:1024", "1360:768", "1080:1080",
    "1168:880", "1440:1080", "1080:1440", "1808:768", "2112:912",
)  # fmt: skip
GEN4_IMAGE_720P = ("1280:720", "720:1280", "720:720", "960:720", "720:960", "1680:720")
GEMINI_FLASH_RATIOS = (
    "1344:768", "768:1344", "1024:1024", "1184:864", "864:1184",
    "1536:672", "832:1248", "1248:832", "896:1152", "1152:896",
)  # fmt: skip


def _ratio_field(ratios: tuple[str, ...]) -> Any:
    return Literal[ratios]


TEXT_TO_IMAGE = EndpointSpec(
    name="text_to_image",
    summary="Generate an image from a text prompt and optional reference images.",
    models=(
        ModelSpec(
            id="gen4_image",
            endpoint="text_to_image",
            output=OutputKind.IMAGE,
            engine="procedural-image",
            ratios=GEN4_IMAGE_1080P + GEN4_IMAGE_720P,
            price=Price(by_ratio={**dict.fromkeys(GEN4_IMAGE_720P, 5), **dict.fromkeys(GEN4_IMAGE_1080P, 8)}),
            fields={
                "prompt_text": (prompt_text(1000), ...),
                "ratio": (_ratio_field(GEN4_IMAGE_1080P + GEN4_IMAGE_720P), ...),
                "reference_images": (reference_images(0, 3) | None, None),
                "content_moderation": (ContentModeration | None, None),
                "seed": (Seed | None, None),
            },
            description="Runway Gen-4 Image: 5 credits at 720p ratios, 8 at 1080p ratios.",
        ),
        ModelSpec(
            id="gen4_image_turbo",
            endpoint="text_to_image",
            output=OutputKind.IMAGE,
            engine="procedural-image",
            ratios=GEN4_IMAGE_1080P + GEN4_IMAGE_720P,
            price=Price(per_image=2),
            fields={
                "prompt_text": (prompt_text(1000), ...),
                "ratio": (_ratio_field(GEN4_IMAGE_1080P + GEN4_IMAGE_720P), ...),
                "reference_images": (reference_images(1, 3), ...),
                "content_moderation": (ContentModeration | None, None),
                "seed": (Seed | None, None),
            },
            description="Runway Gen-4 Image Turbo: 1 to 3 reference images required, 2 credits.",
        ),
        ModelSpec(
            id="gemini_2.5_flash",
            endpoint="text_to_image",
            output=OutputKind.IMAGE,
            engine="procedural-image",
            ratios=GEMINI_FLASH_RATIOS,
            price=Price(per_image=5),
            fields={
                "prompt_text": (str, ...),
                "ratio": (_ratio_field(GEMINI_FLASH_RATIOS), ...),
                "reference_images": (reference_images(0, 3) | None, None),
            },
            description="Gemini 2.5 Flash Image: 5 credits.",
        ),
    ),
)

ENDPOINTS: Mapping[str, EndpointSpec] = {spec.name: spec for spec in (TEXT_TO_IMAGE,)}
CATALOG: Mapping[tuple[str, str], ModelSpec] = {
    (spec.name, model.id): model for spec in ENDPOINTS.values() for model in spec.models
}


def model_spec(endpoint: str, model_id: str) -> ModelSpec:
    return CATALOG[(endpoint, model_id)]
