"""Response shapes, as the official SDK's `types/` define them; used for docs and for rendering."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from taxiway.clock import iso_millis
from taxiway.status import TaskStatus


class Answer(BaseModel):
    """The base of an answer's model: /openapi.json documents exactly the fields the server sends."""

    model_config = ConfigDict(extra="forbid")


class EstimatedCost(Answer):
    credits: float


class Cost(Answer):
    credits: int


class TaskCreated(Answer):
    id: str
    estimatedCost: EstimatedCost


class _TaskBase(Answer):
    id: str
    createdAt: datetime


class PendingTask(_TaskBase):
    status: Literal["PENDING"]
    estimatedCost: EstimatedCost


class ThrottledTask(_TaskBase):
    status: Literal["THROTTLED"]
    estimatedCost: EstimatedCost


class RunningTask(_TaskBase):
    status: Literal["RUNNING"]
    estimatedCost: EstimatedCost
    progress: float = Field(ge=0, le=1)


class SucceededTask(_TaskBase):
    status: Literal["SUCCEEDED"]
    output: list[str] = Field(description="Signed URLs; they expire, fetch the task again for fresh ones")
    cost: Cost


class FailedTask(_TaskBase):
    status: Literal["FAILED"]
    failure: str
    failureCode: str | None = None
    cost: Cost


class CancelledTask(_TaskBase):
    status: Literal["CANCELLED"]
    cost: Cost


TaskView = Annotated[
    PendingTask | ThrottledTask | RunningTask | SucceededTask | FailedTask | CancelledTask,
    Field(discriminator="status"),
]


class ErrorBody(Answer):
    error: str
    issues: list[dict[str, Any]] | None = None
    docUrl: str | None = None


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route: each status code answered with the API's error body."""
    return {code: {"model": ErrorBody} for code in codes}


class TaskLike(Protocol):
    """A task row as the view needs it: an ORM `Task` or a Core row of the same columns."""

    @property
    def id(self) -> str: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def status(self) -> str: ...
    @property
    def estimated_credits(self) -> int: ...
    @property
    def cost_credits(self) -> int | None: ...
    @property
    def progress(self) -> float: ...
    @property
    def outputs(self) -> dict[str, Any] | None: ...
    @property
    def failure(self) -> str | None: ...
    @property
    def failure_code(self) -> str | None: ...


def render_task(task: TaskLike, output_urls: list[str]) -> dict[str, Any]:
    """The JSON of `GET /v1/tasks/{id}`: exactly the fields the SDK defines for the task's status."""
    status = TaskStatus(task.status)
    body: dict[str, Any] = {"id": task.id, "createdAt": iso_millis(task.created_at), "status": status.value}
    if status.terminal:
        body["cost"] = {"credits": int(task.cost_credits or 0)}
    else:
        body["estimatedCost"] = {"credits": task.estimated_credits}
    if status is TaskStatus.RUNNING:
        body["progress"] = task.progress
    elif status is TaskStatus.SUCCEEDED:
        body["output"] = output_urls
    elif status is TaskStatus.FAILED:
        body["failure"] = task.failure or "An unexpected error occurred."
        if task.failure_code:
            body["failureCode"] = task.failure_code
    return body
