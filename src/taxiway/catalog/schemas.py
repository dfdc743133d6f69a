"""Request schemas generated from the catalog: one strict model per (endpoint, model), unioned on `model`."""

from __future__ import annotations

import re
from functools import cache
from typing import Annotated, Any, Literal, Union

from pydantic import Field, TypeAdapter, create_model

from taxiway.catalog.fields import StrictModel
from taxiway.catalog.index import ENDPOINTS
from taxiway.catalog.models import ModelSpec


def _class_name(endpoint: str, model_id: str) -> str:
    words = re.split(r"[^0-9A-Za-z]+", f"{endpoint}_{model_id}")
    return "".join(word[:1].upper() + word[1:] for word in words if word)


@cache
def request_model(endpoint: str, model_id: str) -> type[StrictModel]:
    spec: ModelSpec = next(m for m in ENDPOINTS[endpoint].models if m.id == model_id)
    fields: dict[str, Any] = {"model": (Literal[spec.id], ...)}
    fields.update(spec.fields)
    model = create_model(_class_name(endpoint, model_id), __base__=StrictModel, **fields)
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
