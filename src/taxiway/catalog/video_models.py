"""Video models of the six video endpoints, per the official SDK; legacy models per the seeds (§21).

Runway's, Google's and ByteDance's models are declared here; the other providers' in
`video_partner_models`. Limits the SDK leaves open are taxiway's and say so where they are declared.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import Field

from taxiway.catalog.fields import (
    PIXEL_RATIO_PATTERN,
    ContentModeration,
    ImageUri,
    Keyframe,
    KeyframeFirst,
    KeyframeOrReference,
    PlacedKeyframe,
    Seed,
    TimedKeyframe,
    TypedAudio,
    TypedImage,
    TypedVideo,
    Uri,
    int_range,
    listed,
    one_of,
    prompt_image,
    prompt_text,
)
from taxiway.catalog.framing import nearest_in_tier
from taxiway.catalog.models import (
    AssetField,
    AssetKind,
    Check,
    Duration,
    EndpointSpec,
    Framing,
    InputAudio,
    ModelSpec,
    OnlyWith,
    OutputKind,
    Price,
    PriceSource,
)
from taxiway.catalog.video_base import (
    ACT_TWO_RATIOS,
    FORMAT_SURCHARGE,
    GEN3A_RATIOS,
    GEN4_ALEPH_RATIOS,
    GEN4_TURBO_RATIOS,
    GEN45_ITV_RATIOS,
    GEN45_TTV_RATIOS,
    KEYFRAME_CHECKS,
    MAX_HDR_INPUT_SECONDS,
    OUTPUT_FORMATS,
    PROMPT,
    PROMPT_IMAGE,
    PRORES_DEFAULT_PROFILE,
    PRORES_FORMAT_PROFILES,
    PRORES_PROFILE_FITS_FORMAT,
    PRORES_PROFILES,
    SEEDANCE_DURATION,
    SEEDANCE_PROMPT,
    SEEDANCE_RATIOS,
    SEEDANCE_RATIOS_720P,
    SEEDANCE_REFERENCES,
    VEO_RATIOS,
    first_frame_required,
    keyframe_or_reference_mode,
    unique_positions,
    video_model,
)
from taxiway.catalog.video_partner_models import partner_models

# Re-exported: the engines and tests read them from here.
__all__ = [
    "FORMAT_SURCHARGE",
    "MAX_HDR_INPUT_SECONDS",
    "OUTPUT_FORMATS",
    "PRORES_DEFAULT_PROFILE",
    "VIDEO_ENDPOINTS",
]


def _gen45(
    endpoint: str, engine: str, ratios: tuple[str, ...], extra: Mapping[str, tuple[Any, Any]]
) -> ModelSpec:
    return video_model(
        "gen4.5",
        endpoint,
        engine,
        Price(source=PriceSource.RUNWAY, per_second=12, format_surcharge=FORMAT_SURCHARGE),
        {
            **extra,
            "prompt_text": (PROMPT, ...),
            "ratio": (one_of(*ratios), ...),
            "duration": (int_range(2, 10), ...),
            "content_moderation": (ContentModeration | None, None),
            "output_format": (one_of(*OUTPUT_FORMATS) | None, None),
            "prores_profile": (one_of(*PRORES_PROFILES) | None, None),
            "seed": (Seed | None, None),
        },
        ratios=ratios,
        assets=PROMPT_IMAGE if "prompt_image" in extra else (),
        checks=(*KEYFRAME_CHECKS, PRORES_PROFILE_FITS_FORMAT),
        description="Runway Gen-4.5: 12 credits/s, plus 5 for ProRes or PNG frames and 20 for the 10-bit "
        "and deeper `outputFormat`s (HEVC, HDR, EXR).",
    )


def _veo31(
    id: str, endpoint: str, engine: str, rate: float, audio_rate: float, extra: Mapping[str, Any]
) -> ModelSpec:
    return video_model(
        id,
        endpoint,
        engine,
        Price(
            source=PriceSource.RUNWAY, per_second=rate, per_second_with_audio=audio_rate, audio_default=True
        ),
        {
            **extra,
            "ratio": (one_of(*VEO_RATIOS), ...),
            "audio": (bool | None, None),
            "duration": (one_of(4, 6, 8) | None, None),
            "negative_prompt": (str | None, None),
            "seed": (Seed | None, None),
        },
        ratios=VEO_RATIOS,
        defaults={"duration": 8, "audio": True},
        assets=PROMPT_IMAGE if "prompt_image" in extra else (),
        checks=(unique_positions, first_frame_required) if "prompt_image" in extra else (),
        description=f"Google Veo 3.1{' Fast' if 'fast' in id else ''}: {rate:g} credits/s, "
        f"{audio_rate:g} with audio (the default).",
    )


@dataclass(frozen=True)
class SeedanceVariant:
    """One member of the Seedance 2 family: its sizes, price and prompt limit."""

    id: str
    ratios: tuple[str, ...]
    price: Price
    name: str


SEEDANCE2 = SeedanceVariant(
    "seedance2", SEEDANCE_RATIOS, Price(source=PriceSource.RUNWAY, per_second=36), "ByteDance Seedance 2.0"
)
# The Fast and Mini variants make 480p and 720p only; Runway publishes no price for them: ours, under 2.0's.
SEEDANCE2_FAST = SeedanceVariant(
    "seedance2_fast",
    SEEDANCE_RATIOS_720P,
    Price(source=PriceSource.TAXIWAY, per_second=20),
    "Seedance 2.0 Fast",
)
SEEDANCE2_MINI = SeedanceVariant(
    "seedance2_mini",
    SEEDANCE_RATIOS_720P,
    Price(source=PriceSource.TAXIWAY, per_second=10),
    "Seedance 2.0 Mini",
)
SEEDANCE2_FAMILY = (SEEDANCE2, SEEDANCE2_FAST, SEEDANCE2_MINI)


def _seedance(
    variant: SeedanceVariant,
    endpoint: str,
    engine: str,
    extra: Mapping[str, tuple[Any, Any]],
    assets: tuple[AssetField, ...],
    duration: Duration,
    checks: tuple[Check, ...] = (),
    defaults: Mapping[str, Any] | None = None,
    framing: Framing | None = None,
) -> ModelSpec:
    return video_model(
        variant.id,
        endpoint,
        engine,
        variant.price,
        {
            **extra,
            "audio": (bool | None, None),
            "duration": (SEEDANCE_DURATION | None, None),
            "ratio": (one_of(*variant.ratios) | None, None),
            "reference_audio": (listed(TypedAudio, 9) | None, None),
            "seed": (Seed | None, None),
        },
        ratios=variant.ratios,
        duration=duration,
        defaults=defaults,
        assets=(*assets, AssetField("referenceAudio[].uri", AssetKind.AUDIO, total_seconds=15)),
        checks=checks,
        framing=framing,
        description=f"{variant.name}: {variant.price.describe()} ({variant.price.source.value}); "
        "`auto` is held at 15 s, billed on real length.",
    )


def _seedance_text(variant: SeedanceVariant) -> ModelSpec:
    return _seedance(
        variant,
        "text_to_video",
        "procedural-video",
        {
            "prompt_text": (SEEDANCE_PROMPT, ...),
            "references": (listed(ImageUri, 9) | None, None),
            "reference_videos": (listed(TypedVideo, 9) | None, None),
        },
        SEEDANCE_REFERENCES[:1] + SEEDANCE_REFERENCES[2:],
        Duration(auto_max=15),
        defaults={"duration": 5, "ratio": "1280:720"},
    )


def _seedance_image(variant: SeedanceVariant) -> ModelSpec:
    return _seedance(
        variant,
        "image_to_video",
        "camera-move-video",
        {
            "prompt_image": (prompt_image(KeyframeOrReference, 9), ...),
            "prompt_text": (SEEDANCE_PROMPT | None, None),
        },
        PROMPT_IMAGE,
        Duration(auto_max=15),
        defaults={"duration": 5},
        checks=(unique_positions, keyframe_or_reference_mode),
        framing=Framing(follows_input=True, default_tier="720p"),
    )


def _seedance_video(variant: SeedanceVariant) -> ModelSpec:
    return _seedance(
        variant,
        "video_to_video",
        "restyle-video",
        {
            "prompt_video": (Uri, ...),
            "prompt_text": (SEEDANCE_PROMPT | None, None),
            "references": (listed(ImageUri, 9) | None, None),
            "reference_videos": (listed(TypedVideo, 9) | None, None),
        },
        (
            AssetField("promptVideo", AssetKind.VIDEO, max_seconds=15, min_short_side=720),
            *SEEDANCE_REFERENCES[:1],
            SEEDANCE_REFERENCES[2],
        ),
        Duration(auto_max=15, from_input="promptVideo", max_input=15),
        framing=Framing(same_as_input=True),
    )


SEEDANCE25_RATIOS = (
    "992:432", "854:480", "752:560", "640:640", "560:752", "480:854", "1470:630", "1280:720", "1112:834",
    "960:960", "834:1112", "720:1280", "2206:946", "1920:1080", "1664:1248", "1440:1440", "1248:1664",
    "1080:1920",
)  # fmt: skip
# Runway publishes no Seedance 2.5 price: ours, 2.0's 36 credits/s at 720p, 24 at 480p, 48 at 1080p; a
# 480p draft 12; `mov` (ProRes) 5 more, as gen4.5's ProRes.
SEEDANCE25_PRICE = Price(
    source=PriceSource.TAXIWAY,
    per_second=36,
    by_value={
        "ratio": {
            ratio: (-12 if pixels < 700_000 else 12)
            for ratio in SEEDANCE25_RATIOS
            if (pixels := ModelSpec.size_of(ratio)[0] * ModelSpec.size_of(ratio)[1]) < 700_000
            or pixels > 1_500_000
        },
        "draft": {True: -12},
        "outputFormat": {"mov": 5},
    },
)
SEEDANCE25_MODES = ("reference", "extend", "edit")
SEEDANCE25_DURATION = int_range(4, 15) | one_of("auto")


def seedance25_draft(params: Mapping[str, Any]) -> Mapping[str, Any]:
    """A draft is a 480p preview: the ratio's 480p size, whatever tier the ratio names."""
    if params.get("draft") is True and "ratio" in params:
        return {"ratio": nearest_in_tier(SEEDANCE25_RATIOS, params["ratio"], "480p")}
    return {}


def draft_alone(params: Mapping[str, Any]) -> list[tuple[list[str | int], str]]:
    """Enhancing a draft regenerates it from its own settings: no other generation field may be given."""
    if "draftTaskId" not in params:
        return []
    extra = sorted(key for key in params if key not in ("model", "draftTaskId"))
    return [([key], "is not allowed with draftTaskId (the draft's own settings are used)") for key in extra]


def draft_is_mp4(params: Mapping[str, Any]) -> list[tuple[list[str | int], str]]:
    if params.get("draft") is True and params.get("outputFormat") == "mov":
        return [(["outputFormat"], "draft mode only supports 'mp4'")]
    return []


def seedance25_mode(params: Mapping[str, Any]) -> list[tuple[list[str | int], str]]:
    """`extend` and `edit` need a prompt and keep the input's aspect; `edit` also keeps its length."""
    mode = params.get("mode", "reference")
    problems: list[tuple[list[str | int], str]] = []
    if mode in ("extend", "edit"):
        if "promptText" not in params:
            problems.append((["promptText"], f"is required in {mode} mode"))
        if "ratio" in params:
            problems.append((["ratio"], f"is not allowed in {mode} mode (the input's aspect is kept)"))
    if mode == "edit" and params.get("duration") != "auto":
        problems.append((["duration"], "must be 'auto' in edit mode (the output keeps the input's length)"))
    return problems


def _seedance25(
    endpoint: str, engine: str, extra: Mapping[str, tuple[Any, Any]], **options: Any
) -> ModelSpec:
    fields = {
        **extra,
        "audio": (bool | None, None),
        "draft": (bool | None, None),
        "duration": (SEEDANCE25_DURATION | None, None),
        "output_format": (one_of("mp4", "mov") | None, None),
        "prompt_text": (prompt_text(15_000) | None, None),
        "ratio": (one_of(*SEEDANCE25_RATIOS) | None, None),
        "reference_audio": (listed(TypedAudio, 10**3) | None, None),
        "seed": (Seed | None, None),
    }
    return video_model(
        "seedance2_5",
        endpoint,
        engine,
        SEEDANCE25_PRICE,
        fields,
        ratios=SEEDANCE25_RATIOS,
        description="ByteDance Seedance 2.5: 24/36/48 credits/s at 480p/720p/1080p, a 480p draft 12, "
        "`mov` +5 (ours); `auto` is held at 15 s, billed on real length.",
        derived=seedance25_draft,
        **options,
    )


SEEDANCE25_AUDIO = AssetField("referenceAudio[].uri", AssetKind.AUDIO, total_seconds=30)
SEEDANCE25_VIDEOS = AssetField("referenceVideos[].uri", AssetKind.VIDEO, total_seconds=30)
SEEDANCE25_REFERENCES = (listed(ImageUri, 30) | None, None)


def seedance25_models() -> dict[str, ModelSpec]:
    defaults = {"audio": True, "duration": 5, "outputFormat": "mp4"}
    return {
        "text_to_video": _seedance25(
            "text_to_video",
            "procedural-video",
            {
                "draft_task_id": (Annotated[str, Field(min_length=1)] | None, None),
                "references": SEEDANCE25_REFERENCES,
                "reference_videos": (listed(TypedVideo, 10**3) | None, None),
            },
            defaults={**defaults, "ratio": "1280:720"},
            duration=Duration(auto_max=15),
            assets=(SEEDANCE_REFERENCES[0], SEEDANCE25_AUDIO, SEEDANCE25_VIDEOS),
            checks=(draft_alone, draft_is_mp4),
        ),
        "image_to_video": _seedance25(
            "image_to_video",
            "camera-move-video",
            {"prompt_image": (prompt_image(KeyframeOrReference, 30), ...)},
            defaults=defaults,
            duration=Duration(auto_max=15),
            assets=(*PROMPT_IMAGE, SEEDANCE25_AUDIO),
            checks=(unique_positions, keyframe_or_reference_mode, draft_is_mp4),
            framing=Framing(follows_input=True, default_tier="720p"),
        ),
        "video_to_video": _seedance25(
            "video_to_video",
            "restyle-video",
            {
                "prompt_video": (Uri, ...),
                "mode": (one_of(*SEEDANCE25_MODES) | None, None),
                "references": SEEDANCE25_REFERENCES,
                "reference_videos": (listed(TypedVideo, 10**3) | None, None),
            },
            defaults={**defaults, "mode": "reference"},
            duration=Duration(auto_max=15, from_input="promptVideo", max_input=15, input_modes=("edit",)),
            assets=(
                AssetField("promptVideo", AssetKind.VIDEO, max_seconds=15),
                SEEDANCE_REFERENCES[0],
                SEEDANCE25_AUDIO,
                SEEDANCE25_VIDEOS,
            ),
            checks=(seedance25_mode, draft_is_mp4),
            framing=Framing(same_as_input=True),
        ),
    }


SEEDANCE25 = seedance25_models()

# aleph2's deliveries and their surcharges, as the SDK documents them: 5 credits/s for ProRes and PNG
# frames, 20 (40 above 4 MP) for 10-bit HEVC.
ALEPH2_FORMATS = ("mp4", "prores", "png_sequence", "sdr_rec709_10bit")


def keyframe_ranges(params: Mapping[str, Any]) -> list[tuple[list[str | int], str]]:
    """aleph2: every keyframe sets a range or none does; a range ends after it starts and holds its
    keyframe's absolute time."""
    keyframes = [k for k in params.get("keyframes") or () if isinstance(k, Mapping)]
    ranged = [k for k in keyframes if k.get("range") is not None]
    if ranged and len(ranged) != len(keyframes):
        return [(["keyframes"], "all keyframes must set a range, or none may")]
    problems: list[tuple[list[str | int], str]] = []
    for index, keyframe in enumerate(keyframes):
        window = keyframe.get("range")
        if not isinstance(window, Mapping):
            continue
        start, end = window.get("start_seconds", 0), window.get("end_seconds", 0)
        if end <= start:
            problems.append((["keyframes", index, "range"], "end_seconds must be after start_seconds"))
        elif "seconds" in keyframe and not start <= keyframe["seconds"] < end:
            problems.append((["keyframes", index, "seconds"], "must fall within the keyframe's range"))
    return problems


ALEPH2 = video_model(
    "aleph2",
    "video_to_video",
    "restyle-video",
    # Runway publishes the outputFormat surcharges (the SDK); the base rate is ours, between gen4.5 and
    # seedance2.
    Price(
        source=PriceSource.PARTIAL,
        per_second=28,
        format_surcharge={name: FORMAT_SURCHARGE[name] for name in ALEPH2_FORMATS if name != "mp4"},
    ),
    {
        "video_uri": (Uri, ...),
        "content_moderation": (ContentModeration | None, None),
        "keyframes": (listed(TimedKeyframe | PlacedKeyframe, 5) | None, None),
        "output_format": (one_of(*ALEPH2_FORMATS) | None, None),
        "prompt_text": (prompt_text() | None, None),
        "prores_profile": (one_of(*PRORES_PROFILES) | None, None),
        # The SDK types `ratio` as any string: taxiway takes pixels, "W:H".
        "ratio": (Annotated[str, Field(pattern=PIXEL_RATIO_PATTERN)] | None, None),
        "seed": (Seed | None, None),
        "target_aspect_ratio": (
            one_of("16:9", "4:3", "3:2", "1:1", "2:3", "3:4", "9:16", "21:9") | None,
            None,
        ),
    },
    # Inputs of 2 to 30 s (taxiway's bound; the SDK documents none).
    duration=Duration(from_input="videoUri", max_input=30),
    defaults={"outputFormat": "mp4"},
    assets=(
        AssetField("videoUri", AssetKind.VIDEO, min_seconds=2, max_seconds=30),
        AssetField("keyframes[].uri", AssetKind.IMAGE),
    ),
    checks=(PRORES_PROFILE_FITS_FORMAT, keyframe_ranges),
    framing=Framing(same_as_input=True, pad_field="targetAspectRatio"),
    input_audio=InputAudio.KEEP,
    description="Runway Aleph 2: 28 credits/s of output (ours), plus 5 for ProRes or PNG frames and 20 "
    "(40 over 4 MP) for 10-bit HEVC (Runway); keeps the input's length, size and sound.",
)


TEXT_TO_VIDEO = EndpointSpec(
    name="text_to_video",
    summary="Generate a video from a text prompt.",
    output=OutputKind.VIDEO,
    models=(
        _gen45("text_to_video", "procedural-video", GEN45_TTV_RATIOS, {}),
        _veo31("veo3.1", "text_to_video", "procedural-video", 20, 40, {"prompt_text": (PROMPT, ...)}),
        _veo31("veo3.1_fast", "text_to_video", "procedural-video", 10, 15, {"prompt_text": (PROMPT, ...)}),
        *(_seedance_text(variant) for variant in SEEDANCE2_FAMILY),
        SEEDANCE25["text_to_video"],
        *partner_models("text_to_video"),
        video_model(
            "veo3",
            "text_to_video",
            "procedural-video",
            Price(source=PriceSource.RUNWAY, per_second=40),
            {
                "prompt_text": (PROMPT, ...),
                "ratio": (one_of(*VEO_RATIOS), ...),
                "duration": (one_of(8), ...),
            },
            ratios=VEO_RATIOS,
            defaults={"audio": True},
            legacy=True,
            description="Google Veo 3 (legacy, seed shape): 8 s only, 40 credits/s.",
        ),
    ),
)

IMAGE_TO_VIDEO = EndpointSpec(
    name="image_to_video",
    summary="Animate an image (first frame, optional last frame or references) into a video.",
    output=OutputKind.VIDEO,
    models=(
        _gen45(
            "image_to_video",
            "camera-move-video",
            GEN45_ITV_RATIOS,
            {"prompt_image": (prompt_image(KeyframeFirst, 1), ...)},
        ),
        video_model(
            "gen4_turbo",
            "image_to_video",
            "camera-move-video",
            Price(source=PriceSource.RUNWAY, per_second=5),
            {
                "prompt_image": (prompt_image(KeyframeFirst, 1), ...),
                "ratio": (one_of(*GEN4_TURBO_RATIOS), ...),
                "duration": (int_range(2, 10) | None, None),
                "prompt_text": (PROMPT | None, None),
                "content_moderation": (ContentModeration | None, None),
                "seed": (Seed | None, None),
            },
            ratios=GEN4_TURBO_RATIOS,
            defaults={"duration": 10},
            assets=PROMPT_IMAGE,
            checks=KEYFRAME_CHECKS,
            description="Runway Gen-4 Turbo: 5 credits/s, 10 s unless `duration` says otherwise.",
        ),
        _veo31(
            "veo3.1",
            "image_to_video",
            "camera-move-video",
            20,
            40,
            {"prompt_image": (prompt_image(Keyframe, 2), ...), "prompt_text": (PROMPT | None, None)},
        ),
        _veo31(
            "veo3.1_fast",
            "image_to_video",
            "camera-move-video",
            10,
            15,
            {"prompt_image": (prompt_image(Keyframe, 2), ...), "prompt_text": (PROMPT | None, None)},
        ),
        *(_seedance_image(variant) for variant in SEEDANCE2_FAMILY),
        SEEDANCE25["image_to_video"],
        *partner_models("image_to_video"),
        video_model(
            "veo3",
            "image_to_video",
            "camera-move-video",
            Price(source=PriceSource.RUNWAY, per_second=40),
            {
                "prompt_image": (prompt_image(KeyframeFirst, 1), ...),
                "ratio": (one_of(*VEO_RATIOS), ...),
                "duration": (one_of(8), ...),
                "prompt_text": (PROMPT | None, None),
            },
            ratios=VEO_RATIOS,
            defaults={"audio": True},
            assets=PROMPT_IMAGE,
            checks=KEYFRAME_CHECKS,
            legacy=True,
            description="Google Veo 3 (legacy, seed shape): 8 s only, 40 credits/s.",
        ),
        video_model(
            "gen3a_turbo",
            "image_to_video",
            "camera-move-video",
            Price(source=PriceSource.RUNWAY, per_second=5),
            {
                "prompt_image": (prompt_image(Keyframe, 2), ...),
                "prompt_text": (PROMPT, ...),
                "ratio": (one_of(*GEN3A_RATIOS) | None, None),
                "duration": (one_of(5, 10) | None, None),
                "content_moderation": (ContentModeration | None, None),
                "seed": (Seed | None, None),
            },
            ratios=GEN3A_RATIOS,
            defaults={"duration": 10, "ratio": "1280:768"},
            assets=PROMPT_IMAGE,
            checks=(unique_positions,),
            legacy=True,
            description="Runway Gen-3 Alpha Turbo (legacy, seed shape): 5 credits/s, 5 or 10 s.",
        ),
    ),
)

VIDEO_TO_VIDEO = EndpointSpec(
    name="video_to_video",
    summary="Transform a video following a prompt, keeping its timing.",
    output=OutputKind.VIDEO,
    models=(
        ALEPH2,
        *(_seedance_video(variant) for variant in SEEDANCE2_FAMILY),
        SEEDANCE25["video_to_video"],
        *partner_models("video_to_video"),
        video_model(
            "gen4_aleph",
            "video_to_video",
            "restyle-video",
            Price(source=PriceSource.RUNWAY, per_second=15),
            {
                "video_uri": (Uri, ...),
                "prompt_text": (PROMPT, ...),
                "references": (listed(TypedImage, 1) | None, None),
                "ratio": (one_of(*GEN4_ALEPH_RATIOS) | None, None),
                "content_moderation": (ContentModeration | None, None),
                "seed": (Seed | None, None),
            },
            ratios=GEN4_ALEPH_RATIOS,
            duration=Duration(from_input="videoUri", max_input=10),
            assets=(
                AssetField("videoUri", AssetKind.VIDEO, max_seconds=10),
                AssetField("references[].uri", None),
            ),
            legacy=True,
            framing=Framing(same_as_input=True),
            input_audio=InputAudio.KEEP,
            description="Runway Gen-4 Aleph (legacy, seed shape): 15 credits/s of input video, at most 10 s.",
        ),
    ),
)

CHARACTER_PERFORMANCE = EndpointSpec(
    name="character_performance",
    summary="Drive a character image or video with a reference performance.",
    output=OutputKind.VIDEO,
    models=(
        video_model(
            "act_two",
            "character_performance",
            "performance-transfer",
            Price(source=PriceSource.RUNWAY, per_second=5),
            {
                "character": (TypedImage | TypedVideo, ...),
                "reference": (TypedVideo, ...),
                "body_control": (bool | None, None),
                "expression_intensity": (int_range(1, 5) | None, None),
                "ratio": (one_of(*ACT_TWO_RATIOS) | None, None),
                "content_moderation": (ContentModeration | None, None),
                "seed": (Seed | None, None),
            },
            ratios=ACT_TWO_RATIOS,
            duration=Duration(from_input="reference.uri", max_input=30),
            defaults={"ratio": "1280:720"},
            assets=(
                AssetField("character.uri", None),
                AssetField("reference.uri", AssetKind.VIDEO, min_seconds=3, max_seconds=30),
            ),
            # The output speaks with the performance's own voice: its sound is kept.
            input_audio=InputAudio.KEEP,
            description="Runway Act-Two: 5 credits/s of the reference performance (3 to 30 s).",
        ),
    ),
)

VIDEO_UPSCALE = EndpointSpec(
    name="video_upscale",
    summary="Upscale a video 4x (at most 4096 px per side).",
    output=OutputKind.VIDEO,
    models=(
        video_model(
            "upscale_v1",
            "video_upscale",
            "lanczos-upscale",
            Price(source=PriceSource.RUNWAY, per_second=2),
            {"video_uri": (Uri, ...)},
            duration=Duration(from_input="videoUri", max_input=30),
            assets=(AssetField("videoUri", AssetKind.VIDEO, max_seconds=30),),
            legacy=True,
            # The SDK's usage enum no longer has upscale_v1: its credits are reported as its successor's.
            usage_id="magnific_video_upscaler_creative",
            description="Runway 4x upscale (legacy, seed shape): 2 credits/s of input video, at most 30 s.",
        ),
    ),
)

# Ruby's delivery profiles, as the SDK lists them: the HDR subset of gen4.5's formats.
HDR_OUTPUT_FORMATS = (
    "hdr10", "hlg", "hdr_prores",
    "hdr_exr_sequence", "hdr_exr_acescg_sequence_1_3", "hdr_exr_acescg_sequence_2_0",
)  # fmt: skip


PRORES_PROFILE_NEEDS_HDR_PRORES = OnlyWith("proresProfile", "outputFormat", {"hdr_prores": None})


VIDEO_TO_HDR = EndpointSpec(
    name="video_to_hdr",
    summary="Upconvert an SDR video to HDR, keeping its frames, timing, audio and alpha.",
    output=OutputKind.VIDEO,
    models=(
        video_model(
            "ruby",
            "video_to_hdr",
            "inverse-tone-map",
            # An upconvert keeps the source's size, so the source's size sets the rate.
            Price(source=PriceSource.RUNWAY, per_second=20, large_per_second=40),
            {
                "video_uri": (Uri, ...),
                "output_format": (one_of(*HDR_OUTPUT_FORMATS) | None, None),
                "prores_profile": (one_of(*PRORES_FORMAT_PROFILES["hdr_prores"]) | None, None),
            },
            # The SDK documents no length limit; 30 s is the offline engines' (and bounds the hold
            # on HTTPS inputs, which are measured only when the task runs).
            duration=Duration(from_input="videoUri", max_input=MAX_HDR_INPUT_SECONDS),
            defaults={"outputFormat": "hdr10"},
            assets=(AssetField("videoUri", AssetKind.VIDEO, max_seconds=MAX_HDR_INPUT_SECONDS),),
            checks=(PRORES_PROFILE_NEEDS_HDR_PRORES,),
            description="Runway Ruby, SDR to HDR upconvert: 20 credits/s of output, 40 where the source is "
            "larger than 4 megapixels.",
        ),
    ),
)
VIDEO_ENDPOINTS = (
    TEXT_TO_VIDEO, IMAGE_TO_VIDEO, VIDEO_TO_VIDEO, CHARACTER_PERFORMANCE, VIDEO_UPSCALE, VIDEO_TO_HDR,
)  # fmt: skip
