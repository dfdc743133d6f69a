"""Task rows: scoped reads and guarded status updates (an update only applies from legal sources)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Row, bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from taxiway.clock import utcnow
from taxiway.db.tables import Task
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


async def read_view(connection: AsyncConnection, organization_id: str, task_id: str) -> Row[Any] | None:
    """The columns of a task's API view, scoped like `get_visible`."""
    result = await connection.execute(_VIEW, {"task_id": task_id, "organization_id": organization_id})
    return result.first()


async def move(
    session: AsyncSession,
    task_id: str,
    target: TaskStatus,
    *,
    only_from: Iterable[TaskStatus] | None = None,
    **values: Any,
) -> bool:
    """Set `target` if the task is in a status that may legally reach it; False when it was not."""
    sources = sources_for(target) if only_from is None else frozenset(only_from) & sources_for(target)
    result = await session.execute(
        update(Task)
        .where(Task.id == task_id, Task.status.in_([s.value for s in sources]))
        .values(status=target.value, updated_at=utcnow(), **values)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0) == 1)


async def count_active(session: AsyncSession, organization_id: str, model: str) -> int:
    count = await session.scalar(
        select(func.count(Task.id)).where(
            Task.organization_id == organization_id,
            Task.model == model,
            Task.status.in_([s.value for s in ACTIVE]),
        )
    )
    return int(count or 0)
