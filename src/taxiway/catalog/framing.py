"""Output sizes: how a request's `ratio`, `resolution` and inputs name the picture a model returns.

Requests name a size in four ways, and each model takes some of them:
- pixels, "1280:720": exactly that;
- an aspect, "16:9", at a size tier named by `resolution` ("768p", "2k"): the tier's short side;
- a tier the model frames itself, "auto_720p", "auto_2k";
- "auto", "adaptive" or no ratio at all: the model's own choice.

Where the model chooses, taxiway chooses deterministically. The aspect is the input's where the model
keeps its input's framing (the first frame, the first reference image, the input video), else the
orientation the prompt names ("portrait", "vertical", "landscape", "square"…), else the model's default
(its default ratio, or 16:9 for video and 1:1 for images). The size is then the model's own size closest
to that aspect within the tier (videos that follow an input: that aspect at the tier's short side).
Videos round odd sides down to even ones, as yuv420p needs.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

from taxiway.catalog.models import ModelSpec, OutputKind, ratio_size

# Short side of each video tier; "2k" is QHD (2560x1440 at 16:9), "4k" UHD.
TIER_SHORT_SIDES: Mapping[str, int] = {
    "360p": 360, "480p": 480, "720p": 720, "768p": 768, "1080p": 1080, "1k": 1024, "2k": 1440, "4k": 2160,
}  # fmt: skip
# Image tiers are pixel budgets: "auto_1k" picks among the model's ~1 MP sizes.
IMAGE_TIER_PIXELS: Mapping[str, int] = {"1k": 1024 * 1024, "2k": 2048 * 2048}
_TIER_SPREAD = math.log(1.35)  # sizes within this factor of a tier's pixels belong to it

_PORTRAIT = re.compile(r"\b(?:portrait|vertical|tall|phone|story|stories|reels?|9:16)\b")
_LANDSCAPE = re.compile(r"\b(?:landscape|horizontal|wide|widescreen|panoram\w*|cinematic|16:9)\b")
_SQUARE = re.compile(r"\b(?:square|1:1)\b")


def prompt_aspect(prompt: str) -> float | None:
    """The orientation a prompt names first, as width / height: 9:16, 16:9 or 1:1."""
    text = prompt.lower()
    found = [
        (match.start(), aspect)
        for pattern, aspect in ((_PORTRAIT, 9 / 16), (_LANDSCAPE, 16 / 9), (_SQUARE, 1.0))
        if (match := pattern.search(text))
    ]
    return min(found)[1] if found else None


def _aspect_ratio(ratio: object) -> float | None:
    """The aspect of an aspect-only ratio ("16:9", "21:9"), None for pixels and choices."""
    width, _, height = str(ratio).partition(":")
    if width.isdigit() and height.isdigit() and int(height) and ratio_size(ratio) is None:
        return int(width) / int(height)
    return None


def _digits(ratio: object) -> tuple[int, int] | None:
    """Any "W:H" as pixels: a ratio outside the model's list (engines called directly) means pixels."""
    width, _, height = str(ratio).partition(":")
    return (int(width), int(height)) if width.isdigit() and height.isdigit() else None


def tier(spec: ModelSpec, params: Mapping[str, Any]) -> str | None:
    """The size tier a request names: `auto_<tier>` in `ratio`, the tier field, else the model's default."""
    ratio = str(params.get("ratio") or "")
    if ratio.startswith("auto_"):
        return ratio.removeprefix("auto_").lower()
    field = spec.framing.tier_field
    value = params.get(field) if field else None
    return str(value).lower() if value else spec.framing.default_tier


def _prompt(params: Mapping[str, Any]) -> str:
    texts = [str(params.get("promptText") or "")]
    settings = params.get("providerSettings")
    if isinstance(settings, Mapping):
        texts += [
            str(item.get("prompt", ""))
            for item in settings.get("multiPrompt") or ()
            if isinstance(item, Mapping)
        ]
    return " ".join(texts)


def _has_last_frame(params: Mapping[str, Any]) -> bool:
    images = params.get("promptImage")
    return isinstance(images, list) and any(
        isinstance(item, Mapping) and item.get("position") == "last" for item in images
    )


def _in_tier(sizes: Sequence[tuple[int, int]], pixels: float) -> list[tuple[int, int]]:
    chosen = [s for s in sizes if abs(math.log(s[0] * s[1] / pixels)) <= _TIER_SPREAD]
    return chosen or list(sizes)


def _closest(sizes: Sequence[tuple[int, int]], aspect: float) -> tuple[int, int]:
    """The size nearest in aspect (on a log scale, so 2:1 and 1:2 are as far from 1:1); then the smaller."""
    return min(sizes, key=lambda s: (round(abs(math.log(s[0] / s[1] / aspect)), 6), s[0] * s[1]))


def _at_short_side(aspect: float, short: int) -> tuple[int, int]:
    if aspect >= 1:
        return round(short * aspect), short
    return short, round(short / aspect)


def _letterboxed(source: tuple[int, int], aspect: float) -> tuple[int, int]:
    """The smallest canvas of `aspect` that holds `source` whole: bars on two sides."""
    width, height = source
    if width / height < aspect:
        return round(height * aspect), height
    return width, round(width / aspect)


def _even(size: tuple[int, int]) -> tuple[int, int]:
    return max(2, size[0] - size[0] % 2), max(2, size[1] - size[1] % 2)


def nearest_in_tier(ratios: Sequence[str], ratio: object, level: str) -> str:
    """Among `ratios`, the size in a tier closest in aspect to `ratio` (a draft's 480p, its 1080p remake)."""
    size = ratio_size(ratio) or (16, 9)
    sizes = [s for s in (ratio_size(r) for r in ratios) if s is not None]
    short = TIER_SHORT_SIDES[level]
    width, height = _closest(_in_tier(sizes, short * short * 16 / 9), size[0] / size[1])
    return f"{width}:{height}"


def output_size(
    spec: ModelSpec, params: Mapping[str, Any], source: tuple[int, int] | None = None
) -> tuple[int, int]:
    """The output's (width, height) for a request; `source` is the size of the input the model frames
    like (first frame, first reference, input video), when there is one."""
    effective = spec.effective(params)
    video = spec.output is OutputKind.VIDEO
    finish = _even if video else (lambda size: size)
    rules = spec.framing
    if source is not None and any(effective.get(name) for name in rules.keeps_input_size):
        return finish(source)
    if source is not None and rules.pad_field and (padded := _aspect_ratio(effective.get(rules.pad_field))):
        return finish(_letterboxed(source, padded))
    ratio = effective.get("ratio")
    exact = ratio_size(ratio) or (_digits(ratio) if ratio not in spec.ratios else None)
    if exact is not None:
        if source is not None and rules.last_frame_follows_first and _has_last_frame(effective):
            return finish(_at_short_side(source[0] / source[1], min(exact)))
        return finish(exact)
    if source is not None and rules.same_as_input:
        return finish(source)
    level = tier(spec, effective) or ""
    followed = source[0] / source[1] if source is not None and spec.framing.follows_input else None
    aspect = _aspect_ratio(ratio) or followed or prompt_aspect(_prompt(effective))
    sizes = spec.pixel_sizes
    # A word ("auto_720p", "adaptive") asks the model to frame; with an input to follow it keeps that
    # input's aspect exactly. Without a ratio, a model that lists sizes makes one of them.
    framed = isinstance(ratio, str) and ratio_size(ratio) is None and _aspect_ratio(ratio) is None
    if video and level in TIER_SHORT_SIDES and (not sizes or _aspect_ratio(ratio) or (followed and framed)):
        return finish(_at_short_side(aspect or 16 / 9, TIER_SHORT_SIDES[level]))
    if not sizes:
        return finish(_at_short_side(aspect or (16 / 9 if video else 1.0), 720 if video else 1024))
    if level in IMAGE_TIER_PIXELS and not video:
        sizes = tuple(_in_tier(sizes, IMAGE_TIER_PIXELS[level]))
    elif video and level in TIER_SHORT_SIDES:
        short = TIER_SHORT_SIDES[level]
        sizes = tuple(_in_tier(sizes, short * short * 16 / 9))
    if aspect is None:
        default = ratio_size(spec.defaults.get("ratio"))
        if default is not None:
            return finish(default)
        aspect = 16 / 9 if video else 1.0
    return finish(_closest(sizes, aspect))
