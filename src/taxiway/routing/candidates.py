"""Each model's own request for a generic `generate` input, or why the model cannot serve it.

A model's request is built from what its catalog schema has (a `ratio` of the asked aspect and tier, a
`duration` field, a `referenceImages` list…) and then validated by the catalog exactly as a direct
call to its endpoint would be. What stops a model is a `Rejection` naming the routing filter that
excludes it (capability, prompt length, input support) and the field of the generic input to blame.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache
from typing import Any

from pydantic import ValidationError

from taxiway.catalog import CATALOG, ModelSpec
from taxiway.catalog.schemas import request_model
from taxiway.routing import data
from taxiway.routing.data import Modality
from taxiway.routing.inputs import AudioInput, GenericInput, ImageInput, VideoInput, plain

Path = tuple[str | int, ...]


class Filter(StrEnum):
    """The hard filters, in the order they run."""

    CAPABILITY = "capability"
    PROMPT_LENGTH = "prompt_length"
    INPUT_SUPPORT = "input_support"
    ALLOW_DENY = "allow_deny"
    PRICE = "price"


@dataclass(frozen=True)
class Rejection:
    filter: Filter
    path: Path  # in the generate body, e.g. ("input", "aspectRatio")
    message: str


@dataclass(frozen=True)
class Candidate:
    """A model that can serve the input, with the request a direct call to it would send."""

    model: str
    endpoint: str
    spec: ModelSpec
    params: dict[str, Any]
    credits: int
    outputs: int
    # Seconds of output, where the output is timed (for latency estimates).
    seconds: float | None
    resolved: dict[str, Any]
    # Paths of the request (prefixes) and the generic input's paths they came from.
    origins: Mapping[Path, Path] = field(default_factory=dict)

    def input_path(self, path: Sequence[str | int]) -> Path | None:
        return origin_of(self.origins, path)


def origin_of(origins: Mapping[Path, Path], path: Sequence[str | int]) -> Path | None:
    """Where a problem at `path` of a model's request sits in the generate body, by the longest
    recorded prefix."""
    for size in range(len(path), 0, -1):
        origin = origins.get(tuple(path[:size]))
        if origin is not None:
            return (*origin, *path[size:])
    return None


Mapped = Candidate | list[Rejection]

# Fields of a model's request that carry media or a voice: a model refusing them lacks input support.
INPUT_FIELDS = frozenset(
    {"referenceImages", "promptImage", "references", "referenceVideos", "referenceAudio",
     "referenceAudios", "videoUri", "promptVideo", "voice", "keyframes"}
)  # fmt: skip
# Where a request field's value comes from when no origin was recorded for it.
FIELD_INPUTS: Mapping[str, Path] = {
    "promptText": ("input", "promptText"),
    "ratio": ("input", "aspectRatio"),
    "duration": ("input", "duration"),
    "audio": ("input", "audio"),
    "outputCount": ("input", "outputCount"),
    "loop": ("input", "loop"),
    "voice": ("input", "voice"),
    "seed": ("input", "seed"),
    "negativePrompt": ("input", "negativePrompt"),
    "contentModeration": ("input", "contentModeration"),
    "referenceImages": ("input", "referenceImages"),
    "promptImage": ("input", "referenceImages"),
    "references": ("input", "referenceImages"),
    "referenceVideos": ("input", "referenceVideos"),
    "videoUri": ("input", "referenceVideos"),
    "promptVideo": ("input", "referenceVideos"),
    "referenceAudio": ("input", "referenceAudio"),
    "referenceAudios": ("input", "referenceAudios"),
    "keyframes": ("input", "keyframes"),
}


# -- the catalog's request schemas


@cache
def _schema(endpoint: str, model: str) -> tuple[dict[str, Any], frozenset[str], dict[str, Any]]:
    schema = request_model(endpoint, model).model_json_schema(by_alias=True)
    return schema.get("properties", {}), frozenset(schema.get("required", ())), schema.get("$defs", {})


def _resolve(node: Mapping[str, Any], defs: Mapping[str, Any]) -> Mapping[str, Any]:
    ref = node.get("$ref")
    return defs[ref.rsplit("/", 1)[-1]] if isinstance(ref, str) else node


def _branches(node: Mapping[str, Any], defs: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    node = _resolve(node, defs)
    nested = [*node.get("anyOf", ()), *node.get("oneOf", ()), *node.get("allOf", ())]
    if not nested:
        yield node
    for branch in nested:
        yield from _branches(branch, defs)


def nearest_allowed(node: Mapping[str, Any], defs: Mapping[str, Any], target: float) -> float | None:
    """The value closest to `target` that a numeric field allows (its enums and ranges); ties go low."""
    options: list[float] = []
    for branch in _branches(node, defs):
        values = [*branch.get("enum", ()), *([branch["const"]] if "const" in branch else [])]
        options += [v for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
        if branch.get("type") in ("integer", "number") and not values:
            low, high = branch.get("minimum", -math.inf), branch.get("maximum", math.inf)
            value = min(max(target, low), high)
            options.append(round(value) if branch["type"] == "integer" else value)
    return min(options, key=lambda v: (abs(v - target), v)) if options else None


def _item_schema(node: Mapping[str, Any], defs: Mapping[str, Any]) -> Mapping[str, Any]:
    for branch in _branches(node, defs):
        if branch.get("type") == "array":
            return _resolve(branch.get("items", {}), defs)
    return {}


# -- ratios, aspects and tiers


def _size(ratio: str) -> tuple[int, int] | None:
    width, _, height = ratio.partition(":")
    return (int(width), int(height)) if width.isdigit() and height.isdigit() else None


def _scale(size: tuple[int, int], modality: Modality, tier: str) -> float:
    """How far a picture is from a tier's own size (0: exactly it), on a log scale."""
    if modality is Modality.IMAGE:
        best = next(side for name, _bound, side in data.IMAGE_TIERS if name == tier)
        return abs(math.log(max(size) / best))
    pixels = next(count for name, count in data.VIDEO_TIERS if name == tier)
    return abs(math.log(size[0] * size[1] / pixels))


def tier_names(modality: Modality) -> list[str]:
    tiers = data.IMAGE_TIERS if modality is Modality.IMAGE else data.VIDEO_TIERS
    return [tier[0] for tier in tiers]


def tier_of(ratio: str, modality: Modality) -> str:
    """A ratio's resolution tier: an image's by its long side, a video's the nearest in pixels."""
    size = _size(ratio)
    if size is None:
        return ratio
    if modality is Modality.IMAGE:
        return next(name for name, bound, _side in data.IMAGE_TIERS if max(size) <= bound)
    return min(tier_names(modality), key=lambda name: _scale(size, modality, name))


def _aspect_error(ratio: str, aspect: str) -> float:
    size = _size(ratio)
    return abs(size[0] / size[1] / data.ASPECTS[aspect] - 1) if size else math.inf


def aspect_of(ratio: str, allowed: Sequence[str]) -> str:
    """The named aspect (of `allowed`) a ratio is closest to."""
    return min(allowed, key=lambda aspect: _aspect_error(ratio, aspect))


def choose_ratio(
    spec: ModelSpec, modality: Modality, aspect: str | None, resolution: str | None
) -> str | Rejection | None:
    """The model's ratio of the asked aspect (default 16:9) at the asked tier (default the modality's):
    the closest in aspect, then in size to the tier's own; None when the model has no sized ratios."""
    sized = [r for r in spec.ratios if _size(r)]
    if not sized:
        if aspect or resolution:
            where = "aspectRatio" if aspect else "resolution"
            return Rejection(Filter.CAPABILITY, ("input", where), f"{spec.id} takes no output ratio")
        return None
    wanted = aspect or data.DEFAULT_ASPECT
    pool = [r for r in sized if _aspect_error(r, wanted) <= data.ASPECT_TOLERANCE]
    if not pool and aspect:
        return Rejection(Filter.CAPABILITY, ("input", "aspectRatio"), f"{spec.id} has no {aspect} ratio")
    if not pool:
        default = spec.defaults.get("ratio")
        pool = [default] if default in sized else sized
    tiers = tier_names(modality)
    if resolution and not any(tier_of(r, modality) == resolution for r in pool):
        shape = f"{aspect} " if aspect else ""
        return Rejection(
            Filter.CAPABILITY, ("input", "resolution"), f"{spec.id} has no {shape}ratio at {resolution}"
        )
    wanted_tier = resolution or data.DEFAULT_TIER[modality]

    def rank(ratio: str) -> tuple[int, float, float]:
        size = _size(ratio) or (1, 1)
        distance = abs(tiers.index(tier_of(ratio, modality)) - tiers.index(wanted_tier))
        return distance, round(_aspect_error(ratio, wanted), 4), _scale(size, modality, wanted_tier)

    return min(pool, key=rank)


# -- building one model's request


class _Request:
    """A model's request as it is assembled: the body, the rejections met, where values came from."""

    def __init__(self, endpoint: str, spec: ModelSpec) -> None:
        self.endpoint = endpoint
        self.spec = spec
        self.properties, self.required, self.defs = _schema(endpoint, spec.id)
        self.body: dict[str, Any] = {"model": spec.id}
        self.rejections: list[Rejection] = []
        self.origins: dict[Path, Path] = {}

    def has(self, name: str) -> bool:
        return name in self.properties

    def reject(self, kind: Filter, path: Path, message: str) -> None:
        self.rejections.append(Rejection(kind, path, f"{self.spec.id}: {message}"))

    def put(self, name: str, value: Any, origin: Path | None = None) -> None:
        self.body[name] = value
        if origin is not None:
            self.origins[(name,)] = origin

    def put_or_reject(self, name: str, value: Any, origin: Path, kind: Filter, message: str) -> None:
        if self.has(name):
            self.put(name, value, origin)
        else:
            self.reject(kind, origin, message)

    def typed_items(self, name: str, kind: str, uris: Sequence[tuple[str, Path]]) -> None:
        """A list of media for `name`, shaped as its items are: URIs, `{uri}` or `{type, uri}`."""
        item = _item_schema(self.properties[name], self.defs)
        values: list[Any] = []
        for index, (uri, origin) in enumerate(uris):
            if item.get("type") == "string":
                values.append(uri)
                self.origins[(name, index)] = (*origin, "uri")
            else:
                typed = "type" in item.get("properties", {})
                values.append({"type": kind, "uri": uri} if typed else {"uri": uri})
                self.origins[(name, index)] = origin
        self.body[name] = values

    def media_or_reject(self, name: str, kind: str, uris: Sequence[tuple[str, Path]], message: str) -> None:
        """The input's list `name` goes to the model's field of that name, if it has one."""
        if self.has(name):
            self.typed_items(name, kind, uris)
        else:
            self.reject(Filter.INPUT_SUPPORT, ("input", name), message)

    def default_number(self, name: str, target: float) -> None:
        """Fill a required numeric field the input left out with its allowed value nearest `target`."""
        if name in self.required and name not in self.body:
            value = nearest_allowed(self.properties[name], self.defs, target)
            if value is not None:
                self.body[name] = value

    def passthrough(self, given: Any, names: Sequence[str]) -> None:
        """Optional settings a model takes if it has them (seed, moderation…); others ignore them."""
        for name in names:
            value = getattr(given, name)
            if value is not None and self.has(name):
                self.put(name, plain(value), ("input", name))

    def prompt(self, text: str | None) -> None:
        if text is not None:
            self.put_or_reject(
                "promptText", text, ("input", "promptText"), Filter.CAPABILITY, "takes no prompt here"
            )
        elif "promptText" in self.required:
            self.reject(Filter.CAPABILITY, ("input", "promptText"), "needs a prompt here")

    def ratio(self, modality: Modality, aspect: str | None, resolution: str | None) -> None:
        chosen = choose_ratio(self.spec, modality, aspect, resolution)
        if isinstance(chosen, Rejection):
            self.rejections.append(chosen)
        elif chosen is not None and self.has("ratio"):
            self.put("ratio", chosen)


def _body_path(body: Any, loc: Sequence[str | int]) -> list[str | int]:
    """A validation error's location as a path in the body, the names pydantic gives union members
    (`list[Keyframe]`, `constrained-str`) dropped."""
    path: list[str | int] = []
    for part in loc:
        member = isinstance(part, str) and (isinstance(body, list) or not part.isidentifier())
        if member:
            continue
        path.append(part)
        try:
            body = body[part]
        except (KeyError, IndexError, TypeError):
            break
    return path


def _errors(request: _Request, errors: Sequence[Any]) -> list[Rejection]:
    """One rejection per failing field: of a union's errors, those of the member the value's shape
    fits (a type mismatch on another member says nothing)."""
    found: dict[tuple[str | int, ...], Rejection] = {}
    for error in sorted(errors, key=lambda e: str(e["type"]).endswith("_type")):
        path = _body_path(request.body, error["loc"])
        key = tuple(path[:1])
        if key not in found:
            found[key] = _classify(request, path, error["type"], error["msg"])
    return list(found.values())


def _classify(request: _Request, loc: Sequence[str | int], kind: str, message: str) -> Rejection:
    name = str(loc[0]) if loc else ""
    where = ".".join(map(str, loc)) or "request"
    path = origin_of(request.origins, loc) or FIELD_INPUTS.get(name, ("input",))
    if name == "promptText" and kind in ("string_too_long", "value_error"):
        chosen = Filter.PROMPT_LENGTH
    elif name in INPUT_FIELDS:
        chosen = Filter.INPUT_SUPPORT
    else:
        chosen = Filter.CAPABILITY
    return Rejection(chosen, path, f"{request.spec.id}: {where}: {message.removeprefix('Value error, ')}")


Resolver = Callable[[dict[str, Any]], dict[str, Any]]


def _finish(request: _Request, modality: Modality, resolved: Resolver) -> Mapped:
    """Validate the request as a direct call would be; a Candidate, or every reason it fails."""
    if request.rejections:
        return request.rejections
    try:
        body = request_model(request.endpoint, request.spec.id).model_validate_json(
            json.dumps(request.body), strict=True
        )
    except ValidationError as exc:
        return _errors(request, exc.errors())
    params: dict[str, Any] = body.model_dump(mode="json", by_alias=True, exclude_none=True)
    problems = request.spec.violations(params)
    if problems:
        return [_classify(request, path, "value_error", message) for path, message in problems]
    spec = request.spec
    effective = spec.effective(params)
    seconds = spec.duration.estimate(effective) or None
    if seconds is None and modality is Modality.AUDIO and request.endpoint == "text_to_speech":
        seconds = len(str(params.get("promptText", ""))) / data.SPEECH_CHARACTERS_PER_SECOND
    return Candidate(
        model=spec.id,
        endpoint=request.endpoint,
        spec=spec,
        params=params,
        credits=spec.estimated_credits(params),
        outputs=int(params.get("outputCount") or 1),
        seconds=seconds if spec.output.value != "image" else None,
        resolved=resolved(effective),
        origins=dict(request.origins),
    )


# -- per modality


def _image(spec: ModelSpec, given: ImageInput) -> Mapped:
    request = _Request("text_to_image", spec)
    request.prompt(given.promptText)
    request.ratio(Modality.IMAGE, given.aspectRatio, given.resolution)
    if given.referenceImages:
        uris = [(r.uri, ("input", "referenceImages", i)) for i, r in enumerate(given.referenceImages)]
        request.media_or_reject("referenceImages", "image", uris, "takes no reference images")
    if given.outputCount is not None and (given.outputCount != 1 or request.has("outputCount")):
        request.put_or_reject(
            "outputCount", given.outputCount, ("input", "outputCount"), Filter.CAPABILITY,
            "makes one image per request",
        )  # fmt: skip
    request.passthrough(given, ("seed", "contentModeration"))

    def resolved(effective: dict[str, Any]) -> dict[str, Any]:
        ratio = str(effective.get("ratio", "auto"))
        aspects = list(data.ASPECTS)
        return {
            "aspectRatio": given.aspectRatio or (aspect_of(ratio, aspects) if _size(ratio) else "auto"),
            "ratio": ratio,
            "resolution": tier_of(ratio, Modality.IMAGE) if _size(ratio) else (given.resolution or "auto"),
        }

    return _finish(request, Modality.IMAGE, resolved)


def video_endpoint(given: VideoInput) -> str:
    if given.videos("source"):
        return "video_to_video"
    if given.images("first") or given.images("last"):
        return "image_to_video"
    return "text_to_video"


def _video_media(request: _Request, given: VideoInput) -> None:
    """Frames, references, the source video and reference audio, where the model takes them."""
    images = list(enumerate(given.referenceImages or ()))
    frames = [(i, image) for i, image in images if image.role != "reference"]
    references = [(im.uri, ("input", "referenceImages", i)) for i, im in images if im.role == "reference"]
    if frames:
        request.put("promptImage", [{"uri": image.uri, "position": image.role} for _i, image in frames])
        for index, (i, _image) in enumerate(frames):
            request.origins[("promptImage", index)] = ("input", "referenceImages", i)
    if references:
        target = next((name for name in ("references", "referenceImages") if request.has(name)), None)
        if target is not None:
            request.typed_items(target, "image", references)
        elif request.endpoint == "image_to_video" and request.has("promptImage"):
            start = len(frames)
            appended = [{"uri": uri} for uri, _origin in references]
            request.body["promptImage"] = [*request.body.get("promptImage", []), *appended]
            for index, (_uri, origin) in enumerate(references):
                request.origins[("promptImage", start + index)] = origin
        else:
            request.reject(Filter.INPUT_SUPPORT, ("input", "referenceImages"), "takes no reference images")
    videos = list(enumerate(given.referenceVideos or ()))
    for i, video in videos:
        if video.role == "source":
            name = next((n for n in ("videoUri", "promptVideo") if request.has(n)), "videoUri")
            request.put(name, video.uri, ("input", "referenceVideos", i, "uri"))
    extra = [(video.uri, ("input", "referenceVideos", i)) for i, video in videos if video.role == "reference"]
    if extra:
        request.media_or_reject("referenceVideos", "video", extra, "takes no reference videos")
    if given.referenceAudio:
        uris = [(a.uri, ("input", "referenceAudio", i)) for i, a in enumerate(given.referenceAudio)]
        request.media_or_reject("referenceAudio", "audio", uris, "takes no reference audio")
    if given.keyframes:
        request.put_or_reject(
            "keyframes", plain(given.keyframes), ("input", "keyframes"), Filter.INPUT_SUPPORT,
            "takes no timed keyframes",
        )  # fmt: skip


def _video_audio(request: _Request, wanted: bool | None) -> None:
    """`audio: true` needs a model that makes sound; `false` one that can be silent."""
    always = request.spec.defaults.get("audio") is True and not request.has("audio")
    if wanted is None:
        return
    if request.has("audio"):
        request.put("audio", wanted, ("input", "audio"))
    elif wanted and not always:
        request.reject(Filter.CAPABILITY, ("input", "audio"), "makes video without sound")
    elif not wanted and always:
        request.reject(Filter.CAPABILITY, ("input", "audio"), "always makes video with sound")


def _video(spec: ModelSpec, given: VideoInput) -> Mapped:
    request = _Request(spec.endpoint, spec)
    request.prompt(given.promptText)
    _video_media(request, given)
    _video_audio(request, given.audio)
    if given.duration is not None:
        request.put_or_reject(
            "duration", given.duration, ("input", "duration"), Filter.CAPABILITY,
            "makes a video as long as its source",
        )  # fmt: skip
    else:
        request.default_number("duration", data.DEFAULT_SECONDS)
    follows_source = request.endpoint == "video_to_video" and "ratio" not in request.required
    if not (follows_source and given.aspectRatio is None and given.resolution is None):
        request.ratio(Modality.VIDEO, given.aspectRatio, given.resolution)
    request.passthrough(given, ("negativePrompt", "seed", "contentModeration"))

    def resolved(effective: dict[str, Any]) -> dict[str, Any]:
        ratio = str(effective.get("ratio", "auto"))
        duration = effective.get("duration")
        if not isinstance(duration, int | float):
            duration = spec.duration.estimate(effective)
        return {
            "duration": float(duration),
            "ratio": ratio,
            "resolution": tier_of(ratio, Modality.VIDEO) if _size(ratio) else (given.resolution or "source"),
        }

    return _finish(request, Modality.VIDEO, resolved)


def _voice(request: _Request, given: AudioInput) -> str:
    """The voice as the model takes it; returns how it resolved (preset, reference-audio, default, none)."""
    if given.type == "audio":
        if given.voice is not None:
            request.reject(Filter.INPUT_SUPPORT, ("input", "voice"), "makes general audio, not a voice")
        return "none"
    if given.voice is None:
        if "voice" in request.required:
            request.reject(Filter.INPUT_SUPPORT, ("input", "voice"), "has no default voice: give input.voice")
        return "default"
    if given.voice.type == "preset":
        value: dict[str, Any] = {"type": "runway-preset", "presetId": given.voice.presetId}
    else:
        value = {"type": "reference-audio", "audioUri": given.voice.audioUri}
    request.put_or_reject("voice", value, ("input", "voice"), Filter.INPUT_SUPPORT, "takes no voice")
    return given.voice.type


def _audio(spec: ModelSpec, given: AudioInput) -> Mapped:
    request = _Request(spec.endpoint, spec)
    request.prompt(given.promptText)
    voice = _voice(request, given)
    if given.duration is not None:
        request.put_or_reject(
            "duration", given.duration, ("input", "duration"), Filter.CAPABILITY, "cannot honor a duration"
        )
    else:
        request.default_number("duration", data.DEFAULT_SECONDS)
    if given.loop:
        request.put_or_reject("loop", True, ("input", "loop"), Filter.CAPABILITY, "cannot loop")
    elif given.loop is False and request.has("loop"):
        request.put("loop", False, ("input", "loop"))
    if given.referenceAudios:
        uris = [(a.uri, ("input", "referenceAudios", i)) for i, a in enumerate(given.referenceAudios)]
        request.media_or_reject("referenceAudios", "audio", uris, "takes no reference audio")
    return _finish(request, Modality.AUDIO, lambda _effective: {"type": given.type, "voice": voice})


def endpoint_for(modality: Modality, given: GenericInput) -> str:
    if isinstance(given, VideoInput):
        return video_endpoint(given)
    if isinstance(given, AudioInput):
        return "text_to_speech" if given.type == "speech" else "sound_effect"
    return "text_to_image"


def _missing_endpoint(model: str, endpoint: str, given: GenericInput) -> Rejection:
    path: Path = ("input",)
    if endpoint == "video_to_video":
        path = ("input", "referenceVideos")
    elif endpoint == "image_to_video" or isinstance(given, VideoInput):
        path = ("input", "referenceImages")
    elif isinstance(given, AudioInput):
        path = ("input", "type")
    return Rejection(Filter.CAPABILITY, path, f"{model}: does not serve {endpoint}")


def map_input(modality: Modality, model: str, given: GenericInput) -> Mapped:
    """The model's request for the input, or the reasons it cannot serve it."""
    endpoint = endpoint_for(modality, given)
    spec = CATALOG.get((endpoint, model))
    if spec is None or spec.legacy:
        return [_missing_endpoint(model, endpoint, given)]
    if isinstance(given, ImageInput):
        return _image(spec, given)
    if isinstance(given, VideoInput):
        return _video(spec, given)
    return _audio(spec, given)
