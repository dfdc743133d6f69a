"""One small request per recipe (snake_case for the Python SDK, camelCase for the Node SDK and curl),
and what its output must be."""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass
from functools import cache
from typing import Any

from PIL import Image, ImageDraw, ImageFont

from conformance.media import mp4, png


@cache
def sale_poster() -> str:
    """An ad with one line of large, plain English text on a flat background."""
    image = Image.new("RGB", (640, 240), (250, 240, 200))
    draw = ImageDraw.Draw(image)
    draw.text((40, 80), "SUMMER SALE", fill=(20, 30, 90), font=ImageFont.load_default(size=72))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


@dataclass(frozen=True)
class RecipeCase:
    method: str  # the SDK method, snake_case
    body: dict[str, Any]  # camelCase, as sent
    credits: int
    # (each output's width and height, seconds or None for images, has audio)
    outputs: tuple[list[tuple[int, int]], float | None, bool]

    @property
    def node_method(self) -> str:
        head, *rest = self.method.split("_")
        return head + "".join(part.title() for part in rest)

    def sdk_kwargs(self) -> dict[str, Any]:
        def snake(key: str) -> str:
            return "".join(f"_{c.lower()}" if c.isupper() else c for c in key)

        return {snake(key): value for key, value in self.body.items()}


def cases() -> list[RecipeCase]:
    product = png(240, 240, (30, 160, 90))
    return [
        RecipeCase(
            "ad_localization",
            {"referenceImage": {"uri": sale_poster()}, "targetLanguage": "es", "version": "2026-06"},
            5,
            ([(640, 240)], None, False),
        ),
        RecipeCase(
            "marketing_stock_image",
            {
                "prompt": "a sunny picnic",
                "version": "2026-06",
                "outputCount": 2,
                "quality": "low",
                "referenceImage": {"uri": product},
            },
            2 * 5,
            ([(1280, 720)] * 2, None, False),
        ),
        RecipeCase(
            "multi_shot_video",
            {
                "mode": "custom",
                "version": "unsafe-latest",
                "duration": 5,
                "ratio": "960:960",
                "audio": True,
                "shots": [
                    {"prompt": "a door opens", "duration": 2},
                    {"prompt": "a cat walks in", "duration": 2},
                    {"prompt": "the cat sits", "duration": 1},
                ],
            },
            36 * 5,
            ([(960, 960)], 5.0, True),
        ),
        RecipeCase(
            "product_ad",
            {
                "productImages": [{"uri": product}],
                "version": "2026-07",
                "duration": 4,
                "ratio": "960:960",
                "audio": False,
                "productInfo": "a green water bottle",
            },
            8 + 36 * 4,
            ([(960, 960)], 4.0, False),
        ),
        RecipeCase(
            "product_campaign_image",
            {"image": {"uri": product}, "prompt": "high-key fashion editorial", "version": "2026-06"},
            4 * 8,
            ([(1080, 1080), (1080, 1440), (1920, 1080), (1080, 1920)], None, False),
        ),
        RecipeCase(
            "product_swap",
            {
                "newProductImages": [{"uri": product, "view": "front"}],
                "originalProductImage": {"uri": png()},
                "referenceVideo": {"uri": mp4()},
                "version": "2026-06",
                "duration": 4,
                "audio": False,
            },
            36 * 4,
            ([(1280, 720)], 4.0, False),
        ),
        RecipeCase(
            "product_ugc",
            {
                "characterImage": {"uri": png(180, 320)},
                "productImage": {"uri": product},
                "version": "2026-06",
                "duration": 4,
                "productInfo": "a green water bottle",
                "userConcept": "This bottle keeps water cold.",
            },
            8 + 36 * 4 + 1,
            ([(720, 1280)], 4.0, True),
        ),
    ]
