"""The catalog's request fields against the official SDK's create params, model by model.

Both sides are flattened to JSON paths (`promptImage[].uri`, `voice.presetId`), each with the kinds
it takes, its Literal values and whether it is required. The SDK side comes from the TypedDicts in
`runwayml.types.*_create_params` (aliases from `PropertyInfo`); ours from the JSON schema of the
generated request model. The SDK's field docstrings add ranges ("from 2 to 10", "up to 1000
characters") and defaults ("`mp4` (default)"), checked against our schema and asset rules. Any drift
fails here unless the allow-lists below name it with a reason.
"""

from __future__ import annotations

import ast
import collections.abc
import importlib
import inspect
import re
import typing
from dataclasses import dataclass, field
from functools import cache
from types import ModuleType
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

import pytest
import typing_extensions
from runwayml import BadRequestError, RunwayML
from runwayml._utils import PropertyInfo

from taxiway.catalog import CATALOG
from taxiway.catalog.models import ModelSpec
from taxiway.catalog.schemas import request_model
from taxiway.catalog.voices import LIVE_PRESETS

# (endpoint, model, JSON path) -> (the values allowed, or None for the whole field; the reason).
AllowList = dict[tuple[str, str, str], tuple[frozenset[Any] | None, str]]

# SDK values (or whole fields, value None) a model of ours does not accept yet: (endpoint, model, path).
MISSING_ALLOWED: AllowList = {}

# Fields (value None) or values we accept beyond the SDK's model: the seeds' shapes that are neither
# a legacy model nor an `Alias` rewrite, because they add to the SDK's shape rather than rename it.
EXTRA_ALLOWED: AllowList = {
    ("text_to_speech", "eleven_multilingual_v2", "languageCode"): (
        None,
        "seed shape: the seeds pick the TTS language; README documents it (en, es, fr, it, pt)",
    ),
    **{
        (endpoint, model, "voice.presetId"): (
            frozenset(LIVE_PRESETS),
            "seed shape: the seeds use the live-avatar presets (clara, victoria…) as speech voices",
        )
        for endpoint, model in (
            ("text_to_speech", "eleven_multilingual_v2"),
            ("speech_to_speech", "eleven_multilingual_sts_v2"),
        )
    },
}

# Ranges the SDK documents in prose on a field that no schema bound can hold (a free-form size's pixel
# area, the total length of prompt segments): the catalog check enforcing each, by name.
RANGE_CHECKS = {"ratio": "pixel_area_ratio", "providerSettings.multiPrompt": "segments_total"}

_REQUIRED = {typing.Required, typing_extensions.Required}
_WRAPPERS = {*_REQUIRED, typing.NotRequired, typing_extensions.NotRequired}
_KINDS = {str: "string", int: "integer", float: "number", bool: "boolean"}


@dataclass
class Shape:
    """What one JSON path takes: kinds ('string', 'array', 'literal'…), Literal values, requiredness."""

    kinds: set[str] = field(default_factory=set)
    literals: set[Any] = field(default_factory=set)
    required: bool | None = None
    nodes: list[dict[str, Any]] = field(default_factory=list)  # our JSON schema nodes
    docs: list[str] = field(default_factory=list)  # the SDK's field docstrings
    untyped: bool = False  # the SDK types it `object`: any keys, so ours are not compared below it

    def add(self, kind: str, literals: collections.abc.Iterable[Any] = ()) -> None:
        self.kinds.add(kind)
        self.literals.update(literals)

    def require(self, required: bool) -> None:
        """Required only where every object shape holding the key requires it (union members)."""
        self.required = required if self.required is None else self.required and required


Flat = dict[str, Shape]


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _unwrap(hint: Any) -> tuple[Any, str | None, bool]:
    """(the bare type, its PropertyInfo alias, whether it is `Required`)."""
    alias, required = None, False
    while True:
        origin = get_origin(hint)
        if origin in _WRAPPERS:
            required = required or origin in _REQUIRED
            hint = get_args(hint)[0]
        elif origin is typing.Annotated:
            for meta in hint.__metadata__:
                if isinstance(meta, PropertyInfo) and meta.alias:
                    alias = meta.alias
            hint = get_args(hint)[0]
        else:
            return hint, alias, required


@cache
def _field_docs(module: ModuleType) -> dict[tuple[str, str], str]:
    """(class, field) -> the docstring under the field: TypedDicts keep none at run time."""
    docs: dict[tuple[str, str], str] = {}
    for node in ast.parse(inspect.getsource(module)).body:
        if isinstance(node, ast.ClassDef):
            for first, second in zip(node.body, node.body[1:], strict=False):
                if (
                    isinstance(first, ast.AnnAssign)
                    and isinstance(first.target, ast.Name)
                    and isinstance(second, ast.Expr)
                    and isinstance(second.value, ast.Constant)
                ):
                    docs[(node.name, first.target.id)] = " ".join(str(second.value.value).split())
    return docs


def sdk_flat(hint: Any, module: ModuleType, path: str = "", out: Flat | None = None) -> Flat:
    out = {} if out is None else out
    bare, _, _ = _unwrap(hint)
    origin = get_origin(bare)
    shape = out.setdefault(path, Shape())
    if origin is Union:
        for member in get_args(bare):
            sdk_flat(member, module, path, out)
    elif origin is Literal:
        shape.add("literal", get_args(bare))
    elif typing_extensions.is_typeddict(bare):
        shape.add("object")
        docs = _field_docs(module)
        for key, child in get_type_hints(bare, include_extras=True).items():
            _, alias, child_required = _unwrap(child)
            child_path = _join(path, alias or key)
            sdk_flat(child, module, child_path, out)
            out[child_path].require(child_required)
            if doc := docs.get((bare.__name__, key)):
                out[child_path].docs.append(doc)
    elif origin in (collections.abc.Iterable, collections.abc.Sequence, list) or "SequenceNotStr" in str(
        origin
    ):
        shape.add("array")
        sdk_flat(get_args(bare)[0], module, path + "[]", out)
    elif bare in _KINDS:
        shape.add(_KINDS[bare])
    elif bare is object:
        shape.add("object")
        shape.untyped = True
    else:
        raise TypeError(f"{path}: an SDK type this audit does not know: {bare!r}")
    return out


def our_flat(node: dict[str, Any], root: dict[str, Any], path: str = "", out: Flat | None = None) -> Flat:
    out = {} if out is None else out
    if "$ref" in node:
        node = root["$defs"][node["$ref"].split("/")[-1]]
    if "anyOf" in node or "oneOf" in node:
        for branch in node.get("anyOf") or node["oneOf"]:
            our_flat(branch, root, path, out)
        return out
    if node.get("type") == "null":
        return out
    shape = out.setdefault(path, Shape())
    shape.nodes.append(node)
    if "const" in node or "enum" in node:
        shape.add("literal", node.get("enum", [node.get("const")]))
    elif node.get("type") == "object":
        shape.add("object")
        required = set(node.get("required", ()))
        for key, child in node.get("properties", {}).items():
            our_flat(child, root, _join(path, key), out)
            out[_join(path, key)].require(key in required)
    elif node.get("type") == "array":
        shape.add("array")
        our_flat(node["items"], root, path + "[]", out)
    else:
        shape.add(node["type"])
    return out


def sdk_params(endpoint: str, model_id: str) -> tuple[type, ModuleType] | None:
    """The SDK TypedDict whose `model` Literal names this model, and its module."""
    # The SDK names most params modules after the endpoint, and avatar_videos' in the singular.
    module = importlib.import_module(f"runwayml.types.{endpoint.replace('_videos', '_video')}_create_params")
    for value in vars(module).values():
        if typing_extensions.is_typeddict(value) and "model" in value.__annotations__:
            bare, _, _ = _unwrap(get_type_hints(value, include_extras=True)["model"])
            if model_id in get_args(bare):
                return value, module
    return None


def ours(spec: ModelSpec) -> Flat:
    root = request_model(spec.endpoint, spec.id).model_json_schema(by_alias=True)
    return our_flat(root, root)


def _whole_field(table: AllowList, key: tuple[str, str, str]) -> bool:
    return key in table and table[key][0] is None


def _values(table: AllowList, key: tuple[str, str, str]) -> frozenset[Any]:
    values = table[key][0] if key in table else None
    return values or frozenset()


_WORDS = ("one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")
_COUNT = r"\d+|" + "|".join(_WORDS)


def _count(text: str) -> int:
    return int(text) if text.isdigit() else _WORDS.index(text.lower()) + 1


def _number(text: str) -> float:
    return float(text.replace(",", ""))


def _string_lengths(nodes: list[dict[str, Any]]) -> set[int]:
    """The string lengths 0..40 our schema accepts (pattern and length bounds together)."""
    accepted: set[int] = set()
    for node in nodes:
        for length in range(41):
            sample = "a" * length
            if length < node.get("minLength", 0) or length > node.get("maxLength", 10**9):
                continue
            if "pattern" in node and not re.fullmatch(node["pattern"], sample):
                continue
            accepted.add(length)
    return accepted


def _enforced_by_check(spec: ModelSpec, path: str) -> bool:
    return path in RANGE_CHECKS and any(check.__name__ == RANGE_CHECKS[path] for check in spec.checks)


def documented_rules(spec: ModelSpec, path: str, sdk: Shape, mine: Shape) -> list[str]:
    """Drift between a field's SDK docstring (ranges, limits, defaults) and what we enforce."""
    problems: list[str] = []
    doc = " ".join(sdk.docs)
    nodes = mine.nodes
    numeric = [n for n in nodes if n.get("type") in ("integer", "number")]
    assets = [a for a in spec.assets if a.path == path or a.path.startswith((path + ".", path + "[]"))]
    if m := re.search(r"up to ([\d,]+) characters", doc):
        limits = {n.get("maxLength") for n in nodes if n.get("type") == "string"}
        if limits != {int(_number(m[1]))}:
            problems.append(f"{path}: SDK says at most {m[1]} characters, our maxLength is {limits}")
    if m := re.search(r"Must be (\d+)-(\d+) characters", doc):
        accepted = _string_lengths(nodes)
        if accepted != set(range(int(m[1]), min(int(m[2]), 40) + 1)):
            problems.append(f"{path}: SDK says {m[1]}-{m[2]} characters, we accept {sorted(accepted)}")
    if m := re.search(r"(?:from|between) (-?\d+(?:\.\d+)?) (?:to|and) (-?\d+(?:\.\d+)?)", doc):
        low, high = _number(m[1]), _number(m[2])
        if numeric:
            bounds = {(n.get("minimum"), n.get("maximum")) for n in numeric}
            if bounds != {(low, high)}:
                problems.append(f"{path}: SDK says {m[1]} to {m[2]}, our bounds are {bounds}")
        elif _enforced_by_check(spec, path) or (low, high) in {(a.min_aspect, a.max_aspect) for a in assets}:
            pass
        elif "seconds" in doc[m.end() : m.end() + 12]:
            if not any((a.min_seconds, a.max_seconds) == (low, high) for a in assets):
                problems.append(f"{path}: SDK says {m[1]} to {m[2]} seconds long, no asset rule says so")
        else:
            problems.append(f"{path}: SDK documents a range {m[1]} to {m[2]} this audit cannot place")
    counted = rf"\b(?:up to|({_COUNT}) to) ({_COUNT})\b"
    if "array" in sdk.kinds and (m := re.search(counted, doc, re.IGNORECASE)):
        documented = (_count(m[1]) if m[1] else 0, _count(m[2]))
        arrays = {(n.get("minItems", 0), n.get("maxItems")) for n in nodes if n.get("type") == "array"}
        if arrays != {documented}:
            problems.append(f"{path}: SDK says {m[0]!r} items, our (minItems, maxItems) are {arrays}")
    if "non-empty" in doc and not all(n.get("minLength", 0) >= 1 for n in nodes if n.get("type") == "string"):
        problems.append(f"{path}: SDK says non-empty, we accept an empty string")
    m = re.search(r"must not exceed (\d+) seconds", doc)
    if m and not any(a.total_seconds == _number(m[1]) for a in assets):
        problems.append(f"{path}: SDK caps the total at {m[1]} s, no asset rule says so")
    if m := re.search(r"`([^`]+)` \(default\)", doc):
        default = m[1]
        if default not in mine.literals:
            problems.append(f"{path}: SDK default {default!r} is not a value we accept")
        if spec.defaults.get(path, default) != default:
            problems.append(f"{path}: SDK default {default!r}, ours {spec.defaults[path]!r}")
    return problems


def drift(spec: ModelSpec) -> list[str]:
    """Every way the catalog's request schema for one model differs from the SDK's."""
    found = sdk_params(spec.endpoint, spec.id)
    if found is None:
        return [] if spec.legacy else [f"the SDK has no {spec.id} on {spec.endpoint} (mark it legacy?)"]
    if spec.legacy:
        return [f"{spec.id} is legacy but the SDK now has it as {found[0].__name__}: compare and unmark"]
    sdk, mine = sdk_flat(*found), ours(spec)
    problems: list[str] = []
    key = (spec.endpoint, spec.id)
    for alias in spec.aliases:
        if alias.new not in sdk:
            problems.append(f"alias {alias.old!r} rewrites to {alias.new!r}, which the SDK does not have")
        if alias.old in sdk:
            problems.append(f"alias {alias.old!r} shadows the SDK's own field of that name")
    untyped = [p for p, shape in sdk.items() if shape.untyped]
    for path in sorted(set(sdk) | set(mine)):
        if any(path.startswith((p + ".", p + "[]")) for p in untyped):
            continue
        theirs, ourshape = sdk.get(path), mine.get(path)
        if theirs is None:
            if not _whole_field(EXTRA_ALLOWED, (*key, path)):
                problems.append(f"{path}: accepted, but not a field of the SDK's {found[0].__name__}")
            continue
        if ourshape is None:
            if not _whole_field(MISSING_ALLOWED, (*key, path)):
                problems.append(f"{path}: a field of the SDK's {found[0].__name__} we refuse")
            continue
        if theirs.kinds != ourshape.kinds:
            problems.append(f"{path}: SDK takes {sorted(theirs.kinds)}, we take {sorted(ourshape.kinds)}")
        missing = theirs.literals - ourshape.literals - _values(MISSING_ALLOWED, (*key, path))
        extra = ourshape.literals - theirs.literals - _values(EXTRA_ALLOWED, (*key, path))
        if missing:
            problems.append(f"{path}: SDK values we refuse: {sorted(map(str, missing))}")
        if extra:
            problems.append(f"{path}: values we accept beyond the SDK: {sorted(map(str, extra))}")
        if path and bool(theirs.required) != bool(ourshape.required):
            which = "required" if theirs.required else "optional"
            problems.append(f"{path}: {which} in the SDK, not in our schema")
        problems += documented_rules(spec, path, theirs, ourshape)
    return problems


MODELS = sorted(CATALOG.values(), key=lambda spec: (spec.endpoint, spec.id))


@pytest.mark.parametrize("spec", MODELS, ids=[f"{s.endpoint}-{s.id}" for s in MODELS])
def test_request_fields_match_the_sdk(spec: ModelSpec) -> None:
    assert drift(spec) == []


def test_allow_lists_name_real_drift() -> None:
    """An entry the catalog has caught up with must go, or the lists would hide the next drift."""
    stale: list[str] = []
    for (endpoint, model_id, path), (values, _reason) in MISSING_ALLOWED.items():
        spec = CATALOG[(endpoint, model_id)]
        found = sdk_params(endpoint, model_id)
        assert found is not None, (endpoint, model_id)
        theirs, mine = sdk_flat(*found).get(path), ours(spec).get(path)
        assert theirs is not None, f"{path} is no longer in the SDK's {model_id}"
        if values is None:
            stale += [path] if mine is not None else []
        else:
            stale += [
                f"{path}={v}"
                for v in values
                if v not in theirs.literals or (mine is not None and v in mine.literals)
            ]
    for (endpoint, model_id, path), (values, _reason) in EXTRA_ALLOWED.items():
        mine = ours(CATALOG[(endpoint, model_id)]).get(path)
        if mine is None:
            stale.append(path)
        elif values is not None:
            stale += [f"{path}={v}" for v in values if v not in mine.literals]
    assert stale == []


def test_the_audit_sees_what_it_compares() -> None:
    """Guards the flattening itself: known SDK paths, kinds, aliases and docstrings come through."""
    found = sdk_params("image_to_video", "gen4.5")
    assert found is not None
    flat = sdk_flat(*found)
    assert flat["promptImage"].kinds == {"string", "array"}
    assert flat["promptImage[].position"].literals == {"first"}
    assert flat["contentModeration.publicFigureThreshold"].required is False
    assert flat["duration"].required is True
    assert "from 2 to 10" in flat["duration"].docs[0]
    sound = sdk_params("sound_effect", "eleven_text_to_sound_v2")
    assert sound is not None
    assert set(sdk_flat(*sound)) == {"", "model", "promptText", "duration", "loop"}


def test_seed_audio_output_format_is_refused_for_elevenlabs_sound_effects(client: RunwayML) -> None:
    """The SDK's `sound_effect.create` takes `output_format` for `seed_audio` only; sent with
    `eleven_text_to_sound_v2` it is an unknown field, as the SDK's TypedDict for that model says."""
    with pytest.raises(BadRequestError) as info:
        client.sound_effect.create(  # type: ignore[call-overload]
            model="eleven_text_to_sound_v2", prompt_text="a short beep", output_format="wav"
        )
    body = info.value.body
    assert isinstance(body, dict)
    assert [(i["code"], i["keys"]) for i in body["issues"]] == [("unrecognized_keys", ["outputFormat"])]
