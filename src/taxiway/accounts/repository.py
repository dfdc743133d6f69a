"""Creating and finding organizations and keys; shared by the CLI, bootstrap and request auth."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from taxiway.accounts.keys import display_prefix, generate_key, hash_key, is_well_formed
from taxiway.audit import log as audit
from taxiway.audit.actions import Action
from taxiway.billing.ledger import grant
from taxiway.clock import utcnow
from taxiway.db.tables import ApiKey, Organization


@dataclass(frozen=True)
class Principal:
    """Who is calling: the organization every query is scoped to, and the key used."""

    organization_id: str
    api_key_id: str
    tier: int


class NotFound(LookupError):
    pass


def workspace_id(organization_id: str) -> int:
    """The number of an organization's one workspace, as the SDK's web-app reports name workspaces: a
    stable positive 31-bit integer derived from the organization's id."""
    return int.from_bytes(hashlib.sha256(organization_id.encode()).digest()[:4], "big") >> 1


async def create_organization(
    session: AsyncSession, name: str, tier: int, credits: int, *, actor: audit.Actor = audit.SYSTEM
) -> Organization:
    if await session.scalar(select(Organization.id).where(Organization.name == name)) is not None:
        raise ValueError(f"an organization named {name!r} already exists")
    now = utcnow()
    org = Organization(
        id=str(uuid.uuid4()), name=name, tier=tier, ledger_version=0, credit_balance=0, created_at=now
    )
    session.add(org)
    await session.flush()
    details = {"Workspace name": name, "Plan": f"tier {tier}", "Amount": credits}
    audit.record(
        session,
        org.id,
        Action.ORGANIZATION_CREATED,
        actor,
        resource_type="workspace",
        resource_id=org.id,
        details=details,
    )
    if credits:
        await grant(session, org.id, credits, now, note="initial balance")
        await session.refresh(org)
    return org


async def find_organization(session: AsyncSession, name_or_id: str) -> Organization:
    org = await session.scalar(
        select(Organization).where((Organization.name == name_or_id) | (Organization.id == name_or_id))
    )
    if org is None:
        raise NotFound(f"no organization named {name_or_id!r}")
    return org


async def list_organizations(session: AsyncSession) -> list[tuple[Organization, int, int]]:
    """Each organization with its balance and its count of active keys."""
    keys = (
        select(func.count(ApiKey.id))
        .where(ApiKey.organization_id == Organization.id, ApiKey.revoked_at.is_(None))
        .scalar_subquery()
    )
    rows = await session.execute(
        select(Organization, Organization.credit_balance, keys).order_by(Organization.created_at)
    )
    return [(org, int(bal), int(count)) for org, bal, count in rows.all()]


async def create_key(
    session: AsyncSession,
    organization_id: str,
    name: str = "",
    secret: str | None = None,
    *,
    actor: audit.Actor = audit.SYSTEM,
) -> tuple[ApiKey, str]:
    """Store a new key's hash; the plain key is returned once and never stored."""
    plain = secret or generate_key()
    if not is_well_formed(plain):
        raise ValueError("API keys must be 'key_' followed by 128 lowercase hex characters")
    record = ApiKey(
        id=str(uuid.uuid4()),
        organization_id=organization_id,
        name=name,
        prefix=display_prefix(plain),
        secret_hash=hash_key(plain),
        created_at=utcnow(),
    )
    session.add(record)
    await session.flush()
    audit.record(
        session,
        organization_id,
        Action.KEY_CREATED,
        actor,
        resource_type="api_key",
        resource_id=record.id,
        details=_key_details(record),
    )
    return record, plain


def _key_details(record: ApiKey) -> dict[str, str]:
    return {"API account": f"{record.prefix} ({record.name})" if record.name else record.prefix}


async def key_exists(session: AsyncSession, plain: str) -> bool:
    return (await session.scalar(select(ApiKey.id).where(ApiKey.secret_hash == hash_key(plain)))) is not None


async def list_keys(session: AsyncSession, organization_id: str) -> list[ApiKey]:
    result = await session.scalars(
        select(ApiKey).where(ApiKey.organization_id == organization_id).order_by(ApiKey.created_at)
    )
    return list(result)


async def find_key(session: AsyncSession, organization_id: str, key_id_or_prefix: str) -> ApiKey:
    """One of an organization's keys, by id or displayed prefix."""
    for record in await list_keys(session, organization_id):
        if key_id_or_prefix in (record.id, record.prefix):
            return record
    raise NotFound(f"no API key {key_id_or_prefix!r} in this organization")


async def revoke_key(
    session: AsyncSession, key_id_or_prefix: str, *, actor: audit.Actor = audit.SYSTEM
) -> ApiKey:
    record = await session.scalar(
        select(ApiKey).where((ApiKey.id == key_id_or_prefix) | (ApiKey.prefix == key_id_or_prefix))
    )
    if record is None:
        raise NotFound(f"no API key {key_id_or_prefix!r}")
    if record.revoked_at is None:
        await session.execute(update(ApiKey).where(ApiKey.id == record.id).values(revoked_at=utcnow()))
        await session.refresh(record)
        audit.record(
            session,
            record.organization_id,
            Action.KEY_REVOKED,
            actor,
            resource_type="api_key",
            resource_id=record.id,
            details=_key_details(record),
        )
    return record


async def authenticate(session: AsyncSession, plain: str) -> Principal | None:
    if not is_well_formed(plain):
        return None
    row = (
        await session.execute(
            select(ApiKey.id, ApiKey.organization_id, Organization.tier)
            .join(Organization, Organization.id == ApiKey.organization_id)
            .where(ApiKey.secret_hash == hash_key(plain), ApiKey.revoked_at.is_(None))
        )
    ).first()
    if row is None:
        return None
    return Principal(organization_id=row.organization_id, api_key_id=row.id, tier=row.tier)
