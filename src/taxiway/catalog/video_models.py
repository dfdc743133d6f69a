"""Video models of the five video endpoints, per the official SDK; legacy models per the seeds (§21)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from taxiway.catalog.fields import (
    ContentModeration,
    ImageUri,
    Keyframe,
    KeyframeFirst,
    KeyframeOrReference,
    Seed,
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
from taxiway.catalog.models import (
    AssetField,
    AssetKind,
    Check,
    Duration,
    EndpointSpec,
    ModelSpec,
    OnlyWith,
    OutputKind,
    Price,
    Surcharge,
)

SEEDANCE_RATIOS_720P = (
    "992:432", "864:496", "752:560", "640:640", "560:752", "496:864",
    "1470:630", "1280:720", "1112:834", "960:960", "834:1112", "720:1280",
)  # fmt: skip
SEEDANCE_RATIOS = (
    *SEEDANCE_RATIOS_720P,
    "2206:946", "1920:1080", "1664:1248", "1440:1440", "1248:1664", "1080:1920",
    "3840:1646", "3840:2160", "3840:2880", "3840:3840", "2880:3840", "2160:3840",
)  # fmt: skip
GEN45_TTV_RATIOS = ("1280:720", "720:1280")
GEN45_ITV_RATIOS = ("1280:720", "720:1280", "1104:832", "960:960", "832:1104", "1584:672")
GEN4_TURBO_RATIOS = ("1280:720", "720:1280", "1104:832", "832:1104", "960:960", "1584:672")
VEO_RATIOS = ("1280:720", "720:1280", "1080:1920", "1920:1080")
GEN3A_RATIOS = ("1280:768", "768:1280")
ACT_TWO_RATIOS = ("1280:720", "720:1280", "960:960", "1104:832", "832:1104", "1584:672")
GEN4_ALEPH_RATIOS = (
    "1280:720",
    "720:1280",
    "1104:832",
    "960:960",
    "832:1104",
    "1584:672",
    "848:480",
    "640:480",
)

# gen4.5's `outputFormat` values, as the SDK lists them; every video engine writes each of them
# (engines/offline/video_formats.py). Beyond the default H.264 MP4, ProRes and 8-bit PNG frames cost
# 5 credits/s more, and every 10-bit-and-deeper delivery (HEVC, HDR ProRes, 16-bit PNG, EXR) 20, or 40
# where the output is larger than 4 megapixels.
OUTPUT_FORMATS = (
    "mp4", "prores", "png_sequence", "hdr10", "hlg", "sdr_rec709_10bit", "hdr_pq_12bit_master", "hdr_prores",
    "hdr_png_sequence", "hdr_exr_sequence", "hdr_exr_acescg_sequence_1_3", "hdr_exr_acescg_sequence_2_0",
)  # fmt: skip
_DEEP_SURCHARGE = Surcharge(20.0, large_per_second=40.0)
_LIGHT_SURCHARGE = {"prores": Surcharge(5.0), "png_sequence": Surcharge(5.0)}
FORMAT_SURCHARGE: Mapping[str, Surcharge] = {
    name: _LIGHT_SURCHARGE.get(name, _DEEP_SURCHARGE) for name in OUTPUT_FORMATS if name != "mp4"
}
PRORES_PROFILES = ("422", "4444", "422 Proxy", "422 LT", "422 HQ", "4444 XQ")
# The profiles each ProRes format takes, and its default: HDR drops Proxy and LT (too coarse for HDR
# gradients) and 4444 XQ (12-bit HDR is `hdr_pq_12bit_master`).
PRORES_FORMAT_PROFILES: Mapping[str, tuple[str, ...]] = {
    "prores": PRORES_PROFILES,
    "hdr_prores": ("422", "422 HQ", "4444"),
}
PRORES_DEFAULT_PROFILE: Mapping[str, str] = {"prores": "4444", "hdr_prores": "422 HQ"}
MAX_HDR_INPUT_SECONDS = 30.0

SEEDANCE_PROMPT = prompt_text(3500)
PROMPT = prompt_text(1000)
SEEDANCE_DURATION = int_range(4, 15) | one_of("auto")

PROMPT_IMAGE = (AssetField("promptImage", AssetKind.IMAGE), AssetField("promptImage[].uri", AssetKind.IMAGE))
SEEDANCE_REFERENCES = (
    AssetField("references[].uri", AssetKind.IMAGE),
    AssetField("referenceAudio[].uri", AssetKind.AUDIO, total_seconds=15),
    AssetField("referenceVideos[].uri", AssetKind.VIDEO, total_seconds=15),
)


def _positions(params: Mapping[str, Any]) -> list[str | None] | None:
    images = params.get("promptImage")
    return [item.get("position") for item in images] if isinstance(images, list) else None


def unique_positions(params: Mapping[str, Any]) -> list[tuple[list[str | int], str]]:
    positions = [p for p in _positions(params) or [] if p is not None]
    if len(positions) != len(set(positions)):
        return [(["promptImage"], "each position ('first', 'last') may appear at most once")]
    return []


def first_frame_required(params: Mapping[str, Any]) -> list[tuple[list[str | int], str]]:
    positions = _positions(params)
    if positions is not None and "first" not in positions:
        return [
            (
                ["promptImage"],
                "a 'first' frame is required; this model cannot generate from a last frame only",
            )
        ]
    return []


def keyframe_or_reference_mode(params: Mapping[str, Any]) -> list[tuple[list[str | int], str]]:
    positions = _positions(params)
    if positions is None:
        return []
    keyframes = [p for p in positions if p is not None]
    if keyframes and len(keyframes) != len(positions):
        return [(["promptImage"], "keyframes (with position) and reference images (without) cannot be mixed")]
    if not keyframes and len(positions) > 9:
        return [(["promptImage"], "at most 9 reference images")]
    return []


KEYFRAME_CHECKS: tuple[Check, ...] = (unique_positions,)


def _video(
    id: str,
    endpoint: str,
    engine: str,
    price: Price,
    fields: Mapping[str, tuple[Any, Any]],
    *,
    ratios: tuple[str, ...] = (),
    duration: Duration | None = None,
    defaults: Mapping[str, Any] | None = None,
    assets: tuple[AssetField, ...] = (),
    checks: tuple[Check, ...] = (),
    legacy: bool = False,
    description: str = "",
) -> ModelSpec:
    return ModelSpec(
        id=id,
        endpoint=endpoint,
        output=OutputKind.VIDEO,
        engine=engine,
        price=price,
        ratios=ratios,
        fields=fields,
        duration=duration or Duration(),
        defaults=defaults or {},
        assets=assets,
        checks=checks,
        legacy=legacy,
        description=description,
    )


def _gen45(
    endpoint: str, engine: str, ratios: tuple[str, ...], extra: Mapping[str, tuple[Any, Any]]
) -> ModelSpec:
    return _video(
        "gen4.5",
        endpoint,
        engine,
        Price(per_second=12, format_surcharge=FORMAT_SURCHARGE),
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


PRORES_PROFILE_FITS_FORMAT = OnlyWith("proresProfile", "outputFormat", PRORES_FORMAT_PROFILES)


def _veo31(
    id: str, endpoint: str, engine: str, rate: float, audio_rate: float, extra: Mapping[str, Any]
) -> ModelSpec:
    return _video(
        id,
        endpoint,
        engine,
        Price(per_second=rate, per_second_with_audio=audio_rate, audio_default=True),
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


def _seedance(
    endpoint: str,
    engine: str,
    extra: Mapping[str, tuple[Any, Any]],
    assets: tuple[AssetField, ...],
    duration: Duration,
    checks: tuple[Check, ...] = (),
    defaults: Mapping[str, Any] | None = None,
) -> ModelSpec:
    return _video(
        "seedance2",
        endpoint,
        engine,
        Price(per_second=36),
        {
            **extra,
            "audio": (bool | None, None),
            "duration": (SEEDANCE_DURATION | None, None),
            "ratio": (one_of(*SEEDANCE_RATIOS) | None, None),
            "reference_audio": (listed(TypedAudio, 9) | None, None),
            "seed": (Seed | None, None),
        },
        ratios=SEEDANCE_RATIOS,
        duration=duration,
        defaults=defaults,
        assets=(*assets, AssetField("referenceAudio[].uri", AssetKind.AUDIO, total_seconds=15)),
        checks=checks,
        description="ByteDance Seedance 2.0: 36 credits/s; `auto` is held at 15 s, billed on real length.",
    )


TEXT_TO_VIDEO = EndpointSpec(
    name="text_to_video",
    summary="Generate a video from a text prompt.",
    output=OutputKind.VIDEO,
    models=(
        _gen45("text_to_video", "procedural-video", GEN45_TTV_RATIOS, {}),
        _veo31("veo3.1", "text_to_video", "procedural-video", 20, 40, {"prompt_text": (PROMPT, ...)}),
        _veo31("veo3.1_fast", "text_to_video", "procedural-video", 10, 15, {"prompt_text": (PROMPT, ...)}),
        _seedance(
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
        ),
        _video(
            "veo3",
            "text_to_video",
            "procedural-video",
            Price(per_second=40),
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
        _video(
            "gen4_turbo",
            "image_to_video",
            "camera-move-video",
            Price(per_second=5),
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
        _seedance(
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
        ),
        _video(
            "veo3",
            "image_to_video",
            "camera-move-video",
            Price(per_second=40),
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
        _video(
            "gen3a_turbo",
            "image_to_video",
            "camera-move-video",
            Price(per_second=5),
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
        _seedance(
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
        ),
        _video(
            "gen4_aleph",
            "video_to_video",
            "restyle-video",
            Price(per_second=15),
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
            description="Runway Gen-4 Aleph (legacy, seed shape): 15 credits/s of input video, at most 10 s.",
        ),
    ),
)

CHARACTER_PERFORMANCE = EndpointSpec(
    name="character_performance",
    summary="Drive a character image or video with a reference performance.",
    output=OutputKind.VIDEO,
    models=(
        _video(
            "act_two",
            "character_performance",
            "performance-transfer",
            Price(per_second=5),
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
            description="Runway Act-Two: 5 credits/s of the reference performance (3 to 30 s).",
        ),
    ),
)

VIDEO_UPSCALE = EndpointSpec(
    name="video_upscale",
    summary="Upscale a video 4x (at most 4096 px per side).",
    output=OutputKind.VIDEO,
    models=(
        _video(
            "upscale_v1",
            "video_upscale",
            "lanczos-upscale",
            Price(per_second=2),
            {"video_uri": (Uri, ...)},
            duration=Duration(from_input="videoUri", max_input=30),
            assets=(AssetField("videoUri", AssetKind.VIDEO, max_seconds=30),),
            legacy=True,
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
        _video(
            "ruby",
            "video_to_hdr",
            "inverse-tone-map",
            # An upconvert keeps the source's size, so the source's size sets the rate.
            Price(per_second=20, large_per_second=40),
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
