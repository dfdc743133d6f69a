"""What the video models share: sizes, output formats, prompts, media inputs, keyframe rules, one builder."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from taxiway.catalog.fields import (
    int_range,
    one_of,
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
    positions = [p for p in _positions(params) or [] if p in ("first", "last")]
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


def video_model(
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
    framing: Framing | None = None,
    input_audio: InputAudio = InputAudio.DROP,
    derived: Callable[[Mapping[str, Any]], Mapping[str, Any]] | None = None,
    usage_id: str | None = None,
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
        framing=framing or Framing(),
        input_audio=input_audio,
        derived=derived,
        usage_id=usage_id,
    )


PRORES_PROFILE_FITS_FORMAT = OnlyWith("proresProfile", "outputFormat", PRORES_FORMAT_PROFILES)
