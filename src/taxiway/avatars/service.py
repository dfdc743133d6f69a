"""The rules of avatars and documents that the API routes apply inside one transaction.

The knowledge limit is checked wherever an avatar's knowledge can grow: attaching documents (create
or PATCH `documentIds`) and rewriting a document that avatars use.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from taxiway.avatars import repository
from taxiway.avatars.tokens import KNOWLEDGE_TOKEN_LIMIT
from taxiway.clock import utcnow
from taxiway.db.tables import Avatar, Document

DOCUMENT_TYPE_TEXT = "text"


class UnknownDocuments(LookupError):
    """Document ids that are not the organization's: (position in `documentIds`, id)."""

    def __init__(self, missing: list[tuple[int, str]]) -> None:
        super().__init__(", ".join(document_id for _, document_id in missing))
        self.missing = missing


class KnowledgeLimitExceeded(ValueError):
    def __init__(self, tokens: int, avatar_name: str | None = None) -> None:
        whose = f"avatar {avatar_name!r}" if avatar_name is not None else "this avatar"
        self.tokens = tokens
        self.message = (
            f"The documents attached to {whose} would hold {tokens:,} tokens; an avatar's knowledge is"
            f" limited to {KNOWLEDGE_TOKEN_LIMIT:,} tokens."
        )
        super().__init__(self.message)


@dataclass(frozen=True)
class AvatarFields:
    name: str
    personality: str
    voice: dict[str, str]
    start_script: str | None
    image_processing: str


def unique(ids: Sequence[str]) -> list[str]:
    """`documentIds` without repeats, first occurrence kept: attaching a document twice is once."""
    return list(dict.fromkeys(ids))


async def check_knowledge(session: AsyncSession, organization_id: str, document_ids: Sequence[str]) -> None:
    found = await repository.find_documents(session, organization_id, document_ids)
    missing = [(i, document_id) for i, document_id in enumerate(document_ids) if document_id not in found]
    if missing:
        raise UnknownDocuments(missing)
    tokens = sum(document.token_count for document in found.values())
    if tokens > KNOWLEDGE_TOKEN_LIMIT:
        raise KnowledgeLimitExceeded(tokens)


def new_avatar_id() -> str:
    return str(uuid.uuid4())


async def create_avatar(
    session: AsyncSession,
    organization_id: str,
    avatar_id: str,
    fields: AvatarFields,
    document_ids: Sequence[str],
    pending_image: str,
) -> Avatar:
    ids = unique(document_ids)
    await check_knowledge(session, organization_id, ids)
    now = utcnow()
    avatar = Avatar(
        id=avatar_id,
        organization_id=organization_id,
        name=fields.name,
        personality=fields.personality,
        start_script=fields.start_script,
        voice=fields.voice,
        image_processing=fields.image_processing,
        status="PROCESSING",
        image_version=1,
        pending_image=pending_image,
        created_at=now,
        updated_at=now,
    )
    session.add(avatar)
    await session.flush()
    await repository.set_documents(session, avatar.id, ids)
    return avatar


async def update_avatar(
    session: AsyncSession, avatar: Avatar, changes: dict[str, Any], document_ids: Sequence[str] | None
) -> None:
    """Plain field changes (`name`, `personality`, `voice`, `start_script`) and a new document set."""
    if document_ids is not None:
        ids = unique(document_ids)
        await check_knowledge(session, avatar.organization_id, ids)
        await repository.set_documents(session, avatar.id, ids)
    for name, value in changes.items():
        setattr(avatar, name, value)
    avatar.updated_at = utcnow()
    await session.flush()


def restart_processing(avatar: Avatar, pending_image: str) -> None:
    """A new image (or a new way to process it): PROCESSING again, under a new version."""
    avatar.status = "PROCESSING"
    avatar.pending_image = pending_image
    avatar.failure_reason = None
    avatar.updated_at = utcnow()


async def create_document(
    session: AsyncSession, organization_id: str, name: str, content: str, token_count: int
) -> Document:
    now = utcnow()
    document = Document(
        id=str(uuid.uuid4()),
        organization_id=organization_id,
        name=name,
        content=content,
        type=DOCUMENT_TYPE_TEXT,
        token_count=token_count,
        created_at=now,
        updated_at=now,
    )
    session.add(document)
    await session.flush()
    return document


async def update_document(
    session: AsyncSession,
    document: Document,
    name: str | None,
    content: str | None,
    token_count: int | None,
) -> None:
    if content is not None and token_count is not None:
        using = (await repository.avatars_using(session, [document.id]))[document.id]
        totals = await repository.knowledge_tokens_by_avatar(
            session, [avatar.id for avatar in using], document, token_count
        )
        for avatar in using:
            if totals.get(avatar.id, 0) > KNOWLEDGE_TOKEN_LIMIT:
                raise KnowledgeLimitExceeded(totals[avatar.id], avatar.name)
        document.content = content
        document.token_count = token_count
    if name is not None:
        document.name = name
    document.updated_at = utcnow()
    await session.flush()
