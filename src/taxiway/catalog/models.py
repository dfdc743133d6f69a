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

    def estimate(self, params: Mapping[str, Any], input_seconds: float | None = None) -> float:
        """Seconds to price before the run; `input_seconds` is the input's length when it was measured."""
        value = params.get("duration")
        if value == "auto" or (value is None and self.absent_is_auto):
            return float(self.auto_max or 0)
        if isinstance(value, int | float):
            return float(value)
        if self.from_input and input_seconds is not None:
            return min(input_seconds, self.max_input or input_seconds)
        if self.from_input and self.max_input is not None:
            return self.max_input
        return 0.0

    def billed_on_output(self, params: Mapping[str, Any]) -> bool:
        if params.get("duration") == "auto" or (self.absent_is_auto and "duration" not in params):
            return True
        return self.from_input is not None and "duration" not in params


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


def ratio_pixels(ratio: object) -> int:
    """Pixels of a "W:H" ratio, 0 for anything else ("auto", absent)."""
    width, _, height = str(ratio).partition(":")
    return int(width) * int(height) if width.isdigit() and height.isdigit() else 0


@dataclass(frozen=True)
class Price:
    """Credits per image (optionally by ratio) or per second (optionally more with audio or by format)."""

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

    def credits(self, params: Mapping[str, Any], seconds: float, pixels: int | None = None) -> int:
        if self.by_ratio and params.get("ratio") in self.by_ratio:
            return self.by_ratio[params["ratio"]]
        if self.characters_per_credit:
            units = len(str(params.get("promptText", "")).encode("utf-16-le")) // 2
            return max(1, math.ceil(units / self.characters_per_credit))
        if self.by_length:
            return next((c for bound, c in self.by_length if seconds <= bound + 1e-9), self.by_length[-1][1])
        if not self.per_second:
            return self.per_image
        rate = self.per_second
        if self.large_per_second is not None and (pixels is None or pixels > self.large_pixels):
            rate = self.large_per_second
        if self.per_second_with_audio is not None and params.get("audio", self.audio_default):
            rate = self.per_second_with_audio
        surcharge = self.format_surcharge.get(params.get("outputFormat", ""))
        if surcharge is not None:
            rate += surcharge.rate(ratio_pixels(params.get("ratio")))
        return math.ceil(rate * seconds - 1e-9)

    def describe(self) -> str:
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
        return f"{self.per_image} credits per image"


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
        return {**self.defaults, **params}

    def estimated_credits(
        self, params: Mapping[str, Any], input_seconds: float | None = None, input_pixels: int | None = None
    ) -> int:
        effective = self.effective(params)
        return self.price.credits(effective, self.duration.estimate(effective, input_seconds), input_pixels)

    def final_credits(
        self, params: Mapping[str, Any], output_seconds: float | None, output_pixels: int | None = None
    ) -> int:
        """What a success costs: the estimate, or the output's real length (and size, where the price
        depends on it) where that is the rule."""
        estimate = self.estimated_credits(params)
        if output_seconds is None or not self.duration.billed_on_output(params):
            return estimate
        return min(estimate, self.price.credits(self.effective(params), output_seconds, output_pixels))

    def violations(self, params: Mapping[str, Any]) -> list[tuple[list[str | int], str]]:
        return [problem for check in self.checks for problem in check(params)]

    @staticmethod
    def size_of(ratio: str) -> tuple[int, int]:
        width, height = ratio.split(":")
        return int(width), int(height)


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
