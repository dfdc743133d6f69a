"""Whether a new task may be created, and whether it starts PENDING or THROTTLED.

Both decisions count the organization's tasks of one model: the rolling day's for the daily limit,
the active ones for the concurrency slots. They are read under the admission lock of that
organization and model, which the scheduler's promotions take too, so racing submissions decide in
turn and the counts cannot be raced past. Other models, and the organization's credits, are not
held up by it (credits have their own lock, taken last: `billing.ledger`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, exists, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from taxiway.billing.quotas import DAY
from taxiway.billing.tiers import ModelLimits
from taxiway.db.tables import Task
from taxiway.status import ACTIVE, TaskStatus


@dataclass(frozen=True)
class Slots:
    daily: int  # tasks created in the rolling day (counted only when the tier limits them)
    active: int  # PENDING or RUNNING (counted only when the tier limits them)
    waiting: bool  # THROTTLED tasks exist: they go first

    def must_wait(self, max_concurrent: int | None) -> bool:
        """A new task starts THROTTLED when the slots are taken, or older tasks already wait (so a
        slot freed a moment ago is not taken by the newcomer)."""
        return self.waiting or (max_concurrent is not None and self.active >= max_concurrent)


async def lock(session: AsyncSession, organization_id: str, model: str) -> None:
    """Hold the admission lock of (organization, model) until the transaction ends.

    PostgreSQL: a transaction-level advisory lock on a hash of the pair (a collision only makes two
    pairs take turns). SQLite: nothing to take, the server's one connection runs each transaction
    alone (`db.inline_sqlite`), and writes from other processes do not admit tasks.
    """
    if session.get_bind().dialect.name == "postgresql":
        key = func.hashtextextended(f"{organization_id}/{model}", 0)
        await session.execute(select(func.pg_advisory_xact_lock(key)))


def _count(*where: ColumnElement[bool]) -> ColumnElement[int]:
    return select(func.count()).select_from(Task).where(*where).scalar_subquery()


async def read(
    session: AsyncSession,
    organization_id: str,
    model: str,
    now: datetime,
    limits: ModelLimits,
    *also: ColumnElement[Any],
) -> tuple[Slots, tuple[Any, ...]]:
    """The counts `limits` needs, in one query of index range scans (no history beyond the day), and
    the values of the scalar expressions `also`, read in the same round trip."""
    scope = (Task.organization_id == organization_id, Task.model == model)
    daily = (
        literal(0)
        if limits.max_daily is None
        else _count(*scope, Task.created_at > now - DAY, Task.created_at <= now)
    )
    active = (
        literal(0)
        if limits.max_concurrent is None
        else _count(*scope, Task.status.in_([status.value for status in ACTIVE]))
    )
    waiting = exists().where(*scope, Task.status == TaskStatus.THROTTLED.value)
    row = tuple((await session.execute(select(daily, active, waiting, *also))).one())
    return Slots(daily=int(row[0]), active=int(row[1]), waiting=bool(row[2])), row[3:]
