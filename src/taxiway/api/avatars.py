"""`/v1/avatars`: create, retrieve, update, delete and list avatars (Characters).

An avatar is PROCESSING until its reference image is fetched, checked and processed in the
background (`taxiway.avatars.processing`); then READY, or FAILED with a `failureReason`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import datetime
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, WithJsonSchema
from sqlalchemy.ext.asyncio import AsyncSession

from taxiway.api import idempotency
from taxiway.api.auth import CurrentPrincipal, State
from taxiway.api.errors import VALIDATION_FAILED, ApiError, body_issues
from taxiway.api.generation import read_json_object
from taxiway.api.schemas import Answer, error_responses
from taxiway.assets.intake import AssetRejected
from taxiway.assets.kinds import AssetKind
from taxiway.avatars import processing, repository, service
from taxiway.avatars.cursors import MAX_LIMIT, MIN_LIMIT, BadCursor, Cursor
from taxiway.avatars.tokens import KNOWLEDGE_TOKEN_LIMIT
from taxiway.avatars.voices import LIVE_VOICES, render_voice
from taxiway.clock import iso_millis, utcnow
from taxiway.db.tables import Avatar
from taxiway.db.tables import Voice as VoiceRow
from taxiway.voices import repository as voices

router = APIRouter(prefix="/v1/avatars", tags=["avatars"])

AVATAR_NOT_FOUND = "Could not find Avatar"
NAME_MAX = 256
PERSONALITY_MAX = 10_000
START_SCRIPT_MAX = 2_000
LIST_ORDER = "createdAt:desc"
# Discriminator values pydantic puts in error locations; Zod paths do not have them.
UNION_TAGS = frozenset({"runway-live-preset", "custom"})
M = TypeVar("M", bound=BaseModel)


class StrictBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


def _without_null(schema: dict[str, Any]) -> None:
    kept = [branch for branch in schema.pop("anyOf") if branch != {"type": "null"}]
    schema.pop("default", None)
    schema.update(kept[0] if len(kept) == 1 else {"anyOf": kept})


def omittable(**constraints: Any) -> Any:
    """A `X | None` field that may be left out but is refused as null by its route: /openapi.json
    documents it without null (or a null default), so schema-driven clients never send one."""
    return Field(default=None, json_schema_extra=_without_null, **constraints)


def preset_id(known: Collection[str]) -> Any:
    """A preset id, refused with the real API's Zod wording that lists the options."""

    def check(value: str) -> str:
        if value not in known:
            raise ValueError("Invalid option: expected one of " + "|".join(f"'{v}'" for v in known))
        return value

    # The options are in /openapi.json too, so schema-driven clients send only what is accepted.
    return Annotated[str, AfterValidator(check), WithJsonSchema({"type": "string", "enum": list(known)})]


class AvatarPresetVoice(StrictBody):
    type: Literal["runway-live-preset"]
    presetId: preset_id(LIVE_VOICES)  # type: ignore[valid-type]


class CustomVoice(StrictBody):
    type: Literal["custom"]
    id: str = Field(min_length=1, max_length=128)


Voice = Annotated[AvatarPresetVoice | CustomVoice, Field(discriminator="type")]


class AvatarCreate(StrictBody):
    name: str = Field(min_length=1, max_length=NAME_MAX)
    personality: str = Field(min_length=1, max_length=PERSONALITY_MAX)
    referenceImage: str = Field(min_length=1)
    voice: Voice
    documentIds: list[str] = Field(default_factory=list)
    imageProcessing: Literal["optimize", "none"] = "optimize"
    startScript: str | None = Field(default=None, max_length=START_SCRIPT_MAX)


class AvatarUpdate(StrictBody):
    name: str | None = omittable(min_length=1, max_length=NAME_MAX)
    personality: str | None = omittable(min_length=1, max_length=PERSONALITY_MAX)
    referenceImage: str | None = omittable(min_length=1)
    voice: Voice | None = omittable()
    documentIds: list[str] | None = omittable()
    imageProcessing: Literal["optimize", "none"] | None = omittable()
    startScript: str | None = Field(default=None, max_length=START_SCRIPT_MAX)


class AvatarPresetVoiceView(Answer):
    type: Literal["runway-live-preset"]
    presetId: Literal[tuple(LIVE_VOICES)]  # type: ignore[valid-type]
    name: str
    description: str


class AvatarCustomVoiceView(Answer):
    """A Voices API voice; once deleted, `deleted: true` without its name and description."""

    type: Literal["custom"]
    id: str
    deleted: bool
    name: str | None = None
    description: str | None = None


class _AvatarView(Answer):
    id: str
    name: str
    personality: str
    voice: Annotated[AvatarPresetVoiceView | AvatarCustomVoiceView, Field(discriminator="type")]
    documentIds: list[str]
    startScript: str | None
    referenceImageUri: str | None = Field(description="Signed URL; it expires")
    processedImageUri: str | None = Field(description="Signed URL; it expires")
    createdAt: datetime
    updatedAt: datetime


class ProcessingAvatar(_AvatarView):
    status: Literal["PROCESSING"]


class ReadyAvatar(_AvatarView):
    status: Literal["READY"]


class FailedAvatar(_AvatarView):
    status: Literal["FAILED"]
    failureReason: str


AvatarView = Annotated[ProcessingAvatar | ReadyAvatar | FailedAvatar, Field(discriminator="status")]


class AvatarPage(Answer):
    data: list[AvatarView]
    nextCursor: str | None


SCHEMA_REF = "#/components/schemas/{model}"
# Models of bodies parsed by hand (for the real API's error shape), which FastAPI cannot see.
_DOCUMENTED_BODIES: dict[str, type[BaseModel]] = {}


def documented_body(model: type[BaseModel]) -> dict[str, Any]:
    """`openapi_extra` for a route that reads its body with `parse_body`: the model is its request body in
    /openapi.json (its schema joins the components in `hand_parsed_components`)."""
    _DOCUMENTED_BODIES[model.__name__] = model
    schema = {"$ref": SCHEMA_REF.format(model=model.__name__)}
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


def hand_parsed_components() -> dict[str, Any]:
    components: dict[str, Any] = {}
    for name, model in _DOCUMENTED_BODIES.items():
        schema = model.model_json_schema(by_alias=True, ref_template=SCHEMA_REF)
        components.update(schema.pop("$defs", {}))
        components[name] = schema
    return components


def parse_body(model: type[M], raw: bytes, data: dict[str, Any], tags: frozenset[str]) -> M:
    """Strict JSON validation with the real API's 400; union tags are dropped from issue paths."""
    try:
        return model.model_validate_json(raw, strict=True)
    except ValidationError as exc:
        errors: list[dict[str, Any]] = []
        for error in exc.errors():
            errors.append({**error, "loc": tuple(part for part in error["loc"] if part not in tags)})
        raise ApiError(400, VALIDATION_FAILED, body_issues(errors, data)) from None


def cursor_after(cursor: str | None, order: str) -> Cursor | None:
    """Where a list page starts: after the row a `nextCursor` points at; a cursor for another
    ordering, or no cursor at all, is a 400 naming the problem."""
    try:
        return Cursor.decode(cursor, order) if cursor else None
    except BadCursor as exc:
        raise ApiError(400, str(exc)) from None


def blob_urls(request: Request, state: State) -> Callable[[str | None], str | None]:
    """Signed, expiring URLs for stored blobs, on the base URL clients reach (like task outputs)."""
    base = (
        state.settings.public_url.rstrip("/")
        if state.settings.public_url
        else str(request.base_url).rstrip("/")
    )
    expires = math.ceil(utcnow().timestamp()) + state.settings.output_url_ttl_seconds

    def url(key: str | None) -> str | None:
        return base + state.signer.path(key, expires) if key else None

    return url


def render_avatar(
    avatar: Avatar,
    document_ids: Sequence[str],
    url: Callable[[str | None], str | None],
    custom_voices: Mapping[str, VoiceRow],
) -> dict[str, Any]:
    """The Avatar object, with exactly the fields the SDK defines for its status."""
    voice_id = voices.custom_voice_id(avatar.voice)
    body: dict[str, Any] = {
        "id": avatar.id,
        "status": avatar.status,
        "name": avatar.name,
        "personality": avatar.personality,
        "voice": render_voice(avatar.voice, custom_voices.get(voice_id) if voice_id else None),
        "documentIds": list(document_ids),
        "startScript": avatar.start_script,
        "referenceImageUri": url(avatar.reference_preview_key),
        "processedImageUri": url(avatar.processed_preview_key),
        "createdAt": iso_millis(avatar.created_at),
        "updatedAt": iso_millis(avatar.updated_at),
    }
    if avatar.status == "FAILED":
        body["failureReason"] = avatar.failure_reason or "The avatar could not be processed."
    return body


def document_issues(missing: list[tuple[int, str]]) -> list[dict[str, Any]]:
    return [
        {
            "code": "custom",
            "path": ["documentIds", index],
            "message": f"documentIds.{index}: Could not find Document {document_id!r}",
        }
        for index, document_id in missing
    ]


def knowledge_error(exc: service.KnowledgeLimitExceeded) -> ApiError:
    issue = {
        "code": "too_big",
        "maximum": KNOWLEDGE_TOKEN_LIMIT,
        "origin": "number",
        "inclusive": True,
        "path": ["documentIds"],
        "message": f"documentIds: {exc.message}",
    }
    return ApiError(400, exc.message, [issue])


async def custom_voices_of(session: AsyncSession, avatars: Sequence[Avatar]) -> dict[str, VoiceRow]:
    """The Voices API voices the avatars speak with (deleted ones are absent)."""
    ids = [voice_id for avatar in avatars if (voice_id := voices.custom_voice_id(avatar.voice))]
    organization_id = avatars[0].organization_id if avatars else ""
    return await voices.find_voices(session, organization_id, ids)


async def _check_voice(state: State, voice: AvatarPresetVoice | CustomVoice, organization_id: str) -> None:
    """A custom voice must be one of the organization's READY voices, as on the real API."""
    if not isinstance(voice, CustomVoice):
        return
    async with state.sessions() as session:
        found = await voices.get_voice(session, organization_id, voice.id)
    if found is None:
        problem = f"Could not find Voice {voice.id!r}"
    elif found.status != voices.READY:
        problem = f"Voice {voice.id!r} is {found.status}; only a READY voice can be used"
    else:
        return
    issue = {"code": "custom", "path": ["voice", "id"], "message": f"voice.id: {problem}"}
    raise ApiError(400, VALIDATION_FAILED, [issue])


async def _check_image(state: State, uri: str, organization_id: str) -> None:
    try:
        await state.assets.check_at_submission(uri, AssetKind.IMAGE, ["referenceImage"], organization_id)
    except AssetRejected as rejected:
        raise ApiError(400, VALIDATION_FAILED, [rejected.issue]) from None


_AVATAR_RESPONSES = error_responses(400, 401, 404)


@router.post(
    "",
    response_model=AvatarView,
    responses=_AVATAR_RESPONSES,
    summary="Create an avatar; it is PROCESSING until its image is ready",
    openapi_extra=documented_body(AvatarCreate),
)
@idempotency.idempotent
async def create_avatar(request: Request, principal: CurrentPrincipal, state: State) -> JSONResponse:
    raw, data = await read_json_object(request)
    body = parse_body(AvatarCreate, raw, data, UNION_TAGS)
    await _check_voice(state, body.voice, principal.organization_id)
    await _check_image(state, body.referenceImage, principal.organization_id)
    avatar_id = service.new_avatar_id()
    fields = service.AvatarFields(
        name=body.name,
        personality=body.personality,
        voice=body.voice.model_dump(),
        start_script=body.startScript,
        image_processing=body.imageProcessing,
    )
    pending = await processing.stage_image(state.store, avatar_id, 1, body.referenceImage)
    try:
        async with state.sessions.begin() as session:
            avatar = await service.create_avatar(
                session, principal.organization_id, avatar_id, fields, body.documentIds, pending
            )
            ids = (await repository.document_ids(session, [avatar.id]))[avatar.id]
            spoken = await custom_voices_of(session, [avatar])
    except service.UnknownDocuments as exc:
        await state.store.delete_prefix(processing.avatar_prefix(avatar_id))
        raise ApiError(400, VALIDATION_FAILED, document_issues(exc.missing)) from None
    except service.KnowledgeLimitExceeded as exc:
        await state.store.delete_prefix(processing.avatar_prefix(avatar_id))
        raise knowledge_error(exc) from None
    state.avatars.submit(avatar.id)
    return JSONResponse(render_avatar(avatar, ids, blob_urls(request, state), spoken))


@router.get("/{avatar_id}", response_model=AvatarView, responses=_AVATAR_RESPONSES, summary="Get an avatar")
async def get_avatar(
    avatar_id: str, request: Request, principal: CurrentPrincipal, state: State
) -> JSONResponse:
    async with state.sessions() as session:
        avatar = await repository.get_avatar(session, principal.organization_id, avatar_id)
        if avatar is None:
            raise ApiError(404, AVATAR_NOT_FOUND)
        ids = (await repository.document_ids(session, [avatar.id]))[avatar.id]
        spoken = await custom_voices_of(session, [avatar])
    return JSONResponse(render_avatar(avatar, ids, blob_urls(request, state), spoken))


@router.patch(
    "/{avatar_id}",
    response_model=AvatarView,
    responses=_AVATAR_RESPONSES,
    openapi_extra=documented_body(AvatarUpdate),
    summary="Update an avatar; `documentIds` replaces the attached set, `startScript: null` clears it",
)
async def update_avatar(
    avatar_id: str, request: Request, principal: CurrentPrincipal, state: State
) -> JSONResponse:
    raw, data = await read_json_object(request)
    body = parse_body(AvatarUpdate, raw, data, UNION_TAGS)
    given = body.model_fields_set
    for name in given - {"startScript"}:
        if getattr(body, name) is None:
            issue = {
                "code": "invalid_type",
                "path": [name],
                "message": f"{name}: Invalid input: received null",
            }
            raise ApiError(400, VALIDATION_FAILED, [issue])
    if body.voice is not None:
        await _check_voice(state, body.voice, principal.organization_id)
    if body.referenceImage is not None:
        await _check_image(state, body.referenceImage, principal.organization_id)
    changes: dict[str, Any] = {}
    if body.name is not None:
        changes["name"] = body.name
    if body.personality is not None:
        changes["personality"] = body.personality
    if body.voice is not None:
        changes["voice"] = body.voice.model_dump()
    if "startScript" in given:
        changes["start_script"] = body.startScript
    reprocess = False
    try:
        async with state.sessions.begin() as session:
            avatar = await repository.get_avatar(session, principal.organization_id, avatar_id)
            if avatar is None:
                raise ApiError(404, AVATAR_NOT_FOUND)
            await service.update_avatar(session, avatar, changes, body.documentIds)
            mode_changed = body.imageProcessing not in (None, avatar.image_processing)
            source: str | None = None
            if body.referenceImage is not None:
                avatar.image_version += 1
                source = await processing.stage_image(
                    state.store, avatar.id, avatar.image_version, body.referenceImage
                )
            elif mode_changed and (source := processing.reprocess_source(avatar)) is not None:
                avatar.image_version += 1
            if body.imageProcessing is not None:
                avatar.image_processing = body.imageProcessing
            if source is not None:
                service.restart_processing(avatar, source)
                reprocess = True
            await session.flush()
            ids = (await repository.document_ids(session, [avatar.id]))[avatar.id]
            spoken = await custom_voices_of(session, [avatar])
    except service.UnknownDocuments as exc:
        raise ApiError(400, VALIDATION_FAILED, document_issues(exc.missing)) from None
    except service.KnowledgeLimitExceeded as exc:
        raise knowledge_error(exc) from None
    if reprocess:
        state.avatars.submit(avatar.id)
    return JSONResponse(render_avatar(avatar, ids, blob_urls(request, state), spoken))


@router.delete("/{avatar_id}", status_code=204, responses=_AVATAR_RESPONSES, summary="Delete an avatar")
async def delete_avatar(avatar_id: str, principal: CurrentPrincipal, state: State) -> Response:
    async with state.sessions.begin() as session:
        avatar = await repository.get_avatar(session, principal.organization_id, avatar_id)
        if avatar is None:
            raise ApiError(404, AVATAR_NOT_FOUND)
        await session.delete(avatar)
    await state.store.delete_prefix(processing.avatar_prefix(avatar_id))
    return Response(status_code=204)


@router.get(
    "",
    response_model=AvatarPage,
    responses=_AVATAR_RESPONSES,
    summary="List avatars, newest first, a page at a time",
)
async def list_avatars(
    request: Request,
    principal: CurrentPrincipal,
    state: State,
    limit: Annotated[int, Query(ge=MIN_LIMIT, le=MAX_LIMIT)],
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> JSONResponse:
    after = cursor_after(cursor, LIST_ORDER)
    async with state.sessions() as session:
        avatars, more = await repository.list_avatars(session, principal.organization_id, limit, after)
        ids = await repository.document_ids(session, [avatar.id for avatar in avatars])
        spoken = await custom_voices_of(session, avatars)
    url = blob_urls(request, state)
    next_cursor = Cursor(LIST_ORDER, avatars[-1].created_at, avatars[-1].id).encode() if more else None
    return JSONResponse(
        {"data": [render_avatar(a, ids[a.id], url, spoken) for a in avatars], "nextCursor": next_cursor}
    )
