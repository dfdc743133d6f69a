"""Idempotency keys: a retried create gets the first answer back instead of a second task and charge.

A client whose answer was lost (a timeout, a dropped connection, a server killed mid-request) cannot
know whether its create was committed. Sent again with the same `Idempotency-Key`, the same request
within 24 hours gets the stored answer; the same key with another request is refused. Keys belong to
an organization, so two organizations may use the same one. The record is written in the create's own
transaction where the caller has one (tasks), so a task and its key commit or vanish together.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from taxiway.db.tables import IdempotencyKey

TTL = timedelta(hours=24)
MAX_KEY_LENGTH = 255


class KeyReused(Exception):
    """The key was first used for a different request (another path or body)."""


@dataclass(frozen=True)
class StoredAnswer:
    status_code: int
    body: dict[str, Any]


def fingerprint(method: str, path: str, body: Any) -> str:
    """The request's identity: method, path and the body as canonical JSON (key order ignored)."""
    canonical = json.dumps([method.upper(), path, body], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


async def find(
    session: AsyncSession, organization_id: str, key: str, request_fingerprint: str, now: datetime
) -> StoredAnswer | None:
    """The stored answer for this request, None if the key is new or expired; KeyReused otherwise."""
    row = await session.get(IdempotencyKey, (organization_id, key))
    if row is None or row.expires_at <= now:
        return None
    if row.fingerprint != request_fingerprint:
        raise KeyReused()
    return StoredAnswer(row.status_code, dict(row.response))


async def remember(
    session: AsyncSession,
    organization_id: str,
    key: str,
    request_fingerprint: str,
    answer: StoredAnswer,
    now: datetime,
) -> None:
    """Keep the answer; a racing twin that committed first makes the flush raise IntegrityError.

    The organization's expired keys go first, this one included if it had expired.
    """
    await session.execute(
        delete(IdempotencyKey).where(
            IdempotencyKey.organization_id == organization_id, IdempotencyKey.expires_at <= now
        )
    )
    session.add(
        IdempotencyKey(
            organization_id=organization_id,
            key=key,
            fingerprint=request_fingerprint,
            status_code=answer.status_code,
            response=answer.body,
            created_at=now,
            expires_at=now + TTL,
        )
    )
    await session.flush()
