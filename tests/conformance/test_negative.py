"""For every constraint the catalog declares, a request breaking it gets a 400 naming the field.

The broken requests are derived from each model's generated JSON schema, starting from a valid body
per model (the conformance variants), so a new model or field is covered without new test code.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from conformance.variants import variants
from support.server import Server
from taxiway.catalog import CATALOG
from taxiway.catalog.schemas import request_model

BASES = {(v.endpoint, v.params["model"]): v.params for v in variants() if not v.raw}


def _resolve(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in schema:
        return _resolve(root["$defs"][schema["$ref"].split("/")[-1]], root)
    return schema


def _options(schema: dict[str, Any], root: dict[str, Any]) -> list[dict[str, Any]]:
    schema = _resolve(schema, root)
    if "anyOf" in schema:
        return [o for branch in schema["anyOf"] for o in _options(branch, root)]
    return [schema]


def breakages(endpoint: str, model: str) -> Iterator[tuple[str, dict[str, Any], str]]:
    """(description, broken body, field that must be named) for each constraint of one model."""
    base = BASES[(endpoint, model)]
    root = request_model(endpoint, model).model_json_schema(by_alias=True)
    yield "unknown key", {**base, "notAField": 1}, "notAField"
    for name in root.get("required", []):
        if name != "model":
            yield f"{name} missing", {k: v for k, v in base.items() if k != name}, name
    for name, prop in root["properties"].items():
        if name == "model":
            continue
        options = [o for o in _options(prop, root) if o.get("type") != "null"]
        types = {o.get("type") for o in options}
        yield f"{name} wrong type", {**base, name: {"nested": True} if "object" not in types else 12345}, name
        for option in options:
            if "enum" in option or "const" in option:
                yield f"{name} not allowed", {**base, name: "definitely-not-allowed"}, name
            if option.get("type") == "integer":
                if "minimum" in option:
                    yield f"{name} below minimum", {**base, name: option["minimum"] - 1}, name
                if "maximum" in option:
                    yield f"{name} above maximum", {**base, name: option["maximum"] + 1}, name
            if option.get("type") == "string" and option.get("minLength", 0) > 0 and name in base:
                yield f"{name} empty", {**base, name: ""}, name
            if option.get("type") == "array" and "maxItems" in option and isinstance(base.get(name), list):
                items = base[name] * (option["maxItems"] + 1)
                yield f"{name} too many", {**base, name: items[: option["maxItems"] + 1]}, name
            if option.get("type") == "string" and option.get("maxLength", 10**9) < 100_000:
                yield f"{name} too long", {**base, name: "é" * (option["maxLength"] + 1)}, name


CASES = [
    pytest.param(endpoint, body, field, id=f"{endpoint}-{model}-{what}")
    for (endpoint, model) in CATALOG
    for what, body, field in breakages(endpoint, model)
]


@pytest.mark.parametrize(("endpoint", "body", "field"), CASES)
def test_broken_constraint_is_400_naming_the_field(
    server: Server, conformance_key: str, endpoint: str, body: dict[str, Any], field: str
) -> None:
    response = httpx.post(
        f"{server.base_url}/v1/{endpoint}",
        json=body,
        headers={"Authorization": f"Bearer {conformance_key}", "X-Runway-Version": "2024-11-06"},
        timeout=30,
    )
    assert response.status_code == 400, response.text
    error = response.json()
    named = [
        issue for issue in error.get("issues", []) if field in issue["path"] or field in issue.get("keys", [])
    ]
    assert named, error


def test_every_catalog_model_has_a_conformance_variant() -> None:
    assert set(CATALOG) <= set(BASES)


@pytest.mark.parametrize(
    ("endpoint", "body", "field"),
    [
        ("image_to_video", {**BASES[("image_to_video", "veo3.1")],
                            "promptImage": [{"uri": "data:,x", "position": "last"}]}, "promptImage"),
        ("image_to_video", {**BASES[("image_to_video", "seedance2")],
                            "promptImage": [{"uri": "a", "position": "first"}, {"uri": "b"}]}, "promptImage"),
        ("image_to_video", {**BASES[("image_to_video", "veo3.1")],
                            "promptImage": [{"uri": "a", "position": "first"}, {"uri": "b", "position": "first"}]},
         "promptImage"),
        ("text_to_video", {**BASES[("text_to_video", "gen4.5")], "proresProfile": "422"}, "proresProfile"),
        ("text_to_video", {**BASES[("text_to_video", "veo3")], "duration": 4}, "duration"),
        ("text_to_video", {**BASES[("text_to_video", "gen4.5")], "ratio": "1104:832"}, "ratio"),
        ("text_to_video", {**BASES[("text_to_video", "seedance2")], "duration": 3}, "duration"),
    ],
    ids=["veo-last-only", "seedance-mixed-modes", "duplicate-first", "prores-profile-without-prores",
         "veo3-only-8s", "gen45-ttv-itv-ratio", "seedance-too-short"],
)  # fmt: skip
def test_cross_field_rules(
    server: Server, conformance_key: str, endpoint: str, body: dict[str, Any], field: str
) -> None:
    test_broken_constraint_is_400_naming_the_field(server, conformance_key, endpoint, body, field)
