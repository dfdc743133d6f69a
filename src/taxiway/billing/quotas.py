"""Daily and monthly limits.

The daily count is read under the task's admission lock (`tasks.admission`), so two requests
competing for the last daily slot see each other and only one gets it. The monthly cap is a guard
on the organization's row in the same UPDATE that takes the credits (`ledger.reserve`).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, literal_column, select
from sqlalchemy.ext.asyncio import AsyncSession

from taxiway.billing import ledger
from taxiway.billing.tiers import tier
from taxiway.db.tables import Task, UsageDay

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
    """Tasks created per model in the rolling day (now - 24 h, now]: a range scan of the day's tasks.

    Every created task counts, whatever became of it (failed, cancelled, deleted): the limit is on
    generations requested, and a refused request created none.
    """
    # Grouped by an expression, not the column: SQLite would otherwise walk the organization's whole
    # history in (organization, model, created_at) order to skip a sort, instead of the day's range.
    grouped = func.coalesce(Task.model, literal_column("''"))
    query = (
        select(grouped, func.count())
        .where(Task.organization_id == organization_id, Task.created_at > now - DAY, Task.created_at <= now)
        .group_by(grouped)
    )
    if model is not None:
        query = query.where(Task.model == model)
    rows = await session.execute(query)
    return {name: int(count) for name, count in rows.all()}


def check_daily(model: str, used: int, limit: int | None) -> None:
    """429 once `limit` tasks of `model` were created in the rolling day, as the real API answers."""
    if limit is not None and used >= limit:
        raise QuotaExceeded(429, DAILY_LIMIT.format(model=model, limit=limit))


async def monthly_spend(session: AsyncSession, organization_id: str, now: datetime) -> int:
    """Net credits charged for tasks since the start of the calendar month (UTC): charges minus refunds."""
    month = ledger.month_start(now)
    total = await session.scalar(
        select(func.coalesce(func.sum(UsageDay.credits), 0)).where(
            UsageDay.organization_id == organization_id, UsageDay.day >= month
        )
    )
    return int(total or 0)


def check_funds(level: int, amount: int, balance: int, spent: int) -> None:
    """Refuse a task the month's cap (429) or the balance (400) cannot take, as `reserve` would."""
    cap = tier(level).max_monthly_credit_spend
    if spent + amount > cap:
        raise QuotaExceeded(429, MONTHLY_LIMIT.format(cap=cap, spent=spent))
    if balance < amount:
        raise ledger.InsufficientCredits(ledger.INSUFFICIENT_CREDITS)


async def reserve(
    session: AsyncSession,
    organization_id: str,
    level: int,
    task_id: str,
    model: str,
    amount: int,
    now: datetime,
) -> None:
    """Take a task's (or session's) estimated credits within the balance and the tier's monthly cap.

    The real API applies `maxMonthlyCreditSpend` when credits are bought, in its web app; taxiway has
    no purchases, so the cap bounds what is spent instead. The refusal is a 429, like the daily
    limit: it is a usage limit that lifts with time (next month, or a higher tier), not a problem
    with the request, which is what a 400 would tell the client.
    """
    cap = tier(level).max_monthly_credit_spend
    try:
        await ledger.reserve(session, organization_id, task_id, model, amount, now, cap)
    except ledger.SpendCapReached as exc:
        raise QuotaExceeded(429, MONTHLY_LIMIT.format(cap=exc.cap, spent=exc.spent)) from None
