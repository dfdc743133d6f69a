"""Random bodies per endpoint, drawn from the catalog: valid ones are accepted, broken ones get a
400, and nothing ever gets a 5xx."""

from __future__ import annotations

from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conformance.variants import variants
from support.server import Server
from taxiway.catalog.schemas import request_model

BASES = [(v.endpoint, v.params) for v in variants()]
JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**40), 2**40)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)


def _enums(endpoint: str, model: str) -> dict[str, list[Any]]:
    """Each enumerated field's allowed values, from the generated schema."""
    schema = request_model(endpoint, model).model_json_schema(by_alias=True)
    found: dict[str, list[Any]] = {}
    for name, prop in schema["properties"].items():
        for option in prop.get("anyOf", [prop]):
            if "enum" in option and name != "model":
                found.setdefault(name, []).extend(option["enum"])
    return found


@st.composite
def valid_bodies(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    endpoint, base = draw(st.sampled_from(BASES))
    body = dict(base)
    for name, values in _enums(endpoint, base["model"]).items():
        if name in body or draw(st.booleans()):
            body[name] = draw(st.sampled_from(values))
    if "seed" in request_model(endpoint, base["model"]).model_fields:
        body["seed"] = draw(st.integers(0, 4_294_967_295))
    return endpoint, body


@st.composite
def broken_bodies(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    """A valid body broken in one way that is always invalid, whatever else was drawn."""
    endpoint, base = draw(valid_bodies())
    body = dict(base)
    schema = request_model(endpoint, body["model"]).model_json_schema(by_alias=True)
    # Only keys the body has: a seed-shaped body names a required field by its older alias.
    required = [k for k in schema["required"] if k in body]
    way = draw(st.sampled_from(["drop", "unknown", "model"]))
    if way == "drop":
        body.pop(draw(st.sampled_from(required)))
    elif way == "unknown":
        body[draw(st.text(min_size=1, max_size=12).filter(lambda k: k not in base))] = draw(JSON)
    else:
        body["model"] = draw(st.text(max_size=12) | st.integers() | st.none())
    return endpoint, body


def _post(server: Server, key: str, endpoint: str, body: Any) -> httpx.Response:
    return httpx.post(
        f"{server.base_url}/v1/{endpoint}",
        json=body,
        headers={"Authorization": f"Bearer {key}", "X-Runway-Version": "2024-11-06"},
        timeout=30,
    )


FUZZ = settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


@FUZZ
@given(valid_bodies())
def test_valid_bodies_are_accepted(
    server: Server, conformance_key: str, drawn: tuple[str, dict[str, Any]]
) -> None:
    endpoint, body = drawn
    response = _post(server, conformance_key, endpoint, body)
    if response.status_code == 400:
        # Only the catalog's cross-field rules may refuse a body made of individually valid values.
        assert all(issue["code"] == "custom" for issue in response.json()["issues"]), response.text
        return
    assert response.status_code == 200, response.text
    created = response.json()
    assert set(created) == {"id", "estimatedCost"}
    deleted = httpx.delete(
        f"{server.base_url}/v1/tasks/{created['id']}",
        headers={"Authorization": f"Bearer {conformance_key}", "X-Runway-Version": "2024-11-06"},
    )
    assert deleted.status_code == 204


@FUZZ
@given(broken_bodies())
def test_broken_bodies_are_400(
    server: Server, conformance_key: str, drawn: tuple[str, dict[str, Any]]
) -> None:
    endpoint, body = drawn
    response = _post(server, conformance_key, endpoint, body)
    assert response.status_code == 400, (body, response.text)
    assert response.json()["issues"]


@FUZZ
@given(st.sampled_from([b[0] for b in BASES]), JSON)
def test_any_json_never_5xx(server: Server, conformance_key: str, endpoint: str, body: Any) -> None:
    assert _post(server, conformance_key, endpoint, body).status_code < 500
