"""Running a workflow: checking a run's inputs, starting it, and moving it on node by node.

Each generation node becomes an ordinary task (its own credits, quotas and queue) once every node it
takes from has succeeded; nodes whose inputs are ready run side by side. A node whose input failed is
skipped. A finished run succeeds when at least one of its final nodes (those no other node takes from)
succeeded, and lists every node that failed or did not run in `nodeErrors`; otherwise it fails.
Everything lives in the database, so a run survives a restart and continues where it stopped.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from pydantic import TypeAdapter, ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from taxiway.accounts.repository import Principal
from taxiway.assets.intake import AssetIntake, AssetRejected
from taxiway.billing import ledger
from taxiway.billing.quotas import QuotaExceeded
from taxiway.catalog import ModelSpec
from taxiway.clock import utcnow
from taxiway.db.tables import Organization, Task, Workflow, WorkflowInvocation, WorkflowNodeRun
from taxiway.status import TaskStatus
from taxiway.tasks import inputs as task_inputs
from taxiway.tasks import service
from taxiway.workflows.graph import (
    PLACEHOLDER_URI,
    Edge,
    GenerationNode,
    Graph,
    InputNode,
    MediaValue,
    Path,
    PrimitiveValue,
    Problem,
    Value,
    check_request,
    node_request,
    parse_path,
)

ACTIVE = "ACTIVE"
_VALUE = TypeAdapter[PrimitiveValue | MediaValue](Value)


class NodeState(StrEnum):
    WAITING = "WAITING"
    SUBMITTED = "SUBMITTED"
    # Not run: its request was refused (invalid input, credits, quota) or an input node failed.
    REFUSED = "REFUSED"
    SKIPPED = "SKIPPED"


class Outcome(StrEnum):
    WAITING = "WAITING"
    PENDING = "PENDING"
    THROTTLED = "THROTTLED"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"

    @property
    def done(self) -> bool:
        return self in (Outcome.SUCCEEDED, Outcome.FAILED)


def label(node: GenerationNode) -> str:
    return f"'{node.name}' ({node.id})" if node.name else f"'{node.id}'"


@dataclass(frozen=True)
class NodeView:
    node: GenerationNode
    run: WorkflowNodeRun
    task: Task | None

    @property
    def outcome(self) -> Outcome:
        if self.run.state in (NodeState.REFUSED, NodeState.SKIPPED):
            return Outcome.FAILED
        if self.task is None:
            return Outcome.WAITING
        status = TaskStatus(self.task.status)
        if status in (TaskStatus.FAILED, TaskStatus.CANCELLED) or self.task.deleted_at is not None:
            return Outcome.FAILED
        return Outcome(status.value)

    @property
    def progress(self) -> float:
        if self.outcome.done:
            return 1.0
        return self.task.progress if self.task is not None and self.outcome is Outcome.RUNNING else 0.0

    def error(self) -> dict[str, Any] | None:
        """The node's entry in `nodeErrors`; failureCode only where generation began."""
        if self.outcome is not Outcome.FAILED:
            return None
        entry: dict[str, Any] = {"message": self.run.error or "The node did not run."}
        task = self.task
        if task is not None:
            if TaskStatus(task.status) is TaskStatus.FAILED:
                entry["message"] = task.failure or "An unexpected error occurred."
                if task.failure_code:
                    entry["failureCode"] = task.failure_code
            else:
                entry["message"] = "The node's task was cancelled or deleted."
        if self.node.name:
            entry["nodeName"] = self.node.name
        return entry


def _dump(value: PrimitiveValue | MediaValue) -> dict[str, Any]:
    dumped: dict[str, Any] = value.model_dump(mode="json", exclude_none=True)
    return dumped


def resolve_inputs(graph: Graph, node_outputs: Mapping[str, Any]) -> tuple[dict[str, Any], list[Problem]]:
    """Input nodes' values for a run: the graph's defaults with `nodeOutputs` laid over them."""
    values = {
        node.id: {key: _dump(value) for key, value in node.outputs.items()}
        for node in graph.nodes
        if isinstance(node, InputNode)
    }
    problems: list[Problem] = []
    ids = {node.id for node in graph.nodes}
    for node_id, given in node_outputs.items():
        where: Path = ("nodeOutputs", node_id)
        if node_id not in ids:
            problems.append(Problem(where, f"the workflow has no node {node_id!r}"))
            continue
        node = graph.node(node_id)
        if not isinstance(node, InputNode):
            problems.append(
                Problem(where, f"{node_id!r} is a generation node; only input nodes' values can be set")
            )
            continue
        if not isinstance(given, Mapping):
            problems.append(Problem(where, "must be an object of output keys"))
            continue
        for key, raw in given.items():
            if key not in node.outputs:
                known = ", ".join(node.outputs)
                problems.append(
                    Problem((*where, key), f"node {node_id!r} has no output {key!r}; its outputs: {known}")
                )
                continue
            try:
                value = _VALUE.validate_python(raw, strict=True)
            except ValidationError as exc:
                problems.extend(Problem((*where, key, *e["loc"][1:]), str(e["msg"])) for e in exc.errors())
                continue
            declared = node.outputs[key]
            if value.type != declared.type:
                problems.append(
                    Problem((*where, key, "type"), f"must be {declared.type!r}, as the workflow declares")
                )
            elif isinstance(value, MediaValue) and value.uri is None:
                problems.append(Problem((*where, key, "uri"), "is required"))
            else:
                values[node_id][key] = _dump(value)
    for node_id, outputs in values.items():
        for key, stored in outputs.items():
            if stored["type"] != "primitive" and "uri" not in stored:
                problems.append(
                    Problem(("nodeOutputs", node_id, key), "is required: this input has no default")
                )
    return values, problems


def _input_value(inputs: Mapping[str, Any], edge: Edge) -> Any:
    value = inputs[edge.source][edge.source_output]
    return value["value"] if value["type"] == "primitive" else value["uri"]


def _blame(graph: Graph, node: GenerationNode, problem: Problem) -> Problem:
    """A node's request problem, named after the run input that fed the field when one did."""
    field = list(problem.path[4:])  # after ("graph", "nodes", id, "inputs")
    for edge in graph.edges_into(node.id):
        steps = parse_path(edge.target_input) or []
        if field[: len(steps)] == steps and isinstance(graph.node(edge.source), InputNode):
            return Problem(
                ("nodeOutputs", edge.source, edge.source_output),
                f"feeds {edge.target_input} of node {label(node)}: {problem.message}",
            )
    return problem


@dataclass(frozen=True)
class RunPlan:
    """What a run will submit, as far as it is known before any node ran."""

    specs: dict[str, ModelSpec]
    estimated_credits: int


def plan(graph: Graph, inputs: Mapping[str, Any]) -> tuple[RunPlan, list[Problem]]:
    """Every generation node's request checked with the run's input values (outputs of other nodes
    stand in as placeholders), and the credits the whole run is estimated at."""
    specs: dict[str, ModelSpec] = {}
    problems: list[Problem] = []
    credits = 0
    for node in graph.generation_nodes:

        def value_of(edge: Edge) -> Any:
            if isinstance(graph.node(edge.source), InputNode):
                return _input_value(inputs, edge)
            return PLACEHOLDER_URI

        body = node_request(node, graph, value_of)
        checked = check_request(node.endpoint, body, ("graph", "nodes", node.id, "inputs"))
        problems.extend(_blame(graph, node, problem) for problem in checked.problems)
        if checked.spec is not None and not checked.problems:
            specs[node.id] = checked.spec
            credits += checked.spec.estimated_credits(checked.params)
    return RunPlan(specs, credits), problems


async def check_media(
    intake: AssetIntake, graph: Graph, inputs: Mapping[str, Any], organization_id: str
) -> list[Problem]:
    """Media inputs checked as a task's would be at submission (syntax, data URIs, upload URIs)."""
    problems = []
    used = {(edge.source, edge.source_output) for edge in graph.edges}
    for node_id, outputs in inputs.items():
        for key, value in outputs.items():
            if value["type"] == "primitive" or (node_id, key) not in used:
                continue
            path = ["nodeOutputs", node_id, key, "uri"]
            try:
                await intake.check_at_submission(value["uri"], value["type"], path, organization_id)
            except AssetRejected as rejected:
                problems.append(Problem(tuple(path), rejected.reason))
    return problems


async def create(
    session: AsyncSession, principal: Principal, workflow: Workflow, graph: Graph, inputs: Mapping[str, Any]
) -> WorkflowInvocation:
    now = utcnow()
    invocation = WorkflowInvocation(
        id=str(uuid.uuid4()),
        organization_id=principal.organization_id,
        api_key_id=principal.api_key_id,
        workflow_id=workflow.id,
        graph=graph.dump(),
        inputs=dict(inputs),
        status=ACTIVE,
        created_at=now,
        updated_at=now,
    )
    session.add(invocation)
    for node in graph.generation_nodes:
        session.add(WorkflowNodeRun(invocation_id=invocation.id, node_id=node.id, state=NodeState.WAITING))
    await session.flush()
    return invocation


async def get_visible(
    session: AsyncSession, organization_id: str, invocation_id: str
) -> WorkflowInvocation | None:
    return await session.scalar(
        select(WorkflowInvocation).where(
            WorkflowInvocation.id == invocation_id, WorkflowInvocation.organization_id == organization_id
        )
    )


async def snapshot(session: AsyncSession, invocation: WorkflowInvocation) -> list[NodeView]:
    """Every generation node with its run record and task, in an order where inputs come first."""
    graph = Graph.model_validate(invocation.graph)
    runs = {
        run.node_id: run
        for run in await session.scalars(
            select(WorkflowNodeRun).where(WorkflowNodeRun.invocation_id == invocation.id)
        )
    }
    task_ids = [run.task_id for run in runs.values() if run.task_id]
    tasks = {task.id: task for task in await session.scalars(select(Task).where(Task.id.in_(task_ids)))}
    return [
        NodeView(node, runs[node.id], tasks.get(runs[node.id].task_id or "")) for node in graph.in_order()
    ]


async def active_ids(session: AsyncSession) -> list[str]:
    rows = await session.scalars(
        select(WorkflowInvocation.id)
        .where(WorkflowInvocation.status == ACTIVE)
        .order_by(WorkflowInvocation.created_at)
    )
    return list(rows)


class Advance:
    """One pass over an active invocation: submit what is ready, skip what cannot run, finish when done."""

    def __init__(self, session: AsyncSession, intake: AssetIntake, invocation: WorkflowInvocation) -> None:
        self.session = session
        self.intake = intake
        self.invocation = invocation
        self.graph = Graph.model_validate(invocation.graph)
        self.submitted: list[Task] = []

    async def run(self) -> None:
        views = {view.node.id: view for view in await snapshot(self.session, self.invocation)}
        for node_id, view in views.items():
            if view.run.state != NodeState.WAITING:
                continue
            upstream = [views[u] for u in self.graph.upstream(node_id)]
            failed = [u for u in upstream if u.outcome is Outcome.FAILED]
            if failed:
                self._not_run(
                    view, NodeState.SKIPPED, f"Not run: its input from node {label(failed[0].node)} failed."
                )
            elif all(u.outcome is Outcome.SUCCEEDED for u in upstream):
                await self._submit(view, {u.node.id: u for u in upstream})
        await self._finish_if_done(list(views.values()))

    def _not_run(self, view: NodeView, state: NodeState, message: str) -> None:
        view.run.state = state
        view.run.error = message

    async def _output_uri(self, upstream: NodeView) -> str:
        """A task's first output as an upload of the organization, for the next node to read."""
        task = upstream.task
        assert task is not None and task.outputs
        key = task.outputs["files"][0]["key"]
        data = await self.intake.store.read(key)
        if data is None:
            raise RuntimeError(f"output {key} is not readable")
        grant = self.intake.tokens.grant(self.invocation.organization_id, key.rsplit("/", 1)[-1])
        await self.intake.store.put(grant.claims.key, data)
        return grant.runway_uri

    async def _submit(self, view: NodeView, upstream: Mapping[str, NodeView]) -> None:
        node = view.node
        values: dict[int, Any] = {}
        for index, edge in enumerate(self.graph.edges):
            if edge.target != node.id:
                continue
            if edge.source in upstream:
                values[index] = await self._output_uri(upstream[edge.source])
            else:
                values[index] = _input_value(self.invocation.inputs, edge)
        body = node_request(node, self.graph, lambda edge: values[self.graph.edges.index(edge)])
        checked_body = check_request(node.endpoint, body, ())
        spec, params = checked_body.spec, checked_body.params
        if spec is None or checked_body.problems:
            problems = "; ".join(map(str, checked_body.problems))
            self._not_run(view, NodeState.REFUSED, f"Invalid request: {problems}")
            return
        organization_id = self.invocation.organization_id
        checked = await task_inputs.check_at_submission(self.intake, spec, params, organization_id)
        if checked.issues:
            self._not_run(view, NodeState.REFUSED, "; ".join(issue["message"] for issue in checked.issues))
            return
        organization = await self.session.get(Organization, organization_id)
        if organization is None:
            self._not_run(view, NodeState.REFUSED, "The organization no longer exists.")
            return
        principal = Principal(organization_id, self.invocation.api_key_id or "", organization.tier)
        try:
            task = await service.submit(
                self.session, principal, spec, params, checked.input_seconds, checked.input_pixels
            )
        except QuotaExceeded as exc:  # a refused task leaves nothing written
            self._not_run(view, NodeState.REFUSED, exc.message)
            return
        except ledger.InsufficientCredits:
            self._not_run(view, NodeState.REFUSED, ledger.INSUFFICIENT_CREDITS)
            return
        view.run.state = NodeState.SUBMITTED
        view.run.task_id = task.id
        self.submitted.append(task)

    async def _finish_if_done(self, fresh: list[NodeView]) -> None:
        if not all(view.outcome.done for view in fresh):
            return
        invocation = self.invocation
        sinks = {node.id for node in self.graph.sinks()}
        now = utcnow()
        if any(v.outcome is Outcome.SUCCEEDED for v in fresh if v.node.id in sinks):
            invocation.status = TaskStatus.SUCCEEDED.value
        else:
            first = next(v for v in fresh if v.outcome is Outcome.FAILED)
            error = first.error() or {}
            invocation.status = TaskStatus.FAILED.value
            invocation.failure = f"Node {label(first.node)} failed: {error.get('message', '')}".strip()
            invocation.failure_code = error.get("failureCode")
        invocation.finished_at = now
        invocation.updated_at = now
