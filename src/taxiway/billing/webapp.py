"""The web-app usage report (`GET /v1/organization/webapp/usage`): every credit charge and refund of
an organization's generations, newest first, read from the ledger as it was written.

A charge is a task's (or realtime session's) reservation, a refund what came back of it; operator
grants are not generations and are left out. The "user" of a row is the API key that created the
generation: taxiway has keys, not users with emails.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from taxiway.billing.ledger import EntryKind
from taxiway.db.paging import After, newest_first
from taxiway.db.tables import ApiKey, LedgerEntry, RealtimeSession, Task

_COLUMNS = (
    LedgerEntry.id,
    LedgerEntry.created_at,
    LedgerEntry.kind,
    LedgerEntry.amount,
    LedgerEntry.model,
    Task.endpoint,
    ApiKey.prefix,
)


@dataclass(frozen=True)
class UsageRow:
    entry_id: int
    moment: datetime
    kind: str  # "charge" or "refund"
    credits: int  # negative for a refund
    tool: str
    key_prefix: str | None


async def usage_rows(
    session: AsyncSession,
    organization_id: str,
    since: datetime,
    until: datetime,
    limit: int,
    after: After | None = None,
) -> list[UsageRow]:
    """Charges and refunds in [since, until), newest first, after `(created_at, entry id)` of the last
    row served."""
    key_id = func.coalesce(Task.api_key_id, RealtimeSession.api_key_id)
    query = (
        select(*_COLUMNS)
        .outerjoin(Task, Task.id == LedgerEntry.task_id)
        .outerjoin(RealtimeSession, RealtimeSession.id == LedgerEntry.task_id)
        .outerjoin(ApiKey, ApiKey.id == key_id)
        .where(
            LedgerEntry.organization_id == organization_id,
            LedgerEntry.task_id.is_not(None),
            LedgerEntry.kind.in_([EntryKind.RESERVE.value, EntryKind.REFUND.value]),
            LedgerEntry.created_at >= since,
            LedgerEntry.created_at < until,
        )
    )
    query = newest_first(query, LedgerEntry.created_at, LedgerEntry.id, limit, after)
    rows = (await session.execute(query)).all()
    return [
        UsageRow(
            entry_id=row.id,
            moment=row.created_at,
            kind="refund" if row.kind == EntryKind.REFUND.value else "charge",
            credits=-int(row.amount),
            tool=row.model or row.endpoint or "generation",
            key_prefix=row.prefix,
        )
        for row in rows
    ]
