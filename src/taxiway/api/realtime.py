"""`/v1/realtime_sessions`: live conversations with an avatar, over LiveKit.

`POST /v1/realtime_sessions/{id}/consume` is the odd one out: browsers call it, with the session key
(not an API key) as bearer and without `X-Runway-Version`, so it answers CORS requests; it is the
only path that does. Creating a session without a LiveKit server configured is a 400, not a 503:
the condition lasts until the operator changes the configuration, and the SDKs retry 5xx answers.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from pydantic import Field, model_validator

from taxiway.api import actors, idempotency
from taxiway.api.auth import CurrentPrincipal, State, bearer_token
from taxiway.api.avatars import StrictBody, documented_body, parse_body, preset_id
from taxiway.api.errors import VALIDATION_FAILED, ApiError
from taxiway.api.generation import read_json_object
from taxiway.api.schemas import Answer, error_responses
from taxiway.assets.errors import AssetError
from taxiway.assets.fetch import parse_url
from taxiway.avatars.presets import PRESET_AVATARS
from taxiway.clock import iso_millis
from taxiway.db.tables import RealtimeSession
from taxiway.realtime import sessions as lifecycle
from taxiway.realtime.sessions import SessionRefused, SessionService

router = APIRouter(prefix="/v1/realtime_sessions", tags=["realtime sessions"])

SESSION_NOT_FOUND = "Could not find RealtimeSession"
PERSONALITY_MAX = 10_000
START_SCRIPT_MAX = 2_000
TOOL_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"
MAX_TOOLS = 64
CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Expose-Headers": "Content-Type",
}
UNION_TAGS = frozenset(
    {
        "runway-preset",
        "custom",
        "livekit",
        "elevenlabs",
        "client_event",
        "backend_rpc",
        "string",
        "integer",
        "number",
        "boolean",
        "array",
        "object",
    }
)


class PresetAvatar(StrictBody):
    type: Literal["runway-preset"]
    presetId: preset_id(PRESET_AVATARS)  # type: ignore[valid-type]


class CustomAvatar(StrictBody):
    type: Literal["custom"]
    avatarId: str = Field(min_length=1, max_length=64)


class _RoomFields(StrictBody):
    url: str = Field(min_length=1, max_length=2048)
    token: str = Field(min_length=1, max_length=8192)
    roomName: str = Field(min_length=1, max_length=256)
    agentIdentity: str | None = Field(default=None, min_length=1, max_length=256)


class LiveKitIntegration(_RoomFields):
    type: Literal["livekit"]


class DeprecatedLiveKit(_RoomFields):
    pass


class ElevenLabsIntegration(StrictBody):
    type: Literal["elevenlabs"]
    signedUrl: str = Field(min_length=1, max_length=4096)


class _Param(StrictBody):
    name: str = Field(min_length=1, max_length=64)
    description: str = Field(max_length=1024)
    required: bool | None = None


class StringParam(_Param):
    type: Literal["string"]
    enum: list[str] | None = None


class IntegerParam(_Param):
    type: Literal["integer"]


class NumberParam(_Param):
    type: Literal["number"]


class BooleanParam(_Param):
    type: Literal["boolean"]


class ArrayItems(StrictBody):
    type: Literal["string", "integer", "number", "boolean"]


class ArrayParam(_Param):
    type: Literal["array"]
    items: ArrayItems


class ObjectParam(_Param):
    type: Literal["object"]
    properties: list[Any]


Param = Annotated[
    StringParam | IntegerParam | NumberParam | BooleanParam | ArrayParam | ObjectParam,
    Field(discriminator="type"),
]


class _Tool(StrictBody):
    name: str = Field(min_length=1, max_length=64, pattern=TOOL_NAME)
    description: str = Field(min_length=1, max_length=1024)
    parameters: list[Param] | None = None


class ClientEventTool(_Tool):
    type: Literal["client_event"]


class BackendRpcTool(_Tool):
    type: Literal["backend_rpc"]
    timeoutSeconds: float | None = Field(default=None, gt=0, le=60)


Tool = Annotated[ClientEventTool | BackendRpcTool, Field(discriminator="type")]
Integration = Annotated[LiveKitIntegration | ElevenLabsIntegration, Field(discriminator="type")]


class SessionCreate(StrictBody):
    model: Literal["gwm1_avatars"]
    avatar: Annotated[PresetAvatar | CustomAvatar, Field(discriminator="type")]
    maxDuration: int | None = Field(default=None, ge=1, le=lifecycle.MAX_DURATION_SECONDS)
    personality: str | None = Field(default=None, min_length=1, max_length=PERSONALITY_MAX)
    startScript: str | None = Field(default=None, min_length=1, max_length=START_SCRIPT_MAX)
    tools: list[Tool] | None = Field(default=None, max_length=MAX_TOOLS)
    integration: Integration | None = None
    livekit: DeprecatedLiveKit | None = None

    @model_validator(mode="after")
    def _consistent(self) -> SessionCreate:
        if self.integration is not None and self.livekit is not None:
            raise ValueError("Give either `integration` or the deprecated `livekit`, not both")
        names = [tool.name for tool in self.tools or []]
        if len(names) != len(set(names)):
            raise ValueError("Tool names must be unique")
        return self


def _url_issue(
    path: list[str | int], url: str, schemes: tuple[str, ...], allow_private: bool
) -> dict[str, Any] | None:
    """The asset intake's URL rules (no credentials, a domain name rather than an address unless private
    networks are allowed); where the name resolves is checked again when the worker connects."""
    try:
        parse_url(url, schemes, allow_addresses=allow_private)
    except AssetError as exc:
        where = ".".join(map(str, path))
        return {"code": "custom", "path": path, "message": f"{where}: {exc.reason}"}
    return None


def canonical_params(body: SessionCreate, allow_private: bool) -> dict[str, Any]:
    """The body as stored: the deprecated `livekit` becomes `integration`, URLs are checked.

    Only wss:// and https:// URLs on a domain are accepted, as the real API documents; a server that
    allows private networks (e.g. with a development LiveKit server) also takes ws://, http:// and IP
    addresses.
    """
    params: dict[str, Any] = body.model_dump(mode="json", exclude_none=True, exclude={"livekit"})
    if body.livekit is not None:
        params["integration"] = {"type": "livekit", **body.livekit.model_dump(exclude_none=True)}
    schemes = ("wss", "https", "ws", "http") if allow_private else ("wss", "https")
    integration = params.get("integration")
    issue = None
    if integration is not None:
        key = "url" if integration["type"] == "livekit" else "signedUrl"
        where: list[str | int] = ["livekit" if body.livekit is not None else "integration", key]
        issue = _url_issue(where, integration[key], schemes, allow_private)
    if issue is not None:
        raise ApiError(400, VALIDATION_FAILED, [issue])
    return params


async def session_service(state: State) -> SessionService:
    return state.realtime


Sessions = Annotated[SessionService, Depends(session_service)]


class SessionCreated(Answer):
    id: str = Field(description="The session's id; later the id of its avatar conversation too")


class _SessionView(Answer):
    id: str
    createdAt: datetime


class NotReadySession(_SessionView):
    status: Literal["NOT_READY"]
    queued: bool


class ReadySession(_SessionView):
    status: Literal["READY"]
    expiresAt: datetime
    sessionKey: str = Field(description="Exchanged once, at `/consume`, for the room's credentials")


class RunningSession(_SessionView):
    status: Literal["RUNNING"]


class CompletedSession(_SessionView):
    status: Literal["COMPLETED"]
    duration: int


class FailedSession(_SessionView):
    status: Literal["FAILED"]
    failure: str
    failureCode: str


class CancelledSession(_SessionView):
    status: Literal["CANCELLED"]


SessionView = Annotated[
    NotReadySession | ReadySession | RunningSession | CompletedSession | FailedSession | CancelledSession,
    Field(discriminator="status"),
]


class RoomAccess(Answer):
    """A LiveKit server, a token for it and the session's room."""

    url: str
    token: str
    roomName: str


def render_session(row: RealtimeSession, service: SessionService) -> dict[str, Any]:
    """The session as `GET` shows it: exactly the SDK's fields for its status."""
    body: dict[str, Any] = {"id": row.id, "createdAt": iso_millis(row.created_at), "status": row.status}
    if row.status == lifecycle.NOT_READY:
        body["queued"] = False
    elif row.status == lifecycle.READY:
        assert row.expires_at is not None
        body["expiresAt"] = iso_millis(row.expires_at)
        body["sessionKey"] = service.session_key(row.id)
    elif row.status == lifecycle.COMPLETED:
        body["duration"] = int(row.duration or 0)
    elif row.status == lifecycle.FAILED:
        body["failure"] = row.failure or "The session failed."
        body["failureCode"] = row.failure_code or "INTERNAL"
    return body


def _refused(exc: SessionRefused, cors: bool = False) -> ApiError:
    error = ApiError(exc.status, exc.message, exc.issues)
    if cors:
        error.headers = dict(CORS_HEADERS)
    return error


_RESPONSES = error_responses(400, 401, 404, 409)


@router.post(
    "",
    response_model=SessionCreated,
    responses=_RESPONSES,
    summary="Create a realtime session with an avatar",
    openapi_extra=documented_body(SessionCreate),
)
@idempotency.idempotent
async def create_session(
    request: Request, principal: CurrentPrincipal, state: State, service: Sessions
) -> JSONResponse:
    raw, data = await read_json_object(request)
    body = parse_body(SessionCreate, raw, data, UNION_TAGS)
    params = canonical_params(body, state.settings.allow_private_networks)
    try:
        row = await service.create(principal, params, actors.api_key(request, principal))
    except SessionRefused as exc:
        raise _refused(exc) from None
    return JSONResponse({"id": row.id})


@router.get(
    "/{session_id}",
    response_model=SessionView,
    responses=_RESPONSES,
    summary="Get a session's status (READY carries the session key)",
)
async def get_session(session_id: str, principal: CurrentPrincipal, service: Sessions) -> JSONResponse:
    row = await service.get(principal.organization_id, session_id)
    if row is None:
        raise ApiError(404, SESSION_NOT_FOUND)
    return JSONResponse(render_session(row, service))


@router.delete("/{session_id}", status_code=204, responses=_RESPONSES, summary="Cancel a session")
async def cancel_session(session_id: str, principal: CurrentPrincipal, service: Sessions) -> Response:
    if not await service.cancel(principal.organization_id, session_id):
        raise ApiError(404, SESSION_NOT_FOUND)
    return Response(status_code=204)


@router.options("/{session_id}/consume", include_in_schema=False)
async def consume_preflight(request: Request) -> Response:
    requested = request.headers.get("access-control-request-headers")
    return Response(
        status_code=204,
        headers={
            **CORS_HEADERS,
            "Access-Control-Allow-Methods": "POST, OPTIONS",
            "Access-Control-Allow-Headers": requested or "Authorization, Content-Type",
            "Access-Control-Max-Age": "600",
            "Vary": "Access-Control-Request-Headers",
        },
    )


@router.post(
    "/{session_id}/consume",
    response_model=RoomAccess,
    responses=_RESPONSES,
    summary="Exchange the session key, once, for the user's LiveKit URL, token and room",
    description="Authorization: `Bearer <sessionKey>` (not an API key); no version header needed.",
)
async def consume_session(session_id: str, request: Request, service: Sessions) -> JSONResponse:
    key = bearer_token(request)
    if key is None:
        missing = SessionRefused(401, "Missing session key. Send it as 'Authorization: Bearer <sessionKey>'.")
        raise _refused(missing, cors=True)
    try:
        grant = await service.consume(session_id, key)
    except SessionRefused as exc:
        raise _refused(exc, cors=True) from None
    return JSONResponse(grant.as_json(), headers=CORS_HEADERS)


@router.post(
    "/{session_id}/connect_backend",
    response_model=RoomAccess,
    responses=_RESPONSES,
    summary="LiveKit credentials for your backend to serve `backend_rpc` tools as a hidden participant",
)
async def connect_backend(session_id: str, principal: CurrentPrincipal, service: Sessions) -> JSONResponse:
    try:
        grant = await service.connect_backend(principal.organization_id, session_id)
    except SessionRefused as exc:
        raise _refused(exc) from None
    return JSONResponse(grant.as_json())
