"""Avatar conversation records: one per realtime session (same id), its transcript, and avatar usage.

The record is written with the session and keeps what the call was about (avatar, tools, name); what
happened (status, times, duration) is read from the session's row, so the two never disagree. The
worker's transcript arrives through `StoredTranscript`, as the call goes.

What a record shows follows the reported behaviour of the real service: the transcript of a
cancelled session is dropped (Runway fills it only after a clean end), and a cancel counts as an
ended conversation, not a failed one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal

from sqlalchemy import and_, delete, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from taxiway.avatars.cursors import Cursor
from taxiway.db.tables import AvatarConversation, AvatarConversationTurn, RealtimeSession
from taxiway.realtime.transcript import Turn

log = logging.getLogger(__name__)

ConversationStatus = Literal["in_progress", "ended", "failed"]
# The longest `/v1/avatar_usage` range: its `byDay` lists every day, so it is bounded.
MAX_USAGE_DAYS = 366
# Session statuses (kept here as strings: `sessions` imports this module).
_LIVE = ("NOT_READY", "READY", "RUNNING")
_CANCELLED, _FAILED = "CANCELLED", "FAILED"
_INTERRUPTED_CODE = "TALKING_AVATAR.INTERRUPTED"


def new_record(
    session_id: str,
    organization_id: str,
    avatar_choice: dict[str, Any],
    avatar_name: str,
    tools: Sequence[dict[str, Any]],
    created_at: datetime,
) -> AvatarConversation:
    """The record of a session being created (`avatar_choice` is the create body's `avatar`)."""
    if avatar_choice["type"] == "custom":
        avatar = {"type": "custom", "id": avatar_choice["avatarId"], "name": avatar_name}
    else:
        avatar = {"type": "runway-preset", "presetId": avatar_choice["presetId"], "name": avatar_name}
    return AvatarConversation(
        id=session_id,
        organization_id=organization_id,
        avatar_id=avatar.get("id"),
        name=f"Conversation with {avatar_name}",
        avatar=avatar,
        tools=[
            {"type": tool["type"], "name": tool["name"], "description": tool.get("description") or ""}
            for tool in tools
        ],
        created_at=created_at,
    )


# -- what happened, from the session's row


def status_of(session: RealtimeSession) -> ConversationStatus:
    if session.status in _LIVE:
        return "in_progress"
    return "failed" if session.status == _FAILED else "ended"


def _seconds_between(start: datetime, end: datetime, limit: int) -> int:
    return max(0, min(limit, round((end - start).total_seconds())))


def measured_seconds(session: RealtimeSession) -> int | None:
    """How long a finished call ran, as it was billed; None if it never ran, is still live, or nobody
    knows (interrupted by a restart)."""
    if session.status in _LIVE or session.started_at is None:
        return None
    if session.duration is not None:
        return session.duration
    if session.failure_code == _INTERRUPTED_CODE or session.finished_at is None:
        return None
    return _seconds_between(session.started_at, session.finished_at, session.max_duration)


def duration_of(session: RealtimeSession, now: datetime) -> int | None:
    """Seconds so far for a live call, measured seconds for a finished one; None before it starts."""
    if session.status in _LIVE:
        if session.started_at is None:
            return None
        return _seconds_between(session.started_at, now, session.max_duration)
    return measured_seconds(session)


def ended_at(session: RealtimeSession) -> datetime | None:
    """When a call that started ended (a call that failed before starting has no end)."""
    if session.status in _LIVE or session.started_at is None:
        return None
    return session.finished_at


def shows_transcript(session: RealtimeSession) -> bool:
    return session.status != _CANCELLED


# -- reads


async def get(
    db: AsyncSession, organization_id: str, conversation_id: str
) -> tuple[AvatarConversation, RealtimeSession] | None:
    row = (
        await db.execute(
            select(AvatarConversation, RealtimeSession)
            .join(RealtimeSession, RealtimeSession.id == AvatarConversation.id)
            .where(
                AvatarConversation.id == conversation_id,
                AvatarConversation.organization_id == organization_id,
            )
        )
    ).first()
    return None if row is None else (row[0], row[1])


async def turns(db: AsyncSession, conversation_id: str) -> list[AvatarConversationTurn]:
    return list(
        await db.scalars(
            select(AvatarConversationTurn)
            .where(AvatarConversationTurn.conversation_id == conversation_id)
            .order_by(AvatarConversationTurn.position)
        )
    )


@dataclass(frozen=True)
class ListFilter:
    avatar_id: str | None = None
    start: datetime | None = None  # inclusive
    end: datetime | None = None  # exclusive


async def page(
    db: AsyncSession, organization_id: str, limit: int, after: Cursor | None, where: ListFilter
) -> tuple[list[tuple[AvatarConversation, RealtimeSession]], bool]:
    """Newest first; the flag says whether more follow."""
    query = (
        select(AvatarConversation, RealtimeSession)
        .join(RealtimeSession, RealtimeSession.id == AvatarConversation.id)
        .where(AvatarConversation.organization_id == organization_id)
    )
    created = AvatarConversation.created_at
    if where.avatar_id is not None:
        query = query.where(AvatarConversation.avatar_id == where.avatar_id)
    if where.start is not None:
        query = query.where(created >= where.start)
    if where.end is not None:
        query = query.where(created < where.end)
    if after is not None:
        query = query.where(
            or_(created < after.moment, and_(created == after.moment, AvatarConversation.id < after.id))
        )
    query = query.order_by(created.desc(), AvatarConversation.id.desc()).limit(limit + 1)
    rows = [(row[0], row[1]) for row in (await db.execute(query)).all()]
    return rows[:limit], len(rows) > limit


async def remove(db: AsyncSession, organization_id: str, conversation_id: str) -> bool:
    """Delete a record and its transcript; the session (and its bill) stays."""
    record = await db.get(AvatarConversation, conversation_id)
    if record is None or record.organization_id != organization_id:
        return False
    await db.execute(
        delete(AvatarConversationTurn).where(AvatarConversationTurn.conversation_id == conversation_id)
    )
    await db.delete(record)
    return True


async def drop_transcript(db: AsyncSession, conversation_id: str) -> None:
    await db.execute(
        delete(AvatarConversationTurn).where(AvatarConversationTurn.conversation_id == conversation_id)
    )


# -- the worker's transcript


class StoredTranscript:
    """A `TranscriptRecorder` that writes turns to the database behind the conversation's back.

    `record` only queues; one writer task drains the queue in order, so a slow database delays the
    transcript, never the avatar. The writer outlives a stopped worker, so a call ended from outside
    (out of time) keeps its last turns; those of a cancelled session or a deleted record are dropped.
    """

    def __init__(self, sessions: async_sessionmaker[AsyncSession], conversation_id: str) -> None:
        self.sessions, self.conversation_id = sessions, conversation_id
        self._queue: list[Turn] = []
        self._writer: asyncio.Task[None] | None = None

    def record(self, turn: Turn) -> None:
        self._queue.append(turn)
        if self._writer is None or self._writer.done():
            self._writer = asyncio.get_running_loop().create_task(
                self._drain(), name=f"transcript-{self.conversation_id}"
            )

    async def flush(self) -> None:
        while self._writer is not None and not self._writer.done():
            await asyncio.shield(self._writer)

    async def _drain(self) -> None:
        while self._queue:
            batch, self._queue = self._queue, []
            try:
                await self._write(batch)
            except Exception:
                log.exception("conversation %s: transcript turns were lost", self.conversation_id)

    async def _write(self, batch: list[Turn]) -> None:
        with contextlib.suppress(IntegrityError):  # the record was deleted while we wrote
            async with self.sessions.begin() as db:
                status = await db.scalar(
                    select(RealtimeSession.status)
                    .join(AvatarConversation, AvatarConversation.id == RealtimeSession.id)
                    .where(RealtimeSession.id == self.conversation_id)
                )
                if status is None or status == _CANCELLED:
                    return
                last = await db.scalar(
                    select(func.max(AvatarConversationTurn.position)).where(
                        AvatarConversationTurn.conversation_id == self.conversation_id
                    )
                )
                start = 0 if last is None else int(last) + 1
                db.add_all(
                    AvatarConversationTurn(
                        conversation_id=self.conversation_id,
                        position=start + index,
                        role=turn.role,
                        content=turn.content,
                        tool_calls=[call.as_json() for call in turn.tool_calls] or None,
                        tool_results=[result.as_json() for result in turn.tool_results] or None,
                        created_at=turn.timestamp,
                    )
                    for index, turn in enumerate(batch)
                )


# -- usage


class UsageRangeError(ValueError):
    """A usage range that is not one; `field` is the query parameter to blame."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field, self.message = field, message


def usage_days(start: datetime, end: datetime) -> list[date]:
    """The UTC days `[start, end)` touches, checked: end after start, at most `MAX_USAGE_DAYS`."""
    if end <= start:
        raise UsageRangeError("endDate", "must be after startDate")
    first, last = start.date(), (end - timedelta(microseconds=1)).date()
    days = (last - first).days + 1
    if days > MAX_USAGE_DAYS:
        raise UsageRangeError("endDate", f"must be at most {MAX_USAGE_DAYS} days after startDate")
    return [first + timedelta(days=offset) for offset in range(days)]


async def usage(db: AsyncSession, organization_id: str, start: datetime, end: datetime) -> dict[str, Any]:
    """The body of `GET /v1/avatar_usage`: the organization's sessions created in `[start, end)`.

    Read from the sessions themselves, so deleting a conversation's record leaves usage (like the
    bill) as it was. A session counts on the UTC day it was created; its seconds are those billed.
    """
    days = usage_days(start, end)
    rows = await db.scalars(
        select(RealtimeSession).where(
            RealtimeSession.organization_id == organization_id,
            RealtimeSession.created_at >= start,
            RealtimeSession.created_at < end,
        )
    )
    by_day = {day: [0, 0] for day in days}  # sessions, seconds
    measured = total_seconds = total_sessions = 0
    for session in rows:
        bucket = by_day[session.created_at.astimezone(UTC).date()]
        bucket[0] += 1
        total_sessions += 1
        seconds = measured_seconds(session)
        if seconds is not None:
            bucket[1] += seconds
            total_seconds += seconds
            measured += 1
    return {
        "avgDurationSeconds": round(total_seconds / measured) if measured else 0,
        "byDay": [
            {"date": day.isoformat(), "seconds": seconds, "sessions": sessions}
            for day, (sessions, seconds) in by_day.items()
        ],
        "totalSeconds": total_seconds,
        "totalSessions": total_sessions,
    }


def utc(moment: datetime | date) -> datetime:
    """A query's date or datetime as an aware UTC instant (a bare date is its UTC midnight)."""
    if not isinstance(moment, datetime):
        return datetime.combine(moment, time(), tzinfo=UTC)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
