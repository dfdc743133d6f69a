"""`/v1/routers`: an organization's Model Routers (create, list, retrieve, update, delete) and the
routing decisions each one made (`GET /v1/routers/{id}/requests`)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import IntegrityError

from taxiway.api import actors, idempotency, paging
from taxiway.api.auth import CurrentPrincipal, State
from taxiway.api.avatars import documented_body, parse_body
from taxiway.api.errors import VALIDATION_FAILED, ApiError
from taxiway.api.generation import read_json_object, read_optional_json_object
from taxiway.api.schemas import error_responses
from taxiway.avatars.cursors import MAX_LIMIT, MIN_LIMIT
from taxiway.clock import iso_millis
from taxiway.db.tables import ModelRouter
from taxiway.routing import requests, routers
from taxiway.routing.settings import ModelsMode, OptimizeFor, RouterCreate, RouterUpdate, SettingsProblem

router = APIRouter(prefix="/v1/routers", tags=["routers"])

NOT_FOUND = "Could not find Model Router"
LIST_ORDER = "createdAt:desc"
REQUESTS_ORDER = "requests:createdAt:desc"
_RESPONSES = error_responses(400, 401, 404)
NO_TAGS: frozenset[str] = frozenset()


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RouterFallback(_Out):
    onCapacity: bool


class RouterCaps(_Out):
    """Credits one generation may cost, for the modalities that have a cap."""

    audio: int | None = None
    image: int | None = None
    video: int | None = None


class RouterModels(_Out):
    ids: list[str]
    mode: ModelsMode


class RouterSettings(_Out):
    """The stored settings, every default filled in; a cap or a model list only when set."""

    schemaVersion: Literal[1]
    optimizeFor: OptimizeFor
    fallback: RouterFallback
    maxCreditsPerGeneration: RouterCaps | None = None
    models: RouterModels | None = None


class RouterView(_Out):
    id: str
    createdAt: datetime
    description: str | None
    name: str
    settings: RouterSettings
    slug: str
    updatedAt: datetime
    version: int


class RouterPage(_Out):
    data: list[RouterView]
    nextCursor: str | None


# The hard filters of `routing.candidates.Filter`, in their order.
FilterName = Literal["capability", "prompt_length", "input_support", "allow_deny", "price"]


class FilterStep(_Out):
    """The models a hard filter left."""

    type: Literal["filter"]
    filter: FilterName
    models: list[str]


class CapacityStep(_Out):
    """Models skipped because their queue was full for the organization."""

    type: Literal["capacity"]
    allExhausted: bool
    skipped: list[str]


class RankStep(_Out):
    type: Literal["rank"]
    outcome: Literal["cost", "selected", "fallback", "single_candidate"]


class RouterDecision(_Out):
    id: str
    createdAt: datetime
    emptiedBy: list[FilterName]
    estimatedCredits: float | None
    model: str | None
    pipeline: list[Annotated[FilterStep | CapacityStep | RankStep, Field(discriminator="type")]]
    provider: str | None
    reason: str | None
    reasonCode: (
        Literal["lowest_cost", "best_latency", "best_quality", "only_eligible_model", "filter_order_fallback"]
        | None
    )
    requestId: str
    status: Literal["routed", "no_eligible_model", "router_config_not_found", "invalid_request", "error"]
    taskId: str | None


class RouterDecisionPage(_Out):
    data: list[RouterDecision]
    nextCursor: str | None


def render(row: ModelRouter) -> dict[str, Any]:
    """A router as the SDK's RouterRetrieveResponse."""
    return {
        "id": row.id,
        "createdAt": iso_millis(row.created_at),
        "description": row.description,
        "name": row.name,
        "settings": row.settings,
        "slug": row.slug,
        "updatedAt": iso_millis(row.updated_at),
        "version": row.version,
    }


def _settings_error(problem: SettingsProblem) -> ApiError:
    where = ".".join(map(str, problem.path))
    issue = {"code": "custom", "path": problem.path, "message": f"{where}: {problem.message}"}
    return ApiError(400, VALIDATION_FAILED, [issue])


async def _own(state: State, organization_id: str, router_id: str) -> ModelRouter:
    async with state.sessions() as session:
        found = await routers.get(session, organization_id, router_id)
    if found is None:
        raise ApiError(404, NOT_FOUND)
    return found


def _taken(slug: str) -> ApiError:
    return ApiError(409, f"A Model Router with slug {slug!r} already exists.")


@router.post(
    "",
    response_model=RouterView,
    responses=error_responses(400, 401, 409),
    summary="Create a Model Router",
    openapi_extra=documented_body(RouterCreate),
)
@idempotency.idempotent
async def create_router(request: Request, principal: CurrentPrincipal, state: State) -> JSONResponse:
    raw, data = await read_json_object(request)
    body = parse_body(RouterCreate, raw, data, NO_TAGS)
    try:
        async with state.sessions.begin() as session:
            row = await routers.create(
                session, principal.organization_id, body, actors.api_key(request, principal)
            )
    except SettingsProblem as problem:
        raise _settings_error(problem) from None
    except (routers.SlugTaken, IntegrityError):  # the same slug created a moment before
        raise _taken(body.slug) from None
    return JSONResponse(render(row))


@router.get("", response_model=RouterPage, responses=_RESPONSES, summary="List Model Routers, newest first")
async def list_routers(
    principal: CurrentPrincipal,
    state: State,
    limit: Annotated[int, Query(ge=MIN_LIMIT, le=MAX_LIMIT)],
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> JSONResponse:
    after = paging.start(cursor, LIST_ORDER)
    async with state.sessions() as session:
        rows = await routers.page(session, principal.organization_id, limit + 1, after)
    return paging.page(rows, limit, LIST_ORDER, lambda row: (row.created_at, row.id), render)


@router.get(
    "/{router_id}", response_model=RouterView, responses=_RESPONSES, summary="Retrieve a Model Router"
)
async def get_router(router_id: str, principal: CurrentPrincipal, state: State) -> JSONResponse:
    return JSONResponse(render(await _own(state, principal.organization_id, router_id)))


@router.patch(
    "/{router_id}",
    response_model=RouterView,
    responses=_RESPONSES,
    summary="Update a Model Router (settings are merged; a settings change is a new version)",
    openapi_extra=documented_body(RouterUpdate),
)
async def update_router(
    router_id: str, request: Request, principal: CurrentPrincipal, state: State
) -> JSONResponse:
    raw, data = await read_optional_json_object(request)
    if "slug" in data:
        issue = {"code": "custom", "path": ["slug"], "message": "slug: is immutable; create a new router"}
        raise ApiError(400, VALIDATION_FAILED, [issue])
    body = parse_body(RouterUpdate, raw, data, NO_TAGS)
    try:
        async with state.sessions.begin() as session:
            row = await routers.get(session, principal.organization_id, router_id)
            if row is None:
                raise ApiError(404, NOT_FOUND)
            await routers.update(session, row, body, actors.api_key(request, principal))
            view = render(row)
    except SettingsProblem as problem:
        raise _settings_error(problem) from None
    return JSONResponse(view)


@router.delete("/{router_id}", status_code=204, responses=_RESPONSES, summary="Delete a Model Router")
async def delete_router(
    router_id: str, request: Request, principal: CurrentPrincipal, state: State
) -> Response:
    async with state.sessions.begin() as session:
        row = await routers.get(session, principal.organization_id, router_id)
        if row is None:
            raise ApiError(404, NOT_FOUND)
        await routers.remove(session, row, actors.api_key(request, principal))
    return Response(status_code=204)


@router.get(
    "/{router_id}/requests",
    response_model=RouterDecisionPage,
    responses=_RESPONSES,
    summary="List a Model Router's routing decisions, newest first",
)
async def list_router_requests(
    router_id: str,
    principal: CurrentPrincipal,
    state: State,
    limit: Annotated[int, Query(ge=MIN_LIMIT, le=MAX_LIMIT)],
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> JSONResponse:
    after = paging.start(cursor, REQUESTS_ORDER)
    found = await _own(state, principal.organization_id, router_id)
    async with state.sessions() as session:
        rows = await requests.page(session, found.id, limit + 1, after)
    return paging.page(rows, limit, REQUESTS_ORDER, lambda row: (row.created_at, row.id), requests.view)
