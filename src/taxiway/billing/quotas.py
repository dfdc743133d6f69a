"""Daily and monthly limits, checked inside the submit transaction right after `ledger.lock_books`.

The books lock serializes an organization's submissions, so the counts read here cannot be raced
past: two requests competing for the last daily slot see each other, and only one gets it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from taxiway.billing.tiers import limits_for, tier
from taxiway.db.tables import LedgerEntry, Task

DAY = timedelta(hours=24)
DAILY_LIMIT = (
    "You have reached the daily generation limit for {model} ({limit} per rolling 24 hours). Try again later."
)
MONTHLY_LIMIT = (
    "This task would exceed your organization's monthly credit spend limit "
    "({cap} credits, {spent} spent this month)."
)


class QuotaExceeded(Exception):
    """A limit refused the task; the API answers with `status` and `{"error": message}`."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


async def daily_generations(
    session: AsyncSession, organization_id: str, now: datetime, model: str | None = None
) -> dict[str, int]:
    """Tasks created per model in the rolling day (now - 24 h, now].

    Every created task counts, whatever became of it (failed, cancelled, deleted): the limit is on
    generations requested, and a refused request created none.
    """
    query = (
        select(Task.model, func.count(Task.id))
        .where(Task.organization_id == organization_id, Task.created_at > now - DAY, Task.created_at <= now)
        .group_by(Task.model)
    )
    if model is not None:
        query = query.where(Task.model == model)
    rows = await session.execute(query)
    return {name: int(count) for name, count in rows.all()}


async def check_daily(
    session: AsyncSession, organization_id: str, model: str, limit: int | None, now: datetime
) -> None:
    """429 once `limit` tasks of `model` were created in the rolling day, as the real API answers."""
    if limit is None:
        return
    used = (await daily_generations(session, organization_id, now, model)).get(model, 0)
    if used >= limit:
        raise QuotaExceeded(429, DAILY_LIMIT.format(model=model, limit=limit))


def month_start(now: datetime) -> datetime:
    return now.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)


async def monthly_spend(session: AsyncSession, organization_id: str, now: datetime) -> int:
    """Net credits charged for tasks since the start of the calendar month (UTC): charges minus refunds."""
    total = await session.scalar(
        select(func.coalesce(func.sum(LedgerEntry.amount), 0)).where(
            LedgerEntry.organization_id == organization_id,
            LedgerEntry.task_id.is_not(None),
            LedgerEntry.created_at >= month_start(now),
        )
    )
    return -int(total or 0)


async def check_monthly(
    session: AsyncSession, organization_id: str, estimated: int, cap: int, now: datetime
) -> None:
    """Refuse a task whose estimated cost would take this month's net spend over the tier's cap.

    The real API applies `maxMonthlyCreditSpend` when credits are bought, in its web app; taxiway has
    no purchases, so the cap bounds what is spent instead. The refusal is a 429, like the daily
    limit: it is a usage limit that lifts with time (next month, or a higher tier), not a problem
    with the request, which is what a 400 would tell the client.
    """
    spent = await monthly_spend(session, organization_id, now)
    if spent + estimated > cap:
        raise QuotaExceeded(429, MONTHLY_LIMIT.format(cap=cap, spent=spent))


async def enforce(
    session: AsyncSession, organization_id: str, level: int, model: str, estimated: int, now: datetime
) -> None:
    """Every quota a new task must pass: the model's rolling daily count, then the monthly spend."""
    await check_daily(session, organization_id, model, limits_for(level, model).max_daily, now)
    await check_monthly(session, organization_id, estimated, tier(level).max_monthly_credit_spend, now)
