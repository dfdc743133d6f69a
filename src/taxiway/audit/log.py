"""Recording and reading audit events. The domain functions that change an account record them, with
the `Actor` their caller hands in, so the API, the operator API and the CLI are audited alike."""

from __future__ import annotations

import getpass
import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from taxiway.audit.actions import Action
from taxiway.clock import utcnow
from taxiway.db.paging import After, newest_first
from taxiway.db.tables import ApiKey, AuditEvent

ActorKind = Literal["api_key", "operator", "cli", "system"]

# The "Application" an event came through, as the SDK's metadata names it.
APPLICATIONS: Mapping[str, str] = {
    "api_key": "Runway API",
    "operator": "taxiway operator API",
    "cli": "taxiway command line",
    "system": "taxiway",
}


@dataclass(frozen=True)
class Actor:
    """Who made a change and from where. An API key's name is read when the event is, so the log
    shows the key's prefix and whether it has been revoked since."""

    kind: ActorKind
    name: str | None = None
    key_id: str | None = None
    client_ip: str | None = None
    user_agent: str | None = None
    request_id: str | None = None


SYSTEM = Actor("system", "taxiway")


def command_line() -> Actor:
    """The `taxiway` CLI, run by this operating-system user on the server's machine."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = None
    return Actor("cli", user)


def _value(value: Any) -> Any:
    """A metadata value as the SDK types them (text, number, flag, flags by name, a list of text);
    anything else, e.g. a settings snapshot, as compact JSON text."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, dict) and all(isinstance(v, bool) for v in value.values()):
        return value
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def record(
    session: AsyncSession,
    organization_id: str,
    action: Action,
    actor: Actor,
    *,
    resource_type: str | None = None,
    resource_id: str | None = None,
    details: Mapping[str, Any] | None = None,
) -> AuditEvent:
    """Add the event to the session: it commits, or rolls back, with the change it records."""
    event = AuditEvent(
        id=str(uuid.uuid4()),
        organization_id=organization_id,
        action=action.value,
        actor_kind=actor.kind,
        actor_key_id=actor.key_id,
        actor_name=actor.name,
        client_ip=actor.client_ip,
        user_agent=actor.user_agent,
        request_id=actor.request_id,
        resource_type=resource_type,
        resource_id=resource_id,
        details={
            "Application": APPLICATIONS[actor.kind],
            "Via public API": actor.kind == "api_key",
            **{name: _value(value) for name, value in (details or {}).items()},
        },
        created_at=utcnow(),
    )
    session.add(event)
    return event


@dataclass(frozen=True)
class EventQuery:
    actions: Sequence[str] = ()
    since: datetime | None = None  # inclusive
    until: datetime | None = None  # exclusive


_COLUMNS = (AuditEvent, ApiKey.prefix, ApiKey.revoked_at)
# An event with its acting key's prefix and when that key was revoked (None for other actors).
EventRow = tuple[AuditEvent, str | None, datetime | None]


async def list_events(
    session: AsyncSession,
    organization_id: str,
    where: EventQuery,
    limit: int,
    after: After | None = None,
) -> list[EventRow]:
    """Newest first, starting after `(created_at, id)` of the last event served; each row is
    (event, the acting key's prefix, when that key was revoked)."""
    query = (
        select(*_COLUMNS)
        .outerjoin(ApiKey, ApiKey.id == AuditEvent.actor_key_id)
        .where(AuditEvent.organization_id == organization_id)
    )
    if where.actions:
        query = query.where(AuditEvent.action.in_(list(where.actions)))
    if where.since is not None:
        query = query.where(AuditEvent.created_at >= where.since)
    if where.until is not None:
        query = query.where(AuditEvent.created_at < where.until)
    query = newest_first(query, AuditEvent.created_at, AuditEvent.id, limit, after)
    return [(event, prefix, revoked) for event, prefix, revoked in (await session.execute(query)).all()]


async def get_event(session: AsyncSession, organization_id: str, event_id: str) -> EventRow | None:
    query = (
        select(*_COLUMNS)
        .outerjoin(ApiKey, ApiKey.id == AuditEvent.actor_key_id)
        .where(AuditEvent.organization_id == organization_id, AuditEvent.id == event_id)
    )
    row = (await session.execute(query)).first()
    return (row[0], row[1], row[2]) if row is not None else None
