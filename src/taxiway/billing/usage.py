"""The organization's own view of its account: `GET /v1/organization` and `POST /v1/organization/usage`.

Both read what the ledger keeps as it is written (the balance on the organization, the daily usage
rollups) and the day's tasks, so what they report is exactly what was charged, at a cost that does
not grow with history.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from taxiway.billing import ledger, quotas
from taxiway.billing.tiers import limits_for, tier
from taxiway.catalog import CATALOG
from taxiway.db.tables import UsageDay

DEFAULT_DAYS = 30
MAX_DAYS = 90


class UsageRangeError(ValueError):
    """A usage query whose dates do not make a valid range; `field` is the body key to blame."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


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


def reported_model(model: str) -> str:
    """The id a model's credits are reported under: its own, or for a legacy model the SDK's usage enum
    does not know (upscale_v1) the model that took its place, so strict SDK clients can read every report."""
    return _REPORTED.get(model, model)


_REPORTED = {spec.id: spec.usage_id for spec in CATALOG.values() if spec.usage_id}


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


async def usage_report(
    session: AsyncSession, organization_id: str, start: date, before: date
) -> dict[str, Any]:
    """The body of `POST /v1/organization/usage`: net credits per UTC day and model in [start, before).

    Net means charges minus refunds on that day, so a day whose refunds exceed its charges (a task
    charged yesterday and refunded today) is negative. Days without task movements are left out.
    """
    rows = await session.execute(
        select(UsageDay.day, UsageDay.model, UsageDay.credits)
        .where(UsageDay.organization_id == organization_id, UsageDay.day >= start, UsageDay.day < before)
        .order_by(UsageDay.day, UsageDay.model)
    )
    days: dict[str, dict[str, int]] = {}
    for day, model, credits in rows.all():
        day_models = days.setdefault(day.isoformat(), {})
        reported = reported_model(str(model))
        day_models[reported] = day_models.get(reported, 0) + int(credits)
    results = {
        when: [{"model": model, "amount": amount} for model, amount in sorted(used.items())]
        for when, used in days.items()
    }
    models = sorted({model for used in days.values() for model in used})
    return {
        "models": models,
        "results": [{"date": when, "usedCredits": used} for when, used in results.items()],
    }
