"""`/v1/voices`: custom voices for avatars, cloned from a sample or designed from a description.

A voice is PROCESSING until its preset is derived and its preview spoken in the background
(`taxiway.voices.processing`); then READY, or FAILED with a `failureReason`. The real API documents no
price for voices; taxiway charges nothing for them or for previews.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.convertors import StringConvertor, register_url_convertor

from taxiway.api import idempotency
from taxiway.api.auth import CurrentPrincipal, State
from taxiway.api.avatars import blob_urls, cursor_after, documented_body, omittable
from taxiway.api.errors import VALIDATION_FAILED, ApiError, body_issues
from taxiway.api.generation import read_json_object
from taxiway.api.rate_limits import SlidingWindow
from taxiway.api.schemas import Answer, error_responses
from taxiway.assets.intake import AssetRejected
from taxiway.assets.kinds import AssetKind
from taxiway.avatars.cursors import MAX_LIMIT, MIN_LIMIT, Cursor
from taxiway.clock import iso_millis, utcnow
from taxiway.db.tables import Voice
from taxiway.engines.audio.voice_clone import MAX_SECONDS, MIN_SECONDS
from taxiway.voices import processing, repository

router = APIRouter(prefix="/v1/voices", tags=["voices"])


class _VoiceId(StringConvertor):
    """Any path segment but `preview`: as OpenAPI matches paths, `/v1/voices/preview` is its own
    resource (GET there is a 405 that allows POST), never a voice named "preview"."""

    regex = "(?!preview$)[^/]+"


register_url_convertor("voice_id", _VoiceId())
VOICE = "/{voice_id:voice_id}"

VOICE_NOT_FOUND = "Could not find Voice"
NAME_MAX = 100
DESCRIPTION_MAX = 1024
PROMPT_MIN, PROMPT_MAX = 20, 1000
DATA_URI_MAX = 5 * 1024 * 1024
LIST_ORDER = "voices:createdAt:desc"
DesignModel = Literal["eleven_ttv_v3", "eleven_multilingual_ttv_v2"]
M = TypeVar("M", bound=BaseModel)


class VoiceFromAudio(BaseModel):
    model_config = ConfigDict(strict=True)

    type: Literal["audio"]
    # The longest form is a data URI (5 MB); URLs and upload URIs have their own limits, checked later.
    audio: str = Field(min_length=1, max_length=DATA_URI_MAX)


class VoiceFromText(BaseModel):
    model_config = ConfigDict(strict=True)

    type: Literal["text"]
    prompt: str = Field(min_length=PROMPT_MIN, max_length=PROMPT_MAX)
    model: DesignModel


class VoiceCreate(BaseModel):
    """Unknown keys are ignored, as the real API's schema for this body allows them."""

    model_config = ConfigDict(strict=True)

    name: str = Field(min_length=1, max_length=NAME_MAX)
    description: str | None = Field(default=None, min_length=1, max_length=DESCRIPTION_MAX)
    from_: Annotated[VoiceFromAudio | VoiceFromText, Field(discriminator="type")] = Field(alias="from")


class VoiceUpdate(BaseModel):
    """`description: null` clears it; `name` cannot be null."""

    model_config = ConfigDict(strict=True, extra="forbid")

    name: str | None = omittable(min_length=1, max_length=NAME_MAX)
    description: str | None = Field(default=None, min_length=1, max_length=DESCRIPTION_MAX)


class VoicePreview(BaseModel):
    model_config = ConfigDict(strict=True)

    prompt: str = Field(min_length=PROMPT_MIN, max_length=PROMPT_MAX)
    model: DesignModel


class VoiceCreated(Answer):
    id: str


class VoicePreviewed(Answer):
    url: str = Field(description="Signed URL of the MP3 sample; it expires")
    durationSecs: float


class _VoiceView(Answer):
    id: str
    name: str
    description: str | None
    createdAt: datetime


class ProcessingVoice(_VoiceView):
    status: Literal["PROCESSING"]


class ReadyVoice(_VoiceView):
    status: Literal["READY"]
    previewUrl: str | None = Field(description="Signed URL of a sample of the voice; it expires")


class FailedVoice(_VoiceView):
    status: Literal["FAILED"]
    failureReason: str


VoiceView = Annotated[ProcessingVoice | ReadyVoice | FailedVoice, Field(discriminator="status")]


class VoicePage(Answer):
    data: list[VoiceView]
    hasMore: bool
    nextCursor: str | None


def _parse(model: type[M], raw: bytes, data: dict[str, Any]) -> M:
    """Strict validation with the real API's 400; the union tag pydantic puts after `from` is dropped."""
    try:
        return model.model_validate_json(raw, strict=True)
    except ValidationError as exc:
        errors: list[dict[str, Any]] = []
        for error in exc.errors():
            loc = tuple(error["loc"])
            if len(loc) >= 2 and loc[0] == "from" and loc[1] in ("audio", "text"):
                loc = loc[:1] + loc[2:]
            errors.append({**error, "loc": loc})
        raise ApiError(400, VALIDATION_FAILED, body_issues(errors, data, ("audio", "text"))) from None


def _issue(path: list[str], message: str, code: str = "custom") -> dict[str, Any]:
    return {"code": code, "path": path, "message": f"{'.'.join(path)}: {message}"}


def render_voice(voice: Voice, url: Callable[[str | None], str | None]) -> dict[str, Any]:
    """The Voice object, with exactly the fields the SDK defines for its status."""
    body: dict[str, Any] = {
        "id": voice.id,
        "name": voice.name,
        "description": voice.description,
        "createdAt": iso_millis(voice.created_at),
        "status": voice.status,
    }
    if voice.status == "READY":
        body["previewUrl"] = url(voice.preview_key)
    elif voice.status == "FAILED":
        body["failureReason"] = voice.failure_reason or processing.UNEXPECTED
    return body


async def _check_sample(state: State, uri: str, organization_id: str) -> None:
    """What can be judged now: the URI, a data URI's or upload's format and length; 400s name the field."""
    path = list(processing.PATH)
    try:
        info = await state.assets.check_at_submission(uri, AssetKind.AUDIO, path, organization_id)
    except AssetRejected as rejected:
        raise ApiError(400, VALIDATION_FAILED, [rejected.issue]) from None
    if info is None or info.duration is None:
        return
    if info.duration < MIN_SECONDS:
        problem = f"must be at least {MIN_SECONDS:g} seconds long, got {info.duration:.2f}"
        raise ApiError(400, VALIDATION_FAILED, [_issue(path, problem)])
    if info.duration > MAX_SECONDS + 0.05:
        problem = f"must be at most {MAX_SECONDS:g} seconds long, got {info.duration:.2f}"
        raise ApiError(400, VALIDATION_FAILED, [_issue(path, problem)])


_RESPONSES = error_responses(400, 401, 404)


@router.post(
    "",
    response_model=VoiceCreated,
    responses=_RESPONSES,
    summary="Create a voice from an audio sample (clone) or a description; it is PROCESSING until ready",
    openapi_extra=documented_body(VoiceCreate),
)
@idempotency.idempotent
async def create_voice(request: Request, principal: CurrentPrincipal, state: State) -> JSONResponse:
    raw, data = await read_json_object(request)
    body = _parse(VoiceCreate, raw, data)
    source = body.from_
    voice_id = str(uuid.uuid4())
    pending: str | None = None
    if isinstance(source, VoiceFromAudio):
        await _check_sample(state, source.audio, principal.organization_id)
        pending = await processing.stage_audio(state.store, voice_id, source.audio)
    now = utcnow()
    async with state.sessions.begin() as session:
        session.add(
            Voice(
                id=voice_id,
                organization_id=principal.organization_id,
                name=body.name,
                description=body.description,
                source=source.type,
                model=source.model if isinstance(source, VoiceFromText) else None,
                prompt=source.prompt if isinstance(source, VoiceFromText) else None,
                pending_audio=pending,
                status="PROCESSING",
                created_at=now,
                updated_at=now,
            )
        )
    state.voices.submit(voice_id)
    return JSONResponse({"id": voice_id})


# Previews cost seconds of CPU and no credits: bounded per organization, so one cannot starve the rest.
PREVIEWS = SlidingWindow(limit=20, seconds=60, concurrent=2, what="voice previews")


@router.post(
    "/preview",
    response_model=VoicePreviewed,
    responses=error_responses(400, 401, 429),
    summary="Hear a voice designed from a description, before creating it",
    openapi_extra=documented_body(VoicePreview),
)
async def preview_voice(request: Request, principal: CurrentPrincipal, state: State) -> JSONResponse:
    raw, data = await read_json_object(request)
    body = _parse(VoicePreview, raw, data)
    PREVIEWS.acquire(principal.organization_id)
    try:
        made = await state.voices.preview(body.prompt)
    finally:
        PREVIEWS.release(principal.organization_id)
    ttl = state.settings.output_url_ttl_seconds
    key = await state.voices.store_preview(principal.organization_id, made.mp3, ttl)
    return JSONResponse({"url": blob_urls(request, state)(key), "durationSecs": round(made.seconds, 3)})


@router.get(VOICE, response_model=VoiceView, responses=_RESPONSES, summary="Get a voice")
async def get_voice(
    voice_id: str, request: Request, principal: CurrentPrincipal, state: State
) -> JSONResponse:
    async with state.sessions() as session:
        voice = await repository.get_voice(session, principal.organization_id, voice_id)
    if voice is None:
        raise ApiError(404, VOICE_NOT_FOUND)
    return JSONResponse(render_voice(voice, blob_urls(request, state)))


@router.patch(
    VOICE,
    response_model=VoiceView,
    responses=_RESPONSES,
    openapi_extra=documented_body(VoiceUpdate),
    summary="Rename a voice or change its description (`description: null` clears it)",
)
async def update_voice(
    voice_id: str, request: Request, principal: CurrentPrincipal, state: State
) -> JSONResponse:
    raw, data = await read_json_object(request)
    body = _parse(VoiceUpdate, raw, data)
    if "name" in body.model_fields_set and body.name is None:
        issue = _issue(["name"], "Invalid input: expected string, received null", "invalid_type")
        raise ApiError(400, VALIDATION_FAILED, [issue])
    async with state.sessions.begin() as session:
        voice = await repository.get_voice(session, principal.organization_id, voice_id)
        if voice is None:
            raise ApiError(404, VOICE_NOT_FOUND)
        if body.name is not None:
            voice.name = body.name
        if "description" in body.model_fields_set:
            voice.description = body.description
        voice.updated_at = utcnow()
    return JSONResponse(render_voice(voice, blob_urls(request, state)))


@router.delete(VOICE, status_code=204, responses=_RESPONSES, summary="Delete a voice")
async def delete_voice(voice_id: str, principal: CurrentPrincipal, state: State) -> Response:
    """Avatars that use the voice keep it, shown as `deleted: true`; their calls speak with a preset."""
    async with state.sessions.begin() as session:
        voice = await repository.get_voice(session, principal.organization_id, voice_id)
        if voice is None:
            raise ApiError(404, VOICE_NOT_FOUND)
        await session.delete(voice)
    await state.store.delete_prefix(processing.voice_prefix(voice_id))
    return Response(status_code=204)


@router.get(
    "", response_model=VoicePage, responses=_RESPONSES, summary="List voices, newest first, a page at a time"
)
async def list_voices(
    request: Request,
    principal: CurrentPrincipal,
    state: State,
    limit: Annotated[int, Query(ge=MIN_LIMIT, le=MAX_LIMIT)],
    cursor: Annotated[str | None, Query(min_length=1, max_length=1000)] = None,
) -> JSONResponse:
    after = cursor_after(cursor, LIST_ORDER)
    async with state.sessions() as session:
        voices, more = await repository.list_voices(session, principal.organization_id, limit, after)
    url = blob_urls(request, state)
    next_cursor = Cursor(LIST_ORDER, voices[-1].created_at, voices[-1].id).encode() if more else None
    return JSONResponse(
        {"data": [render_voice(v, url) for v in voices], "hasMore": more, "nextCursor": next_cursor}
    )
