"""Task rows: scoped reads and guarded status updates (an update only applies from legal sources)."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Row, Update, and_, bindparam, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from taxiway.clock import utcnow
from taxiway.db.point_reads import PointReads
from taxiway.db.tables import TASKS, Task
from taxiway.status import TaskStatus
from taxiway.tasks.state import ACTIVE, sources_for


async def get_visible(session: AsyncSession, organization_id: str, task_id: str) -> Task | None:
    """A task as its own organization sees it; deleted tasks and other organizations' are invisible."""
    return await session.scalar(
        select(Task).where(
            Task.id == task_id, Task.organization_id == organization_id, Task.deleted_at.is_(None)
        )
    )


# The polling hot path reads only what a task view needs, through Core: no ORM identity map,
# no session, one pre-compiled statement.
_VIEW_COLUMNS = (
    Task.id, Task.created_at, Task.status, Task.estimated_credits, Task.cost_credits,
    Task.progress, Task.outputs, Task.failure, Task.failure_code,
)  # fmt: skip
_VIEW = select(*_VIEW_COLUMNS).where(
    Task.id == bindparam("task_id"),
    Task.organization_id == bindparam("organization_id"),
    Task.deleted_at.is_(None),
)


async def read_view(reads: PointReads, organization_id: str, task_id: str) -> Any | None:
    """The columns of a task's API view, scoped like `get_visible`."""
    return await reads.first(_VIEW, {"task_id": task_id, "organization_id": organization_id})


@functools.cache
def _move_statement(
    target: TaskStatus, sources: frozenset[TaskStatus], leased: bool, columns: tuple[str, ...]
) -> Update:
    """A guarded status update, built once per kind (most tasks settle the same two or three ways):
    a move binds its values, and SQLAlchemy skips building and hashing the statement."""
    statuses = sorted(source.value for source in sources)
    guards = [
        TASKS.c.id == bindparam("task_id", type_=TASKS.c.id.type),
        TASKS.c.status == statuses[0] if len(statuses) == 1 else TASKS.c.status.in_(statuses),
    ]
    if leased:
        guards.append(TASKS.c.lease_owner == bindparam("leased_to", type_=TASKS.c.lease_owner.type))
    values = {column: bindparam(f"set_{column}", type_=TASKS.c[column].type) for column in columns}
    return update(TASKS).where(*guards).values(status=target.value, **values)


async def move(
    session: AsyncSession,
    task_id: str,
    target: TaskStatus,
    *,
    only_from: Iterable[TaskStatus] | None = None,
    leased_to: str | None = None,
    **values: Any,
) -> bool:
    """Set `target` if the task is in a status that may legally reach it (and, given `leased_to`, that
    replica still holds its lease); False when it was not."""
    sources = sources_for(target) if only_from is None else frozenset(only_from) & sources_for(target)
    if not sources:
        return False
    values["updated_at"] = utcnow()
    statement = _move_statement(target, sources, leased_to is not None, tuple(sorted(values)))
    params = {f"set_{column}": value for column, value in values.items()}
    result = await session.execute(statement, {**params, "task_id": task_id, "leased_to": leased_to})
    return bool(getattr(result, "rowcount", 0) == 1)


@dataclass(frozen=True)
class Claimed:
    """What running a claimed task needs of its row."""

    id: str
    organization_id: str
    endpoint: str
    model: str
    params: dict[str, Any]
    seed: int
    estimated_credits: int
    attempts: int
    created_at: datetime
    started_at: datetime | None
    simulation: dict[str, Any] | None


_CLAIMED_COLUMNS = (
    Task.id, Task.organization_id, Task.endpoint, Task.model, Task.params, Task.seed,
    Task.estimated_credits, Task.attempts, Task.created_at, Task.started_at, Task.simulation,
)  # fmt: skip


async def claim(
    session: AsyncSession, limit: int, now: datetime, lease: Mapping[str, Any] | None = None
) -> list[Claimed]:
    """Move up to `limit` PENDING tasks, oldest first, to RUNNING in one statement, under `lease`
    (`tasks.leases.held`); the claimed rows.

    On PostgreSQL the candidates are read `FOR UPDATE SKIP LOCKED`: schedulers claiming at the same
    time each get different tasks instead of waiting for one another.
    """
    if limit <= 0:
        return []
    candidates = (
        select(Task.id)
        .where(Task.status == TaskStatus.PENDING.value)
        .order_by(Task.created_at, Task.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    rows = await session.execute(
        update(TASKS)
        .where(Task.id.in_(candidates.scalar_subquery()), Task.status == TaskStatus.PENDING.value)
        .values(
            status=TaskStatus.RUNNING.value,
            attempts=Task.attempts + 1,
            progress=0.0,
            started_at=now,
            updated_at=now,
            **(lease or {}),
        )
        .returning(*_CLAIMED_COLUMNS)
    )
    claimed = [Claimed(*row) for row in rows.all()]
    return sorted(claimed, key=lambda task: (task.created_at, task.id))


async def running(session: AsyncSession, *where: ColumnElement[bool]) -> list[Claimed]:
    """RUNNING tasks (that also match `where`), oldest first, as claimed and locked; on PostgreSQL rows
    another scheduler is taking over right now are skipped."""
    rows = await session.execute(
        select(*_CLAIMED_COLUMNS)
        .where(Task.status == TaskStatus.RUNNING.value, *where)
        .order_by(Task.created_at, Task.id)
        .with_for_update(skip_locked=True)
    )
    return [Claimed(*row) for row in rows.all()]


async def promote(session: AsyncSession, task_ids: Iterable[str], now: datetime) -> int:
    """THROTTLED -> PENDING for `task_ids`, in one statement; how many moved."""
    ids = list(task_ids)
    if not ids:
        return 0
    result = await session.execute(
        update(TASKS)
        .where(Task.id.in_(ids), Task.status == TaskStatus.THROTTLED.value)
        .values(status=TaskStatus.PENDING.value, updated_at=now)
    )
    return int(getattr(result, "rowcount", 0))


async def throttled_groups(
    session: AsyncSession, organizations: Iterable[str] | None = None
) -> list[tuple[str, str]]:
    """Every (organization, model) with THROTTLED tasks, of `organizations` if given (none: no query)."""
    query = select(Task.organization_id, Task.model).where(Task.status == TaskStatus.THROTTLED.value)
    if organizations is not None:
        wanted = list(organizations)
        if not wanted:
            return []
        # Through an expression, not the column: SQLite would otherwise walk the organizations' whole
        # history by (organization, …) index, 9 ms a round at 100,000 tasks, instead of the few
        # THROTTLED rows of the status index.
        query = query.where(func.coalesce(Task.organization_id, "").in_(wanted))
    rows = await session.execute(query.distinct())
    return [(str(organization), str(model)) for organization, model in rows.all()]


async def count_in_engines(session: AsyncSession, model: str) -> int:
    """Tasks of a model that hold or wait for an engine worker, every organization's: its queue depth."""
    count = await session.scalar(
        select(func.count(Task.id)).where(
            Task.model == model, Task.status.in_([TaskStatus.PENDING.value, TaskStatus.RUNNING.value])
        )
    )
    return int(count or 0)


@dataclass(frozen=True)
class TaskFilter:
    """Which of an organization's tasks a listing shows; None fields do not filter."""

    statuses: tuple[TaskStatus, ...] = ()
    endpoint: str | None = None
    model: str | None = None


_LIST_COLUMNS = (
    *_VIEW_COLUMNS, Task.organization_id, Task.endpoint, Task.model, Task.params, Task.started_at,
    Task.finished_at,
)  # fmt: skip


async def list_page(
    connection: AsyncConnection,
    organization_id: str | None,
    where: TaskFilter,
    limit: int,
    after: tuple[datetime, str] | None = None,
) -> list[Row[Any]]:
    """An organization's visible tasks (None: every organization's, for the operator), newest first,
    starting after `(created_at, id)` of the last row already served, so a page is stable however
    many tasks arrive meanwhile."""
    query = select(*_LIST_COLUMNS).where(Task.deleted_at.is_(None))
    if organization_id is not None:
        query = query.where(Task.organization_id == organization_id)
    if where.statuses:
        query = query.where(Task.status.in_([s.value for s in where.statuses]))
    if where.endpoint:
        query = query.where(Task.endpoint == where.endpoint)
    if where.model:
        query = query.where(Task.model == where.model)
    if after is not None:
        moment, task_id = after
        query = query.where(or_(Task.created_at < moment, and_(Task.created_at == moment, Task.id < task_id)))
    query = query.order_by(Task.created_at.desc(), Task.id.desc()).limit(limit)
    return list((await connection.execute(query)).all())


async def count_active_by_model(session: AsyncSession) -> list[tuple[str, str, int]]:
    """(model, status, count) of every queued or running task, for the metrics' gauges."""
    rows = await session.execute(
        select(Task.model, Task.status, func.count(Task.id))
        .where(Task.status.in_([s.value for s in (*ACTIVE, TaskStatus.THROTTLED)]))
        .group_by(Task.model, Task.status)
    )
    return [(model, status, int(count)) for model, status, count in rows.all()]
