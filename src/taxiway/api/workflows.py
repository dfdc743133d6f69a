"""`/v1/workflows` and `/v1/workflow_invocations`: operator-defined graphs, run by API users.

Workflows are published by the operator (`taxiway workflows add`, or a folder read at start-up); a
run checks every node's request with the run's `nodeOutputs` before anything is charged, so a bad
value is a 400 naming the input, and the organization must hold the whole run's estimated credits.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import IntegrityError

from taxiway.api import idempotency
from taxiway.api.auth import CurrentPrincipal, State
from taxiway.api.avatars import documented_body
from taxiway.api.errors import VALIDATION_FAILED, ApiError
from taxiway.api.generation import read_optional_json_object
from taxiway.api.schemas import Answer, Cost, error_responses
from taxiway.api.tasks import output_urls
from taxiway.billing import ledger
from taxiway.clock import iso_millis
from taxiway.db.tables import WorkflowInvocation
from taxiway.status import TaskStatus
from taxiway.workflows import invocations
from taxiway.workflows import repository as workflows
from taxiway.workflows.graph import Graph, Problem, Value
from taxiway.workflows.invocations import ACTIVE, NodeView, Outcome

router = APIRouter(tags=["workflows"])

WORKFLOW_NOT_FOUND = "Could not find Workflow"
INVOCATION_NOT_FOUND = "Could not find WorkflowInvocation"
NOT_ENOUGH_CREDITS = "You do not have enough credits to run this workflow ({credits} estimated)."


class WorkflowVersion(Answer):
    id: str
    createdAt: datetime
    version: int


class WorkflowVersions(Answer):
    name: str
    versions: list[WorkflowVersion]


class WorkflowList(Answer):
    data: list[WorkflowVersions]


class WorkflowGraphView(Answer):
    version: int
    nodes: list[dict[str, Any]]
    edges: list[dict[str, Any]]


class WorkflowView(Answer):
    id: str
    createdAt: datetime
    description: str | None
    graph: WorkflowGraphView
    name: str
    updatedAt: datetime
    version: int


class InvocationStarted(Answer):
    id: str


class NodeError(Answer):
    message: str
    failureCode: str | None = Field(default=None, description="Only where the node's generation began")
    nodeName: str | None = Field(default=None, description="Only for a node with a name")


class _InvocationView(Answer):
    id: str
    createdAt: datetime


NodeOutputs = Annotated[dict[str, list[str]], Field(description="Signed output URLs by node id; they expire")]
NodeErrors = Annotated[dict[str, NodeError], Field(description="By node id; only when a node failed")]


class PendingInvocation(_InvocationView):
    status: Literal["PENDING"]


class ThrottledInvocation(_InvocationView):
    status: Literal["THROTTLED"]


class CancelledInvocation(_InvocationView):
    status: Literal["CANCELLED"]


class RunningInvocation(_InvocationView):
    status: Literal["RUNNING"]
    output: NodeOutputs
    progress: float = Field(ge=0, le=1)
    nodeErrors: NodeErrors = Field(default_factory=dict)


class SucceededInvocation(_InvocationView):
    status: Literal["SUCCEEDED"]
    output: NodeOutputs
    cost: Cost
    nodeErrors: NodeErrors = Field(default_factory=dict)


class FailedInvocation(_InvocationView):
    status: Literal["FAILED"]
    failure: str
    failureCode: str | None = Field(default=None, description="Only when the failure has a code")
    cost: Cost
    nodeErrors: NodeErrors = Field(default_factory=dict)


InvocationView = Annotated[
    PendingInvocation
    | ThrottledInvocation
    | CancelledInvocation
    | RunningInvocation
    | SucceededInvocation
    | FailedInvocation,
    Field(discriminator="status"),
]


def _issues(problems: list[Problem]) -> list[dict[str, Any]]:
    return [{"code": "custom", "path": list(p.path), "message": str(p)} for p in problems]


@router.get(
    "/v1/workflows",
    response_model=WorkflowList,
    summary="List the published workflows, each with its versions, newest first.",
)
async def list_workflows(principal: CurrentPrincipal, state: State) -> JSONResponse:
    async with state.sessions() as session:
        rows = await workflows.visible(session, principal.organization_id)
    groups: dict[tuple[str | None, str], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault((row.organization_id, row.name), []).append(
            {"id": row.id, "createdAt": iso_millis(row.created_at), "version": row.version}
        )
    data = [{"name": name, "versions": versions} for (_scope, name), versions in groups.items()]
    return JSONResponse({"data": data})


@router.get(
    "/v1/workflows/{workflow_id}",
    response_model=WorkflowView,
    responses=error_responses(404),
    summary="A published workflow version with its graph.",
)
async def get_workflow(workflow_id: str, principal: CurrentPrincipal, state: State) -> JSONResponse:
    async with state.sessions() as session:
        row = await workflows.get_visible(session, principal.organization_id, workflow_id)
    if row is None:
        raise ApiError(404, WORKFLOW_NOT_FOUND)
    return JSONResponse(
        {
            "id": row.id,
            "createdAt": iso_millis(row.created_at),
            "description": row.description,
            "graph": row.graph,
            "name": row.name,
            "updatedAt": iso_millis(row.updated_at),
            "version": row.version,
        }
    )


class WorkflowRun(BaseModel):
    """The run body: values for input nodes' outputs, by node id and output key (all optional)."""

    model_config = ConfigDict(extra="forbid")
    nodeOutputs: dict[str, dict[str, Value]] | None = None


def _node_outputs(data: Mapping[str, Any]) -> Mapping[str, Any]:
    unknown = [key for key in data if key != "nodeOutputs"]
    if unknown:
        raise ApiError(
            400,
            VALIDATION_FAILED,
            [
                {
                    "code": "unrecognized_keys",
                    "keys": unknown,
                    "path": [],
                    "message": f'Unrecognized key: "{unknown[0]}"',
                }
            ],
        )
    given = data.get("nodeOutputs") or {}
    if not isinstance(given, dict):
        raise ApiError(
            400,
            VALIDATION_FAILED,
            [{"code": "invalid_type", "expected": "object", "path": ["nodeOutputs"],
              "message": "nodeOutputs: Invalid input: expected object"}],
        )  # fmt: skip
    return given


@router.post(
    "/v1/workflows/{workflow_id}",
    response_model=InvocationStarted,
    responses=error_responses(400, 404),
    summary="Run a workflow version, optionally replacing its input nodes' values (`nodeOutputs`).",
    openapi_extra=documented_body(WorkflowRun),
)
async def run_workflow(
    workflow_id: str, request: Request, principal: CurrentPrincipal, state: State
) -> JSONResponse:
    _, data = await read_optional_json_object(request)
    once, replayed = await idempotency.open_guard(request, principal, state, data)
    if replayed is not None:
        return replayed
    given = _node_outputs(data)
    async with state.sessions() as session:
        workflow = await workflows.get_visible(session, principal.organization_id, workflow_id)
    if workflow is None:
        raise ApiError(404, WORKFLOW_NOT_FOUND)
    graph = Graph.model_validate(workflow.graph)
    values, problems = invocations.resolve_inputs(graph, given)
    if not problems:
        run_plan, problems = invocations.plan(graph, values)
    if not problems:
        problems = await invocations.check_media(state.assets, graph, values, principal.organization_id)
    if problems:
        raise ApiError(400, VALIDATION_FAILED, _issues(problems))
    try:
        async with state.sessions.begin() as session:
            if await ledger.balance(session, principal.organization_id) < run_plan.estimated_credits:
                raise ApiError(400, NOT_ENOUGH_CREDITS.format(credits=run_plan.estimated_credits))
            invocation = await invocations.create(session, principal, workflow, graph, values)
            answer = {"id": invocation.id}
            await once.remember(session, answer)  # the run and its key commit together
    except IntegrityError as exc:
        return await once.after_conflict(state, exc)
    state.workflows.wake()
    return JSONResponse(answer)


def _live_status(views: list[NodeView]) -> str:
    outcomes = [view.outcome for view in views]
    if any(o is Outcome.RUNNING or o.done for o in outcomes):
        return TaskStatus.RUNNING.value
    submitted = [o for o in outcomes if o is not Outcome.WAITING]
    if submitted and all(o is Outcome.THROTTLED for o in submitted):
        return TaskStatus.THROTTLED.value
    return TaskStatus.PENDING.value


def render_invocation(
    invocation: WorkflowInvocation, views: list[NodeView], urls: Mapping[str, list[str]]
) -> dict[str, Any]:
    """The SDK's invocation union: output per succeeded node, progress while running, cost once
    finished, and `nodeErrors` whenever a node failed or did not run."""
    status = _live_status(views) if invocation.status == ACTIVE else invocation.status
    body: dict[str, Any] = {
        "id": invocation.id,
        "createdAt": iso_millis(invocation.created_at),
        "status": status,
    }
    if status in (TaskStatus.PENDING.value, TaskStatus.THROTTLED.value, TaskStatus.CANCELLED.value):
        return body
    if status != TaskStatus.FAILED.value:
        body["output"] = {node_id: found for node_id, found in urls.items() if found}
    if status == TaskStatus.RUNNING.value:
        body["progress"] = round(sum(view.progress for view in views) / max(1, len(views)), 4)
    else:
        body["cost"] = {"credits": sum(int(view.task.cost_credits or 0) for view in views if view.task)}
    if status == TaskStatus.FAILED.value:
        body["failure"] = invocation.failure or "The workflow failed."
        if invocation.failure_code:
            body["failureCode"] = invocation.failure_code
    errors = {view.node.id: error for view in views if (error := view.error()) is not None}
    if errors:
        body["nodeErrors"] = errors
    return body


@router.get(
    "/v1/workflow_invocations/{invocation_id}",
    response_model=InvocationView,
    responses=error_responses(404),
    summary="A workflow run: its status, each node's output URLs, progress, cost and node errors.",
)
async def get_invocation(
    invocation_id: str, request: Request, principal: CurrentPrincipal, state: State
) -> JSONResponse:
    async with state.sessions() as session:
        invocation = await invocations.get_visible(session, principal.organization_id, invocation_id)
        if invocation is None:
            raise ApiError(404, INVOCATION_NOT_FOUND)
        views = await invocations.snapshot(session, invocation)
    urls = {
        view.node.id: output_urls(request, state, view.task)
        for view in views
        if view.task is not None and view.outcome is Outcome.SUCCEEDED
    }
    return JSONResponse(render_invocation(invocation, views, urls))
