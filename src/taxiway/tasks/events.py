"""Task lifecycle events: what the task domain tells an observer (logs, metrics) as tasks move.

The scheduler and the routes report here after each change is committed; the observer decides what to
write and count, so the task code does not know about log formats or Prometheus.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from taxiway.clock import utcnow


class TaskEventKind(StrEnum):
    CREATED = "created"
    STARTED = "started"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    REQUEUED = "requeued"  # an interrupted run, queued again by the restart rule


@dataclass(frozen=True)
class TaskEvent:
    kind: TaskEventKind
    task_id: str
    organization_id: str
    endpoint: str
    model: str
    engine: str | None
    # CREATED: credits reserved; a terminal event: credits charged (0 when refunded).
    credits: int
    # STARTED: seconds waited since creation; SUCCEEDED, FAILED, CANCELLED: seconds it ran (None if never).
    seconds: float | None = None
    attempt: int = 0
    failure_code: str | None = None


class TaskRow(Protocol):
    """What an event reads of a task: a `Task` row, or the columns the scheduler claimed."""

    @property
    def id(self) -> str: ...
    @property
    def organization_id(self) -> str: ...
    @property
    def endpoint(self) -> str: ...
    @property
    def model(self) -> str: ...
    @property
    def attempts(self) -> int: ...


class TaskObserver(Protocol):
    def record(self, event: TaskEvent) -> None:
        """Called on the event loop after the change is committed; must not block."""


class NoObserver:
    def record(self, event: TaskEvent) -> None:
        pass


def task_event(
    kind: TaskEventKind,
    task: TaskRow,
    engine: str | None,
    credits: int,
    *,
    since: datetime | None = None,
    failure_code: str | None = None,
) -> TaskEvent:
    """An event for `task`; `since` is when the measured span began (creation or start)."""
    seconds = (utcnow() - since).total_seconds() if since is not None else None
    return TaskEvent(
        kind=kind,
        task_id=task.id,
        organization_id=task.organization_id,
        endpoint=task.endpoint,
        model=task.model,
        engine=engine,
        credits=credits,
        seconds=max(seconds, 0.0) if seconds is not None else None,
        attempt=task.attempts,
        failure_code=failure_code,
    )
