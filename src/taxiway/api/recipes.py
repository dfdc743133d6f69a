"""`POST /v1/recipes/<name>`: compositions of catalog calls, each answered as one task.

The body is validated strictly against the recipe's schema (the SDK's), its media inputs checked as
any task's are, and the task is created through the same path as every catalog endpoint, priced at
the sum of its steps' catalog prices.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from taxiway.api import idempotency
from taxiway.api.auth import CurrentPrincipal, State
from taxiway.api.errors import VALIDATION_FAILED, ApiError, body_issues
from taxiway.api.generation import body_schemas, create_task, read_json_object
from taxiway.api.schemas import TaskCreated, error_responses
from taxiway.catalog.recipes import RECIPES, Recipe, request_adapter

router = APIRouter(tags=["recipes"])


def validate_recipe(recipe: Recipe, raw: bytes, data: dict[str, Any]) -> dict[str, Any]:
    """The body camelCase and without nulls, as stored and handed to the recipe engine."""
    try:
        body = request_adapter(recipe.name).validate_json(raw, strict=True)
    except ValidationError as exc:
        tags = ["auto", "custom"] if recipe.name == "multi_shot_video" else []
        issues = body_issues(exc.errors(), {"model": data.get("mode")} if tags else data, tags)
        raise ApiError(400, VALIDATION_FAILED, issues) from None
    params: dict[str, Any] = body.model_dump(mode="json", by_alias=True, exclude_none=True)
    return params


def _route(recipe: Recipe) -> Any:
    async def create(request: Request, principal: CurrentPrincipal, state: State) -> JSONResponse:
        raw, data = await read_json_object(request)
        once, replayed = await idempotency.open_guard(request, principal, state, data)
        if replayed is not None:
            return replayed
        params = validate_recipe(recipe, raw, data)
        return await create_task(
            request, principal, state, f"recipes/{recipe.name}", recipe.spec, params, raw, once
        )

    create.__name__ = f"recipe_{recipe.name}"
    return create


def request_body_schemas() -> tuple[dict[str, Any], dict[str, Any]]:
    return body_schemas((recipe.path, request_adapter(recipe.name)) for recipe in RECIPES.values())


for _recipe in RECIPES.values():
    router.add_api_route(
        _recipe.path,
        _route(_recipe),
        methods=["POST"],
        response_model=TaskCreated,
        responses=error_responses(400, 401, 429),
        summary=_recipe.summary,
        description=f"Versions: {', '.join(_recipe.versions)}. Priced at {_recipe.spec.price.describe()}.",
    )
