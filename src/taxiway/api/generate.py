"""`POST /v1/generate/{image,video,audio}`: a generation routed by a saved Model Router.

The router's settings choose the model (`routing.decide`); the chosen model's request, validated by
the catalog as a direct call is, becomes a task through the same path as every create call (test
mode, input checks, credits and quotas). Every decision, routed or refused, is kept for the router's
`requests` list; the task and its decision commit together.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from taxiway.api import actors, idempotency
from taxiway.api.auth import CurrentPrincipal, State
from taxiway.api.avatars import documented_body, parse_body
from taxiway.api.errors import VALIDATION_FAILED, ApiError
from taxiway.api.generation import create_task, read_json_object
from taxiway.api.schemas import error_responses
from taxiway.db.tables import ModelRouter, Task
from taxiway.routing import requests, routers
from taxiway.routing.candidates import Candidate, origin_of
from taxiway.routing.data import Modality, provider
from taxiway.routing.decide import Decision
from taxiway.routing.inputs import BODIES, problems
from taxiway.testmode.runtime import SimulatedReply

router = APIRouter(prefix="/v1/generate", tags=["generate"])
# Union members pydantic names in error paths; the SDK's paths have none.
UNION_TAGS = frozenset({"preset", "reference-audio", "KeyframeAtSeconds", "KeyframeAt"})


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EstimatedCredits(_Out):
    credits: int


class ResolvedSettings(_Out):
    optimizeFor: Literal["cost", "latency", "quality"]
    priceCeiling: float | None


class CapacityFallback(_Out):
    allExhausted: bool
    skipped: list[str]


class ResolvedImage(_Out):
    aspectRatio: str
    ratio: str
    resolution: str


class ResolvedVideo(_Out):
    duration: float
    ratio: str
    resolution: str


class ResolvedAudio(_Out):
    type: Literal["speech", "audio"]
    voice: Literal["preset", "reference-audio", "default", "none"]


class _Routing(_Out):
    configId: str
    estimatedCost: EstimatedCredits
    model: str
    provider: str
    resolvedSettings: ResolvedSettings
    capacityFallback: CapacityFallback | None = None


class ImageRouting(_Routing):
    resolvedInput: ResolvedImage


class VideoRouting(_Routing):
    resolvedInput: ResolvedVideo


class AudioRouting(_Routing):
    resolvedInput: ResolvedAudio


class ImageGenerated(_Out):
    id: str
    routing: ImageRouting


class VideoGenerated(_Out):
    id: str
    routing: VideoRouting


class AudioGenerated(_Out):
    id: str
    routing: AudioRouting


# What each create answers, as the SDK's ImageCreateResponse and its siblings declare it.
ANSWERS: dict[Modality, type[_Out]] = {
    Modality.IMAGE: ImageGenerated,
    Modality.VIDEO: VideoGenerated,
    Modality.AUDIO: AudioGenerated,
}


def _issue(path: list[str | int], message: str) -> dict[str, Any]:
    return {"code": "custom", "path": path, "message": f"{'.'.join(map(str, path))}: {message}"}


def routing_view(decision: Decision, chosen: Candidate, slug: str, credits: int) -> dict[str, Any]:
    """The `routing` of a generate response, as the SDK declares it."""
    view: dict[str, Any] = {
        "configId": slug,
        "estimatedCost": {"credits": credits},
        "model": chosen.model,
        "provider": provider(chosen.model),
        "resolvedInput": chosen.resolved,
        "resolvedSettings": decision.resolved_settings,
    }
    if decision.capacity is not None:
        view["capacityFallback"] = {
            "allExhausted": decision.capacity["allExhausted"],
            "skipped": decision.capacity["skipped"],
        }
    return view


def _in_input_terms(error: ApiError, chosen: Candidate) -> ApiError:
    """A refusal of the chosen model's request, its issues pointed at the generate body's fields."""
    if not error.issues:
        return error
    issues = []
    for issue in error.issues:
        path = list(issue.get("path") or [])
        found = origin_of(chosen.origins, path)
        if found is None:
            issues.append(issue)
            continue
        old, new = ".".join(map(str, path)), ".".join(map(str, found))
        message = str(issue.get("message", ""))
        message = new + message[len(old) :] if message.startswith(old) else message
        issues.append({**issue, "path": list(found), "message": message})
    return ApiError(error.status, error.message, issues, **error.headers)


async def _keep(
    state: State,
    found: ModelRouter,
    request_id: str,
    modality: Modality,
    status: str,
    decision: Decision | None = None,
    reason: str | None = None,
) -> None:
    """Record a decision that made no task (refused or failed)."""
    async with state.sessions.begin() as session:
        if await routers.get(session, found.organization_id, found.id) is not None:
            requests.record(session, found, request_id, modality, status, decision, reason=reason)


def _route(modality: Modality) -> Any:
    model = BODIES[modality]

    async def create(request: Request, principal: CurrentPrincipal, state: State) -> JSONResponse:
        raw, data = await read_json_object(request)
        # The same request again: its first answer, and no new decision.
        once, replayed = await idempotency.open_guard(request, principal, state, data)
        if replayed is not None:
            return replayed
        body = parse_body(model, raw, data, UNION_TAGS)
        request_id = actors.request_id(request)
        async with state.sessions() as session:
            found = await routers.find_by_slug(session, principal.organization_id, body.configId)
        if found is None:
            raise ApiError(404, f"No Model Router with configId {body.configId!r} was found.")
        refused = problems(body.input)
        if refused:
            reason = "; ".join(f"{'.'.join(map(str, path))}: {message}" for path, message in refused)
            await _keep(state, found, request_id, modality, "invalid_request", reason=reason)
            raise ApiError(400, VALIDATION_FAILED, [_issue(path, message) for path, message in refused])
        async with state.sessions() as session:
            decision = await state.routing.decide(session, principal, found.settings, modality, body.input)
        chosen = decision.chosen
        if chosen is None:
            await _keep(state, found, request_id, modality, decision.status, decision)
            issues = [_issue(list(r.path), r.message) for r in decision.blocking()]
            raise ApiError(
                400,
                f"No model of Model Router {found.slug!r} can serve this request. {decision.reason}",
                issues,
            )

        async def answer(session: AsyncSession, task: Task) -> dict[str, Any]:
            requests.record(
                session,
                found,
                request_id,
                modality,
                "routed",
                decision,
                task_id=task.id,
                credits=task.estimated_credits,
            )
            return {
                "id": task.id,
                "routing": routing_view(decision, chosen, found.slug, task.estimated_credits),
            }

        params = chosen.params
        try:
            response = await create_task(
                request,
                principal,
                state,
                chosen.endpoint,
                chosen.spec,
                params,
                json.dumps(params).encode(),
                once,
                answer,
            )
        except ApiError as exc:
            error = _in_input_terms(exc, chosen)
            status = "invalid_request" if exc.status == 400 and exc.issues else "error"
            await _keep(
                state, found, request_id, modality, status, decision, reason=f"{chosen.model}: {error}"
            )
            raise error from None
        except SimulatedReply as reply:  # test mode's answer to the create call
            await _keep(state, found, request_id, modality, "error", decision, reason=reply.message)
            raise
        except IntegrityError:  # the router was deleted while its request was routed
            async with state.sessions() as session:
                if await routers.get(session, found.organization_id, found.id) is None:
                    raise ApiError(
                        404, f"No Model Router with configId {body.configId!r} was found."
                    ) from None
            raise
        response.headers["x-request-id"] = request_id
        return response

    create.__name__ = f"generate_{modality.value}"
    return create


for _modality in Modality:
    router.add_api_route(
        f"/{_modality.value}",
        _route(_modality),
        methods=["POST"],
        response_model=ANSWERS[_modality],
        responses=error_responses(400, 401, 404, 429),
        summary=f"Generate {_modality.value} with a saved Model Router choosing the model",
        openapi_extra=documented_body(BODIES[_modality]),
    )
