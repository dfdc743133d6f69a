"""Proof that the totals the ledger keeps agree with the ledger itself, and their rebuild from it.

The ledger is the append-only truth; each organization's balance and month spend, and the daily usage
rollups, are sums of it kept current by `billing.ledger` so that requests never sum history. The
check sums history once, for an operator (`taxiway orgs check`) and for the tests.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import String, delete, func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from taxiway.billing import ledger
from taxiway.db.tables import LedgerEntry, Organization, UsageDay


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


@dataclass(frozen=True)
class Disagreement:
    organization: str  # its name
    total: str  # "balance", "month spend 2026-12" or "usage 2026-12-03 gen4_image"
    kept: int
    ledger: int


@dataclass(frozen=True)
class Report:
    organizations: int
    entries: int
    disagreements: list[Disagreement]


async def _ledger_usage(session: AsyncSession) -> dict[tuple[str, str, str], int]:
    """Net spend per (organization id, day, model), summed from the ledger."""
    day = utc_day(LedgerEntry.created_at)
    rows = await session.execute(
        select(LedgerEntry.organization_id, day, LedgerEntry.model, -func.sum(LedgerEntry.amount))
        .where(*ledger.task_entries())
        .group_by(LedgerEntry.organization_id, day, LedgerEntry.model)
    )
    return {(str(org), str(when), str(model)): int(total) for org, when, model, total in rows.all()}


async def check(session: AsyncSession, now: datetime) -> Report:
    """Every kept total against the ledger's sum: balances, this month's spend, every day's usage."""
    organizations = (
        await session.execute(
            select(
                Organization.id,
                Organization.name,
                Organization.credit_balance,
                Organization.spend_month,
                Organization.month_spend,
            )
        )
    ).all()
    sums = dict(
        (
            await session.execute(
                select(LedgerEntry.organization_id, func.sum(LedgerEntry.amount)).group_by(
                    LedgerEntry.organization_id
                )
            )
        ).all()
    )
    entries = int(await session.scalar(select(func.count()).select_from(LedgerEntry)) or 0)
    usage = await _ledger_usage(session)
    kept: dict[tuple[str, str, str], int] = {
        (str(org), day.isoformat(), str(model)): int(credits)
        for org, day, model, credits in (
            await session.execute(
                select(UsageDay.organization_id, UsageDay.day, UsageDay.model, UsageDay.credits)
            )
        ).all()
    }
    month = ledger.month_start(now)
    spent: dict[str, int] = defaultdict(int)
    for (org, day, _model), credits in usage.items():
        if date.fromisoformat(day) >= month:
            spent[org] += credits
    names = {str(org): str(name) for org, name, *_ in organizations}
    found = []
    for org, name, balance, spend_month, month_spend in organizations:
        if int(balance) != int(sums.get(org) or 0):
            found.append(Disagreement(name, "balance", int(balance), int(sums.get(org) or 0)))
        if spend_month == month and int(month_spend) != spent[org]:
            found.append(Disagreement(name, f"month spend {month:%Y-%m}", int(month_spend), spent[org]))
    for key in sorted(set(kept) | set(usage)):
        if kept.get(key, 0) != usage.get(key, 0):
            org, day, model = key
            found.append(
                Disagreement(names.get(org, org), f"usage {day} {model}", kept.get(key, 0), usage.get(key, 0))
            )
    return Report(len(organizations), entries, found)


async def rebuild(session: AsyncSession) -> None:
    """Recompute every kept total from the ledger (writers wait until the transaction ends)."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text("LOCK TABLE usage_days, organizations IN EXCLUSIVE MODE"))
    usage = await _ledger_usage(session)
    await session.execute(delete(UsageDay))
    if usage:
        await session.execute(
            insert(UsageDay),
            [
                {"organization_id": org, "day": date.fromisoformat(day), "model": model, "credits": credits}
                for (org, day, model), credits in usage.items()
            ],
        )
    totals = (
        select(func.coalesce(func.sum(LedgerEntry.amount), 0))
        .where(LedgerEntry.organization_id == Organization.id)
        .scalar_subquery()
    )
    # The month spend is summed again from the rollups by the next movement of each organization.
    await session.execute(
        update(Organization)
        .values(credit_balance=totals, spend_month=None, month_spend=0)
        .execution_options(synchronize_session=False)
    )
