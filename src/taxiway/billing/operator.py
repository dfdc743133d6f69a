"""What the operator CLI changes on an organization's account: credits and tier."""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from taxiway.billing import ledger
from taxiway.billing.tiers import tier
from taxiway.db.tables import Organization


async def adjust_credits(session: AsyncSession, organization_id: str, amount: int, note: str = "") -> int:
    """Add (amount > 0) or remove credits as one ledger entry; returns the new balance.

    Removing more than the balance is refused rather than leaving the books below zero, which no
    task could ever pay back.
    """
    if amount == 0:
        raise ValueError("the amount must not be zero")
    await ledger.lock_books(session, organization_id)
    current = await ledger.balance(session, organization_id)
    if current + amount < 0:
        raise ValueError(f"cannot remove {-amount} credits: the balance is {current}")
    return await ledger.grant(session, organization_id, amount, note=note or "operator adjustment")


async def set_tier(session: AsyncSession, organization_id: str, level: int) -> None:
    """Move an organization to tier `level`; new submissions see it once cached API keys expire
    (`api.auth.AUTH_CACHE_SECONDS`)."""
    tier(level)  # refuses unknown levels
    await session.execute(update(Organization).where(Organization.id == organization_id).values(tier=level))
