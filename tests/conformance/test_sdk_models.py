"""Every `model` value both official SDKs can send is served, and every field the Node SDK declares on a
served model is one we accept.

The Python side reads `runwayml.types.*_create_params`; the Node side parses @runwayml/sdk's `.d.ts`
declarations (Stainless writes them one property per line). "Served" is read from the running server's
own `/openapi.json`, so a model counts only when a route really takes it.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, get_args, get_type_hints

import httpx
import pytest
import runwayml.resources
import runwayml.types
import typing_extensions

from conformance.test_sdk_fields import Flat, Shape, _unwrap, ours
from support.server import Server
from taxiway.catalog import CATALOG

NODE_RESOURCES = Path(__file__).parent / "node" / "node_modules" / "@runwayml" / "sdk" / "resources"
needs_node_sdk = pytest.mark.skipif(
    not NODE_RESOURCES.exists(), reason="the Node SDK is installed by `make test` (npm ci)"
)


@cache
def create_paths() -> dict[str, str]:
    """Create-params module (`avatar_video`) -> the path its `create` posts to (`/v1/avatar_videos`)."""
    paths: dict[str, str] = {}
    for info in pkgutil.iter_modules(runwayml.resources.__path__):
        source = inspect.getsource(importlib.import_module(f"runwayml.resources.{info.name}"))
        for match in re.finditer(r'"(/v1/[a-z_]+)",\s*body=[^)]*?(\w+)_create_params\.', source):
            paths[match[2]] = match[1]
    return paths


def python_models() -> dict[str, set[str]]:
    """Path -> every `model` Literal of the create params posted there."""
    found: dict[str, set[str]] = {}
    for info in pkgutil.iter_modules(runwayml.types.__path__):
        if not info.name.endswith("_create_params"):
            continue
        module = importlib.import_module(f"runwayml.types.{info.name}")
        path = create_paths()[info.name.removesuffix("_create_params")]
        for value in vars(module).values():
            if typing_extensions.is_typeddict(value) and "model" in value.__annotations__:
                bare, _, _ = _unwrap(get_type_hints(value, include_extras=True)["model"])
                found.setdefault(path, set()).update(get_args(bare))
    return found


# ---- the Node SDK's declarations ----------------------------------------------------------------------

_DECLARATION = re.compile(
    r"^(?P<indent> *)(?:export (?:declare )?)?(?P<kind>interface|namespace) (?P<name>\w+)"
)
_PROPERTY = re.compile(r"^ *(?P<name>\w+)(?P<optional>\??): (?P<type>.+);$")


@dataclass
class NodeInterface:
    scope: tuple[str, ...]  # enclosing namespaces, outermost first
    properties: dict[str, tuple[bool, str]] = field(default_factory=dict)  # name -> (required, type)


def node_interfaces(text: str) -> dict[tuple[str, ...], NodeInterface]:
    """Every interface of the file by qualified name, e.g. ("VideoToVideoCreateParams", "Variant0")."""
    interfaces: dict[tuple[str, ...], NodeInterface] = {}
    stack: list[tuple[int, str, str]] = []  # (indent, kind, name)
    current: NodeInterface | None = None
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith(("/**", "*", "*/")) or not stripped:
            continue
        if match := _DECLARATION.match(line):
            indent = len(match["indent"])
            while stack and stack[-1][0] >= indent:
                stack.pop()
            scope = tuple(name for _, _, name in stack)
            stack.append((indent, match["kind"], match["name"]))
            current = None
            if match["kind"] == "interface":
                current = interfaces.setdefault((*scope, match["name"]), NodeInterface(scope))
            continue
        if stripped == "}":
            indent = len(line) - len(line.lstrip())
            while stack and stack[-1][0] >= indent:
                stack.pop()
            current = None
            continue
        if current is not None and (prop := _PROPERTY.match(line)):
            current.properties[prop["name"]] = (not prop["optional"], prop["type"])
    return interfaces


def _split_union(type_text: str) -> list[str]:
    parts, depth, start = [], 0, 0
    for index, char in enumerate(type_text):
        depth += char == "<"
        depth -= char == ">"
        if char == "|" and depth == 0:
            parts.append(type_text[start:index].strip())
            start = index + 1
    parts.append(type_text[start:].strip())
    return parts


_NODE_KINDS = {"string": "string", "number": "number", "boolean": "boolean"}


def node_flat(
    interfaces: dict[tuple[str, ...], NodeInterface],
    key: tuple[str, ...],
    path: str = "",
    out: Flat | None = None,
) -> Flat:
    """The interface flattened to JSON paths like the Python audit's (`promptImage[].uri`)."""
    out = {} if out is None else out
    out.setdefault(path, Shape()).add("object")
    for name, (required, type_text) in interfaces[key].properties.items():
        child = f"{path}.{name}" if path else name
        _node_type(interfaces, key, type_text, child, out)
        out[child].require(required)
    return out


def _node_type(
    interfaces: dict[tuple[str, ...], NodeInterface],
    key: tuple[str, ...],
    type_text: str,
    path: str,
    out: Flat,
) -> None:
    shape = out.setdefault(path, Shape())
    for part in _split_union(type_text):
        if part.startswith("'"):
            shape.add("literal", [part.strip("'")])
        elif part in _NODE_KINDS or part in ("(string & {})", "(number & {})"):
            shape.add(_NODE_KINDS[part.strip("(){} &")])
        elif part.isdigit():
            shape.add("literal", [int(part)])
        elif part.startswith("Array<"):
            shape.add("array")
            _node_type(interfaces, key, part[len("Array<") : -1], path + "[]", out)
        elif part == "unknown":
            shape.add("unknown")
        else:
            target = _resolve(interfaces, key, tuple(part.split(".")))
            node_flat(interfaces, target, path, out)


def _resolve(
    interfaces: dict[tuple[str, ...], NodeInterface], key: tuple[str, ...], name: tuple[str, ...]
) -> tuple[str, ...]:
    """A type name as TypeScript looks it up: from the referring interface's scope outwards."""
    for depth in range(len(key), -1, -1):
        candidate = (*key[:depth], *name)
        if candidate in interfaces:
            return candidate
    raise KeyError(f"{'.'.join(name)} referenced from {'.'.join(key)}")


@cache
def node_declarations() -> dict[str, dict[str, Flat]]:
    """Path -> model -> its flattened create params, for every resource with `create`."""
    found: dict[str, dict[str, Flat]] = {}
    for file in sorted(NODE_RESOURCES.glob("*.d.ts")):
        text = file.read_text()
        create = re.search(r"\bcreate\(body: (\w+)CreateParams", text)
        if not create:
            continue
        script = file.with_name(file.name.removesuffix(".d.ts") + ".js").read_text()
        posted = re.search(r"create\(body[^{]*\{[^}]*?post\('(/v1/[a-z_]+)'", script, re.DOTALL)
        assert posted, f"{file.name}: no create path"
        resource = posted[1]
        interfaces = node_interfaces(text)
        for key, interface in interfaces.items():
            if key[0] != f"{create[1]}CreateParams" or len(key) > 2:
                continue
            model = interface.properties.get("model")
            if model is not None:
                for value in _split_union(model[1]):
                    found.setdefault(resource, {})[value.strip("'")] = node_flat(interfaces, key)
    return found


def node_models() -> dict[str, set[str]]:
    """Path -> every `model` value of the Node SDK's create params posted there."""
    return {path: set(models) for path, models in node_declarations().items()}


# ---- what the server serves ---------------------------------------------------------------------------


def _model_values(schema: Any, components: dict[str, Any], seen: set[str]) -> Iterator[str]:
    """Every value a body schema allows for a `model` key at any depth (voices name theirs in `from`),
    through refs, unions and nested objects."""
    if isinstance(schema, list):
        for item in schema:
            yield from _model_values(item, components, seen)
        return
    if not isinstance(schema, dict):
        return
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        if name not in seen:
            seen.add(name)
            yield from _model_values(components[name], components, seen)
        return
    for key, value in schema.get("properties", {}).items():
        if key == "model" and isinstance(value, dict):
            yield from value.get("enum", [])
            if "const" in value:
                yield value["const"]
        yield from _model_values(value, components, seen)
    for key in ("anyOf", "oneOf", "allOf", "items"):
        if key in schema:
            yield from _model_values(schema[key], components, seen)


@pytest.fixture(scope="module")
def served(server: Server) -> dict[str, set[str]]:
    """Path -> every `model` value its POST body takes, from the server's OpenAPI document."""
    document = httpx.get(f"{server.base_url}/openapi.json", timeout=30).json()
    components = document.get("components", {}).get("schemas", {})
    found: dict[str, set[str]] = {}
    for path, operations in document["paths"].items():
        body = (
            operations.get("post", {}).get("requestBody", {}).get("content", {}).get("application/json", {})
        )
        values = set(_model_values(body.get("schema", {}), components, set()))
        if values:
            found[path] = values
    return found


def _unserved(sdk: dict[str, set[str]], served: dict[str, set[str]]) -> set[tuple[str, str]]:
    return {
        (path, model) for path, models in sdk.items() for model in models if model not in served.get(path, ())
    }


def test_every_python_sdk_model_is_served(served: dict[str, set[str]]) -> None:
    assert _unserved(python_models(), served) == set()


@needs_node_sdk
def test_every_node_sdk_model_is_served(served: dict[str, set[str]]) -> None:
    assert _unserved(node_models(), served) == set()


def test_the_audit_sees_both_sdks() -> None:
    """Guards the readers themselves: known models of both SDKs come through."""
    python = python_models()
    assert {"gpt_image_2", "gen4_image"} <= python["/v1/text_to_image"]
    assert "eleven_v3" in python["/v1/text_to_speech"]
    assert python["/v1/realtime_sessions"] == python["/v1/avatar_videos"] == {"gwm1_avatars"}
    if NODE_RESOURCES.exists():
        node = node_declarations()
        assert "seedance2_5" in node["/v1/text_to_video"]
        assert "/v1/voices" in node
        aleph = node["/v1/video_to_video"]["aleph2"]
        assert aleph["keyframes[].range.start_seconds"].kinds == {"number"}
        assert aleph["outputFormat"].literals == {"mp4", "prores", "png_sequence", "sdr_rec709_10bit"}


# ---- the Node SDK's fields ----------------------------------------------------------------------------


def node_drift(endpoint: str, model: str, theirs: Flat) -> list[str]:
    """Ways a body the Node SDK can send for this model would be refused by our schema."""
    mine = ours(CATALOG[(endpoint, model)])
    problems = []
    for path, shape in sorted(theirs.items()):
        if any(
            path.startswith(p + "[]") or path.startswith(p + ".")
            for p, s in theirs.items()
            if "unknown" in s.kinds
        ):
            continue
        ourshape = mine.get(path)
        if ourshape is None:
            problems.append(f"{path}: declared by the Node SDK, refused by us")
            continue
        kinds = {
            "integer" if kind == "number" and "integer" in ourshape.kinds else kind for kind in shape.kinds
        }
        if not kinds <= ourshape.kinds | {"unknown"}:
            problems.append(f"{path}: Node sends {sorted(kinds)}, we take {sorted(ourshape.kinds)}")
        if refused := shape.literals - ourshape.literals:
            problems.append(f"{path}: Node values we refuse: {sorted(map(str, refused))}")
        if path and ourshape.required and not shape.required:
            problems.append(f"{path}: optional in the Node SDK, required by us")
    return problems


NODE_MODELS = sorted(CATALOG, key=lambda pair: pair)


@needs_node_sdk
@pytest.mark.parametrize(("endpoint", "model"), NODE_MODELS, ids=[f"{e}-{m}" for e, m in NODE_MODELS])
def test_node_sdk_fields_are_accepted(endpoint: str, model: str) -> None:
    declared = node_declarations().get(f"/v1/{endpoint}", {}).get(model)
    if declared is None:
        pytest.skip(f"the Node SDK has no {model} on {endpoint}")
    assert node_drift(endpoint, model, declared) == []
