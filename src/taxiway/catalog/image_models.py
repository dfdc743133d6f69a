"""Image models of `POST /v1/text_to_image`, as the official SDK and the seed price table define them.

Limits the SDK leaves open are taxiway's, and say so where they are declared: `outputCount` is 1 to 10
where the SDK documents no range (gpt_image_2 documents 1-10), and a model whose `ratio` is optional and
has no `auto` makes its first listed size when the request names none.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, Any

from pydantic import Field

from taxiway.catalog.fields import (
    PIXEL_RATIO_PATTERN,
    ContentModeration,
    HexColor,
    ImageUri,
    Seed,
    SubjectImage,
    Uri,
    listed,
    one_of,
    output_count,
    prompt_text,
    reference_images,
)
from taxiway.catalog.image_sizes import (
    BRIA_EDIT_RATIOS,
    BRIA_RATIOS,
    GEMINI_3_PRO_RATIOS,
    GEMINI_31_FLASH_RATIOS,
    GEMINI_31_LITE_RATIOS,
    GPT_IMAGE_RATIOS,
    GROK_IMAGE_RATIOS,
    IDEOGRAM_40_RATIOS,
    IDEOGRAM_45_RATIOS,
    MUSE_RATIOS,
    NANO_BANANA_RATIOS,
    RECRAFT_RATIOS,
    RECRAFT_VECTOR_RATIOS,
    SEEDREAM_FLASH_RATIOS,
    SEEDREAM_LITE_RATIOS,
    SEEDREAM_PRO_RATIOS,
)
from taxiway.catalog.models import (
    AssetField,
    AssetKind,
    Check,
    EndpointSpec,
    Framing,
    ModelSpec,
    OutputKind,
    Price,
    PriceSource,
    ratio_size,
)
from taxiway.catalog.rules import (
    at_most_with,
    in_values,
    needs_items,
    not_together,
    pixel_area,
    unique_tags,
    value_not_with_items,
)

GEN4_IMAGE_1080P = (
    "1920:1080", "1080:1920", "1024:1024", "1360:768", "1080:1080",
    "1168:880", "1440:1080", "1080:1440", "1808:768", "2112:912",
)  # fmt: skip
GEN4_IMAGE_720P = ("1280:720", "720:1280", "720:720", "960:720", "720:960", "1680:720")
GEN4_IMAGE_RATIOS = GEN4_IMAGE_1080P + GEN4_IMAGE_720P
GEMINI_FLASH_RATIOS = (
    "1344:768", "768:1344", "1024:1024", "1184:864", "864:1184",
    "1536:672", "832:1248", "1248:832", "896:1152", "1152:896",
)  # fmt: skip

REFERENCE_IMAGES = (AssetField("referenceImages[].uri", AssetKind.IMAGE),)
# outputCount where the SDK documents no range: taxiway's bound.
OUTPUT_COUNT = output_count(10)


def by_pixels(ratios: Sequence[str], steps: Sequence[tuple[int, int]]) -> dict[str, int]:
    """Credits per image by the size's pixels: the first (up to pixels, credits) step it fits in."""
    table = {}
    for ratio in ratios:
        size = ratio_size(ratio)
        pixels = size[0] * size[1] if size else 0
        table[ratio] = next((credits for bound, credits in steps if pixels <= bound), steps[-1][1])
    return table


def _image(
    id: str,
    price: Price,
    fields: Mapping[str, tuple[Any, Any]],
    *,
    ratios: tuple[str, ...] = (),
    defaults: Mapping[str, Any] | None = None,
    checks: tuple[Check, ...] = (),
    framing: Framing | None = None,
    count: bool = True,
    mask: bool = False,
    edits_reference: tuple[str, ...] | None = None,
    derived: Any = None,
    engine: str = "procedural-image",
    description: str,
) -> ModelSpec:
    return ModelSpec(
        id=id,
        endpoint="text_to_image",
        output=OutputKind.IMAGE,
        engine=engine,
        price=price,
        ratios=ratios,
        fields=fields,
        defaults=defaults or {},
        # Only models that take reference images have them to fetch (Recraft takes none).
        assets=(REFERENCE_IMAGES if "reference_images" in fields else ())
        + ((AssetField("maskUri", AssetKind.IMAGE),) if mask else ()),
        checks=checks,
        framing=framing or Framing(),
        count_field="outputCount" if count else None,
        edits_reference=edits_reference,
        derived=derived,
        description=description,
    )


def _gpt_image(
    id: str, backgrounds: tuple[str, ...], qualities: Mapping[str, int], per_reference: int
) -> ModelSpec:
    prompt = prompt_text(32_000) if id == "gpt_image_2" else prompt_text()
    documented = "+1 credit per reference image per image (Runway), " if per_reference else ""
    return _image(
        id,
        Price(
            source=PriceSource.PARTIAL if per_reference else PriceSource.TAXIWAY,
            by_value={"quality": qualities},
            per_item={"referenceImages": per_reference} if per_reference else {},
        ),
        {
            "prompt_text": (prompt, ...),
            "ratio": (one_of(*GPT_IMAGE_RATIOS, "auto"), ...),
            "background": (one_of(*backgrounds) | None, None),
            "output_count": (output_count(10) | None, None),
            "quality": (one_of(*qualities) | None, None),
            "reference_images": (reference_images(0, 16) | None, None),
        },
        ratios=(*GPT_IMAGE_RATIOS, "auto"),
        defaults={"quality": "high", "background": "auto"},
        checks=(unique_tags(),),
        description=f"{id}: credits per image by quality ({documented}the rest ours); `transparent` "
        "backgrounds are PNGs with alpha.",
    )


def _gemini(
    id: str, ratios: tuple[str, ...], steps: Sequence[tuple[int, int]], prompt_limit: bool = False
) -> ModelSpec:
    return _image(
        id,
        Price(source=PriceSource.TAXIWAY, by_ratio=by_pixels(ratios, steps)),
        {
            "prompt_text": (prompt_text(), ...),
            "ratio": (one_of(*ratios), ...),
            "output_count": (one_of(1, 4) | None, None),
            "reference_images": (listed(SubjectImage, 14) | None, None),
        },
        ratios=ratios,
        checks=(
            at_most_with("referenceImages", "subject", "human", 5),
            at_most_with("referenceImages", "subject", "object", 9),
        ),
        description=f"{id}: credits per image by size (ours).",
    )


def _seedream(
    id: str, ratios: tuple[str, ...], price: Price, limit: int | None, free_form: bool = False
) -> ModelSpec:
    ratio: Any = (
        one_of(*ratios)
        if not free_form
        else one_of(*ratios) | Annotated[str, Field(pattern=PIXEL_RATIO_PATTERN)]
    )
    fields: dict[str, tuple[Any, Any]] = {
        "prompt_text": (prompt_text(limit), ...),
        "ratio": (ratio, ...),
        "output_count": (OUTPUT_COUNT | None, None),
        "output_format": (one_of("png", "jpeg") | None, None),
        "reference_images": (listed(ImageUri, 10**4) | None, None),
    }
    if id != "seedream5_flash":
        fields["grounding"] = (bool | None, None)
    return _image(
        id,
        price,
        fields,
        ratios=ratios,
        defaults={"outputFormat": "png"},
        checks=(pixel_area("ratio", 3_686_400, 16_777_216, ratios),) if free_form else (),
        framing=Framing(follows_input=True),
        description=f"ByteDance {id}: credits per image (ours). `grounding` is accepted; offline there is no "
        "web search.",
    )


GROK_2K = {r: 2 for r in GROK_IMAGE_RATIOS[13:]} | {"auto_2k": 2}
IDEOGRAM_45_WIDESCREEN_TEXT = ("1280:720", "720:1280", "1440:720", "720:1440")
IDEOGRAM_45_WIDESCREEN_REFERENCE = ("1024:576", "576:1024", "1408:704", "704:1408")


def ideogram_45_quality(params: Mapping[str, Any]) -> Mapping[str, Any]:
    """`medium` when generating from reference images, `high` otherwise (`preciseEdit` included)."""
    if "quality" in params:
        return {}
    edits = params.get("preciseEdit") is True
    return {"quality": "medium" if params.get("referenceImages") and not edits else "high"}


def _has_references(params: Mapping[str, Any]) -> bool:
    return bool(params.get("referenceImages"))


TEXT_TO_IMAGE = EndpointSpec(
    name="text_to_image",
    summary="Generate an image from a text prompt and optional reference images.",
    output=OutputKind.IMAGE,
    models=(
        ModelSpec(
            id="gen4_image",
            endpoint="text_to_image",
            output=OutputKind.IMAGE,
            engine="procedural-image",
            ratios=GEN4_IMAGE_RATIOS,
            price=Price(
                source=PriceSource.RUNWAY,
                by_ratio={**dict.fromkeys(GEN4_IMAGE_720P, 5), **dict.fromkeys(GEN4_IMAGE_1080P, 8)},
            ),
            fields={
                "prompt_text": (prompt_text(1000), ...),
                "ratio": (one_of(*GEN4_IMAGE_RATIOS), ...),
                "reference_images": (reference_images(0, 3) | None, None),
                "content_moderation": (ContentModeration | None, None),
                "seed": (Seed | None, None),
            },
            assets=REFERENCE_IMAGES,
            description="Runway Gen-4 Image: 5 credits at 720p ratios, 8 at 1080p ratios.",
        ),
        ModelSpec(
            id="gen4_image_turbo",
            endpoint="text_to_image",
            output=OutputKind.IMAGE,
            engine="procedural-image",
            ratios=GEN4_IMAGE_RATIOS,
            price=Price(source=PriceSource.RUNWAY, per_image=2),
            fields={
                "prompt_text": (prompt_text(1000), ...),
                "ratio": (one_of(*GEN4_IMAGE_RATIOS), ...),
                "reference_images": (reference_images(1, 3), ...),
                "content_moderation": (ContentModeration | None, None),
                "seed": (Seed | None, None),
            },
            assets=REFERENCE_IMAGES,
            description="Runway Gen-4 Image Turbo: 1 to 3 reference images required, 2 credits.",
        ),
        ModelSpec(
            id="gemini_2.5_flash",
            endpoint="text_to_image",
            output=OutputKind.IMAGE,
            engine="procedural-image",
            ratios=GEMINI_FLASH_RATIOS,
            price=Price(source=PriceSource.RUNWAY, per_image=5),
            fields={
                "prompt_text": (prompt_text(), ...),
                "ratio": (one_of(*GEMINI_FLASH_RATIOS), ...),
                "reference_images": (reference_images(0, 3) | None, None),
            },
            assets=REFERENCE_IMAGES,
            description="Gemini 2.5 Flash Image: 5 credits.",
        ),
        _gpt_image(
            "gpt_image_2",
            ("transparent", "opaque", "auto"),
            {"low": 2, "medium": 5, "high": 12, "auto": 12},
            0,
        ),
        _gpt_image(
            "gpt_image_2_5_flare",
            ("opaque", "auto"),
            {"low": 2, "medium": 5, "high": 12, "xhigh": 18, "max": 25},
            1,
        ),
        _gpt_image(
            "gpt_image_2_5_sunburst",
            ("transparent", "opaque", "auto"),
            {"low": 2, "medium": 5, "high": 12, "xhigh": 18, "max": 25},
            1,
        ),
        _gemini(
            "gemini_image3.1_flash", GEMINI_31_FLASH_RATIOS, ((1_300_000, 5), (4_500_000, 8), (10**9, 12))
        ),
        _gemini("gemini_image3.1_flash_lite", GEMINI_31_LITE_RATIOS, ((10**9, 2),)),
        _gemini("gemini_image3_pro", GEMINI_3_PRO_RATIOS, ((1_300_000, 10), (4_500_000, 14), (10**9, 20))),
        _image(
            "nano_banana_2.1",
            Price(
                source=PriceSource.TAXIWAY,
                by_ratio=by_pixels(NANO_BANANA_RATIOS, ((1_300_000, 5), (4_500_000, 8), (10**9, 12))),
            ),
            {
                "prompt_text": (prompt_text(), ...),
                "ratio": (one_of(*NANO_BANANA_RATIOS), ...),
                "output_count": (OUTPUT_COUNT | None, None),
                "reference_images": (reference_images(0, 14) | None, None),
                "thinking_level": (one_of("minimal", "medium", "high") | None, None),
            },
            ratios=NANO_BANANA_RATIOS,
            defaults={"thinkingLevel": "medium"},
            description="Nano Banana 2.1: credits per image by size (ours).",
        ),
        _image(
            "muse_image",
            Price(source=PriceSource.RUNWAY, per_image=1),
            {
                "prompt_text": (prompt_text(), ...),
                "ratio": (one_of(*MUSE_RATIOS, "auto"), ...),
                "output_count": (OUTPUT_COUNT | None, None),
                "output_format": (one_of("webp", "png", "jpeg") | None, None),
                "reference_images": (listed(ImageUri, 10) | None, None),
            },
            ratios=(*MUSE_RATIOS, "auto"),
            defaults={"outputFormat": "png"},
            edits_reference=("referenceImages",),
            description="Muse Image: 1 credit per image (Runway).",
        ),
        _seedream(
            "seedream5_pro",
            (*SEEDREAM_PRO_RATIOS, "auto_1k", "auto_2k"),
            Price(
                source=PriceSource.TAXIWAY,
                by_ratio=by_pixels(SEEDREAM_PRO_RATIOS, ((1_300_000, 5), (10**9, 8)))
                | {"auto_1k": 5, "auto_2k": 8},
            ),
            4000,
        ),
        _seedream(
            "seedream5_lite", SEEDREAM_LITE_RATIOS, Price(source=PriceSource.TAXIWAY, per_image=4), 4000, True
        ),
        _seedream(
            "seedream5_flash",
            (*SEEDREAM_FLASH_RATIOS, "auto_1k", "auto_2k"),
            Price(
                source=PriceSource.TAXIWAY,
                by_ratio=by_pixels(SEEDREAM_FLASH_RATIOS, ((1_300_000, 2), (10**9, 4)))
                | {"auto_1k": 2, "auto_2k": 4},
            ),
            None,
        ),
        _image(
            "grok_imagine_image_2",
            Price(
                source=PriceSource.PARTIAL,
                per_image=6,
                by_value={"quality": {"low": -2}, "ratio": GROK_2K},
                per_item={"referenceImages": 1},
            ),
            {
                "prompt_text": (prompt_text(), ...),
                "ratio": (one_of(*GROK_IMAGE_RATIOS, "auto_1k", "auto_2k"), ...),
                "edit": (bool | None, None),
                "output_count": (OUTPUT_COUNT | None, None),
                "quality": (one_of("low", "medium") | None, None),
                "reference_images": (listed(ImageUri, 3) | None, None),
            },
            ratios=(*GROK_IMAGE_RATIOS, "auto_1k", "auto_2k"),
            defaults={"quality": "medium"},
            checks=(needs_items("referenceImages", 1, when="edit", value=True),),
            edits_reference=("edit",),
            description="Grok Imagine Image 2: 6 credits per 1K image at medium quality (ours); low -2, "
            "2K sizes +2, +1 per reference image (Runway).",
        ),
        _image(
            "bria_fibo_1_5",
            Price(source=PriceSource.RUNWAY, by_ratio=by_pixels(BRIA_RATIOS, ((1_300_000, 5), (10**9, 10)))),
            {
                "prompt_text": (prompt_text(), ...),
                "ratio": (one_of(*BRIA_RATIOS), ...),
                "output_format": (one_of("png", "jpeg") | None, None),
                "reference_images": (listed(ImageUri, 1) | None, None),
                "seed": (Seed | None, None),
            },
            ratios=BRIA_RATIOS,
            defaults={"outputFormat": "png"},
            count=False,
            description="Bria FIBO 1.5: 5 credits per 1 MP image, 10 per 4 MP (Runway).",
        ),
        _image(
            "bria_fibo_edit_1_5",
            Price(source=PriceSource.TAXIWAY, per_image=5),
            {
                "prompt_text": (prompt_text(), ...),
                "output_format": (one_of("png", "jpeg") | None, None),
                "ratio": (one_of(*BRIA_EDIT_RATIOS, "auto") | None, None),
                "reference_images": (listed(ImageUri, 4, 1) | None, None),
                "seed": (Seed | None, None),
            },
            ratios=(*BRIA_EDIT_RATIOS, "auto"),
            defaults={"outputFormat": "png", "ratio": "auto"},
            # The SDK types `referenceImages` optional but documents "1 to 4 images to edit".
            checks=(
                needs_items("referenceImages", 1),
                in_values(
                    "ratio",
                    ("auto",),
                    when=lambda params: len(params.get("referenceImages") or ()) < 2,
                    why="with a single reference image (choosing a size requires at least 2)",
                ),
            ),
            framing=Framing(follows_input=True),
            count=False,
            edits_reference=(),
            description="Bria FIBO Edit 1.5: 5 credits per image (ours).",
        ),
        _image(
            "ideogram_4_0",
            Price(source=PriceSource.RUNWAY, by_value={"quality": {"low": 4, "medium": 7, "high": 11}}),
            {
                "prompt_text": (prompt_text(), ...),
                "output_count": (OUTPUT_COUNT | None, None),
                "quality": (one_of("low", "medium", "high") | None, None),
                "ratio": (one_of(*IDEOGRAM_40_RATIOS) | None, None),
                "reference_images": (listed(ImageUri, 1) | None, None),
            },
            ratios=IDEOGRAM_40_RATIOS,
            # The SDK documents no default quality or ratio: ours.
            defaults={"quality": "medium", "ratio": IDEOGRAM_40_RATIOS[0]},
            description="Ideogram 4.0: 4, 7 or 11 credits per image by quality (Runway).",
        ),
        _image(
            "ideogram_4_5",
            Price(
                source=PriceSource.RUNWAY,
                by_value={"quality": {"very_low": 1, "low": 4, "medium": 8, "high": 25}},
            ),
            {
                "prompt_text": (prompt_text(), ...),
                "mask_uri": (Uri | None, None),
                "output_count": (OUTPUT_COUNT | None, None),
                "precise_edit": (bool | None, None),
                "quality": (one_of("very_low", "low", "medium", "high") | None, None),
                "ratio": (one_of(*IDEOGRAM_45_RATIOS, "auto") | None, None),
                "reference_images": (listed(ImageUri, 5) | None, None),
            },
            ratios=(*IDEOGRAM_45_RATIOS, "auto"),
            defaults={"ratio": "auto"},
            checks=(
                needs_items("referenceImages", 1, when="preciseEdit", value=True),
                needs_items("referenceImages", 1, when="maskUri"),
                value_not_with_items("quality", ("very_low",), "referenceImages", present=True),
                not_together("quality", "preciseEdit", value="very_low"),
                not_together("ratio", "maskUri", "preciseEdit"),
                in_values(
                    "ratio",
                    (*[r for r in IDEOGRAM_45_RATIOS if r not in IDEOGRAM_45_WIDESCREEN_TEXT], "auto"),
                    when=_has_references,
                    why="with reference images (widescreen 1K sizes are then 1024:576, 576:1024, 1408:704 "
                    "and 704:1408)",
                ),
                in_values(
                    "ratio",
                    (*[r for r in IDEOGRAM_45_RATIOS if r not in IDEOGRAM_45_WIDESCREEN_REFERENCE], "auto"),
                    when=lambda params: not _has_references(params),
                    why="without reference images (1024:576, 576:1024, 1408:704, 704:1408 need them)",
                ),
            ),
            framing=Framing(follows_input=True, keeps_input_size=("maskUri", "preciseEdit")),
            mask=True,
            edits_reference=("maskUri", "preciseEdit"),
            description="Ideogram 4.5: 1, 4, 8 or 25 credits per image by quality; medium by default with "
            "reference images, high otherwise (Runway).",
            derived=ideogram_45_quality,
        ),
        _image(
            "recraft_v4_1_flash",
            Price(source=PriceSource.TAXIWAY, per_image=2),
            {
                "prompt_text": (prompt_text(), ...),
                "ratio": (one_of(*RECRAFT_RATIOS), ...),
                "background_color": (HexColor | None, None),
                "colors": (listed(HexColor, 10**3) | None, None),
                "output_count": (OUTPUT_COUNT | None, None),
                "output_format": (one_of("webp", "png") | None, None),
                "seed": (Seed | None, None),
            },
            ratios=RECRAFT_RATIOS,
            defaults={"outputFormat": "webp"},
            description="Recraft V4.1 Flash: 2 credits per image (ours); WebP unless `outputFormat` is png.",
        ),
        _image(
            "recraft_v4_1_vector",
            Price(source=PriceSource.TAXIWAY, per_image=8),
            {
                "prompt_text": (prompt_text(), ...),
                "background_color": (HexColor | None, None),
                "colors": (listed(HexColor, 10**3) | None, None),
                "ratio": (one_of(*RECRAFT_VECTOR_RATIOS) | None, None),
            },
            ratios=RECRAFT_VECTOR_RATIOS,
            defaults={"ratio": RECRAFT_VECTOR_RATIOS[0]},
            count=False,
            engine="procedural-vector",
            description="Recraft V4.1 Vector: an SVG of the ratio's width and height, 8 credits (ours).",
        ),
    ),
)
