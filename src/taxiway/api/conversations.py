"""`/v1/avatar_conversations` (list, retrieve, delete) and `GET /v1/avatar_usage`.

A conversation is the record of one realtime session, under the session's id: the avatar and tools it
had, its status and times, and the transcript the avatar worker wrote. Calls are not recorded, so
`recordingUrl` is always null.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import Field
from sqlalchemy import select

from taxiway.api.auth import CurrentPrincipal, State
from taxiway.api.avatars import blob_urls, cursor_after
from taxiway.api.errors import ApiError
from taxiway.api.input_limits import BoundedDatetime
from taxiway.api.schemas import Answer, error_responses
from taxiway.avatars import repository as avatars
from taxiway.avatars.cursors import MAX_LIMIT, MIN_LIMIT, Cursor
from taxiway.clock import iso_millis, utcnow
from taxiway.db.tables import Avatar, AvatarConversation, AvatarConversationTurn, RealtimeSession
from taxiway.realtime import records

router = APIRouter(tags=["avatar conversations"])

CONVERSATION_NOT_FOUND = "Could not find AvatarConversation"
QUERY_FAILED = "Validation of request failed"
LIST_ORDER = "conversations:createdAt:desc"
_RESPONSES = error_responses(400, 401, 404)

StartDate = Annotated[
    BoundedDatetime | None,
    Query(alias="startDate", description="Created on or after (inclusive); a date is its UTC midnight"),
]
EndDate = Annotated[
    BoundedDatetime | None, Query(alias="endDate", description="Created before (exclusive); UTC if no offset")
]


class ConversationPresetAvatar(Answer):
    type: Literal["runway-preset"]
    presetId: str


class ConversationCustomAvatar(Answer):
    """The avatar as it is now; `id` null once it was deleted (its name is the one it had)."""

    type: Literal["custom"]
    id: str | None
    name: str | None
    imageUrl: str | None = Field(description="Signed URL; it expires")


class ListedPresetAvatar(ConversationPresetAvatar):
    name: str


class ListedCustomAvatar(Answer):
    type: Literal["custom"]
    id: str | None
    name: str | None


class ConversationSummary(Answer):
    id: str
    avatar: Annotated[ListedPresetAvatar | ListedCustomAvatar, Field(discriminator="type")]
    createdAt: datetime
    duration: int | None = Field(description="Seconds; null before the call starts")
    hasTools: bool
    name: str
    status: records.ConversationStatus


class ConversationPage(Answer):
    data: list[ConversationSummary]
    nextCursor: str | None


class ConversationTool(Answer):
    type: Literal["client_event", "backend_rpc"]
    name: str
    description: str


class TranscriptToolCall(Answer):
    id: str
    name: str
    arguments: dict[str, Any]


class TranscriptToolResult(Answer):
    id: str
    name: str
    result: dict[str, Any] | str | None
    durationMs: float
    error: str | None = Field(default=None, description="Only when the tool failed")


ONLY_WITH_TOOLS = "Only on a turn that ran tools"


class TranscriptTurn(Answer):
    role: Literal["user", "assistant"]
    content: str | None = Field(description="Null for a turn that only ran tools")
    timestamp: datetime
    toolCalls: list[TranscriptToolCall] = Field(default_factory=list, description=ONLY_WITH_TOOLS)
    toolResults: list[TranscriptToolResult] = Field(default_factory=list, description=ONLY_WITH_TOOLS)


class _ConversationView(Answer):
    id: str
    avatar: Annotated[ConversationPresetAvatar | ConversationCustomAvatar, Field(discriminator="type")]
    createdAt: datetime
    duration: int | None = Field(description="Seconds; null before the call starts")
    maxDuration: int
    name: str
    recordingUrl: None = Field(description="Calls are not recorded")
    startedAt: datetime | None
    tools: list[ConversationTool]
    transcript: list[TranscriptTurn]


class ConversationInProgress(_ConversationView):
    status: Literal["in_progress"]


class _FinishedConversation(_ConversationView):
    endedAt: datetime | None = Field(description="Null for a call that never started")


class ConversationEnded(_FinishedConversation):
    status: Literal["ended"]


class ConversationFailed(_FinishedConversation):
    status: Literal["failed"]
    failure: str
    failureCode: str


ConversationView = Annotated[
    ConversationInProgress | ConversationEnded | ConversationFailed, Field(discriminator="status")
]


class AvatarUsageDay(Answer):
    date: date
    seconds: int
    sessions: int


class AvatarUsageView(Answer):
    avgDurationSeconds: int
    byDay: list[AvatarUsageDay]
    totalSeconds: int
    totalSessions: int


def _range_error(field: str, message: str) -> ApiError:
    issue = {"code": "custom", "path": ["query", field], "message": f"query.{field}: {message}"}
    return ApiError(400, QUERY_FAILED, [issue])


def _date_range(start: datetime | None, end: datetime | None) -> tuple[datetime | None, datetime | None]:
    start_at = records.utc(start) if start is not None else None
    end_at = records.utc(end) if end is not None else None
    if start_at is not None and end_at is not None and end_at <= start_at:
        raise _range_error("endDate", "must be after startDate")
    return start_at, end_at


def _optional_iso(moment: datetime | None) -> str | None:
    return iso_millis(moment) if moment is not None else None


def _summary_avatar(record: AvatarConversation, existing: Collection[str]) -> dict[str, Any]:
    avatar = record.avatar
    if avatar["type"] == "custom":
        kept = avatar.get("id") in existing
        return {"type": "custom", "id": avatar.get("id") if kept else None, "name": avatar.get("name")}
    return {"type": "runway-preset", "presetId": avatar["presetId"], "name": avatar.get("name") or ""}


def _detail_avatar(
    record: AvatarConversation, found: Avatar | None, url: Callable[[str | None], str | None]
) -> dict[str, Any]:
    avatar = record.avatar
    if avatar["type"] != "custom":
        return {"type": "runway-preset", "presetId": avatar["presetId"]}
    image = (found.processed_preview_key or found.reference_preview_key) if found is not None else None
    return {
        "type": "custom",
        "id": found.id if found is not None else None,
        "name": found.name if found is not None else avatar.get("name"),
        "imageUrl": url(image),
    }


def _turn(turn: AvatarConversationTurn) -> dict[str, Any]:
    body: dict[str, Any] = {
        "role": turn.role,
        "content": turn.content,
        "timestamp": iso_millis(turn.created_at),
    }
    if turn.tool_calls:
        body["toolCalls"] = turn.tool_calls
    if turn.tool_results:
        body["toolResults"] = turn.tool_results
    return body


def render_summary(
    record: AvatarConversation, session: RealtimeSession, existing: Collection[str], now: datetime
) -> dict[str, Any]:
    """A list item: exactly the SDK's `AvatarConversationListResponse` fields."""
    return {
        "id": record.id,
        "avatar": _summary_avatar(record, existing),
        "createdAt": iso_millis(record.created_at),
        "duration": records.duration_of(session, now),
        "hasTools": bool(record.tools),
        "name": record.name,
        "status": records.status_of(session),
    }


def render_conversation(
    record: AvatarConversation,
    session: RealtimeSession,
    avatar: Avatar | None,
    transcript: list[AvatarConversationTurn],
    url: Callable[[str | None], str | None],
    now: datetime,
) -> dict[str, Any]:
    """The conversation, with exactly the fields the SDK defines for its status."""
    status = records.status_of(session)
    body: dict[str, Any] = {
        "id": record.id,
        "avatar": _detail_avatar(record, avatar, url),
        "createdAt": iso_millis(record.created_at),
        "duration": records.duration_of(session, now),
        "maxDuration": session.max_duration,
        "name": record.name,
        "recordingUrl": None,
        "startedAt": _optional_iso(session.started_at),
        "status": status,
        "tools": [
            {"type": tool["type"], "name": tool["name"], "description": tool["description"]}
            for tool in record.tools
        ],
        "transcript": [_turn(turn) for turn in transcript] if records.shows_transcript(session) else [],
    }
    if status != "in_progress":
        body["endedAt"] = _optional_iso(records.ended_at(session))
    if status == "failed":
        body["failure"] = session.failure or "The session failed."
        body["failureCode"] = session.failure_code or "INTERNAL"
    return body


@router.get(
    "/v1/avatar_conversations",
    response_model=ConversationPage,
    responses=_RESPONSES,
    summary="List avatar conversations (one per realtime session), newest first, a page at a time",
)
async def list_conversations(
    principal: CurrentPrincipal,
    state: State,
    limit: Annotated[int, Query(ge=MIN_LIMIT, le=MAX_LIMIT)],
    cursor: Annotated[str | None, Query(max_length=512)] = None,
    avatar: Annotated[
        str | None, Query(min_length=1, max_length=64, description="Only this custom avatar's")
    ] = None,
    start_date: StartDate = None,
    end_date: EndDate = None,
) -> JSONResponse:
    start, end = _date_range(start_date, end_date)
    after = cursor_after(cursor, LIST_ORDER)
    where = records.ListFilter(avatar_id=avatar, start=start, end=end)
    async with state.sessions() as db:
        rows, more = await records.page(db, principal.organization_id, limit, after, where)
        wanted = {record.avatar_id for record, _session in rows if record.avatar_id}
        existing = set(
            await db.scalars(
                select(Avatar.id).where(
                    Avatar.organization_id == principal.organization_id, Avatar.id.in_(wanted)
                )
            )
            if wanted
            else []
        )
    now = utcnow()
    last = rows[-1][0] if rows else None
    next_cursor = Cursor(LIST_ORDER, last.created_at, last.id).encode() if more and last else None
    data = [render_summary(record, session, existing, now) for record, session in rows]
    return JSONResponse({"data": data, "nextCursor": next_cursor})


@router.get(
    "/v1/avatar_conversations/{conversation_id}",
    response_model=ConversationView,
    responses=_RESPONSES,
    summary="Get a conversation with its transcript (the id is the realtime session's)",
)
async def get_conversation(
    conversation_id: str, request: Request, principal: CurrentPrincipal, state: State
) -> JSONResponse:
    async with state.sessions() as db:
        found = await records.get(db, principal.organization_id, conversation_id)
        if found is None:
            raise ApiError(404, CONVERSATION_NOT_FOUND)
        record, session = found
        avatar = (
            await avatars.get_avatar(db, principal.organization_id, record.avatar_id)
            if record.avatar_id
            else None
        )
        transcript = await records.turns(db, record.id)
    body = render_conversation(record, session, avatar, transcript, blob_urls(request, state), utcnow())
    return JSONResponse(body)


@router.delete(
    "/v1/avatar_conversations/{conversation_id}",
    status_code=204,
    responses=_RESPONSES,
    summary="Delete a conversation and its transcript (the session, its bill and usage stay)",
)
async def delete_conversation(conversation_id: str, principal: CurrentPrincipal, state: State) -> Response:
    async with state.sessions.begin() as db:
        if not await records.remove(db, principal.organization_id, conversation_id):
            raise ApiError(404, CONVERSATION_NOT_FOUND)
    return Response(status_code=204)


@router.get(
    "/v1/avatar_usage",
    response_model=AvatarUsageView,
    responses=_RESPONSES,
    summary="Realtime avatar usage per UTC day: sessions started and seconds they ran",
)
async def avatar_usage(
    principal: CurrentPrincipal,
    state: State,
    start_date: Annotated[BoundedDatetime, Query(alias="startDate", description="Start (UTC, inclusive)")],
    end_date: Annotated[BoundedDatetime, Query(alias="endDate", description="End (UTC, exclusive)")],
) -> JSONResponse:
    start, end = records.utc(start_date), records.utc(end_date)
    async with state.sessions() as db:
        try:
            body = await records.usage(db, principal.organization_id, start, end)
        except records.UsageRangeError as exc:
            raise _range_error(exc.field, exc.message) from None
    return JSONResponse(body)
