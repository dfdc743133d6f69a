"""The catalog's vocabulary: what a model, its price, duration and media inputs are, as data types."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable

from taxiway.assets.kinds import AssetKind as AssetKind


class OutputKind(StrEnum):
    IMAGE = "image"
    VIDEO = "video"
    AUDIO = "audio"


class PriceSource(StrEnum):
    """Where a model's price comes from; the README's model table shows it."""

    RUNWAY = "Runway"  # Runway's published price: the seeds' price table, the SDK's own documentation
    PARTIAL = "Runway + ours"  # Runway documents the adjustments (per quality, per reference…), not the base
    TAXIWAY = "ours"  # Runway publishes none: a price of ours, in line with the model's neighbours


class InputAudio(StrEnum):
    """What a video model that takes a video does with the input's sound (`audio` where it generates one)."""

    DROP = "drop"  # a new picture: no sound unless the request asks for generated audio
    KEEP = "keep"  # an edit of the same footage: the input's track, cut to the output's length


@dataclass(frozen=True)
class Duration:
    """How long a model's output is, for pricing before and after the run.

    `"auto"` is estimated at `auto_max`; models whose output follows an input's length
    (`from_input`) are estimated at `max_input` and billed on the output's real length, like the
    real API's `auto` refunds. A default duration is one of the model's `defaults`.
    """

    auto_max: float | None = None
    from_input: str | None = None
    max_input: float | None = None
    # A left-out `duration` means "the engine picks" (sound effects): held at `auto_max`, billed on output.
    absent_is_auto: bool = False
    # Values of `mode` in which the output is the input edited in place: its length is the input's,
    # whatever `duration` says (seedance2_5's `edit` takes `duration: "auto"` for that).
    input_modes: tuple[str, ...] = ()

    def follows_input(self, params: Mapping[str, Any]) -> bool:
        if self.from_input is None:
            return False
        if self.input_modes and params.get("mode") in self.input_modes:
            return True
        return "duration" not in params

    def estimate(self, params: Mapping[str, Any], input_seconds: float | None = None) -> float:
        """Seconds to price before the run; `input_seconds` is the input's length when it was measured."""
        value = params.get("duration")
        if self.follows_input(params) and (self.input_modes or value is None):
            if input_seconds is not None:
                return min(input_seconds, self.max_input or input_seconds)
            return float(self.max_input or 0)
        if value == "auto" or (value is None and self.absent_is_auto):
            return float(self.auto_max or 0)
        if isinstance(value, int | float):
            return float(value)
        return 0.0

    def billed_on_output(self, params: Mapping[str, Any]) -> bool:
        if params.get("duration") == "auto" or (self.absent_is_auto and "duration" not in params):
            return True
        return self.follows_input(params)


@dataclass(frozen=True)
class Surcharge:
    """Extra credits per second for one `outputFormat`: heavier deliveries cost more above `large_pixels`."""

    per_second: float
    large_per_second: float | None = None
    large_pixels: int = 4_000_000

    def rate(self, pixels: int) -> float:
        if self.large_per_second is not None and pixels > self.large_pixels:
            return self.large_per_second
        return self.per_second


MIN_PIXEL_SIDE = 64  # "16:9" is an aspect; "1280:720" names pixels


def ratio_size(ratio: object) -> tuple[int, int] | None:
    """(width, height) of a ratio that names pixels, None for aspects ("16:9") and choices ("auto")."""
    width, _, height = str(ratio).partition(":")
    if width.isdigit() and height.isdigit() and min(int(width), int(height)) >= MIN_PIXEL_SIDE:
        return int(width), int(height)
    return None


def ratio_pixels(ratio: object) -> int:
    """Pixels of a "W:H" ratio, 0 for anything else ("auto", absent)."""
    width, _, height = str(ratio).partition(":")
    return int(width) * int(height) if width.isdigit() and height.isdigit() else 0


@dataclass(frozen=True, kw_only=True)
class Price:
    """Credits per image (optionally by ratio) or per second (optionally more with audio or by format),
    plus additive credits for the values of other fields (quality tiers, resolutions) and per item of a
    list (reference images). `source` says whose price it is."""

    source: PriceSource
    per_image: int = 0
    by_ratio: Mapping[str, int] = field(default_factory=dict)
    per_second: float = 0.0
    per_second_with_audio: float | None = None
    audio_default: bool = False
    # Extra credits per second for non-default `outputFormat` values.
    format_surcharge: Mapping[str, Surcharge] = field(default_factory=dict)
    # One credit per this many characters (UTF-16 code units) of `promptText`: speech synthesis.
    characters_per_credit: int = 0
    # (up to seconds, credits) steps for outputs priced by length band rather than per second.
    by_length: tuple[tuple[float, int], ...] = ()
    # The per-second rate where the picture is larger than `large_pixels`: for models that keep their
    # input's size, the input's. A size not known yet (an HTTPS input before the run) is held at it.
    large_per_second: float | None = None
    large_pixels: int = 4_000_000
    # field -> value -> credits added per image (or per second): e.g. {"quality": {"high": 11}}.
    by_value: Mapping[str, Mapping[Any, float]] = field(default_factory=dict)
    # list field -> credits added per item, per image: e.g. {"referenceImages": 1}.
    per_item: Mapping[str, float] = field(default_factory=dict)

    def _extras(self, params: Mapping[str, Any]) -> float:
        extra = sum(_lookup(table, params.get(name)) for name, table in self.by_value.items())
        for name, credits in self.per_item.items():
            items = params.get(name)
            extra += credits * (len(items) if isinstance(items, list) else 0)
        return extra

    def credits(self, params: Mapping[str, Any], seconds: float, pixels: int | None = None) -> int:
        if self.characters_per_credit:
            units = len(str(params.get("promptText", "")).encode("utf-16-le")) // 2
            return max(1, math.ceil(units / self.characters_per_credit))
        if self.by_length:
            return next((c for bound, c in self.by_length if seconds <= bound + 1e-9), self.by_length[-1][1])
        if not self.per_second:
            base = self.by_ratio.get(str(params.get("ratio")), self.per_image)
            return max(0, math.ceil(base + self._extras(params) - 1e-9))
        rate = self.per_second
        if self.large_per_second is not None and (pixels is None or pixels > self.large_pixels):
            rate = self.large_per_second
        if self.per_second_with_audio is not None and params.get("audio", self.audio_default):
            rate = self.per_second_with_audio
        surcharge = self.format_surcharge.get(params.get("outputFormat", ""))
        if surcharge is not None:
            rate += surcharge.rate(ratio_pixels(params.get("ratio")))
        rate += self._extras(params)
        return math.ceil(rate * seconds - 1e-9)

    def describe(self) -> str:
        if not self.per_second and not self.per_image and not self.by_ratio and len(self.by_value) == 1:
            ((name, table),) = self.by_value.items()
            tiers = ", ".join(f"{_value(value)} {credits:g}" for value, credits in table.items())
            return f"{tiers} credits per image by {name}{self._describe_extras(skip=name)}"
        return f"{self._describe_base()}{self._describe_extras()}"

    def _describe_base(self) -> str:
        if self.characters_per_credit:
            return f"1 credit per {self.characters_per_credit} characters"
        if self.by_length:
            return ", ".join(f"{c} up to {bound:g} s" for bound, c in self.by_length) + " (credits)"
        if self.by_ratio:
            return (
                "/".join(str(a) for a in sorted(set(self.by_ratio.values()))) + " credits per image by ratio"
            )
        if self.per_second and self.per_second < 1:
            return f"1 credit per {1 / self.per_second:g} s"
        if self.per_second:
            text = f"{self.per_second:g} credits/s"
            if self.per_second_with_audio is not None:
                text += f" ({self.per_second_with_audio:g} with audio)"
            if self.large_per_second is not None:
                text += f" ({self.large_per_second:g} over {self.large_pixels / 1e6:g} MP)"
            if self.format_surcharge:
                text += f" ({_describe_surcharges(list(self.format_surcharge.values()))})"
            return text
        return f"{self.per_image} credit{'s' if self.per_image != 1 else ''} per image"

    def _describe_extras(self, skip: str = "") -> str:
        """E.g. " (quality low -2; 14 ratio values +2; referenceImages +1 each)"."""
        parts = []
        for name, table in self.by_value.items():
            if name == skip:
                continue
            groups: dict[float, list[str]] = {}
            for value, credits in table.items():
                groups.setdefault(credits, []).append(_value(value))
            for credits, values in groups.items():
                named = f"{len(values)} {name} values" if len(values) > 3 else f"{name} {'/'.join(values)}"
                parts.append(f"{named} {credits:+g}")
        parts += [f"{name} {credits:+g} each" for name, credits in self.per_item.items()]
        return f" ({'; '.join(parts)})" if parts else ""


def _lookup(table: Mapping[Any, float], value: object) -> float:
    """The table's credits for a JSON value; `true` never matches the key 1 (they hash alike)."""
    for key, credits in table.items():
        if isinstance(key, bool) is isinstance(value, bool) and key == value:
            return credits
    return 0.0


def _value(value: object) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def _describe_surcharges(surcharges: list[Surcharge]) -> str:
    """E.g. "+5/+20 by outputFormat, +40 over 4 MP"."""
    text = "/".join(f"+{r:g}" for r in sorted({s.per_second for s in surcharges})) + " by outputFormat"
    large = [s for s in surcharges if s.large_per_second is not None]
    if large:
        rates = "/".join(f"+{r:g}" for r in sorted({s.large_per_second or 0.0 for s in large}))
        text += f", {rates} over {min(s.large_pixels for s in large) / 1e6:g} MP"
    return text


@dataclass(frozen=True)
class Measured:
    """What probing an input found: its picture size, length and frame rate, where it has them."""

    width: int | None = None
    height: int | None = None
    duration: float | None = None
    fps: float | None = None


# A rule on a measured input in the light of the whole request (e.g. the output size an upscale factor
# would make of it): a (path, message) per problem, judged wherever the input is measured.
MeasuredCheck = Callable[[Mapping[str, Any], Measured], list[tuple[list[str | int], str]]]


@dataclass(frozen=True)
class AssetField:
    """Where a media URI sits in a body, e.g. `promptImage`, `promptImage[].uri`, `character.uri`.

    `kind` None means the sibling `type` field names the kind (`{"type": "video", "uri": ...}`).
    Duration bounds apply per asset; `total_seconds` bounds the sum over a list field. `internal`
    fields hold the key of a blob the server stored itself (an avatar's processed image), added to
    the params after validation, never by a client.
    """

    path: str
    kind: AssetKind | None
    min_seconds: float | None = None
    max_seconds: float | None = None
    total_seconds: float | None = None
    min_short_side: int | None = None
    # Bounds of width / height, e.g. 0.4 to 4 for pictures a model frames people or products in.
    min_aspect: float | None = None
    max_aspect: float | None = None
    # `min_seconds` is a strict bound ("longer than 4.6 s").
    exclusive_min: bool = False
    measured: tuple[MeasuredCheck, ...] = ()
    internal: bool = False


@dataclass(frozen=True)
class AssetRef:
    path: list[str | int]
    uri: str
    kind: AssetKind
    rule: AssetField


def iter_assets(params: Mapping[str, Any], fields: tuple[AssetField, ...]) -> Iterator[AssetRef]:
    """Every media URI in a validated body, with its JSON path and kind."""
    for rule in fields:
        yield from _walk(params, rule.path.split("."), [], rule)


def _walk(node: Any, steps: list[str], path: list[str | int], rule: AssetField) -> Iterator[AssetRef]:
    if not steps:
        if isinstance(node, str):
            yield AssetRef(path, node, rule.kind or AssetKind.IMAGE, rule)
        return
    step, rest = steps[0], steps[1:]
    is_list = step.endswith("[]")
    key = step.removesuffix("[]")
    if not isinstance(node, Mapping) or key not in node:
        return
    value = node[key]
    if is_list:
        if isinstance(value, list):
            for index, item in enumerate(value):
                yield from _walk(item, rest, [*path, key, index], rule)
        return
    if not rest and isinstance(value, str) and rule.kind is None:
        kind = AssetKind(node.get("type", "image"))
        yield AssetRef([*path, key], value, kind, rule)
        return
    yield from _walk(value, rest, [*path, key], rule)


@dataclass(frozen=True)
class Alias:
    """A field as the seeds name it, accepted and rewritten to the SDK's name before validation (§21).

    `new` may be dotted (`media.uri`) for a value that moved into an object; `template` holds that
    object's fixed fields (`{"type": "audio"}`).
    """

    old: str
    new: str
    template: Mapping[str, Any] = field(default_factory=dict)


# A cross-field rule: returns (path, message) for each violation; the API answers 400 with them.
Check = Callable[[Mapping[str, Any]], list[tuple[list[str | int], str]]]


@runtime_checkable
class SchemaRule(Protocol):
    """A check that JSON Schema can state too: /openapi.json carries it in the body's `allOf`."""

    def json_schema(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class OnlyWith:
    """`field` may be given only where `other` is one of `choices`' keys, each mapping to the values
    `field` may then take (None: any of its own)."""

    field: str
    other: str
    choices: Mapping[str, tuple[str, ...] | None]

    def __call__(self, params: Mapping[str, Any]) -> list[tuple[list[str | int], str]]:
        value, other = params.get(self.field), params.get(self.other)
        if value is None:
            return []
        if other not in self.choices:
            named = " or ".join(f"'{choice}'" for choice in self.choices)
            return [([self.field], f"only valid when {self.other} is {named}")]
        allowed = self.choices[str(other)]
        if allowed is not None and value not in allowed:
            listed = ", ".join(f"'{choice}'" for choice in allowed)
            return [([self.field], f"with {self.other} '{other}' it must be one of {listed}")]
        return []

    def json_schema(self) -> dict[str, Any]:
        given = {"required": [self.field], "properties": {self.field: {"not": {"type": "null"}}}}
        other_in = {"required": [self.other], "properties": {self.other: {"enum": list(self.choices)}}}
        rules: list[dict[str, Any]] = [{"if": given, "then": other_in}]
        for choice, allowed in self.choices.items():
            if allowed is not None:
                when = {"required": [self.other], "properties": {self.other: {"const": choice}}}
                values = {"anyOf": [{"enum": list(allowed)}, {"type": "null"}]}
                rules.append({"if": when, "then": {"properties": {self.field: values}}})
        return {"allOf": rules}


@dataclass(frozen=True)
class Framing:
    """How a model's output size follows from a request where `ratio` does not name pixels
    (`catalog/framing.py` resolves it): a size tier, and whether the picture keeps its input's framing."""

    # The field naming the size tier ("resolution": "768p", "2k"); `ratio` may name one too ("auto_720p").
    tier_field: str | None = None
    # The tier when the request names none.
    default_tier: str | None = None
    # Without pixels in `ratio`, the aspect is the input's: the first frame, the first reference, the video.
    follows_input: bool = False
    # Fields that, when true or set, keep the input's exact size (an in-place edit: `preciseEdit`, `maskUri`).
    keeps_input_size: tuple[str, ...] = ()
    # With a first and a last keyframe the aspect is the first frame's, at the ratio's short side (Kling).
    last_frame_follows_first: bool = False
    # Without a `ratio`, the output has the input's own size: an edit of the same footage.
    same_as_input: bool = False
    # A field naming an aspect ("16:9") the input is letterboxed to (aleph2's `targetAspectRatio`).
    pad_field: str | None = None


@dataclass(frozen=True)
class ModelSpec:
    """One model as one endpoint serves it: its request fields, price, inputs and default engine."""

    id: str
    endpoint: str
    output: OutputKind
    price: Price
    engine: str
    ratios: tuple[str, ...] = ()
    # Request fields beyond `model`: name -> (annotation, default, or ... when required).
    fields: Mapping[str, tuple[Any, Any]] = field(default_factory=dict)
    duration: Duration = field(default_factory=Duration)
    # Values the model uses for optional fields the request leaves out (duration, audio, ratio…).
    defaults: Mapping[str, Any] = field(default_factory=dict)
    assets: tuple[AssetField, ...] = ()
    checks: tuple[Check, ...] = ()
    legacy: bool = False
    description: str = ""
    # Older field names still accepted (the seeds' shapes), rewritten to the SDK's.
    aliases: tuple[Alias, ...] = ()
    # The field naming how many outputs one request makes (`outputCount`, `numVariants`); each is billed.
    count_field: str | None = None
    # Values that depend on the rest of the request, applied over the defaults and the request: a default
    # that follows other fields (ideogram_4_5's quality), or a rule that overrides (a draft is 480p).
    derived: Callable[[Mapping[str, Any]], Mapping[str, Any]] | None = None
    framing: Framing = field(default_factory=Framing)
    input_audio: InputAudio = InputAudio.DROP
    # Whether the output is an edit of the first reference image rather than a new picture: None never,
    # () always (an edit model), else when any of these fields is set (`maskUri`, `preciseEdit`, `edit`).
    edits_reference: tuple[str, ...] | None = None
    # The id `POST /v1/organization/usage` reports the model's credits under, where the SDK's usage enum
    # has no entry for it (a legacy model): strict SDK clients validate that enum.
    usage_id: str | None = None

    def canonical(self, body: Mapping[str, Any]) -> tuple[dict[str, Any], list[tuple[list[str | int], str]]]:
        """The body with every alias rewritten, and a problem for each field given under both names."""
        out = dict(body)
        problems: list[tuple[list[str | int], str]] = []
        for alias in self.aliases:
            if alias.old not in out:
                continue
            head, _, rest = alias.new.partition(".")
            if head in out:
                problems.append(([alias.old], f"give either '{alias.old}' or '{head}', not both"))
                continue
            value = out.pop(alias.old)
            out[head] = {**alias.template, rest: value} if rest else value
        return out, problems

    def effective(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """The request with the model's defaults filled in: what engines and prices work from."""
        merged = {**self.defaults, **params}
        if self.derived is not None:
            merged.update(self.derived(merged))
        return merged

    def output_count(self, params: Mapping[str, Any]) -> int:
        value = self.effective(params).get(self.count_field or "") if self.count_field else None
        return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 1

    def estimated_credits(
        self, params: Mapping[str, Any], input_seconds: float | None = None, input_pixels: int | None = None
    ) -> int:
        effective = self.effective(params)
        seconds = self.duration.estimate(effective, input_seconds)
        return self.price.credits(effective, seconds, input_pixels) * self.output_count(params)

    def final_credits(
        self, params: Mapping[str, Any], output_seconds: float | None, output_pixels: int | None = None
    ) -> int:
        """What a success costs: the estimate, or the output's real length (and size, where the price
        depends on it) where that is the rule."""
        estimate = self.estimated_credits(params)
        effective = self.effective(params)
        if output_seconds is None or not self.duration.billed_on_output(effective):
            return estimate
        produced = self.price.credits(effective, output_seconds, output_pixels) * self.output_count(params)
        return min(estimate, produced)

    def violations(self, params: Mapping[str, Any]) -> list[tuple[list[str | int], str]]:
        return [problem for check in self.checks for problem in check(params)]

    @staticmethod
    def size_of(ratio: str) -> tuple[int, int]:
        width, height = ratio.split(":")
        return int(width), int(height)

    @property
    def pixel_sizes(self) -> tuple[tuple[int, int], ...]:
        """The ratios that name pixels ("1280:720"), not aspects ("16:9") or choices ("auto_720p")."""
        sizes = (ratio_size(ratio) for ratio in self.ratios)
        return tuple(size for size in sizes if size is not None)


@dataclass(frozen=True)
class EndpointSpec:
    name: str
    summary: str
    output: OutputKind
    models: tuple[ModelSpec, ...]
    # False where @runwayml/sdk has no resource for the endpoint (Node apps call `client.post`).
    in_node_sdk: bool = True

    @property
    def path(self) -> str:
        return f"/v1/{self.name}"
