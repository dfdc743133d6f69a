"""Credit movements: the append-only ledger, and the totals it keeps current as it is written.

A movement appends its entries, adds task movements to the day's usage rollup, and then updates the
organization's row: balance and month spend. That UPDATE, guarded where credits leave, is the books
lock, taken last so that it is held only until the commit. The ledger stays the truth: `books.check`
proves the kept totals agree with it.

Locks are taken in one order in every transaction, so none can wait on another in a cycle: admission
locks (`tasks.admission`), task rows, usage rollup rows, organization rows (each kind sorted).
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Date,
    String,
    bindparam,
    case,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from taxiway.db.engine import upsert_insert
from taxiway.db.tables import LEDGER_ENTRIES, ORGANIZATIONS, USAGE_DAYS, LedgerEntry, Organization, UsageDay

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


# The month a spend is counted in, bound per execution: the statements below are built once, so a
# create does not pay for building and hashing them (most of its CPU, before this).
_MONTH = "month"
_NEXT_MONTH = "next_month"


def month_params(now: datetime) -> dict[str, date]:
    """The values of the month parameters of `month_spend_after` (and `FUNDS`) at `now`."""
    month = month_start(now)
    return {_MONTH: month, _NEXT_MONTH: _next_month(month)}


def month_spend_after(change: int | ColumnElement[Any]) -> ColumnElement[int]:
    """The organization's net spend in the month of `month_params` once `change` is added, for an
    UPDATE of its row.

    The row keeps one month's spend; in another month it is summed once from the daily rollups, which
    this transaction has already updated (rollups are written before the organization's row).
    """
    month = bindparam(_MONTH, type_=Date)
    summed = (
        select(func.coalesce(func.sum(USAGE_DAYS.c.credits), 0))
        .where(
            USAGE_DAYS.c.organization_id == ORGANIZATIONS.c.id,
            USAGE_DAYS.c.day >= month,
            USAGE_DAYS.c.day < bindparam(_NEXT_MONTH, type_=Date),
        )
        .scalar_subquery()
    )
    return case((ORGANIZATIONS.c.spend_month == month, ORGANIZATIONS.c.month_spend + change), else_=summed)


def _dialect(session: AsyncSession) -> str:
    return session.get_bind().dialect.name


_APPEND = insert(LEDGER_ENTRIES)


async def _append(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    await session.execute(_APPEND, rows)


@functools.cache
def _usage_upsert(dialect: str) -> Any:
    """Add `credits` to an (organization, day, model) rollup, creating it at need: the dialect's
    INSERT … ON CONFLICT."""
    statement = upsert_insert(dialect)(USAGE_DAYS)
    return statement.on_conflict_do_update(
        index_elements=[USAGE_DAYS.c.organization_id, USAGE_DAYS.c.day, USAGE_DAYS.c.model],
        set_={"credits": USAGE_DAYS.c.credits + statement.excluded.credits},
    )


async def _add_usage(session: AsyncSession, usage: Mapping[tuple[str, date, str], int]) -> None:
    """Add net spend to the (organization, day, model) rollups."""
    upsert = _usage_upsert(_dialect(session))
    for (organization_id, day, model), credits in sorted(usage.items()):
        await session.execute(
            upsert, {"organization_id": organization_id, "day": day, "model": model, "credits": credits}
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


_THIS_ORGANIZATION = ORGANIZATIONS.c.id == bindparam("organization_id", type_=String)


def _books_update(with_spend: bool) -> Any:
    """Add `credits` to an organization's balance (and `spend` to its month's spend)."""
    values: dict[str, Any] = {
        "credit_balance": ORGANIZATIONS.c.credit_balance + bindparam("credits", type_=BigInteger),
        "ledger_version": ORGANIZATIONS.c.ledger_version + 1,
    }
    if with_spend:
        values.update(
            month_spend=month_spend_after(bindparam("spend", type_=BigInteger)),
            spend_month=bindparam(_MONTH, type_=Date),
        )
    return update(ORGANIZATIONS).where(_THIS_ORGANIZATION).values(values)


_BOOKS = {with_spend: _books_update(with_spend) for with_spend in (False, True)}


async def _update_books(session: AsyncSession, changes: Mapping[str, tuple[int, int]], now: datetime) -> None:
    """Add (balance change, spend change) to each organization's row: the books lock, taken last."""
    month = month_params(now)
    for organization_id, (credits, spend) in sorted(changes.items()):
        params = {"organization_id": organization_id, "credits": credits, "spend": spend, **month}
        await session.execute(_BOOKS[bool(spend)], params)


# An organization's balance and this month's net spend, as scalar subqueries: for a read that refuses
# before anything is written (the guarded update in `reserve` stays the authority). Bound by
# `funds_params`.
FUNDS: tuple[ColumnElement[int], ColumnElement[int]] = (
    select(ORGANIZATIONS.c.credit_balance).where(_THIS_ORGANIZATION).scalar_subquery(),
    select(month_spend_after(0)).where(_THIS_ORGANIZATION).scalar_subquery(),
)


def funds_params(organization_id: str, now: datetime) -> dict[str, Any]:
    return {"organization_id": organization_id, **month_params(now)}


def _reserve_update(capped: bool) -> Any:
    """Take `amount` if the balance covers it (and, `capped`, the month's spend stays within `cap`)."""
    amount = bindparam("amount", type_=BigInteger)
    spend = month_spend_after(amount)
    guards = [_THIS_ORGANIZATION, ORGANIZATIONS.c.credit_balance >= amount]
    if capped:
        guards.append(spend <= bindparam("cap", type_=BigInteger))
    return (
        update(ORGANIZATIONS)
        .where(*guards)
        .values(
            credit_balance=ORGANIZATIONS.c.credit_balance - amount,
            month_spend=spend,
            spend_month=bindparam(_MONTH, type_=Date),
            ledger_version=ORGANIZATIONS.c.ledger_version + 1,
        )
        .returning(ORGANIZATIONS.c.id)
    )


_RESERVE = {capped: _reserve_update(capped) for capped in (False, True)}


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
    params = {**funds_params(organization_id, now), "amount": amount, "cap": monthly_cap}
    booked = await session.scalar(_RESERVE[monthly_cap is not None], params)
    if booked is not None:
        return
    await session.execute(
        delete(LedgerEntry).where(LedgerEntry.task_id == task_id, LedgerEntry.kind == EntryKind.RESERVE.value)
    )
    await _add_usage(session, {(organization_id, _day(now), model): -amount})
    await _drop_if_unused(session, organization_id, _day(now), model)
    spent = int(await session.scalar(select(FUNDS[1]), funds_params(organization_id, now)) or 0)
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
            upsert_insert(_dialect(session))(LedgerEntry)
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
