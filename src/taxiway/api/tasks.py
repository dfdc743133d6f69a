"""`GET /v1/tasks/{id}` and `DELETE /v1/tasks/{id}`."""

from __future__ import annotations

import math

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from taxiway.api.auth import CurrentPrincipal, State
from taxiway.api.errors import ApiError
from taxiway.api.schemas import ErrorBody, TaskLike, TaskView, render_task
from taxiway.clock import utcnow
from taxiway.services import Services
from taxiway.status import TaskStatus
from taxiway.tasks import repository, service

router = APIRouter(prefix="/v1/tasks", tags=["tasks"])

TASK_NOT_FOUND = "Could not find Task"


def output_urls(request: Request, state: Services, task: TaskLike) -> list[str]:
    if not task.outputs:
        return []
    base = (
        state.settings.public_url.rstrip("/")
        if state.settings.public_url
        else str(request.base_url).rstrip("/")
    )
    expires = math.ceil(utcnow().timestamp()) + state.settings.output_url_ttl_seconds
    return [base + state.signer.path(f["key"], expires) for f in task.outputs["files"]]


@router.get(
    "/{task_id}",
    response_model=TaskView,
    responses={404: {"model": ErrorBody}},
    summary="Get a task: its status, progress, cost and, once succeeded, signed output URLs.",
)
async def get_task(task_id: str, request: Request, principal: CurrentPrincipal, state: State) -> Response:
    task = await visible_task(state, principal.organization_id, task_id)
    if task is None:
        raise ApiError(404, TASK_NOT_FOUND)
    return task_response(request, state, task)


async def visible_task(state: Services, organization_id: str, task_id: str) -> TaskLike | None:
    """A task's view as its organization sees it: a finished one from memory when it was read lately."""
    task = state.finished.get(task_id, organization_id)
    if task is None:
        task = await repository.read_view(state.reads, organization_id, task_id)
        if task is not None and TaskStatus(task.status).terminal:
            state.finished.put(task_id, organization_id, task)
    return task


def task_response(request: Request, state: Services, task: TaskLike) -> JSONResponse:
    return JSONResponse(render_task(task, output_urls(request, state, task)))


@router.delete(
    "/{task_id}",
    status_code=204,
    responses={404: {"model": ErrorBody}},
    summary="Cancel a queued or running task, or delete a finished one with its outputs.",
)
async def delete_task(task_id: str, principal: CurrentPrincipal, state: State) -> Response:
    async with state.sessions.begin() as session:
        task = await repository.get_visible(session, principal.organization_id, task_id)
        if task is None:
            raise ApiError(404, TASK_NOT_FOUND)
        deletion = await service.delete(session, task)
    state.finished.forget(task_id)
    state.scheduler.withdrawn(task, deletion.previous)
    if deletion.output_prefix:
        await state.store.delete_prefix(deletion.output_prefix)
    return Response(status_code=204)
