"""One `POST /v1/<endpoint>` route per catalog endpoint, validated against the catalog's model union.

Bodies are parsed here rather than by FastAPI so that every malformed body, whatever its declared
content type, gets the real API's 400 with Zod-style issues instead of a framework error.
"""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import TypeAdapter, ValidationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from taxiway.accounts.repository import Principal
from taxiway.api import idempotency, input_limits
from taxiway.api.auth import CurrentPrincipal, State
from taxiway.api.errors import VALIDATION_FAILED, ApiError, body_issues
from taxiway.api.schemas import ErrorBody, TaskCreated
from taxiway.api.state import AppState
from taxiway.billing.ledger import InsufficientCredits
from taxiway.billing.quotas import QuotaExceeded
from taxiway.catalog import CATALOG, ENDPOINTS, EndpointSpec, ModelSpec, model_spec
from taxiway.catalog.schemas import request_adapter
from taxiway.clock import utcnow
from taxiway.db.tables import Task
from taxiway.tasks import drafts, inputs, references, service
from taxiway.testmode import runtime as testmode

router = APIRouter(tags=["generation"])
SCHEMA_REF = "#/components/schemas/{model}"


def _json_number(text: str, whole: list[bool]) -> int | float:
    """JSON has one number type: `5.0` is 5, as the real API (JavaScript) reads it, so an integer field
    takes it; `5.5` stays a number an integer field refuses."""
    value = float(text)
    if math.isfinite(value) and value.is_integer():
        whole.append(True)
        return int(value)
    return value


async def read_json_object(request: Request) -> tuple[bytes, dict[str, Any]]:
    """The raw body and its parse; only a JSON object passes, whatever the declared content type."""
    raw = await request.body()
    if not raw.strip():
        raise ApiError(400, "Request body is required and must be a JSON object")
    whole: list[bool] = []
    try:
        data = json.loads(raw, parse_float=lambda text: _json_number(text, whole))
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "Request body is not valid JSON") from None
    except RecursionError:
        raise input_limits.too_deep() from None
    if not isinstance(data, dict):
        kind = "array" if isinstance(data, list) else type(data).__name__
        issue = {
            "code": "invalid_type",
            "expected": "object",
            "path": [],
            "message": f"Invalid input: expected object, received {kind}",
        }
        raise ApiError(400, VALIDATION_FAILED, [issue])
    problem = input_limits.json_body_issue(data)
    if problem is not None:
        raise ApiError(400, VALIDATION_FAILED, [problem])
    if whole:  # validators read the raw body: give them the numbers as read
        raw = json.dumps(data).encode()
    return raw, data


async def read_optional_json_object(request: Request) -> tuple[bytes, dict[str, Any]]:
    """As `read_json_object`, for bodies whose every field is optional: an empty body reads as `{}`."""
    if not (await request.body()).strip():
        return b"{}", {}
    return await read_json_object(request)


def validate_body(endpoint: str, raw: bytes, data: dict[str, Any]) -> dict[str, Any]:
    """The validated body, camelCase and without nulls, as it is stored and handed to engines.

    Strict JSON validation, like the real API's: `"7"` is not a seed and `1` is not a prompt.
    """
    raw, data = _canonical(endpoint, raw, data)
    try:
        body = request_adapter(endpoint).validate_json(raw, strict=True)
    except ValidationError as exc:
        tags = [m.id for m in ENDPOINTS[endpoint].models]
        raise ApiError(400, VALIDATION_FAILED, body_issues(exc.errors(), data, tags)) from None
    params: dict[str, Any] = body.model_dump(mode="json", by_alias=True, exclude_none=True)
    problems = model_spec(endpoint, params["model"]).violations(params)
    if problems:
        raise ApiError(400, VALIDATION_FAILED, _custom_issues(problems))
    return params


def _custom_issues(problems: list[tuple[list[str | int], str]]) -> list[dict[str, Any]]:
    return [
        {"code": "custom", "path": path, "message": f"{'.'.join(map(str, path))}: {message}"}
        for path, message in problems
    ]


def _canonical(endpoint: str, raw: bytes, data: dict[str, Any]) -> tuple[bytes, dict[str, Any]]:
    """The body in the SDK's shape: fields the seeds name differently are renamed first (§21)."""
    model = data.get("model")
    spec = CATALOG.get((endpoint, model)) if isinstance(model, str) else None
    if spec is None or not spec.aliases:
        return raw, data
    canonical, problems = spec.canonical(data)
    if problems:
        raise ApiError(400, VALIDATION_FAILED, _custom_issues(problems))
    if canonical == data:
        return raw, data
    return json.dumps(canonical).encode(), canonical


# What a create call answers for its new task, written in the task's transaction (e.g. with a record
# that must commit with it).
Answer = Callable[[AsyncSession, Task], Awaitable[dict[str, Any]]]


async def task_created(_session: AsyncSession, task: Task) -> dict[str, Any]:
    return {"id": task.id, "estimatedCost": {"credits": task.estimated_credits}}


async def _remake(state: AppState, organization_id: str, draft_id: str) -> tuple[ModelSpec, dict[str, Any]]:
    """The remake a `draftTaskId` asks for: the draft's own model, endpoint and settings, at 1080p."""
    async with state.sessions() as session:
        try:
            found = await drafts.remake(session, organization_id, draft_id, utcnow())
        except drafts.DraftRejected as exc:
            raise ApiError(400, VALIDATION_FAILED, _custom_issues([(["draftTaskId"], str(exc))])) from None
    return found.spec, found.params


async def create_task(
    request: Request,
    principal: Principal,
    state: AppState,
    name: str,
    spec: ModelSpec,
    params: dict[str, Any],
    raw: bytes,
    once: idempotency.Guard | None = None,
    answer: Answer = task_created,
) -> JSONResponse:
    """Everything after a body validated: test-mode replies, input checks, the task and its credits.
    Catalog endpoints and recipes answer `{id, estimatedCost}`, `generate` its routing too (`answer`,
    written in the task's transaction); with `once` (the request's Idempotency-Key) the answer is kept
    in that transaction as well."""
    simulation = testmode.from_headers(request.headers, state.settings.test_mode)
    if simulation is None and state.settings.test_mode:
        async with state.sessions() as session:
            simulation = await testmode.standing(session, principal, name, raw)
    testmode.answer_http(simulation, f"{principal.api_key_id} {name}", raw)
    if references.needs_resolving(name):
        async with state.sessions() as session:
            params, issues = await references.resolve(session, principal.organization_id, name, params)
        if issues:
            raise ApiError(400, VALIDATION_FAILED, issues)
    refused = (
        []
        if state.engines.refuses_nothing(spec.endpoint, spec.id)
        else await asyncio.to_thread(state.engines.refusals, spec.endpoint, spec.id, params)
    )
    if refused:
        raise ApiError(400, VALIDATION_FAILED, _custom_issues(refused))
    checked = await inputs.check_at_submission(state.assets, spec, params, principal.organization_id)
    if checked.issues:
        raise ApiError(400, VALIDATION_FAILED, checked.issues)
    try:
        async with (
            state.admission_queue.turn(principal.organization_id, spec.id),
            state.sessions.begin() as session,
        ):
            task = await service.submit(
                session, principal, spec, params, checked.input_seconds, checked.input_pixels, simulation
            )
            body = await answer(session, task)
            if once is not None:
                await once.remember(session, body)  # the task and its key commit together
    except InsufficientCredits as exc:
        raise ApiError(400, str(exc)) from None
    except QuotaExceeded as exc:
        raise ApiError(exc.status, exc.message) from None
    except IntegrityError as exc:
        if once is None:
            raise
        return await once.after_conflict(state, exc)
    state.scheduler.accepted(task)
    return JSONResponse(body)


def _route(endpoint: EndpointSpec) -> Any:
    async def create(request: Request, principal: CurrentPrincipal, state: State) -> JSONResponse:
        raw, data = await read_json_object(request)
        once, replayed = await idempotency.open_guard(request, principal, state, data)
        if replayed is not None:
            return replayed
        params = validate_body(endpoint.name, raw, data)
        spec = model_spec(endpoint.name, params["model"])
        if "draftTaskId" in params:
            spec, params = await _remake(state, principal.organization_id, str(params["draftTaskId"]))
        return await create_task(request, principal, state, endpoint.name, spec, params, raw, once)

    create.__name__ = f"create_{endpoint.name}"
    return create


def body_schemas(adapters: Iterable[tuple[str, TypeAdapter[Any]]]) -> tuple[dict[str, Any], dict[str, Any]]:
    """OpenAPI request bodies per path, and the component schemas they reference."""
    bodies: dict[str, dict[str, Any]] = {}
    components: dict[str, Any] = {}
    for path, adapter in adapters:
        schema = adapter.json_schema(by_alias=True, ref_template=SCHEMA_REF)
        components.update(schema.pop("$defs", {}))
        bodies[path] = {"required": True, "content": {"application/json": {"schema": schema}}}
    return bodies, components


def request_body_schemas() -> tuple[dict[str, Any], dict[str, Any]]:
    return body_schemas((endpoint.path, request_adapter(endpoint.name)) for endpoint in ENDPOINTS.values())


for _endpoint in ENDPOINTS.values():
    router.add_api_route(
        _endpoint.path,
        _route(_endpoint),
        methods=["POST"],
        response_model=TaskCreated,
        responses={400: {"model": ErrorBody}, 401: {"model": ErrorBody}, 429: {"model": ErrorBody}},
        summary=_endpoint.summary,
        description="Models: " + ", ".join(m.id for m in _endpoint.models),
    )
