"""Leases on running tasks, so that several replicas share one database and survive each other.

A replica that claims a task holds its lease (`lease_owner`, `lease_expires_at`) and renews it with
heartbeats while the engine runs. Only the holder may settle the task. A lease that lapses (the replica
or its machine died, or lost the database for longer than the lease) lets any replica take the task
over: queued again, or failed and refunded once it has used `max_task_attempts` runs. A replica never
touches another one's tasks at start-up; it takes its own back at once (same replica id: its previous
life), and hands its leases back when it stops, so the survivors pick them up without waiting.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, or_, update
from sqlalchemy.ext.asyncio import AsyncSession

from taxiway.db.tables import Task
from taxiway.status import TaskStatus


def held(owner: str, now: datetime, seconds: float) -> dict[str, Any]:
    """The columns that give a task's lease to `owner` from `now`."""
    return {"lease_owner": owner, "lease_expires_at": now + timedelta(seconds=seconds)}


async def renew(
    session: AsyncSession, owner: str, task_ids: Collection[str], now: datetime, seconds: float
) -> set[str]:
    """Extend the leases `owner` still holds on `task_ids`; the ids it holds (a task cancelled, or taken
    over after a lapse, is no longer among them)."""
    if not task_ids:
        return set()
    rows = await session.execute(
        update(Task)
        .where(
            Task.id.in_(list(task_ids)), Task.status == TaskStatus.RUNNING.value, Task.lease_owner == owner
        )
        .values(lease_expires_at=now + timedelta(seconds=seconds))
        .returning(Task.id)
        .execution_options(synchronize_session=False)
    )
    return {str(task_id) for task_id in rows.scalars().all()}


async def release(session: AsyncSession, owner: str, task_ids: Collection[str], now: datetime) -> None:
    """Let the leases on `task_ids` lapse now (a replica stopping): any replica takes them over."""
    if task_ids:
        await session.execute(
            update(Task)
            .where(
                Task.id.in_(list(task_ids)),
                Task.status == TaskStatus.RUNNING.value,
                Task.lease_owner == owner,
            )
            .values(lease_expires_at=now)
            .execution_options(synchronize_session=False)
        )


def lapsed(now: datetime, own: str | None = None) -> ColumnElement[bool]:
    """Which RUNNING tasks are free to take over: their lease lapsed or none covers them, plus those of
    `own` (a replica taking back what its previous life held)."""
    stale = [Task.lease_expires_at.is_(None), Task.lease_expires_at <= now]
    if own is not None:
        stale.append(Task.lease_owner == own)
    return or_(*stale)
