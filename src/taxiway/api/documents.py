"""`/v1/documents`: the knowledge documents avatars draw on during conversations.

Each document's token count is taken when its content is written (see `taxiway.avatars.tokens`),
so the 50,000-token knowledge limit is checked with a sum rather than by re-reading texts.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import ConfigDict, Field

from taxiway.api import idempotency
from taxiway.api.auth import CurrentPrincipal, State
from taxiway.api.avatars import (
    StrictBody,
    blob_urls,
    cursor_after,
    documented_body,
    knowledge_error,
    omittable,
    parse_body,
)
from taxiway.api.errors import VALIDATION_FAILED, ApiError
from taxiway.api.generation import read_json_object
from taxiway.api.schemas import Answer, error_responses
from taxiway.avatars import repository, service
from taxiway.avatars.cursors import MAX_LIMIT, MIN_LIMIT, Cursor
from taxiway.avatars.tokens import count_tokens
from taxiway.clock import iso_millis
from taxiway.db.tables import Avatar, Document

router = APIRouter(prefix="/v1/documents", tags=["documents"])

DOCUMENT_NOT_FOUND = "Could not find Document"
NAME_MAX = 256
# Far more than the 50,000 tokens an avatar may hold (about 200,000 characters of English).
CONTENT_MAX = 2_000_000
_RESPONSES = error_responses(400, 401, 404)


class DocumentCreate(StrictBody):
    name: str = Field(min_length=1, max_length=NAME_MAX)
    content: str = Field(min_length=1, max_length=CONTENT_MAX)


class DocumentUpdate(StrictBody):
    model_config = ConfigDict(json_schema_extra={"minProperties": 1})  # name, content or both

    name: str | None = omittable(min_length=1, max_length=NAME_MAX)
    content: str | None = omittable(min_length=1, max_length=CONTENT_MAX)


class DocumentUser(Answer):
    """An avatar that draws on the document."""

    id: str
    name: str
    imageUrl: str | None = Field(description="Signed URL of the avatar's reference image; it expires")


class DocumentSummary(Answer):
    id: str
    name: str
    type: Literal["text", "file"]
    createdAt: datetime
    updatedAt: datetime
    usedBy: list[DocumentUser]


class DocumentView(DocumentSummary):
    content: str


class DocumentPage(Answer):
    data: list[DocumentSummary]
    nextCursor: str | None


def render_document(
    document: Document,
    used_by: Sequence[Avatar],
    url: Callable[[str | None], str | None],
    *,
    content: bool = True,
) -> dict[str, Any]:
    """A Document, or with `content=False` the DocumentSummary that lists show."""
    body: dict[str, Any] = {
        "id": document.id,
        "name": document.name,
        "type": document.type,
        "createdAt": iso_millis(document.created_at),
        "updatedAt": iso_millis(document.updated_at),
        "usedBy": [
            {"id": avatar.id, "name": avatar.name, "imageUrl": url(avatar.reference_preview_key)}
            for avatar in used_by
        ],
    }
    if content:
        body["content"] = document.content
    return body


@router.post(
    "",
    response_model=DocumentView,
    responses=_RESPONSES,
    summary="Create a knowledge document",
    openapi_extra=documented_body(DocumentCreate),
)
@idempotency.idempotent
async def create_document(request: Request, principal: CurrentPrincipal, state: State) -> JSONResponse:
    raw, data = await read_json_object(request)
    body = parse_body(DocumentCreate, raw, data, frozenset())
    tokens = await asyncio.to_thread(count_tokens, body.content)
    async with state.sessions.begin() as session:
        document = await service.create_document(
            session, principal.organization_id, body.name, body.content, tokens
        )
    return JSONResponse(render_document(document, [], blob_urls(request, state)))


@router.get(
    "/{document_id}",
    response_model=DocumentView,
    responses=_RESPONSES,
    summary="Get a document, with the avatars using it",
)
async def get_document(
    document_id: str, request: Request, principal: CurrentPrincipal, state: State
) -> JSONResponse:
    async with state.sessions() as session:
        document = await repository.get_document(session, principal.organization_id, document_id)
        if document is None:
            raise ApiError(404, DOCUMENT_NOT_FOUND)
        used_by = (await repository.avatars_using(session, [document.id]))[document.id]
    return JSONResponse(render_document(document, used_by, blob_urls(request, state)))


@router.patch(
    "/{document_id}",
    status_code=204,
    responses=_RESPONSES,
    openapi_extra=documented_body(DocumentUpdate),
    summary="Rename a document or replace its content",
)
async def update_document(
    document_id: str, request: Request, principal: CurrentPrincipal, state: State
) -> Response:
    raw, data = await read_json_object(request)
    body = parse_body(DocumentUpdate, raw, data, frozenset())
    given = {name for name in body.model_fields_set if getattr(body, name) is not None}
    if given != body.model_fields_set or not given:
        issue = {
            "code": "custom",
            "path": [],
            "message": "body: At least one of name, content is required (and neither may be null)",
        }
        raise ApiError(400, VALIDATION_FAILED, [issue])
    tokens = await asyncio.to_thread(count_tokens, body.content) if body.content is not None else None
    try:
        async with state.sessions.begin() as session:
            document = await repository.get_document(session, principal.organization_id, document_id)
            if document is None:
                raise ApiError(404, DOCUMENT_NOT_FOUND)
            await service.update_document(session, document, body.name, body.content, tokens)
    except service.KnowledgeLimitExceeded as exc:
        raise knowledge_error(exc) from None
    return Response(status_code=204)


@router.delete(
    "/{document_id}", status_code=204, responses=_RESPONSES, summary="Delete a document and detach it"
)
async def delete_document(document_id: str, principal: CurrentPrincipal, state: State) -> Response:
    async with state.sessions.begin() as session:
        document = await repository.get_document(session, principal.organization_id, document_id)
        if document is None:
            raise ApiError(404, DOCUMENT_NOT_FOUND)
        await session.delete(document)  # the avatar links go with it (ON DELETE CASCADE)
    return Response(status_code=204)


@router.get(
    "",
    response_model=DocumentPage,
    responses=_RESPONSES,
    summary="List documents (summaries, without content)",
)
async def list_documents(
    request: Request,
    principal: CurrentPrincipal,
    state: State,
    limit: Annotated[int, Query(ge=MIN_LIMIT, le=MAX_LIMIT)],
    sort: Annotated[Literal["createdAt", "updatedAt"], Query()],
    order: Annotated[Literal["asc", "desc"], Query()],
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> JSONResponse:
    served = f"{sort}:{order}"
    after = cursor_after(cursor, served)
    async with state.sessions() as session:
        documents, more = await repository.list_documents(
            session, principal.organization_id, limit, sort, order == "desc", after
        )
        used_by = await repository.avatars_using(session, [document.id for document in documents])
    url = blob_urls(request, state)
    next_cursor = None
    if more:
        last = documents[-1]
        moment = last.updated_at if sort == "updatedAt" else last.created_at
        next_cursor = Cursor(served, moment, last.id).encode()
    data = [render_document(d, used_by[d.id], url, content=False) for d in documents]
    return JSONResponse({"data": data, "nextCursor": next_cursor})
