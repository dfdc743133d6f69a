"""Whether a new task may be created, and whether it starts PENDING or THROTTLED.

Both decisions count the organization's tasks of one model: the rolling day's for the daily limit,
the active ones for the concurrency slots. They are read under the admission lock of that
organization and model, which the scheduler's promotions take too, so racing submissions decide in
turn and the counts cannot be raced past. Other models, and the organization's credits, are not
held up by it (credits have their own lock, taken last: `billing.ledger`).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections import Counter
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, String, bindparam, exists, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from taxiway.billing.quotas import DAY
from taxiway.billing.tiers import ModelLimits
from taxiway.db.tables import TASKS
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


# Creates of one organization and model that may hold a database connection at once (see AdmissionQueue):
# enough to keep the admission lock handed on without a wait in between, few beside a pool of 20 + 20.
CREATES_IN_FLIGHT = 8


class AdmissionQueue:
    """Creates of one organization and model wait here, before they open a transaction, while
    CREATES_IN_FLIGHT of them are under way.

    They would take turns anyway, on the admission lock; waiting here, they hold no database
    connection. On PostgreSQL, 128 clients of one organization otherwise filled the pool with creates
    queued on the lock, and the scheduler's promotion, which takes the same lock, waited behind all of
    them (a round took 1.2 s at p90, and 128 clients completed 9 tasks/s where 8 completed 94).
    """

    def __init__(self) -> None:
        self._slots: dict[tuple[str, str], asyncio.Semaphore] = {}
        self._users: Counter[tuple[str, str]] = Counter()

    @contextlib.asynccontextmanager
    async def turn(self, organization_id: str, model: str) -> AsyncIterator[None]:
        key = (organization_id, model)
        slots = self._slots.setdefault(key, asyncio.Semaphore(CREATES_IN_FLIGHT))
        self._users[key] += 1
        try:
            async with slots:
                yield
        finally:
            self._users[key] -= 1
            if not self._users[key]:
                del self._users[key], self._slots[key]


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
    return select(func.count()).select_from(TASKS).where(*where).scalar_subquery()


@functools.cache
def _statement(daily: bool, active: bool, also: tuple[ColumnElement[Any], ...]) -> Select[Any]:
    """The counts a tier's limits need, built once per kind of limits (and `also`): a create binds
    the values, and SQLAlchemy skips building and hashing the query."""
    scope = (
        TASKS.c.organization_id == bindparam("organization_id", type_=String),
        TASKS.c.model == bindparam("model", type_=String),
    )
    day = (
        TASKS.c.created_at > bindparam("day_start", type_=TASKS.c.created_at.type),
        TASKS.c.created_at <= bindparam("now", type_=TASKS.c.created_at.type),
    )
    counts = (
        _count(*scope, *day) if daily else literal(0),
        _count(*scope, TASKS.c.status.in_([status.value for status in ACTIVE])) if active else literal(0),
        exists().where(*scope, TASKS.c.status == TaskStatus.THROTTLED.value),
    )
    return select(*counts, *also)


async def read(
    session: AsyncSession,
    organization_id: str,
    model: str,
    now: datetime,
    limits: ModelLimits,
    also: tuple[ColumnElement[Any], ...] = (),
    params: Mapping[str, Any] | None = None,
) -> tuple[Slots, tuple[Any, ...]]:
    """The counts `limits` needs, in one query of index range scans (no history beyond the day), and
    the values of the scalar expressions `also` (bound by `params`), read in the same round trip."""
    statement = _statement(limits.max_daily is not None, limits.max_concurrent is not None, also)
    values = {"organization_id": organization_id, "model": model, "day_start": now - DAY, "now": now}
    row = tuple((await session.execute(statement, {**(params or {}), **values})).one())
    return Slots(daily=int(row[0]), active=int(row[1]), waiting=bool(row[2])), row[3:]
