"""First-start setup: the default organization and its key, and the persistent URL-signing secret."""

from __future__ import annotations

import secrets

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from taxiway.accounts import repository
from taxiway.config import Settings
from taxiway.db.tables import Organization, Setting

DEFAULT_ORGANIZATION = "default"
SIGNING_SECRET_KEY = "signing_secret"


async def signing_secret(sessions: async_sessionmaker[AsyncSession], settings: Settings) -> bytes:
    """The configured secret, else one generated on first start and kept in the database."""
    if settings.signing_secret is not None:
        return settings.signing_secret.get_secret_value().encode()
    async with sessions.begin() as session:
        stored = await session.get(Setting, SIGNING_SECRET_KEY)
        if stored is None:
            stored = Setting(key=SIGNING_SECRET_KEY, value=secrets.token_hex(32))
            session.add(stored)
        return bytes.fromhex(stored.value)


async def ensure_default_account(
    sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> str | None:
    """Create the default organization and a key on an empty database. Returns a key to show, if new.

    With `TAXIWAY_BOOTSTRAP_API_KEY` set, that key is registered (once) instead of a generated one.
    """
    chosen = settings.bootstrap_api_key.get_secret_value() if settings.bootstrap_api_key else None
    async with sessions.begin() as session:
        empty = not await session.scalar(select(func.count(Organization.id)))
        if not empty and (chosen is None or await repository.key_exists(session, chosen)):
            return None
        if empty:
            org = await repository.create_organization(
                session, DEFAULT_ORGANIZATION, settings.bootstrap_tier, settings.bootstrap_credits
            )
        else:
            org = await repository.find_organization(session, DEFAULT_ORGANIZATION)
        _record, plain = await repository.create_key(session, org.id, name="bootstrap", secret=chosen)
    return plain
