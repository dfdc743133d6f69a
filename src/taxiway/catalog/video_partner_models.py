"""Video models of the other providers Runway serves: Kling, MiniMax (Hailuo, H3), Alibaba (HappyHorse,
Wan), Google's Gemini Omni and xAI's Grok Imagine, on text_to_video, image_to_video and video_to_video.

Each family is declared once and gives its members on each endpoint. The SDK types most of these
`duration`s as a bare integer; the ranges below are taxiway's, from what each provider's model makes
(Kling 3 to 15 s, Hailuo and H3 6 to 10 s…), and so are the prices: Runway publishes neither. Where the
SDK documents a range ("from 3 to 10") it is the SDK's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from taxiway.catalog.fields import (
    EditShotSettings,
    ImageUri,
    Keyframe,
    KeyframeFirst,
    KeyframeOrReference,
    KlingFrame,
    LooseVideo,
    PositionedImage,
    Seed,
    ShotSettings,
    TypedAudio,
    TypedVideo,
    Uri,
    int_range,
    listed,
    number_range,
    one_of,
    prompt_image,
    prompt_text,
)
from taxiway.catalog.models import (
    AssetField,
    AssetKind,
    Check,
    Duration,
    Framing,
    InputAudio,
    ModelSpec,
    Price,
    PriceSource,
)
from taxiway.catalog.rules import Problems, requires
from taxiway.catalog.video_base import (
    PROMPT_IMAGE,
    first_frame_required,
    keyframe_or_reference_mode,
    unique_positions,
    video_model,
)

KLING_4K_RATIOS = (
    "3840:2160", "2160:3840", "2880:2880",
)  # fmt: skip

HAPPYHORSE_RATIOS = (
    "1280:720", "720:1280", "960:960", "1108:832", "832:1108", "1920:1080", "1080:1920", "1440:1440",
    "1662:1248", "1248:1662",
)  # fmt: skip

KLING_25_RATIOS = (
    "1920:1080", "1440:1440", "1080:1920", "1280:720", "720:720", "720:1280",
)  # fmt: skip

KLING_PRO_RATIOS = (
    "1920:1080", "1080:1920", "1440:1440",
)  # fmt: skip

KLING_STANDARD_RATIOS = (
    "1280:720", "720:1280", "960:960",
)  # fmt: skip

GEMINI_OMNI_RATIOS = (
    "1280:720", "720:1280",
)  # fmt: skip

WAN_RATIOS = (
    "832:480", "720:544", "624:624", "544:720", "480:832", "1280:720", "1104:832", "960:960", "832:1104",
    "720:1280", "1920:1080", "1648:1248", "1440:1440", "1248:1648", "1080:1920",
)  # fmt: skip

GEMINI_OMNI_11_RATIOS = (
    "640:360", "360:640", "1280:720", "720:1280", "1920:1080", "1080:1920", "3840:2160", "2160:3840",
)  # fmt: skip

GROK_LITE_RATIOS = (
    "848:480", "480:848", "480:480", "640:480", "480:640", "720:480", "480:720", "1280:720", "720:1280",
    "720:720", "960:720", "720:960", "1088:720", "720:1088", "1904:1072", "1072:1904", "1424:1424",
    "1648:1232", "1232:1648", "1744:1152", "1152:1744",
)  # fmt: skip

KLING_4_RATIOS = (
    "1280:720", "720:1280", "940:940", "1460:624", "1920:1080", "1080:1920", "1440:1440", "2200:940",
)  # fmt: skip

HAILUO_ASPECTS = ("adaptive", "21:9", "16:9", "4:3", "1:1", "3:4", "9:16")
GROK_ASPECTS = ("1:1", "16:9", "9:16", "4:3", "3:4", "3:2", "2:3")
WAN_CHOICES = (*WAN_RATIOS, "auto_480p", "auto_720p", "auto_1080p")
AUTO_TIERS = ("auto_720p", "auto_1080p")

TEXT_TO_VIDEO, IMAGE_TO_VIDEO, VIDEO_TO_VIDEO = "text_to_video", "image_to_video", "video_to_video"
ENGINES = {
    TEXT_TO_VIDEO: "procedural-video",
    IMAGE_TO_VIDEO: "camera-move-video",
    VIDEO_TO_VIDEO: "restyle-video",
}

PROMPT = prompt_text()
IMAGE_REFERENCES = AssetField("references[].uri", AssetKind.IMAGE)


def reference_audio(total: float | None = 15, each: tuple[float, float] | None = None) -> AssetField:
    low, high = each or (None, None)
    return AssetField(
        "referenceAudio[].uri", AssetKind.AUDIO, min_seconds=low, max_seconds=high, total_seconds=total
    )


def reference_videos(total: float) -> AssetField:
    return AssetField("referenceVideos[].uri", AssetKind.VIDEO, total_seconds=total)


def input_video(field: str, max_seconds: float) -> AssetField:
    return AssetField(field, AssetKind.VIDEO, max_seconds=max_seconds)


def by_tiers(ratios: Sequence[str], tiers: Mapping[int, float], base: float) -> dict[str, float]:
    """Extra credits per second for the ratios above the base tier, by their pixels: `tiers` maps a
    minimum pixel count to the credits added from it up."""
    table: dict[str, float] = {}
    for ratio in ratios:
        width, _, height = ratio.partition(":")
        pixels = int(width) * int(height) if width.isdigit() and height.isdigit() else 0
        extra = max((credits for floor, credits in tiers.items() if pixels >= floor), default=base) - base
        if extra:
            table[ratio] = extra
    return table


# ---- cross-field rules ---------------------------------------------------------------------------------


def _segments(params: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    settings = params.get("providerSettings")
    segments = settings.get("multiPrompt") if isinstance(settings, Mapping) else None
    return [s for s in segments or () if isinstance(s, Mapping)]


def segments_total(params: Mapping[str, Any]) -> Problems:
    """Kling's multishot segments: 3 to 15 s in all, and `duration`, if given, must be their sum."""
    segments = _segments(params)
    if not segments:
        return []
    total = sum(int(s.get("duration", 0)) for s in segments)
    path: list[str | int] = ["providerSettings", "multiPrompt"]
    if not 3 <= total <= 15:
        return [(path, f"the segments' durations must add up to 3 to 15 seconds, got {total}")]
    if isinstance(params.get("duration"), int) and params["duration"] != total:
        return [(["duration"], f"must equal the multiPrompt segments' total ({total} s) when both are given")]
    return []


def shot_prompt(params: Mapping[str, Any]) -> Problems:
    """`promptText` is required with `shotType: intelligence`, and whenever there are no segments to say
    what to show (text-to-video only: an image says it on image-to-video)."""
    settings = params.get("providerSettings")
    shot = settings.get("shotType") if isinstance(settings, Mapping) else None
    if "promptText" in params:
        return []
    if shot == "intelligence":
        return [(["promptText"], "is required when providerSettings.shotType is 'intelligence'")]
    return []


def text_needs_prompt(params: Mapping[str, Any]) -> Problems:
    if "promptText" in params or _segments(params):
        return []
    return [(["promptText"], "is required unless providerSettings.multiPrompt describes the shots")]


def segment_duration(params: Mapping[str, Any]) -> Mapping[str, Any]:
    """Without `duration`, multishot video is as long as its segments, other video 5 s."""
    if "duration" in params:
        return {}
    segments = _segments(params)
    return {"duration": sum(int(s.get("duration", 0)) for s in segments) if segments else 5}


def _any_reference(params: Mapping[str, Any]) -> bool:
    return bool(params.get("references") or params.get("referenceVideos"))


def adaptive_needs_reference(params: Mapping[str, Any]) -> Problems:
    if params.get("ratio") == "adaptive" and not _any_reference(params):
        return [
            (
                ["ratio"],
                "'adaptive' needs image or video references; text-only requests take a concrete ratio",
            )
        ]
    return []


def keyframes_take_auto_ratio(params: Mapping[str, Any]) -> Problems:
    """Wan's keyframe mode follows the first frame's aspect, so it takes only an `auto_*` ratio."""
    images = params.get("promptImage")
    keyframed = isinstance(images, list) and any(isinstance(i, Mapping) and i.get("position") for i in images)
    ratio = params.get("ratio")
    if keyframed and ratio is not None and not str(ratio).startswith("auto_"):
        return [(["ratio"], "keyframe requests must use auto_480p, auto_720p or auto_1080p")]
    return []


def kling_frames(params: Mapping[str, Any]) -> Problems:
    """kling_4: one first frame, at most one last, any middle ones; 10 images at most, frames included."""
    images = params.get("promptImage")
    frames = (
        [i.get("position") for i in images if isinstance(i, Mapping)]
        if isinstance(images, list)
        else ["first"]
    )
    problems: Problems = []
    if frames.count("first") != 1 or frames.count("last") > 1:
        problems.append((["promptImage"], "needs exactly one 'first' frame and at most one 'last'"))
    total = len(frames) + len(params.get("references") or ())
    if total > 10:
        problems.append((["references"], f"at most 10 images in total, frames included; got {total}"))
    return problems


def grok_reference_cap(params: Mapping[str, Any]) -> Mapping[str, Any]:
    """Grok Imagine caps requests with image references at 720p."""
    if params.get("references") and params.get("resolution") == "1080p":
        return {"resolution": "720p"}
    return {}


# ---- builders ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Family:
    """What a model shares across endpoints: length, default size tier, price."""

    id: str
    name: str
    price: Price
    duration: Any  # the `duration` annotation
    default_duration: int
    tier: str | None = None

    def describe(self) -> str:
        return f"{self.name}: {self.price.describe()} ({self.price.source.value})."


def _model(
    family: Family,
    endpoint: str,
    fields: Mapping[str, tuple[Any, Any]],
    *,
    ratios: tuple[str, ...] = (),
    defaults: Mapping[str, Any] | None = None,
    assets: tuple[AssetField, ...] = (),
    checks: tuple[Check, ...] = (),
    framing: Framing | None = None,
    duration: Duration | None = None,
    input_audio: InputAudio = InputAudio.DROP,
    derived: Any = None,
    price: Price | None = None,
) -> ModelSpec:
    return video_model(
        family.id,
        endpoint,
        ENGINES[endpoint],
        price or family.price,
        fields,
        ratios=ratios,
        duration=duration,
        defaults={"duration": family.default_duration, **(defaults or {})}
        if "duration" in fields and derived is not segment_duration  # Kling's follows its segments
        else defaults,
        assets=assets,
        checks=checks,
        framing=framing or Framing(default_tier=family.tier, follows_input=endpoint != TEXT_TO_VIDEO),
        input_audio=input_audio,
        derived=derived,
        description=family.describe(),
    )


# ---- Kling ---------------------------------------------------------------------------------------------

KLING_DURATION = int_range(3, 15)
KLING = {
    "kling3.0_standard": (KLING_STANDARD_RATIOS, "720p", 10, 15),
    "kling3.0_pro": (KLING_PRO_RATIOS, "1080p", 14, 21),
    "kling3.0_4k": (KLING_4K_RATIOS, "4k", 30, 40),
    "klingO3_standard": (KLING_STANDARD_RATIOS, "720p", 12, 18),
    "klingO3_pro": (KLING_PRO_RATIOS, "1080p", 16, 24),
    "klingO3_4k": (KLING_4K_RATIOS, "4k", 34, 45),
}
KLING_MULTISHOT: tuple[Check, ...] = (segments_total, shot_prompt)


def kling_family(model: str) -> Family:
    _ratios, tier, rate, with_audio = KLING[model]
    price = Price(source=PriceSource.TAXIWAY, per_second=rate, per_second_with_audio=with_audio)
    name = f"Kling {model.removeprefix('kling').replace('O3', 'O3 ').replace('_', ' ')}"
    return Family(model, name, price, KLING_DURATION, 5, tier)


def kling_text(model: str) -> ModelSpec:
    ratios = KLING[model][0]
    fields: dict[str, tuple[Any, Any]] = {
        "ratio": (one_of(*ratios), ...),
        "audio": (bool | None, None),
        "duration": (KLING_DURATION | None, None),
        "prompt_text": (PROMPT | None, None),
        "provider_settings": (ShotSettings | None, None),
    }
    if model.startswith("kling3.0"):
        fields["cfg_scale"] = (number_range(0, 1) | None, None)
    return _model(
        kling_family(model),
        TEXT_TO_VIDEO,
        fields,
        ratios=ratios,
        defaults={"audio": False},
        checks=(*KLING_MULTISHOT, text_needs_prompt),
        derived=segment_duration,
    )


def kling_image(model: str) -> ModelSpec:
    ratios = KLING[model][0]
    fields: dict[str, tuple[Any, Any]] = {
        "prompt_image": (prompt_image(Keyframe, 2), ...),
        "audio": (bool | None, None),
        "duration": (KLING_DURATION | None, None),
        "prompt_text": (PROMPT | None, None),
        "provider_settings": (ShotSettings | None, None),
        "ratio": (one_of(*ratios) | None, None),
    }
    assets: tuple[AssetField, ...] = PROMPT_IMAGE
    if model.startswith("kling3.0"):
        fields["cfg_scale"] = (number_range(0, 1) | None, None)
    else:
        fields["references"] = (Uri | listed(PositionedImage, 7) | None, None)
        assets = (*assets, AssetField("references", AssetKind.IMAGE), IMAGE_REFERENCES)
    family = kling_family(model)
    return _model(
        family,
        IMAGE_TO_VIDEO,
        fields,
        ratios=ratios,
        defaults={"audio": False},
        assets=assets,
        checks=(unique_positions, first_frame_required, *KLING_MULTISHOT),
        framing=Framing(default_tier=family.tier, follows_input=True, last_frame_follows_first=True),
        derived=segment_duration,
    )


def kling_edit(model: str) -> ModelSpec:
    """Kling O3 video editing: the input's length and framing at the model's tier; its sound kept
    unless `providerSettings.keepOriginalSound` is false. Inputs up to 10 s (taxiway's bound)."""
    return _model(
        kling_family(model),
        VIDEO_TO_VIDEO,
        {
            "prompt_text": (PROMPT, ...),
            "prompt_video": (Uri, ...),
            "provider_settings": (EditShotSettings | None, None),
            "references": (Uri | listed(PositionedImage, 4) | None, None),
        },
        assets=(input_video("promptVideo", 10), AssetField("references", AssetKind.IMAGE), IMAGE_REFERENCES),
        checks=(segments_total,),
        duration=Duration(from_input="promptVideo", max_input=10),
        input_audio=InputAudio.KEEP,
    )


KLING_25 = Family(
    "kling2.5_turbo_pro",
    "Kling 2.5 Turbo Pro",
    Price(source=PriceSource.TAXIWAY, per_second=7),
    one_of(5, 10),
    5,
    "1080p",
)
KLING_4 = Family(
    "kling_4",
    "Kling 4",
    Price(
        source=PriceSource.TAXIWAY,
        per_second=15,
        by_value={"ratio": {**by_tiers(KLING_4_RATIOS, {0: 15, 1_500_000: 22}, 15), "auto_1080p": 7}},
    ),
    KLING_DURATION,
    5,
    "720p",
)


def kling_models() -> dict[str, list[ModelSpec]]:
    kling_4_references = listed(ImageUri, 10)
    kling_4_videos = listed(LooseVideo, 5)
    return {
        TEXT_TO_VIDEO: [
            *(kling_text(model) for model in KLING),
            _model(
                KLING_25,
                TEXT_TO_VIDEO,
                {
                    "prompt_text": (PROMPT, ...),
                    "cfg_scale": (number_range(0, 1) | None, None),
                    "duration": (one_of(5, 10) | None, None),
                    "ratio": (one_of(*KLING_25_RATIOS) | None, None),
                },
                ratios=KLING_25_RATIOS,
                defaults={"ratio": "1920:1080"},
            ),
            _model(
                KLING_4,
                TEXT_TO_VIDEO,
                {
                    "prompt_text": (PROMPT, ...),
                    "duration": (KLING_DURATION | None, None),
                    "ratio": (one_of(*KLING_4_RATIOS, *AUTO_TIERS) | None, None),
                    "references": (kling_4_references | None, None),
                    "reference_videos": (kling_4_videos | None, None),
                },
                ratios=(*KLING_4_RATIOS, *AUTO_TIERS),
                defaults={"ratio": "1280:720"},
                assets=(IMAGE_REFERENCES, reference_videos(30)),
                framing=Framing(default_tier="720p", follows_input=True),
            ),
        ],
        IMAGE_TO_VIDEO: [
            *(kling_image(model) for model in KLING),
            _model(
                KLING_25,
                IMAGE_TO_VIDEO,
                {
                    "prompt_image": (prompt_image(Keyframe, 2), ...),
                    "prompt_text": (PROMPT, ...),
                    "cfg_scale": (number_range(0, 1) | None, None),
                    "duration": (one_of(5, 10) | None, None),
                },
                assets=PROMPT_IMAGE,
                checks=(unique_positions, first_frame_required),
            ),
            _model(
                KLING_4,
                IMAGE_TO_VIDEO,
                {
                    "prompt_image": (Uri | listed(KlingFrame, 10, 1), ...),
                    "duration": (KLING_DURATION | None, None),
                    "prompt_text": (PROMPT | None, None),
                    "ratio": (one_of(*AUTO_TIERS) | None, None),
                    "references": (kling_4_references | None, None),
                    "reference_videos": (kling_4_videos | None, None),
                },
                ratios=AUTO_TIERS,
                defaults={"ratio": "auto_720p"},
                assets=(*PROMPT_IMAGE, IMAGE_REFERENCES, reference_videos(30)),
                checks=(kling_frames,),
            ),
        ],
        VIDEO_TO_VIDEO: [
            *(kling_edit(model) for model in KLING if model.startswith("klingO3")),
            _model(
                KLING_4,
                VIDEO_TO_VIDEO,
                {
                    "prompt_text": (PROMPT, ...),
                    "video_uri": (Uri, ...),
                    "ratio": (one_of(*AUTO_TIERS) | None, None),
                    "references": (kling_4_references | None, None),
                },
                ratios=AUTO_TIERS,
                defaults={"ratio": "auto_720p"},
                assets=(input_video("videoUri", 10), IMAGE_REFERENCES),
                duration=Duration(from_input="videoUri", max_input=10),
                input_audio=InputAudio.KEEP,
            ),
        ],
    }


# ---- MiniMax: Hailuo 3 and H3 Max -----------------------------------------------------------------------

HAILUO = Family(
    "hailuo3",
    "MiniMax Hailuo 3",
    Price(source=PriceSource.TAXIWAY, per_second=10, by_value={"resolution": {"2k": 10, "2K": 10}}),
    int_range(6, 10),
    6,
    "768p",
)
H3_MAX = Family(
    "h3_max",
    "MiniMax H3 Max",
    Price(source=PriceSource.TAXIWAY, per_second=14, by_value={"resolution": {"480p": -6}}),
    int_range(6, 10),
    6,
    "768p",
)


def minimax_models() -> dict[str, list[ModelSpec]]:
    hailuo_common: dict[str, tuple[Any, Any]] = {
        "duration": (HAILUO.duration | None, None),
        "ratio": (one_of(*HAILUO_ASPECTS) | None, None),
        "reference_audio": (listed(TypedAudio, 10**3) | None, None),
        "resolution": (one_of("768p", "2k", "768P", "2K") | None, None),
    }
    hailuo_framing = Framing(tier_field="resolution", default_tier="768p", follows_input=True)
    hailuo_references: dict[str, tuple[Any, Any]] = {
        "references": (listed(ImageUri, 9) | None, None),
        "reference_videos": (listed(TypedVideo, 10**3) | None, None),
    }
    references = (IMAGE_REFERENCES, reference_videos(15), reference_audio())
    h3_common: dict[str, tuple[Any, Any]] = {
        "prompt_text": (PROMPT, ...),
        "duration": (H3_MAX.duration | None, None),
        "prompt_expansion_mode": (one_of("disabled", "balanced", "quality") | None, None),
        "resolution": (one_of("480p", "768p") | None, None),
        "seed": (Seed | None, None),
    }
    h3_framing = Framing(tier_field="resolution", default_tier="768p", follows_input=True)
    return {
        TEXT_TO_VIDEO: [
            _model(
                HAILUO,
                TEXT_TO_VIDEO,
                {"prompt_text": (PROMPT, ...), **hailuo_common, **hailuo_references},
                ratios=HAILUO_ASPECTS,
                defaults={"ratio": "16:9"},
                assets=references,
                checks=(adaptive_needs_reference,),
                framing=hailuo_framing,
            ),
            _model(
                H3_MAX,
                TEXT_TO_VIDEO,
                h3_common,
                defaults={"promptExpansionMode": "balanced"},
                framing=h3_framing,
            ),
        ],
        IMAGE_TO_VIDEO: [
            _model(
                HAILUO,
                IMAGE_TO_VIDEO,
                {
                    "prompt_image": (prompt_image(KeyframeOrReference, 9), ...),
                    "prompt_text": (PROMPT, ...),
                    **hailuo_common,
                },
                ratios=HAILUO_ASPECTS,
                defaults={"ratio": "adaptive"},
                assets=(*PROMPT_IMAGE, reference_audio()),
                checks=(unique_positions, keyframe_or_reference_mode),
                framing=hailuo_framing,
            ),
            _model(
                H3_MAX,
                IMAGE_TO_VIDEO,
                {"prompt_image": (prompt_image(Keyframe, 2), ...), **h3_common},
                defaults={"promptExpansionMode": "balanced"},
                # "Each image must be at least 256 pixels on both sides."
                assets=(
                    AssetField("promptImage", AssetKind.IMAGE, min_short_side=256),
                    AssetField("promptImage[].uri", AssetKind.IMAGE, min_short_side=256),
                ),
                checks=(unique_positions, first_frame_required),
                framing=h3_framing,
            ),
        ],
        VIDEO_TO_VIDEO: [
            _model(
                HAILUO,
                VIDEO_TO_VIDEO,
                {
                    "prompt_text": (PROMPT, ...),
                    "prompt_video": (Uri, ...),
                    **hailuo_common,
                    **hailuo_references,
                },
                ratios=HAILUO_ASPECTS,
                defaults={"ratio": "adaptive"},
                assets=(input_video("promptVideo", 15), *references),
                framing=hailuo_framing,
            ),
        ],
    }


# ---- Alibaba: HappyHorse and Wan -----------------------------------------------------------------------

HAPPYHORSE = Family(
    "happyhorse_1_0",
    "HappyHorse 1.0",
    Price(
        source=PriceSource.TAXIWAY,
        per_second=8,
        by_value={
            "ratio": by_tiers(HAPPYHORSE_RATIOS, {0: 8, 1_500_000: 12}, 8),
            "resolution": {"1080p": 4, "1080P": 4},
        },
    ),
    int_range(3, 15),
    5,
    "720p",
)


def _wan(id: str, name: str, rates: tuple[float, float, float]) -> Family:
    low, mid, high = rates
    tiers = by_tiers(WAN_RATIOS, {0: low, 700_000: mid, 1_500_000: high}, mid)
    return Family(
        id,
        name,
        Price(
            source=PriceSource.TAXIWAY,
            per_second=mid,
            by_value={"ratio": {**tiers, "auto_480p": low - mid, "auto_1080p": high - mid}},
        ),
        int_range(2, 15),
        5,
        "720p",
    )


WAN3 = _wan("wan3", "Wan 3", (5, 10, 15))
WAN3_PRIME = _wan("wan3_prime", "Wan 3 Prime", (8, 15, 22))


def alibaba_models() -> dict[str, list[ModelSpec]]:
    wan_media: dict[str, tuple[Any, Any]] = {
        "reference_audio": (listed(TypedAudio, 10**3) | None, None),
        "reference_videos": (listed(TypedVideo, 10**3) | None, None),
    }
    wan_assets = (reference_audio(), reference_videos(15))
    text: list[ModelSpec] = [
        _model(
            HAPPYHORSE,
            TEXT_TO_VIDEO,
            {
                "prompt_text": (prompt_text(2500), ...),
                "duration": (HAPPYHORSE.duration | None, None),
                "ratio": (one_of(*HAPPYHORSE_RATIOS) | None, None),
            },
            ratios=HAPPYHORSE_RATIOS,
            defaults={"ratio": "1280:720"},
        )
    ]
    images: list[ModelSpec] = [
        _model(
            HAPPYHORSE,
            IMAGE_TO_VIDEO,
            {
                "prompt_image": (prompt_image(KeyframeFirst, 1), ...),
                "duration": (HAPPYHORSE.duration | None, None),
                "prompt_text": (prompt_text(2500) | None, None),
                "resolution": (one_of("720p", "1080p", "720P", "1080P") | None, None),
            },
            assets=PROMPT_IMAGE,
            framing=Framing(tier_field="resolution", default_tier="720p", follows_input=True),
        )
    ]
    for family in (WAN3, WAN3_PRIME):
        common: dict[str, tuple[Any, Any]] = {
            "prompt_text": (PROMPT, ...),
            "audio": (bool | None, None),
            "duration": (family.duration | None, None),
            "ratio": (one_of(*WAN_CHOICES) | None, None),
            **wan_media,
        }
        text.append(
            _model(
                family,
                TEXT_TO_VIDEO,
                {**common, "references": (listed(ImageUri, 10) | None, None)},
                ratios=WAN_CHOICES,
                defaults={"ratio": "1280:720", "audio": False},
                assets=(IMAGE_REFERENCES, *wan_assets),
                framing=Framing(default_tier="720p", follows_input=True),
            )
        )
        images.append(
            _model(
                family,
                IMAGE_TO_VIDEO,
                {"prompt_image": (prompt_image(KeyframeOrReference, 10), ...), **common},
                ratios=WAN_CHOICES,
                defaults={"audio": False},
                assets=(*PROMPT_IMAGE, *wan_assets),
                checks=(unique_positions, keyframe_or_reference_mode, keyframes_take_auto_ratio),
            )
        )
    return {TEXT_TO_VIDEO: text, IMAGE_TO_VIDEO: images, VIDEO_TO_VIDEO: []}


# ---- Google: Gemini Omni Flash -------------------------------------------------------------------------

GEMINI_OMNI = Family(
    "gemini_omni_flash",
    "Gemini Omni Flash",
    Price(source=PriceSource.TAXIWAY, per_second=15),
    int_range(3, 10),
    8,
    "720p",
)
GEMINI_OMNI_11 = Family(
    "gemini_omni_flash_1.1",
    "Gemini Omni Flash 1.1",
    Price(
        source=PriceSource.TAXIWAY,
        per_second=15,
        by_value={
            "ratio": by_tiers(GEMINI_OMNI_11_RATIOS, {0: 8, 900_000: 15, 2_000_000: 20, 8_000_000: 40}, 15)
        },
    ),
    int_range(3, 10) | one_of("auto"),
    8,
    "720p",
)
GEMINI_MODES = ("reference", "extend", "edit")


def gemini_models() -> dict[str, list[ModelSpec]]:
    references = (listed(ImageUri, 10**3) | None, None)
    flash_11_duration = Duration(auto_max=10, from_input="videoUri", max_input=10, input_modes=("edit",))
    return {
        TEXT_TO_VIDEO: [
            _model(
                GEMINI_OMNI,
                TEXT_TO_VIDEO,
                {
                    "prompt_text": (PROMPT, ...),
                    "duration": (GEMINI_OMNI.duration | None, None),
                    "ratio": (one_of(*GEMINI_OMNI_RATIOS) | None, None),
                },
                ratios=GEMINI_OMNI_RATIOS,
                defaults={"ratio": "1280:720"},
            ),
            _model(
                GEMINI_OMNI_11,
                TEXT_TO_VIDEO,
                {
                    "prompt_text": (PROMPT, ...),
                    "duration": (GEMINI_OMNI_11.duration | None, None),
                    "ratio": (one_of(*GEMINI_OMNI_11_RATIOS) | None, None),
                    "references": references,
                    "reference_videos": (listed(ImageUri, 10**3) | None, None),
                },
                ratios=GEMINI_OMNI_11_RATIOS,
                defaults={"ratio": "1280:720"},
                assets=(IMAGE_REFERENCES, AssetField("referenceVideos[].uri", AssetKind.VIDEO)),
                duration=Duration(auto_max=10),
            ),
        ],
        IMAGE_TO_VIDEO: [
            _model(
                GEMINI_OMNI,
                IMAGE_TO_VIDEO,
                {
                    "prompt_image": (prompt_image(KeyframeFirst, 1), ...),
                    "duration": (GEMINI_OMNI.duration | None, None),
                    "prompt_text": (PROMPT | None, None),
                    "ratio": (one_of(*GEMINI_OMNI_RATIOS) | None, None),
                },
                ratios=GEMINI_OMNI_RATIOS,
                assets=PROMPT_IMAGE,
                framing=Framing(follows_input=True),
            ),
            _model(
                GEMINI_OMNI_11,
                IMAGE_TO_VIDEO,
                {
                    "prompt_image": (prompt_image(Keyframe, 2), ...),
                    "prompt_text": (PROMPT, ...),
                    "duration": (GEMINI_OMNI_11.duration | None, None),
                    "ratio": (one_of(*GEMINI_OMNI_11_RATIOS) | None, None),
                },
                ratios=GEMINI_OMNI_11_RATIOS,
                assets=PROMPT_IMAGE,
                checks=(unique_positions, first_frame_required),
                framing=Framing(follows_input=True),
                duration=Duration(auto_max=10),
            ),
        ],
        VIDEO_TO_VIDEO: [
            _model(
                GEMINI_OMNI,
                VIDEO_TO_VIDEO,
                {"prompt_text": (PROMPT, ...), "video_uri": (Uri, ...), "references": references},
                assets=(input_video("videoUri", 10), IMAGE_REFERENCES),
                duration=Duration(from_input="videoUri", max_input=10),
                framing=Framing(default_tier="720p", follows_input=True),
                input_audio=InputAudio.KEEP,
            ),
            _model(
                GEMINI_OMNI_11,
                VIDEO_TO_VIDEO,
                {
                    "prompt_text": (PROMPT, ...),
                    "video_uri": (Uri, ...),
                    "duration": (GEMINI_OMNI_11.duration | None, None),
                    "mode": (one_of(*GEMINI_MODES) | None, None),
                    "ratio": (one_of(*GEMINI_OMNI_11_RATIOS) | None, None),
                    "references": references,
                },
                ratios=GEMINI_OMNI_11_RATIOS,
                defaults={"mode": "reference"},
                assets=(input_video("videoUri", 10), IMAGE_REFERENCES),
                duration=flash_11_duration,
                framing=Framing(default_tier="720p", follows_input=True),
                input_audio=InputAudio.KEEP,
            ),
        ],
    }


# ---- xAI: Grok Imagine -----------------------------------------------------------------------------------

GROK = Family(
    "grok_imagine_1_5",
    "Grok Imagine 1.5",
    Price(source=PriceSource.TAXIWAY, per_second=8, by_value={"resolution": {"480p": -3, "1080p": 4}}),
    int_range(2, 15),
    6,
    "720p",
)
GROK_LITE = Family(
    "grok_imagine_1_5_lite",
    "Grok Imagine 1.5 Lite",
    Price(
        source=PriceSource.TAXIWAY,
        per_second=5,
        by_value={
            "ratio": {
                **by_tiers(GROK_LITE_RATIOS, {0: 3, 700_000: 5, 1_500_000: 6}, 5),
                "auto_480p": -2,
                "auto_1080p": 1,
            }
        },
    ),
    int_range(2, 15),
    6,
    "720p",
)
# "The output keeps its aspect ratio, which (width / height) must be between 0.4 and 2.5."
GROK_FRAME = (
    AssetField("promptImage", AssetKind.IMAGE, min_aspect=0.4, max_aspect=2.5),
    AssetField("promptImage[].uri", AssetKind.IMAGE, min_aspect=0.4, max_aspect=2.5),
)


def grok_models() -> dict[str, list[ModelSpec]]:
    resolution = (one_of("480p", "720p", "1080p") | None, None)
    return {
        TEXT_TO_VIDEO: [
            _model(
                GROK,
                TEXT_TO_VIDEO,
                {
                    "prompt_text": (PROMPT, ...),
                    "duration": (GROK.duration | None, None),
                    "ratio": (one_of(*GROK_ASPECTS) | None, None),
                    "reference_audio": (listed(TypedAudio, 10**3) | None, None),
                    "references": (listed(ImageUri, 10**3) | None, None),
                    "resolution": resolution,
                },
                ratios=GROK_ASPECTS,
                defaults={"ratio": "16:9", "resolution": "720p"},
                assets=(IMAGE_REFERENCES, reference_audio(None, (3, 15))),
                checks=(requires("referenceAudio", "references"),),
                framing=Framing(tier_field="resolution", default_tier="720p"),
                derived=grok_reference_cap,
            ),
            _model(
                GROK_LITE,
                TEXT_TO_VIDEO,
                {
                    "prompt_text": (PROMPT, ...),
                    "duration": (GROK_LITE.duration | None, None),
                    "ratio": (one_of(*GROK_LITE_RATIOS) | None, None),
                },
                ratios=GROK_LITE_RATIOS,
                defaults={"ratio": "1280:720"},
            ),
        ],
        IMAGE_TO_VIDEO: [
            _model(
                GROK,
                IMAGE_TO_VIDEO,
                {
                    "prompt_image": (prompt_image(KeyframeFirst, 1), ...),
                    "duration": (GROK.duration | None, None),
                    "prompt_text": (PROMPT | None, None),
                    "resolution": resolution,
                },
                defaults={"resolution": "720p"},
                assets=GROK_FRAME,
                framing=Framing(tier_field="resolution", default_tier="720p", follows_input=True),
            ),
            _model(
                GROK_LITE,
                IMAGE_TO_VIDEO,
                {
                    "prompt_image": (prompt_image(KeyframeFirst, 1), ...),
                    "duration": (GROK_LITE.duration | None, None),
                    "prompt_text": (PROMPT | None, None),
                    "ratio": (one_of("auto_480p", "auto_720p", "auto_1080p") | None, None),
                },
                ratios=("auto_480p", "auto_720p", "auto_1080p"),
                defaults={"ratio": "auto_720p"},
                assets=GROK_FRAME,
            ),
        ],
        VIDEO_TO_VIDEO: [],
    }


def partner_models(endpoint: str) -> tuple[ModelSpec, ...]:
    """Every partner model of one video endpoint, family by family."""
    families = (kling_models(), minimax_models(), alibaba_models(), gemini_models(), grok_models())
    return tuple(model for family in families for model in family.get(endpoint, []))
