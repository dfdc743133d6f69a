"""Credit movements. Every write first takes the organization's row lock, so books never race."""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from taxiway.clock import utcnow
from taxiway.db.tables import LedgerEntry, Organization

INSUFFICIENT_CREDITS = "You do not have enough credits to run this task."


class EntryKind(StrEnum):
    GRANT = "grant"
    RESERVE = "reserve"
    REFUND = "refund"


class InsufficientCredits(Exception):
    pass


async def lock_books(session: AsyncSession, organization_id: str) -> None:
    """Serialize writers to one organization's books: a row lock on Postgres, the write lock on SQLite."""
    await session.execute(
        update(Organization)
        .where(Organization.id == organization_id)
        .values(ledger_version=Organization.ledger_version + 1)
    )


async def balance(session: AsyncSession, organization_id: str) -> int:
    total = await session.scalar(
        select(func.coalesce(func.sum(LedgerEntry.amount), 0)).where(
            LedgerEntry.organization_id == organization_id
        )
    )
    return int(total or 0)


async def grant(session: AsyncSession, organization_id: str, amount: int, note: str = "") -> int:
    """Add (or, with a negative amount, remove) credits; returns the new balance."""
    await lock_books(session, organization_id)
    session.add(
        LedgerEntry(
            organization_id=organization_id,
            kind=EntryKind.GRANT,
            amount=amount,
            note=note,
            created_at=utcnow(),
        )
    )
    await session.flush()
    return await balance(session, organization_id)


async def reserve(session: AsyncSession, organization_id: str, task_id: str, model: str, amount: int) -> None:
    """Hold a task's estimated cost. The caller holds the books lock (see `lock_books`)."""
    if await balance(session, organization_id) < amount:
        raise InsufficientCredits(INSUFFICIENT_CREDITS)
    session.add(
        LedgerEntry(
            organization_id=organization_id,
            task_id=task_id,
            kind=EntryKind.RESERVE,
            amount=-amount,
            model=model,
            created_at=utcnow(),
        )
    )


async def refund(
    session: AsyncSession, organization_id: str, task_id: str, model: str, amount: int | None = None
) -> int:
    """Return a task's reservation (or `amount` of it), once: the (task, kind) uniqueness makes a
    repeat a no-op."""
    await lock_books(session, organization_id)
    already = await session.scalar(
        select(LedgerEntry.id).where(LedgerEntry.task_id == task_id, LedgerEntry.kind == EntryKind.REFUND)
    )
    if already is not None:
        return 0
    reserved = await session.scalar(
        select(LedgerEntry.amount).where(
            LedgerEntry.task_id == task_id, LedgerEntry.kind == EntryKind.RESERVE
        )
    )
    amount = min(-int(reserved or 0), -int(reserved or 0) if amount is None else amount)
    if amount > 0:
        session.add(
            LedgerEntry(
                organization_id=organization_id,
                task_id=task_id,
                kind=EntryKind.REFUND,
                amount=amount,
                model=model,
                created_at=utcnow(),
            )
        )
    return amount
