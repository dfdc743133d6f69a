"""The catalog as JSON for clients that build requests from it (the console's playground): every
endpoint and model with its request JSON schema, media fields, defaults and price, and the names
the official SDKs give the endpoint."""

from __future__ import annotations

from typing import Any

from pydantic.alias_generators import to_camel

from taxiway.catalog.index import ENDPOINTS
from taxiway.catalog.models import EndpointSpec, ModelSpec
from taxiway.catalog.schemas import request_model


def _model(endpoint: EndpointSpec, model: ModelSpec) -> dict[str, Any]:
    return {
        "id": model.id,
        "description": model.description,
        "output": model.output.value,
        "price": model.price.describe(),
        "legacy": model.legacy,
        "defaults": dict(model.defaults),
        # Where media URIs go; a null kind means the sibling `type` field names it. Internal fields
        # (resolved by the server, e.g. an avatar's image) are not the client's to fill.
        "media": [
            {"path": field.path, "kind": field.kind.value if field.kind else None}
            for field in model.assets
            if not field.internal
        ],
        "schema": request_model(endpoint.name, model.id).model_json_schema(by_alias=True),
    }


def catalog_document() -> dict[str, Any]:
    return {
        "endpoints": [
            {
                "name": endpoint.name,
                "path": endpoint.path,
                "summary": endpoint.summary,
                "output": endpoint.output.value,
                # `client.text_to_image` in Python, `client.textToImage` in Node (null: no Node resource).
                "sdk": {
                    "python": endpoint.name,
                    "node": to_camel(endpoint.name) if endpoint.in_node_sdk else None,
                },
                "models": [_model(endpoint, model) for model in endpoint.models],
            }
            for endpoint in ENDPOINTS.values()
        ]
    }
