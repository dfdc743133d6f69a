"""Image models of `POST /v1/text_to_image`, as the official SDK and the seed price table define them."""

from __future__ import annotations

from taxiway.catalog.fields import ContentModeration, Seed, one_of, prompt_text, reference_images
from taxiway.catalog.models import AssetField, AssetKind, EndpointSpec, ModelSpec, OutputKind, Price

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
            price=Price(by_ratio={**dict.fromkeys(GEN4_IMAGE_720P, 5), **dict.fromkeys(GEN4_IMAGE_1080P, 8)}),
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
            price=Price(per_image=2),
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
            price=Price(per_image=5),
            fields={
                "prompt_text": (prompt_text(), ...),
                "ratio": (one_of(*GEMINI_FLASH_RATIOS), ...),
                "reference_images": (reference_images(0, 3) | None, None),
            },
            assets=REFERENCE_IMAGES,
            description="Gemini 2.5 Flash Image: 5 credits.",
        ),
    ),
)
