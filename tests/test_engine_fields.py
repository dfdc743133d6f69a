"""Engines read typed fields (`request.fields`), declared for every field the catalog's models take."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from pydantic.alias_generators import to_camel

import taxiway.engines
from taxiway.catalog import CATALOG
from taxiway.engines.base import EngineRequest
from taxiway.engines.fields import MediaRef, RequestFields
from taxiway.errors import Failure

ENGINES = Path(taxiway.engines.__file__).parent


def request(params: dict[str, object]) -> EngineRequest:
    return EngineRequest("task", "image_to_video", "gen4_turbo", params, seed=1)


def test_every_catalog_field_is_declared_for_engines() -> None:
    declared = {field.alias or name for name, field in RequestFields.model_fields.items()}
    missing = {
        f"{endpoint}/{model}: {to_camel(name)}"
        for (endpoint, model), spec in CATALOG.items()
        for name in spec.fields
        if to_camel(name) not in declared
    }
    assert not missing, "declare these in engines/fields.py RequestFields: " + ", ".join(sorted(missing))


def test_fields_are_typed_views_of_the_params() -> None:
    fields = request(
        {
            "model": "gen4_turbo",
            "promptText": "a boat",
            "promptImage": [{"uri": "data:a", "position": "first"}, {"uri": "data:b", "position": "last"}],
            "duration": 5,
            "audio": True,
        }
    ).fields
    assert fields.prompt_text == "a boat" and fields.seconds == 5.0 and fields.audio is True
    assert fields.prompt_image == (
        MediaRef(uri="data:a", position="first"),
        MediaRef(uri="data:b", position="last"),
    )
    assert fields.ratio is None and fields.reference_images == ()  # what the model does not take
    assert request({"duration": "auto"}).fields.seconds is None
    assert request({}).fields_over({"ratio": "1280:720"}).ratio == "1280:720"
    assert request({"ratio": "960:960"}).fields_over({"ratio": "1280:720"}).ratio == "960:960"


def test_a_body_engines_cannot_read_fails_naming_the_field() -> None:
    with pytest.raises(Failure) as failure:
        _ = request({"promptText": 7}).fields
    assert failure.value.code == "INPUT.INVALID" and failure.value.message.startswith("promptText:")
    with pytest.raises(Failure, match="unknownField"):
        _ = request({"unknownField": 1}).fields
    with pytest.raises(Failure, match="videoUri: is required"):
        request({}).fields.required("video_uri")


def _reads_of_params(path: Path) -> list[int]:
    """Lines where `request.params` is read by key (`.get(...)` or `[...]`) rather than typed fields."""
    lines = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        target = None
        if isinstance(node, ast.Subscript):
            target = node.value
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get":
            target = node.func.value
        if (
            isinstance(target, ast.Attribute)
            and target.attr == "params"
            and isinstance(target.value, ast.Name)
            and target.value.id == "request"
        ):
            lines.append(node.lineno)
    return lines


def test_engines_read_fields_not_params() -> None:
    found = {
        str(path.relative_to(ENGINES)): lines
        for path in sorted(ENGINES.rglob("*.py"))
        if (lines := _reads_of_params(path))
    }
    assert not found, f"engines read request.params by key (use request.fields): {found}"


def test_the_check_sees_reads_of_params(tmp_path: Path) -> None:
    source = tmp_path / "engine.py"
    source.write_text('a = request.params["x"]\nb = request.params.get("y")\nc = request.fields.x\n')
    assert _reads_of_params(source) == [1, 2]
