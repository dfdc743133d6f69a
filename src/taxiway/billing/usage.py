"""The organization's own view of its account: `GET /v1/organization` and `POST /v1/organization/usage`.

Both read only the ledger and the tasks, so what they report is exactly what was charged.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import String, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from taxiway.billing import ledger, quotas
from taxiway.billing.tiers import limits_for, tier
from taxiway.catalog import CATALOG
from taxiway.db.tables import LedgerEntry

DEFAULT_DAYS = 30
MAX_DAYS = 90


class UsageRangeError(ValueError):
    """A usage query whose dates do not make a valid range; `field` is the body key to blame."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class utc_day(FunctionElement[str]):
    """The UTC calendar day of a timestamp as `YYYY-MM-DD`, so days are grouped by the database.

    Each supported backend spells it its own way: SQLite keeps UTC timestamps as
    `YYYY-MM-DD HH:MM:SS.ffffff` text, PostgreSQL as `timestamptz`.
    """

    type = String()
    name = "utc_day"
    inherit_cache = True


@compiles(utc_day, "sqlite")
def _utc_day_sqlite(element: utc_day, compiler: SQLCompiler, **kw: Any) -> str:
    return f"substr({compiler.process(element.clauses, **kw)}, 1, 10)"


@compiles(utc_day, "postgresql")
def _utc_day_postgresql(element: utc_day, compiler: SQLCompiler, **kw: Any) -> str:
    return f"to_char(({compiler.process(element.clauses, **kw)}) AT TIME ZONE 'UTC', 'YYYY-MM-DD')"


def model_ids() -> Iterator[str]:
    """Every model id of the catalog once (a model may serve several endpoints), in catalog order."""
    yield from dict.fromkeys(model for _endpoint, model in CATALOG)


async def organization_view(
    session: AsyncSession, organization_id: str, tier_level: int, now: datetime
) -> dict[str, Any]:
    """The body of `GET /v1/organization`: balance, the tier's limits per model, the rolling day's use."""
    used = await quotas.daily_generations(session, organization_id, now)
    models = {}
    for model in model_ids():
        limits = limits_for(tier_level, model)
        models[model] = {
            "maxConcurrentGenerations": limits.max_concurrent,
            "maxDailyGenerations": limits.max_daily,
        }
    return {
        "creditBalance": await ledger.balance(session, organization_id),
        "tier": {"maxMonthlyCreditSpend": tier(tier_level).max_monthly_credit_spend, "models": models},
        "usage": {"models": {model: {"dailyGenerations": count} for model, count in sorted(used.items())}},
    }


def usage_window(start: date | None, before: date | None, today: date) -> tuple[date, date]:
    """The real API's defaults and bounds: start 30 days before today, end (exclusive) 30 days after
    start, and never more than 90 days after it."""
    start = start or today - timedelta(days=DEFAULT_DAYS)
    before = before or start + timedelta(days=DEFAULT_DAYS)
    if before <= start:
        raise UsageRangeError("beforeDate", "must be after startDate")
    if before > start + timedelta(days=MAX_DAYS):
        raise UsageRangeError("beforeDate", f"must be at most {MAX_DAYS} days after startDate")
    return start, before


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


async def usage_report(
    session: AsyncSession, organization_id: str, start: date, before: date
) -> dict[str, Any]:
    """The body of `POST /v1/organization/usage`: net credits per UTC day and model in [start, before).

    Net means charges minus refunds on that day, so a day whose refunds exceed its charges (a task
    charged yesterday and refunded today) is negative. Days without task movements are left out.
    """
    day = utc_day(LedgerEntry.created_at)
    rows = await session.execute(
        select(day, LedgerEntry.model, func.sum(LedgerEntry.amount))
        .where(
            LedgerEntry.organization_id == organization_id,
            LedgerEntry.task_id.is_not(None),
            LedgerEntry.model.is_not(None),
            LedgerEntry.created_at >= _midnight(start),
            LedgerEntry.created_at < _midnight(before),
        )
        .group_by(day, LedgerEntry.model)
        .order_by(day, LedgerEntry.model)
    )
    results: dict[str, list[dict[str, Any]]] = {}
    for when, model, amount in rows.all():
        results.setdefault(when, []).append({"model": model, "amount": -int(amount)})
    models = sorted({entry["model"] for used in results.values() for entry in used})
    return {
        "models": models,
        "results": [{"date": when, "usedCredits": used} for when, used in results.items()],
    }
