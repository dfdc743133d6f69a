"""Request schemas generated from the catalog: one strict model per (endpoint, model), unioned on `model`."""

from __future__ import annotations

import re
from functools import cache
from typing import Annotated, Any, Literal, Union

from pydantic import ConfigDict, Field, TypeAdapter, create_model

from taxiway.catalog.fields import StrictModel
from taxiway.catalog.index import ENDPOINTS
from taxiway.catalog.models import ModelSpec, SchemaRule


def _class_name(endpoint: str, model_id: str) -> str:
    words = re.split(r"[^0-9A-Za-z]+", f"{endpoint}_{model_id}")
    return "".join(word[:1].upper() + word[1:] for word in words if word)


def _stated(check: object) -> dict[str, Any] | None:
    return check.json_schema() if isinstance(check, SchemaRule) else None


@cache
def request_model(endpoint: str, model_id: str) -> type[StrictModel]:
    spec: ModelSpec = next(m for m in ENDPOINTS[endpoint].models if m.id == model_id)
    fields: dict[str, Any] = {"model": (Literal[spec.id], ...)}
    fields.update(spec.fields)
    rules = [rule for rule in map(_stated, spec.checks) if rule is not None]
    base: type[StrictModel] = StrictModel
    if rules:  # the cross-field rules JSON Schema can state, as the body's `allOf`
        stated: dict[str, Any] = rules[0] if len(rules) == 1 else {"allOf": rules}

        class RuledModel(StrictModel):
            model_config = ConfigDict(json_schema_extra=stated)

        base = RuledModel
    model = create_model(_class_name(endpoint, model_id), __base__=base, **fields)
    model.__doc__ = spec.description or f"{spec.id} on {endpoint}"
    return model


@cache
def request_union(endpoint: str) -> Any:
    """The body type of an endpoint: a union discriminated by `model`, as in the SDK's create params."""
    members = tuple(request_model(endpoint, m.id) for m in ENDPOINTS[endpoint].models)
    if len(members) == 1:
        return members[0]
    return Annotated[Union[members], Field(discriminator="model")]  # noqa: UP007


@cache
def request_adapter(endpoint: str) -> TypeAdapter[Any]:
    return TypeAdapter(request_union(endpoint))
