"""`/v1/organization/webapp/...`: the organization's credit usage per generation and its audit log.

Runway reports these for the web-app workspaces linked to an API project. A taxiway organization is
one workspace of its own (`accounts.repository.workspace_id` numbers it), so `organizationId` and
`workspaceIds` filter to it or to nothing.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from taxiway.accounts.repository import Principal, workspace_id
from taxiway.api import paging
from taxiway.api.auth import CurrentPrincipal, State
from taxiway.api.errors import ApiError
from taxiway.api.input_limits import in_date_range
from taxiway.api.schemas import error_responses
from taxiway.audit import log as audit
from taxiway.audit.actions import ACTIONS
from taxiway.avatars.cursors import MAX_LIMIT, MIN_LIMIT
from taxiway.billing.webapp import UsageRow, usage_rows
from taxiway.clock import iso_millis
from taxiway.db.tables import Organization

router = APIRouter(prefix="/v1/organization/webapp", tags=["organization"])

USAGE_ORDER = "webapp-usage:desc"
AUDIT_ORDER = "audit-logs:desc"
MAX_LISTED = 50
_RESPONSES = error_responses(400, 401, 404)
_MOMENT: TypeAdapter[datetime | date] = TypeAdapter(datetime | date)
# What /openapi.json states of the query's dates and lists (a subset of what the server reads, which
# also takes spaces around items and any valid day): schema-driven clients send only what is served.
_DAY = r"(19[7-9][0-9]|[2-8][0-9]{3})-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])"
_CLOCK = r"T([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,6})?)?(Z|[+-](0[0-9]|1[0-3]):[0-5][0-9])?"
DATETIME_PATTERN = f"^{_DAY}{_CLOCK}$"
MOMENT_PATTERN = f"^{_DAY}({_CLOCK})?$"
_ACTION = "(" + "|".join(ACTIONS) + ")"
ACTIONS_PATTERN = f"^{_ACTION}(,{_ACTION}){{0,{MAX_LISTED - 1}}}$"


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class UsageEntry(_Out):
    credits: int
    email: str = Field(description="The prefix of the API key that made the generation")
    timestamp: datetime
    tool: str
    type: Literal["charge", "refund"]
    workspaceId: int
    workspaceName: str


class UsagePage(_Out):
    data: list[UsageEntry]
    nextCursor: str | None


Action = Literal[ACTIONS]  # type: ignore[valid-type]


class AuditEntry(_Out):
    action: Action
    actorDeleted: bool
    actorEmail: str | None
    actorUsername: str | None
    eventId: str
    timestamp: datetime
    workspaceId: int
    workspaceName: str


class AuditPage(_Out):
    data: list[AuditEntry]
    nextCursor: str | None


class AuditDetail(AuditEntry):
    clientIpAddress: str
    metadata: dict[str, Any]
    requestId: str | None
    resourceId: str | None
    resourceType: str | None
    userAgent: str | None


def _query_error(name: str, message: str) -> ApiError:
    issue = {"code": "custom", "path": [name], "message": f"{name}: {message}"}
    return ApiError(400, "Validation of request failed", [issue])


def _moment(name: str, text: str | None) -> datetime | None:
    """An ISO-8601 datetime (UTC when it names no zone) or a date (its midnight, UTC)."""
    if text is None:
        return None
    try:
        value = _MOMENT.validate_python(text)
    except ValidationError:
        raise _query_error(name, "must be an ISO-8601 date or datetime") from None
    try:
        in_date_range(value)
    except ValueError as exc:
        raise _query_error(name, str(exc)) from None
    if not isinstance(value, datetime):
        return datetime.combine(value, time(), tzinfo=UTC)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _window(since: datetime | None, until: datetime | None) -> None:
    if since is not None and until is not None and until <= since:
        raise _query_error("to", "must be after from")


def _listed(name: str, text: str | None) -> list[str]:
    items = [item.strip() for item in (text or "").split(",") if item.strip()]
    if len(items) > MAX_LISTED:
        raise _query_error(name, f"at most {MAX_LISTED} values")
    return items


async def _workspace(
    state: State, principal: Principal, organization_id: str | None, ids: str | None
) -> tuple[int, str] | None:
    """The caller's workspace (number, name), or None when the filters leave it out."""
    if organization_id is not None and organization_id != principal.organization_id:
        raise ApiError(404, "Could not find organization")
    wanted = []
    for text in _listed("workspaceIds", ids):
        if not text.isdigit():
            raise _query_error("workspaceIds", f"{text!r} is not a workspace id")
        wanted.append(int(text))
    number = workspace_id(principal.organization_id)
    if wanted and number not in wanted:
        return None
    async with state.sessions() as session:
        name = await session.get(Organization, principal.organization_id)
    return number, name.name if name is not None else ""


def _empty() -> JSONResponse:
    return JSONResponse({"data": [], "nextCursor": None})


@router.get(
    "/usage",
    response_model=UsagePage,
    responses=_RESPONSES,
    summary="Credits charged and refunded per generation, newest first",
)
async def list_usage(
    principal: CurrentPrincipal,
    state: State,
    from_: Annotated[
        str,
        Query(
            alias="from",
            description="ISO-8601 datetime or date (inclusive)",
            json_schema_extra={"pattern": MOMENT_PATTERN},
        ),
    ],
    to: Annotated[
        str,
        Query(
            description="ISO-8601 datetime or date (exclusive)", json_schema_extra={"pattern": MOMENT_PATTERN}
        ),
    ],
    limit: Annotated[int, Query(ge=MIN_LIMIT, le=MAX_LIMIT)],
    cursor: Annotated[str | None, Query(max_length=512)] = None,
    organizationId: str | None = None,
    workspaceIds: str | None = None,
) -> JSONResponse:
    since, until = _moment("from", from_), _moment("to", to)
    assert since is not None and until is not None
    _window(since, until)
    after = paging.start(cursor, USAGE_ORDER)
    if after is not None and not str(after[1]).isdigit():
        raise ApiError(400, "The cursor is not one this API returned.")
    workspace = await _workspace(state, principal, organizationId, workspaceIds)
    if workspace is None:
        return _empty()
    async with state.sessions() as session:
        rows = await usage_rows(
            session,
            principal.organization_id,
            since,
            until,
            limit + 1,
            (after[0], int(after[1])) if after else None,
        )

    def render(row: UsageRow) -> dict[str, Any]:
        return {
            "credits": row.credits,
            "email": row.key_prefix or "",
            "timestamp": iso_millis(row.moment),
            "tool": row.tool,
            "type": row.kind,
            "workspaceId": workspace[0],
            "workspaceName": workspace[1],
        }

    return paging.page(rows, limit, USAGE_ORDER, lambda row: (row.moment, row.entry_id), render)


_USERNAMES = {"operator": "operator", "system": "taxiway"}


def event_view(row: audit.EventRow, workspace: tuple[int, str], detailed: bool) -> dict[str, Any]:
    """An event as the SDK's AuditLogListResponse, or with `detailed` its AuditLogRetrieveResponse."""
    event, prefix, revoked_at = row
    if event.actor_kind == "api_key":
        username = prefix
    else:
        username = event.actor_name or _USERNAMES.get(event.actor_kind)
    view: dict[str, Any] = {
        "action": event.action,
        "actorDeleted": event.actor_kind == "api_key" and revoked_at is not None,
        "actorEmail": None,
        "actorUsername": username,
        "eventId": event.id,
        "timestamp": iso_millis(event.created_at),
        "workspaceId": workspace[0],
        "workspaceName": workspace[1],
    }
    if detailed:
        view.update(
            clientIpAddress=event.client_ip or "",
            metadata=event.details,
            requestId=event.request_id,
            resourceId=event.resource_id,
            resourceType=event.resource_type,
            userAgent=event.user_agent,
        )
    return view


@router.get(
    "/audit_logs",
    response_model=AuditPage,
    responses=_RESPONSES,
    summary="The organization's audit log, newest first",
)
async def list_audit_logs(
    principal: CurrentPrincipal,
    state: State,
    limit: Annotated[int, Query(ge=MIN_LIMIT, le=MAX_LIMIT)],
    actions: Annotated[
        str | None,
        Query(
            description=f"Up to {MAX_LISTED} actions, comma-separated",
            json_schema_extra={"pattern": ACTIONS_PATTERN},
        ),
    ] = None,
    actorEmails: str | None = None,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
    from_: Annotated[
        str | None,
        Query(
            alias="from",
            description="ISO-8601 datetime (inclusive)",
            json_schema_extra={"pattern": DATETIME_PATTERN},
        ),
    ] = None,
    to: Annotated[
        str | None,
        Query(description="ISO-8601 datetime (exclusive)", json_schema_extra={"pattern": DATETIME_PATTERN}),
    ] = None,
    organizationId: str | None = None,
    workspaceIds: str | None = None,
) -> JSONResponse:
    chosen = _listed("actions", actions)
    unknown = [action for action in chosen if action not in ACTIONS]
    if unknown:
        raise _query_error("actions", f"unknown action {unknown[0]!r}")
    emails = _listed("actorEmails", actorEmails)
    since, until = _moment("from", from_), _moment("to", to)
    _window(since, until)
    after = paging.start(cursor, AUDIT_ORDER)
    workspace = await _workspace(state, principal, organizationId, workspaceIds)
    # Changes here are made by API keys, the operator and the command line, none of which has an email.
    if workspace is None or emails:
        return _empty()
    async with state.sessions() as session:
        where = audit.EventQuery(tuple(chosen), since, until)
        rows = await audit.list_events(session, principal.organization_id, where, limit + 1, after)
    return paging.page(
        rows,
        limit,
        AUDIT_ORDER,
        lambda row: (row[0].created_at, row[0].id),
        lambda row: event_view(row, workspace, detailed=False),
    )


@router.get(
    "/audit_logs/{event_id}",
    response_model=AuditDetail,
    responses=_RESPONSES,
    summary="One audit log entry, with its details",
)
async def get_audit_log(
    event_id: str, principal: CurrentPrincipal, state: State, organizationId: str | None = None
) -> JSONResponse:
    workspace = await _workspace(state, principal, organizationId, None)
    assert workspace is not None
    async with state.sessions() as session:
        row = await audit.get_event(session, principal.organization_id, event_id)
    if row is None:
        raise ApiError(404, "Could not find audit log entry")
    return JSONResponse(event_view(row, workspace, detailed=True))
