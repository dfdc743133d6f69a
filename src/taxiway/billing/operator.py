"""What the operator changes on an organization's account: credits and tier, each audited."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from taxiway.audit import log as audit
from taxiway.audit.actions import Action
from taxiway.billing import ledger
from taxiway.billing.tiers import tier
from taxiway.clock import utcnow
from taxiway.db.tables import Organization


async def adjust_credits(
    session: AsyncSession,
    organization_id: str,
    amount: int,
    note: str = "",
    *,
    actor: audit.Actor = audit.SYSTEM,
) -> int:
    """Add (amount > 0) or remove credits as one ledger entry; returns the new balance.

    Removing more than the balance is refused rather than leaving the books below zero, which no
    task could ever pay back.
    """
    if amount == 0:
        raise ValueError("the amount must not be zero")
    try:
        balance = await ledger.grant(
            session, organization_id, amount, utcnow(), note=note or "operator adjustment"
        )
    except ledger.InsufficientCredits as exc:
        raise ValueError(str(exc)) from None
    details = {
        "Amount": amount,
        "Direction": "in" if amount > 0 else "out",
        "Previous value": balance - amount,
        "New value": balance,
        **({"Reason": note} if note else {}),
    }
    audit.record(
        session, organization_id, Action.CREDITS_CHANGED, actor, resource_type="organization",
        resource_id=organization_id, details=details,
    )  # fmt: skip
    return balance


async def set_tier(
    session: AsyncSession, organization_id: str, level: int, *, actor: audit.Actor = audit.SYSTEM
) -> None:
    """Move an organization to tier `level`; new submissions see it once cached API keys expire
    (`api.auth.AUTH_CACHE_SECONDS`)."""
    tier(level)  # refuses unknown levels
    previous = await session.scalar(select(Organization.tier).where(Organization.id == organization_id))
    await session.execute(update(Organization).where(Organization.id == organization_id).values(tier=level))
    if previous != level:
        details = {"Plan": f"tier {level}", "Previous value": previous, "New value": level}
        audit.record(
            session, organization_id, Action.TIER_CHANGED, actor, resource_type="organization",
            resource_id=organization_id, details=details,
        )  # fmt: skip
