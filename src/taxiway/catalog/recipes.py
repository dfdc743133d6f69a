"""Recipes (`POST /v1/recipes/<name>`): request schemas per the SDK, and each recipe's plan as data.

A recipe is a composition of catalog calls. Its plan lists the calls a request makes (`Step`s, whose
inputs name the request's media or an earlier step's output as `step://<n>`); the price is the sum of
those calls' catalog prices, plus a recipe's own work where it does some (ad localization's text pass).
`engines/recipes.py` runs the plans with whatever engines serve those models, GPU ones included.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Annotated, Any, Literal, Union

from pydantic import Field, TypeAdapter, model_validator

from taxiway.catalog.fields import ImageUri, StrictModel, Uri
from taxiway.catalog.index import CATALOG
from taxiway.catalog.models import AssetField, AssetKind, ModelSpec, OutputKind, Price, PriceSource

ENDPOINT = "recipes"
VERSIONS = ("2026-06", "unsafe-latest")
Version = Literal["2026-06", "unsafe-latest"]
LANGUAGES = (
    "ar", "zh", "zh-Hant", "nl", "en", "fr", "de", "hi", "id", "it", "ja",
    "ko", "pl", "pt", "ru", "es", "sv", "th", "tr", "uk", "vi", "el",
)  # fmt: skip
SHOT_RATIOS = ("1280:720", "720:1280", "960:960", "1920:1080", "1080:1920", "1440:1440")
AD_RATIOS = (
    "1280:720",
    "720:1280",
    "960:960",
    "834:1112",
    "1920:1080",
    "1080:1920",
    "1440:1440",
    "1248:1664",
)
UGC_RATIOS = ("720:1280", "1080:1920")
# The text pass of ad localization (find, translate and re-set the text of one image).
LOCALIZATION_CREDITS = 5
# Images a campaign is delivered in: square, portrait feed, landscape banner, story.
CAMPAIGN_RATIOS = ("1080:1080", "1080:1440", "1920:1080", "1080:1920")
STOCK_QUALITY_RATIOS = {"low": "1280:720", "medium": "1440:1080", "high": "1920:1080"}
VIDEO_MODEL = "seedance2"
IMAGE_MODEL = "gen4_image"
SPEECH_MODEL = "eleven_multilingual_v2"
MAX_PROMPT = 3500

Prompt = Annotated[str, Field(min_length=1, max_length=MAX_PROMPT)]
Brief = Annotated[str, Field(max_length=MAX_PROMPT)]
VideoDuration = Annotated[int, Field(ge=4, le=15)]


class AdLocalization(StrictModel):
    reference_image: ImageUri
    target_language: Literal[LANGUAGES]  # type: ignore[valid-type]
    version: Version


class MarketingStockImage(StrictModel):
    prompt: Prompt
    version: Version
    output_count: Annotated[int, Field(ge=1, le=4)] | None = None
    quality: Literal["low", "medium", "high"] | None = None
    reference_image: ImageUri | None = None


class _Shots(StrictModel):
    version: Version
    audio: bool | None = None
    duration: Literal[5, 10, 15] | None = None
    first_frame: ImageUri | None = None
    ratio: Literal[SHOT_RATIOS] | None = None  # type: ignore[valid-type]


class MultiShotAuto(_Shots):
    mode: Literal["auto"]
    prompt: Prompt


class Shot(StrictModel):
    duration: Annotated[int, Field(ge=1, le=15)]
    prompt: Prompt


class MultiShotCustom(_Shots):
    mode: Literal["custom"]
    shots: Annotated[list[Shot], Field(min_length=3, max_length=5)]

    @model_validator(mode="after")
    def _shots_fill_the_duration(self) -> MultiShotCustom:
        total, wanted = sum(shot.duration for shot in self.shots), self.duration or 10
        if total != wanted:
            raise ValueError(f"shots: the shots' durations add up to {total} s, not the duration {wanted} s")
        return self


class ProductAd(StrictModel):
    product_images: Annotated[list[ImageUri], Field(min_length=1, max_length=10)]
    version: Literal["2026-06", "2026-07", "unsafe-latest"]
    audio: bool | None = None
    duration: VideoDuration | None = None
    product_info: Brief | None = None
    ratio: Literal[AD_RATIOS] | None = None  # type: ignore[valid-type]
    style_images: Annotated[list[ImageUri], Field(max_length=4)] | None = None
    user_concept: Brief | None = None


class ProductCampaignImage(StrictModel):
    image: ImageUri
    prompt: Prompt
    version: Version


class ProductView(StrictModel):
    uri: Uri
    view: Literal["front", "side", "back"] | None = None


class ProductSwap(StrictModel):
    new_product_images: Annotated[list[ProductView], Field(min_length=1, max_length=10)]
    original_product_image: ImageUri
    reference_video: ImageUri
    version: Version
    audio: bool | None = None
    duration: VideoDuration | None = None
    resolution: Literal["720p", "1080p"] | None = None


class ProductUgc(StrictModel):
    character_image: ImageUri
    product_image: ImageUri
    version: Version
    audio: bool | None = None
    duration: VideoDuration | None = None
    product_info: Brief | None = None
    ratio: Literal[UGC_RATIOS] | None = None  # type: ignore[valid-type]
    user_concept: Brief | None = None


MultiShotVideo = Annotated[Union[MultiShotAuto, MultiShotCustom], Field(discriminator="mode")]  # noqa: UP007


@dataclass(frozen=True)
class Step:
    """One catalog call of a plan; `step://<n>` in its params is the n-th step's first output."""

    endpoint: str
    model: str
    params: Mapping[str, Any]

    @property
    def spec(self) -> ModelSpec:
        return CATALOG[(self.endpoint, self.model)]


def step_uri(index: int) -> str:
    return f"step://{index}"


Plan = Callable[[Mapping[str, Any], int], list[Step]]


@dataclass(frozen=True)
class PlannedPrice(Price):
    """The sum of the plan's catalog prices (with its fields' defaults), plus the recipe's own work."""

    plan: Plan | None = None
    own_credits: int = 0

    def credits(self, params: Mapping[str, Any], seconds: float, pixels: int | None = None) -> int:
        assert self.plan is not None
        steps = self.plan(params, 0)
        return self.own_credits + sum(step.spec.estimated_credits(step.params) for step in steps)

    def describe(self) -> str:
        extra = f" + {self.own_credits} credits" if self.own_credits else ""
        return f"its steps' catalog prices{extra}"


def _image(prompt: str, ratio: str, seed: int, references: Sequence[tuple[str, str]] = ()) -> Step:
    params: dict[str, Any] = {"model": IMAGE_MODEL, "promptText": prompt[:1000], "ratio": ratio, "seed": seed}
    if references:
        params["referenceImages"] = [{"uri": uri, "tag": tag} for uri, tag in references[:3]]
    return Step("text_to_image", IMAGE_MODEL, params)


def _video(prompt: str, ratio: str, seconds: int, audio: bool, seed: int, first_frame: str | None) -> Step:
    params: dict[str, Any] = {"model": VIDEO_MODEL, "promptText": prompt, "ratio": ratio}
    params.update(duration=seconds, audio=audio, seed=seed)
    if first_frame is None:
        return Step("text_to_video", VIDEO_MODEL, params)
    return Step(
        "image_to_video", VIDEO_MODEL, {**params, "promptImage": [{"uri": first_frame, "position": "first"}]}
    )


def _with_tag(prompt: str, tags: list[str]) -> str:
    """A prompt that names its reference images, as gen4_image's `@tag` mentions do."""
    return f"{prompt} " + " ".join(f"@{tag}" for tag in tags) if tags else prompt


def plan_ad_localization(params: Mapping[str, Any], seed: int) -> list[Step]:
    return []  # one image's text pass, priced as the recipe's own work


def plan_marketing_stock_image(params: Mapping[str, Any], seed: int) -> list[Step]:
    ratio = STOCK_QUALITY_RATIOS[params.get("quality", "high")]
    logo = params.get("referenceImage")
    references = [(logo["uri"], "logo")] if logo else []
    prompt = _with_tag(str(params["prompt"]), ["logo"] if logo else [])
    return [
        _image(prompt, ratio, (seed + n) % 2**32, references) for n in range(params.get("outputCount", 4))
    ]


def shot_list(params: Mapping[str, Any]) -> list[tuple[str, int]]:
    """(prompt, seconds) per shot. `auto` cuts the story into 5 shots of equal length: its sentences
    spread over them in order, each framed as the next shot of a classic sequence."""
    if params["mode"] == "custom":
        return [(shot["prompt"], shot["duration"]) for shot in params["shots"]]
    sentences = [s.strip() for s in re.split(r"(?<=[.!?])\s+", str(params["prompt"])) if s.strip()]
    framing = ("Establishing wide shot", "Medium shot", "Close-up", "Detail shot", "Closing wide shot")
    seconds = params.get("duration", 10) // 5
    shots = []
    for index, frame in enumerate(framing):
        part = sentences[index * len(sentences) // 5 : (index + 1) * len(sentences) // 5] or sentences[-1:]
        shots.append((f"{frame}: {' '.join(part)}", seconds))
    return shots


def plan_multi_shot_video(params: Mapping[str, Any], seed: int) -> list[Step]:
    first = params.get("firstFrame")
    return [
        _video(
            prompt,
            params["ratio"],
            seconds,
            params["audio"],
            (seed + n) % 2**32,
            first["uri"] if first and n == 0 else None,
        )
        for n, (prompt, seconds) in enumerate(shot_list(params))
    ]


# The image ratio a storyboard frame is drawn at for each video ratio: gen4_image's nearest aspect.
FRAME_RATIOS = {
    "1280:720": "1920:1080", "1920:1080": "1920:1080", "720:1280": "1080:1920", "1080:1920": "1080:1920",
    "960:960": "1080:1080", "1440:1440": "1080:1080", "834:1112": "1080:1440", "1248:1664": "1080:1440",
}  # fmt: skip


def _brief(params: Mapping[str, Any], lead: str) -> str:
    parts = [lead, params.get("productInfo"), params.get("userConcept")]
    return ". ".join(str(part).strip().rstrip(".") for part in parts if part)[:MAX_PROMPT]


def plan_product_ad(params: Mapping[str, Any], seed: int) -> list[Step]:
    products = [image["uri"] for image in params["productImages"]]
    styles = [image["uri"] for image in params.get("styleImages", [])]
    references = [(products[0], "product"), *[(uri, f"style{n + 1}") for n, uri in enumerate(styles[:2])]]
    brief = _brief(params, "A product advertisement")
    frame = _image(
        _with_tag(brief, [tag for _uri, tag in references]), FRAME_RATIOS[params["ratio"]], seed, references
    )
    clip = _video(brief, params["ratio"], params["duration"], params["audio"], seed, step_uri(0))
    return [frame, clip]


def plan_product_campaign_image(params: Mapping[str, Any], seed: int) -> list[Step]:
    prompt = _with_tag(str(params["prompt"]), ["product"])
    references = [(params["image"]["uri"], "product")]
    return [_image(prompt, ratio, (seed + n) % 2**32, references) for n, ratio in enumerate(CAMPAIGN_RATIOS)]


SWAP_SIZES = {"720p": 720, "1080p": 1080}


def plan_product_swap(params: Mapping[str, Any], seed: int) -> list[Step]:
    references = [{"uri": image["uri"]} for image in params["newProductImages"][:9]]
    prompt = "Replace the product in the video with the product of the reference images, keeping the motion"
    step = {
        "model": VIDEO_MODEL, "promptVideo": params["referenceVideo"]["uri"], "promptText": prompt,
        "references": references, "duration": params["duration"], "audio": params["audio"], "seed": seed,
    }  # fmt: skip
    return [Step("video_to_video", VIDEO_MODEL, step)]


def ugc_script(params: Mapping[str, Any]) -> str:
    """What the character says: the user's concept when it is given, else lines about the product."""
    if params.get("userConcept"):
        return str(params["userConcept"])[:1000]
    product = str(params.get("productInfo") or "this").strip().rstrip(".")
    return (
        f"Okay, I have to show you {product}. I've been using it every day, and honestly, I love it. Try it!"[
            :1000
        ]
    )


def plan_product_ugc(params: Mapping[str, Any], seed: int) -> list[Step]:
    references = [(params["characterImage"]["uri"], "creator"), (params["productImage"]["uri"], "product")]
    prompt = _brief(params, "A creator filming a selfie video, holding the product up to the camera")
    steps = [
        _image(_with_tag(prompt, ["creator", "product"]), FRAME_RATIOS[params["ratio"]], seed, references),
        _video(prompt, params["ratio"], params["duration"], False, seed, step_uri(0)),
    ]
    if params["audio"]:
        speech = {
            "model": SPEECH_MODEL,
            "promptText": ugc_script(params),
            "voice": {"type": "runway-preset", "presetId": "Maya"},
        }
        steps.append(Step("text_to_speech", SPEECH_MODEL, speech))
    return steps


@dataclass(frozen=True)
class Recipe:
    name: str
    summary: str
    request: Any
    spec: ModelSpec
    plan: Plan = field(repr=False)
    versions: tuple[str, ...] = VERSIONS

    @property
    def path(self) -> str:
        return f"/v1/{ENDPOINT}/{self.name}"


def _recipe(
    name: str,
    summary: str,
    request: Any,
    plan: Plan,
    output: OutputKind,
    assets: tuple[AssetField, ...],
    defaults: Mapping[str, Any] | None = None,
    own_credits: int = 0,
    versions: tuple[str, ...] = VERSIONS,
) -> Recipe:
    spec = ModelSpec(
        id=name,
        endpoint=ENDPOINT,
        output=output,
        # Runway publishes recipes' estimates per request only: the sum of the steps' prices is ours.
        price=PlannedPrice(source=PriceSource.TAXIWAY, plan=plan, own_credits=own_credits),
        engine="recipe",
        defaults=defaults or {},
        assets=assets,
        description=summary,
    )
    return Recipe(name, summary, request, spec, plan, versions)


def _image_field(path: str, **rules: Any) -> AssetField:
    return AssetField(path, AssetKind.IMAGE, **rules)


VIDEO_DEFAULTS = {"duration": 10, "audio": True}
RECIPES: Mapping[str, Recipe] = {
    recipe.name: recipe
    for recipe in (
        _recipe(
            "ad_localization",
            "An ad image with its text translated to `targetLanguage` and set back in place.",
            AdLocalization,
            plan_ad_localization,
            OutputKind.IMAGE,
            (_image_field("referenceImage.uri"),),
            own_credits=LOCALIZATION_CREDITS,
        ),
        _recipe(
            "marketing_stock_image",
            "1 to 4 marketing images from a brief, optionally with a brand logo.",
            MarketingStockImage,
            plan_marketing_stock_image,
            OutputKind.IMAGE,
            (_image_field("referenceImage.uri"),),
            defaults={"outputCount": 4, "quality": "high"},
        ),
        _recipe(
            "multi_shot_video",
            "A video cut together from 3 to 5 shots, planned from a story (`auto`) or given (`custom`).",
            MultiShotVideo,
            plan_multi_shot_video,
            OutputKind.VIDEO,
            (_image_field("firstFrame.uri"),),
            defaults={"duration": 10, "ratio": "1280:720", "audio": True},
        ),
        _recipe(
            "product_ad",
            "A product video ad: a storyboard frame from the product and style images, then animated.",
            ProductAd,
            plan_product_ad,
            OutputKind.VIDEO,
            (_image_field("productImages[].uri"), _image_field("styleImages[].uri")),
            defaults={**VIDEO_DEFAULTS, "ratio": "1280:720"},
            versions=("2026-06", "2026-07", "unsafe-latest"),
        ),
        _recipe(
            "product_campaign_image",
            "A campaign of four images (square, portrait, landscape, story) keeping the product.",
            ProductCampaignImage,
            plan_product_campaign_image,
            OutputKind.IMAGE,
            (_image_field("image.uri"),),
        ),
        _recipe(
            "product_swap",
            "The reference video with its product replaced by the new product, at the requested length.",
            ProductSwap,
            plan_product_swap,
            OutputKind.VIDEO,
            (
                _image_field("newProductImages[].uri"),
                _image_field("originalProductImage.uri"),
                AssetField("referenceVideo.uri", AssetKind.VIDEO, min_seconds=1.8, max_seconds=15),
            ),
            defaults={**VIDEO_DEFAULTS, "resolution": "720p"},
        ),
        _recipe(
            "product_ugc",
            "A creator-style selfie video of the character presenting the product, with spoken script.",
            ProductUgc,
            plan_product_ugc,
            OutputKind.VIDEO,
            (
                _image_field("characterImage.uri", min_aspect=0.4, max_aspect=4.0),
                _image_field("productImage.uri", min_aspect=0.4, max_aspect=4.0),
            ),
            defaults={**VIDEO_DEFAULTS, "duration": 15, "ratio": "720:1280"},
        ),
    )
}
RECIPE_SPECS: Mapping[tuple[str, str], ModelSpec] = {(ENDPOINT, r.name): r.spec for r in RECIPES.values()}


@cache
def request_adapter(name: str) -> TypeAdapter[Any]:
    return TypeAdapter(RECIPES[name].request)
