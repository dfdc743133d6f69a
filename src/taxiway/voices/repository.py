"""Queries for custom voices, always scoped to one organization."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from taxiway.avatars.cursors import Cursor
from taxiway.db.tables import Voice
from taxiway.engines.audio.voices import Preset

READY = "READY"


async def get_voice(session: AsyncSession, organization_id: str, voice_id: str) -> Voice | None:
    voice = await session.get(Voice, voice_id)
    return voice if voice is not None and voice.organization_id == organization_id else None


async def find_voices(
    session: AsyncSession, organization_id: str, voice_ids: Iterable[str]
) -> dict[str, Voice]:
    """The organization's voices among `voice_ids`; others' (and deleted ones) are simply absent."""
    wanted = list(set(voice_ids))
    if not wanted:
        return {}
    rows = await session.scalars(
        select(Voice).where(Voice.organization_id == organization_id, Voice.id.in_(wanted))
    )
    return {voice.id: voice for voice in rows}


async def list_voices(
    session: AsyncSession, organization_id: str, limit: int, cursor: Cursor | None
) -> tuple[list[Voice], bool]:
    """Newest first; the flag says whether more follow."""
    query = select(Voice).where(Voice.organization_id == organization_id)
    if cursor is not None:
        query = query.where(
            or_(
                Voice.created_at < cursor.moment,
                and_(Voice.created_at == cursor.moment, Voice.id < cursor.id),
            )
        )
    rows = list(
        await session.scalars(query.order_by(Voice.created_at.desc(), Voice.id.desc()).limit(limit + 1))
    )
    return rows[:limit], len(rows) > limit


def custom_voice_id(choice: Mapping[str, Any]) -> str | None:
    """The id of an avatar's `{type: custom, id}` voice; None for a preset voice."""
    voice_id = choice.get("id") if choice.get("type") == "custom" else None
    return str(voice_id) if voice_id else None


async def ready_preset(
    session: AsyncSession, organization_id: str, choice: Mapping[str, Any]
) -> Preset | None:
    """The stored preset an avatar's custom voice speaks with; None for presets and for custom voices
    that are gone or not READY."""
    voice_id = custom_voice_id(choice)
    if voice_id is None:
        return None
    voice = await get_voice(session, organization_id, voice_id)
    if voice is None or voice.status != READY or not voice.preset:
        return None
    return Preset.from_json(voice.preset)
