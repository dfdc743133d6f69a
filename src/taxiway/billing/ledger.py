"""Credit movements: the append-only ledger, and the totals it keeps current as it is written.

A movement appends its entries, adds task movements to the day's usage rollup, and then updates the
organization's row: balance and month spend. That UPDATE, guarded where credits leave, is the books
lock, taken last so that it is held only until the commit. The ledger stays the truth: `books.check`
proves the kept totals agree with it.

Locks are taken in one order in every transaction, so none can wait on another in a cycle: admission
locks (`tasks.admission`), task rows, usage rollup rows, organization rows (each kind sorted).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, case, delete, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from taxiway.db.tables import LedgerEntry, Organization, UsageDay

INSUFFICIENT_CREDITS = "You do not have enough credits to run this task."


class EntryKind(StrEnum):
    GRANT = "grant"
    RESERVE = "reserve"
    REFUND = "refund"


class InsufficientCredits(Exception):
    pass


class SpendCapReached(Exception):
    """A reservation that would take the month's net spend over `cap`; `spent` is before it."""

    def __init__(self, cap: int, spent: int) -> None:
        super().__init__(f"{spent} of {cap} credits spent this month")
        self.cap = cap
        self.spent = spent


@dataclass(frozen=True)
class Refund:
    """Return `task_id`'s reservation, or `amount` of it when given."""

    organization_id: str
    task_id: str
    model: str
    amount: int | None = None


def month_start(now: datetime) -> date:
    return now.astimezone(UTC).date().replace(day=1)


def _next_month(month: date) -> date:
    return (
        month.replace(year=month.year + 1, month=1)
        if month.month == 12
        else month.replace(month=month.month + 1)
    )


def _day(now: datetime) -> date:
    return now.astimezone(UTC).date()


def month_spend_after(month: date, change: int | ColumnElement[Any]) -> ColumnElement[int]:
    """The organization's net spend in `month` once `change` is added, for an UPDATE of its row.

    The row keeps one month's spend; in another month it is summed once from the daily rollups, which
    this transaction has already updated (rollups are written before the organization's row).
    """
    summed = (
        select(func.coalesce(func.sum(UsageDay.credits), 0))
        .where(
            UsageDay.organization_id == Organization.id,
            UsageDay.day >= month,
            UsageDay.day < _next_month(month),
        )
        .scalar_subquery()
    )
    return case((Organization.spend_month == month, Organization.month_spend + change), else_=summed)


def _insert(session: AsyncSession) -> Any:
    """The dialect's INSERT, which knows ON CONFLICT."""
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


async def _append(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    await session.execute(insert(LedgerEntry), rows)


async def _add_usage(session: AsyncSession, usage: Mapping[tuple[str, date, str], int]) -> None:
    """Add net spend to the (organization, day, model) rollups."""
    upsert = _insert(session)
    for (organization_id, day, model), credits in sorted(usage.items()):
        statement = upsert(UsageDay).values(
            organization_id=organization_id, day=day, model=model, credits=credits
        )
        await session.execute(
            statement.on_conflict_do_update(
                index_elements=[UsageDay.organization_id, UsageDay.day, UsageDay.model],
                set_={"credits": UsageDay.credits + statement.excluded.credits},
            )
        )


async def _drop_if_unused(session: AsyncSession, organization_id: str, day: date, model: str) -> None:
    """Remove a rollup that only a taken-back reservation made: a day with no movement is not reported."""
    start = datetime.combine(day, time(), tzinfo=UTC)
    moved = (
        select(LedgerEntry.id)
        .where(
            *task_entries(
                LedgerEntry.organization_id == organization_id,
                LedgerEntry.model == model,
                LedgerEntry.created_at >= start,
                LedgerEntry.created_at < start + timedelta(days=1),
            )
        )
        .exists()
    )
    await session.execute(
        delete(UsageDay).where(
            UsageDay.organization_id == organization_id,
            UsageDay.day == day,
            UsageDay.model == model,
            UsageDay.credits == 0,
            ~moved,
        )
    )


async def _update_books(session: AsyncSession, changes: Mapping[str, tuple[int, int]], now: datetime) -> None:
    """Add (balance change, spend change) to each organization's row: the books lock, taken last."""
    month = month_start(now)
    for organization_id, (credits, spend) in sorted(changes.items()):
        values: dict[str, Any] = {
            "credit_balance": Organization.credit_balance + credits,
            "ledger_version": Organization.ledger_version + 1,
        }
        if spend:
            values.update(month_spend=month_spend_after(month, spend), spend_month=month)
        await session.execute(update(Organization).where(Organization.id == organization_id).values(values))


def funds(organization_id: str, now: datetime) -> tuple[ColumnElement[int], ColumnElement[int]]:
    """An organization's balance and this month's net spend, as scalar subqueries: for a read that
    refuses before anything is written (the guarded update in `reserve` stays the authority)."""
    month = month_start(now)
    row = Organization.id == organization_id
    balance = select(Organization.credit_balance).where(row).scalar_subquery()
    spent = select(month_spend_after(month, 0)).where(row).scalar_subquery()
    return balance, spent


async def reserve(
    session: AsyncSession,
    organization_id: str,
    task_id: str,
    model: str,
    amount: int,
    now: datetime,
    monthly_cap: int | None = None,
) -> None:
    """Hold a task's estimated cost, if the balance covers it and the month's spend stays within
    `monthly_cap`; otherwise SpendCapReached or InsufficientCredits, with nothing left written (the
    entry and the rollup come before the guarded update, which takes the books lock, and are taken
    back when it refuses)."""
    await _append(
        session,
        [
            {
                "organization_id": organization_id, "task_id": task_id, "kind": EntryKind.RESERVE.value,
                "amount": -amount, "model": model, "note": "", "created_at": now,
            }
        ],
    )  # fmt: skip
    await _add_usage(session, {(organization_id, _day(now), model): amount})
    month = month_start(now)
    spend = month_spend_after(month, amount)
    guards = [Organization.id == organization_id, Organization.credit_balance >= amount]
    if monthly_cap is not None:
        guards.append(spend <= monthly_cap)
    booked = await session.scalar(
        update(Organization)
        .where(*guards)
        .values(
            credit_balance=Organization.credit_balance - amount,
            month_spend=spend,
            spend_month=month,
            ledger_version=Organization.ledger_version + 1,
        )
        .returning(Organization.id)
    )
    if booked is not None:
        return
    await session.execute(
        delete(LedgerEntry).where(LedgerEntry.task_id == task_id, LedgerEntry.kind == EntryKind.RESERVE.value)
    )
    await _add_usage(session, {(organization_id, _day(now), model): -amount})
    await _drop_if_unused(session, organization_id, _day(now), model)
    row = Organization.id == organization_id
    spent = int(await session.scalar(select(month_spend_after(month, 0)).where(row)) or 0)
    if monthly_cap is not None and spent + amount > monthly_cap:
        raise SpendCapReached(monthly_cap, spent)
    raise InsufficientCredits(INSUFFICIENT_CREDITS)


async def refund_many(session: AsyncSession, refunds: Sequence[Refund], now: datetime) -> dict[str, int]:
    """Return reservations, each at most once (a repeat is a no-op: the ledger holds one refund per
    task); returns the credits given back per task id."""
    if not refunds:
        return {}
    reserved = dict(
        (
            await session.execute(
                select(LedgerEntry.task_id, LedgerEntry.amount).where(
                    LedgerEntry.task_id.in_([r.task_id for r in refunds]),
                    LedgerEntry.kind == EntryKind.RESERVE.value,
                )
            )
        ).all()
    )
    due = {}
    for item in refunds:
        held = -int(reserved.get(item.task_id) or 0)
        amount = held if item.amount is None else min(held, item.amount)
        if amount > 0:
            due[item.task_id] = (item, amount)
    if not due:
        return {}
    rows = [
        {
            "organization_id": item.organization_id, "task_id": item.task_id, "kind": EntryKind.REFUND.value,
            "amount": amount, "model": item.model, "note": "", "created_at": now,
        }
        for item, amount in due.values()
    ]  # fmt: skip
    written = (
        await session.execute(
            _insert(session)(LedgerEntry)
            .values(rows)
            .on_conflict_do_nothing(index_elements=[LedgerEntry.task_id, LedgerEntry.kind])
            .returning(LedgerEntry.task_id, LedgerEntry.amount)
        )
    ).all()
    given = {str(task_id): int(amount) for task_id, amount in written}
    usage: dict[tuple[str, date, str], int] = defaultdict(int)
    books: dict[str, tuple[int, int]] = {}
    for task_id in given:
        item, amount = due[task_id]
        usage[(item.organization_id, _day(now), item.model)] -= amount
        credits, spend = books.get(item.organization_id, (0, 0))
        books[item.organization_id] = (credits + amount, spend - amount)
    await _add_usage(session, usage)
    await _update_books(session, books, now)
    return given


async def refund(
    session: AsyncSession,
    organization_id: str,
    task_id: str,
    model: str,
    now: datetime,
    amount: int | None = None,
) -> int:
    """Return a task's reservation (or `amount` of it), once; the credits given back."""
    given = await refund_many(session, [Refund(organization_id, task_id, model, amount)], now)
    return given.get(task_id, 0)


async def grant(
    session: AsyncSession, organization_id: str, amount: int, now: datetime, note: str = ""
) -> int:
    """Add (or, with a negative amount, remove) credits; returns the new balance.

    Removing more than the balance raises InsufficientCredits (books below zero could never be paid
    back) and writes nothing, so the caller's transaction may go on: the guarded update comes first
    here, as grants are an operator's, never contended.
    """
    total = await session.scalar(
        update(Organization)
        .where(Organization.id == organization_id, Organization.credit_balance + amount >= 0)
        .values(
            credit_balance=Organization.credit_balance + amount,
            ledger_version=Organization.ledger_version + 1,
        )
        .returning(Organization.credit_balance)
    )
    if total is None:
        current = await balance(session, organization_id)
        raise InsufficientCredits(f"cannot remove {-amount} credits: the balance is {current}")
    await _append(
        session,
        [
            {
                "organization_id": organization_id, "task_id": None, "kind": EntryKind.GRANT.value,
                "amount": amount, "model": None, "note": note, "created_at": now,
            }
        ],
    )  # fmt: skip
    return int(total)


async def balance(session: AsyncSession, organization_id: str) -> int:
    total = await session.scalar(
        select(Organization.credit_balance).where(Organization.id == organization_id)
    )
    return int(total or 0)


def task_entries(*where: ColumnElement[bool]) -> Iterable[ColumnElement[bool]]:
    """The ledger entries that are spend on tasks (reservations and refunds), as rollups count them."""
    return (LedgerEntry.task_id.is_not(None), LedgerEntry.model.is_not(None), *where)
