"""Ephemeral uploads: `POST /v1/uploads`, and the storage endpoint its `uploadUrl` points at.

The storage endpoint plays the part of the real API's S3 presigned POST: no API key and no version
header, a multipart form whose signed fields authorise writing one blob, 204 on success. The body is
counted as it streams in and the file part is spooled to disk, so a 200 MB upload is never held in
memory; the bytes must then probe as the kind of media the filename declared.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.datastructures import FormData, UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser

from taxiway.api import idempotency
from taxiway.api.auth import CurrentPrincipal, State
from taxiway.api.avatars import documented_body
from taxiway.api.errors import VALIDATION_FAILED, ApiError, body_issues
from taxiway.api.generation import read_json_object
from taxiway.api.schemas import Answer, ErrorBody
from taxiway.assets.errors import ProbeError
from taxiway.assets.kinds import AssetKind
from taxiway.assets.probe import probe
from taxiway.assets.uploads import (
    FILENAME_PATTERN,
    MAX_FILENAME_LENGTH,
    MAX_UPLOAD_BYTES,
    MIN_UPLOAD_BYTES,
    UploadTokenError,
    UploadTokens,
    store_upload,
    upload_kind,
)

router = APIRouter(tags=["uploads"])

# Not under /v1, like the real API's bucket URL; the body-size middleware must let it through.
STORAGE_PATH = "/uploads/storage"
# Room for the form's boundaries, headers and signed fields around the file itself.
FORM_OVERHEAD_BYTES = 64 * 1024
MAX_FIELD_BYTES = 16 * 1024
TOO_LARGE = f"Your proposed upload exceeds the maximum allowed size ({MAX_UPLOAD_BYTES} bytes)."
TOO_SMALL = f"Your proposed upload is smaller than the minimum allowed size ({MIN_UPLOAD_BYTES} bytes)."
_FIELDS = frozenset({"key", "policy", "metadata"})
_EXTENSIONS = ", ".join(f".{ext}" for kind in AssetKind for ext in kind.rules.extensions)


class UploadRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    filename: str = Field(
        min_length=1,
        max_length=MAX_FILENAME_LENGTH,
        json_schema_extra={"pattern": FILENAME_PATTERN, "description": f"Extensions: {_EXTENSIONS}"},
    )
    type: Literal["ephemeral"]


class UploadCreated(Answer):
    uploadUrl: str
    fields: dict[str, str]
    runwayUri: str


@router.post(
    "/v1/uploads",
    response_model=UploadCreated,
    responses={400: {"model": ErrorBody}, 401: {"model": ErrorBody}},
    summary="Start an ephemeral upload",
    openapi_extra=documented_body(UploadRequest),
    description="Returns a form to POST the file to, and the runway:// URI it will have for 24 hours.",
)
@idempotency.idempotent
async def create_upload(request: Request, principal: CurrentPrincipal, state: State) -> JSONResponse:
    raw, data = await read_json_object(request)
    try:
        body = UploadRequest.model_validate_json(raw, strict=True)
    except ValidationError as exc:
        raise ApiError(400, VALIDATION_FAILED, body_issues(exc.errors(), data)) from None
    if upload_kind(body.filename) is None:
        message = f"filename: Unsupported file type. The extension must be one of {_EXTENSIONS}"
        raise ApiError(400, VALIDATION_FAILED, [{"code": "custom", "path": ["filename"], "message": message}])
    grant = UploadTokens.from_signer(state.signer).grant(principal.organization_id, body.filename)
    created = UploadCreated(
        uploadUrl=state.settings.base_url + STORAGE_PATH, fields=grant.fields, runwayUri=grant.runway_uri
    )
    return JSONResponse(created.model_dump())


class _TooLarge(Exception):
    pass


async def _read_form(request: Request) -> FormData:
    """The multipart form, refused with 413 as soon as the body outgrows the largest upload."""
    limit = MAX_UPLOAD_BYTES + FORM_OVERHEAD_BYTES
    too_large = ApiError(
        413, f"Your proposed upload exceeds the maximum allowed size ({MAX_UPLOAD_BYTES} bytes)."
    )
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large
    if not request.headers.get("content-type", "").lower().startswith("multipart/form-data"):
        raise ApiError(400, "The upload must be sent as multipart/form-data.")

    async def counted() -> AsyncGenerator[bytes, None]:
        seen = 0
        async for chunk in request.stream():
            seen += len(chunk)
            if seen > limit:
                raise _TooLarge()
            yield chunk

    parser = MultiPartParser(
        request.headers, counted(), max_files=1, max_fields=len(_FIELDS), max_part_size=MAX_FIELD_BYTES
    )
    try:
        return await parser.parse()
    except _TooLarge:
        raise too_large from None
    except MultiPartException as exc:
        raise ApiError(400, f"Invalid upload form: {exc.message}") from None


@router.post(STORAGE_PATH, include_in_schema=False, status_code=204)
async def receive_upload(request: Request, state: State) -> Response:
    form = await _read_form(request)
    try:
        fields: dict[str, str] = {}
        upload: UploadFile | None = None
        for name, value in form.multi_items():
            if isinstance(value, UploadFile) and name == "file" and upload is None:
                upload = value
            elif isinstance(value, str) and name in _FIELDS and name not in fields:
                fields[name] = value
            else:
                raise ApiError(400, f"Unexpected form field: {name!r}.")
        try:
            claims = UploadTokens.from_signer(state.signer).verify_fields(fields)
        except UploadTokenError as exc:
            raise ApiError(403, exc.reason) from None
        if upload is None:
            raise ApiError(400, "The form has no file part.")
        size = upload.size or 0
        if size < MIN_UPLOAD_BYTES:
            raise ApiError(
                400,
                f"Your proposed upload is smaller than the minimum allowed size ({MIN_UPLOAD_BYTES} bytes).",
            )
        if size > MAX_UPLOAD_BYTES:
            raise ApiError(413, TOO_LARGE)
        try:
            info = await asyncio.to_thread(probe, upload.file)
        except ProbeError as exc:
            raise ApiError(400, exc.reason) from None
        if info.kind != claims.kind:
            raise ApiError(400, f"The file is {info.kind.value}, but its name declares {claims.kind.value}.")
        if await state.store.exists(claims.key):
            raise ApiError(409, "This upload was already completed. Start a new upload to send another file.")
        await store_upload(state.store, claims.key, upload.file)
    finally:
        await form.close()
    return Response(status_code=204)
