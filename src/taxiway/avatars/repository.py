"""Queries for avatars, documents and their links, always scoped to one organization."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, and_, delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from taxiway.avatars.cursors import Cursor
from taxiway.db.tables import Avatar, AvatarDocument, Document


async def get_avatar(session: AsyncSession, organization_id: str, avatar_id: str) -> Avatar | None:
    avatar = await session.get(Avatar, avatar_id)
    return avatar if avatar is not None and avatar.organization_id == organization_id else None


async def get_document(session: AsyncSession, organization_id: str, document_id: str) -> Document | None:
    document = await session.get(Document, document_id)
    return document if document is not None and document.organization_id == organization_id else None


async def find_documents(
    session: AsyncSession, organization_id: str, document_ids: Iterable[str]
) -> dict[str, Document]:
    """The organization's documents among `document_ids`; ids of others' documents are simply absent."""
    wanted = list(set(document_ids))
    if not wanted:
        return {}
    rows = await session.scalars(
        select(Document).where(Document.organization_id == organization_id, Document.id.in_(wanted))
    )
    return {document.id: document for document in rows}


async def document_ids(session: AsyncSession, avatar_ids: Sequence[str]) -> dict[str, list[str]]:
    """Each avatar's attached document ids, in the order they were given."""
    found: dict[str, list[str]] = {avatar_id: [] for avatar_id in avatar_ids}
    if not avatar_ids:
        return found
    rows = await session.execute(
        select(AvatarDocument.avatar_id, AvatarDocument.document_id)
        .where(AvatarDocument.avatar_id.in_(list(avatar_ids)))
        .order_by(AvatarDocument.avatar_id, AvatarDocument.position)
    )
    for avatar_id, document_id in rows.all():
        found[avatar_id].append(document_id)
    return found


async def set_documents(session: AsyncSession, avatar_id: str, ids: Sequence[str]) -> None:
    await session.execute(delete(AvatarDocument).where(AvatarDocument.avatar_id == avatar_id))
    session.add_all(
        AvatarDocument(avatar_id=avatar_id, document_id=document_id, position=position)
        for position, document_id in enumerate(ids)
    )
    await session.flush()


async def avatars_using(session: AsyncSession, document_ids: Sequence[str]) -> dict[str, list[Avatar]]:
    """For each document, the avatars it is attached to (oldest first)."""
    found: dict[str, list[Avatar]] = {document_id: [] for document_id in document_ids}
    if not document_ids:
        return found
    rows = await session.execute(
        select(AvatarDocument.document_id, Avatar)
        .join(Avatar, Avatar.id == AvatarDocument.avatar_id)
        .where(AvatarDocument.document_id.in_(list(document_ids)))
        .order_by(Avatar.created_at, Avatar.id)
    )
    for document_id, avatar in rows.tuples():
        found[document_id].append(avatar)
    return found


async def knowledge_tokens_by_avatar(
    session: AsyncSession, avatar_ids: Sequence[str], replaced: Document, new_count: int
) -> dict[str, int]:
    """Each avatar's knowledge size if `replaced` held `new_count` tokens instead."""
    if not avatar_ids:
        return {}
    rows = await session.execute(
        select(AvatarDocument.avatar_id, func.sum(Document.token_count))
        .join(Document, Document.id == AvatarDocument.document_id)
        .where(AvatarDocument.avatar_id.in_(list(avatar_ids)))
        .group_by(AvatarDocument.avatar_id)
    )
    return {
        avatar_id: int(total or 0) - replaced.token_count + new_count for avatar_id, total in rows.tuples()
    }


def _after(
    column: InstrumentedAttribute[datetime],
    id_column: InstrumentedAttribute[str],
    cursor: Cursor,
    descending: bool,
) -> ColumnElement[bool]:
    if descending:
        return or_(column < cursor.moment, and_(column == cursor.moment, id_column < cursor.id))
    return or_(column > cursor.moment, and_(column == cursor.moment, id_column > cursor.id))


async def list_avatars(
    session: AsyncSession, organization_id: str, limit: int, cursor: Cursor | None
) -> tuple[list[Avatar], bool]:
    """Newest first; the flag says whether more follow."""
    query = select(Avatar).where(Avatar.organization_id == organization_id)
    if cursor is not None:
        query = query.where(_after(Avatar.created_at, Avatar.id, cursor, descending=True))
    rows = list(
        await session.scalars(query.order_by(Avatar.created_at.desc(), Avatar.id.desc()).limit(limit + 1))
    )
    return rows[:limit], len(rows) > limit


async def list_documents(
    session: AsyncSession,
    organization_id: str,
    limit: int,
    sort: str,
    descending: bool,
    cursor: Cursor | None,
) -> tuple[list[Document], bool]:
    column = Document.updated_at if sort == "updatedAt" else Document.created_at
    query = select(Document).where(Document.organization_id == organization_id)
    if cursor is not None:
        query = query.where(_after(column, Document.id, cursor, descending))
    order = (column.desc(), Document.id.desc()) if descending else (column.asc(), Document.id.asc())
    rows = list(await session.scalars(query.order_by(*order).limit(limit + 1)))
    return rows[:limit], len(rows) > limit
