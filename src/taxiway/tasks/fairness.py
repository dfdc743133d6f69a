"""Which THROTTLED tasks take the slots that free up: oldest first, taking turns across API keys.

Slots of one (organization, model) free one or two at a time, so plain round-robin over the waiting
list would forget who already holds slots and keep serving the key with the oldest backlog. Each
key's turns therefore start after the tasks it already has PENDING or RUNNING: a key holding no
slot goes before one holding two, and between equals the older task goes first.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from taxiway.billing.tiers import limits_for
from taxiway.db.tables import Task
from taxiway.status import ACTIVE, TaskStatus

Waiting = tuple[str, str | None, datetime]  # (task id, API key id, created at)


def pick_fair(
    waiting: Sequence[Waiting], free: int | None, active: Mapping[str | None, int] | None = None
) -> list[str]:
    """Up to `free` task ids to promote (all when None), in the order they should start.

    A task's turn is the slots its key already holds (`active`) plus the tasks of that key waiting
    before it; ties go to the older task.
    """
    held = active or {}
    turns: Counter[str | None] = Counter()
    ranked = []
    for task_id, key, created_at in sorted(waiting, key=lambda item: (item[2], item[0])):
        ranked.append((held.get(key, 0) + turns[key], created_at, task_id))
        turns[key] += 1
    ranked.sort()
    chosen = [task_id for _turn, _created, task_id in ranked]
    return chosen if free is None else chosen[: max(free, 0)]


def _scope(organization_id: str, model: str, *statuses: TaskStatus) -> list[ColumnElement[bool]]:
    return [
        Task.organization_id == organization_id,
        Task.model == model,
        Task.status.in_([status.value for status in statuses]),
    ]


async def next_to_promote(session: AsyncSession, organization_id: str, model: str, level: int) -> list[str]:
    """The THROTTLED tasks of one organization and model that may become PENDING now, fairly ordered.

    Call it with the admission lock of the pair held (`tasks.admission`), so the slot count cannot
    change before the moves are written.
    """
    holders = await session.execute(
        select(Task.api_key_id, func.count(Task.id))
        .where(*_scope(organization_id, model, *ACTIVE))
        .group_by(Task.api_key_id)
    )
    active: dict[str | None, int] = {key: int(count) for key, count in holders.all()}
    limit = limits_for(level, model).max_concurrent
    free = None if limit is None else limit - sum(active.values())
    if free is not None and free <= 0:
        return []
    # No key can get more than `free` turns, so only each key's `free` oldest tasks are read.
    position = (
        func.row_number()
        .over(partition_by=Task.api_key_id, order_by=(Task.created_at, Task.id))
        .label("position")
    )
    queue = (
        select(Task.id, Task.api_key_id, Task.created_at, position)
        .where(*_scope(organization_id, model, TaskStatus.THROTTLED))
        .subquery()
    )
    query = select(queue.c.id, queue.c.api_key_id, queue.c.created_at)
    if free is not None:
        query = query.where(queue.c.position <= free)
    rows = await session.execute(query)
    return pick_fair([(task_id, key, created_at) for task_id, key, created_at in rows.all()], free, active)
