"""Saved Model Routers of an organization: create, read, update, delete, each change audited."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from taxiway.audit import log as audit
from taxiway.audit.actions import Action
from taxiway.clock import utcnow
from taxiway.db.paging import After, newest_first
from taxiway.db.tables import ModelRouter
from taxiway.routing.settings import RouterCreate, RouterUpdate, merged, snapshot


class SlugTaken(ValueError):
    pass


def _record(
    session: AsyncSession,
    router: ModelRouter,
    operation: str,
    actor: audit.Actor,
    previous: dict[str, Any] | None,
    new: dict[str, Any] | None,
) -> None:
    details = {
        "Setting": f"Model Router {router.slug}",
        "Operation": operation,
        "Previous value": previous,
        "New value": new,
    }
    audit.record(
        session, router.organization_id, Action.SETTINGS_CHANGED, actor, resource_type="router",
        resource_id=router.id, details=details,
    )  # fmt: skip


def _audited(router: ModelRouter) -> dict[str, Any]:
    return {"name": router.name, "description": router.description, "settings": router.settings}


async def create(
    session: AsyncSession, organization_id: str, body: RouterCreate, actor: audit.Actor
) -> ModelRouter:
    """A new router; raises SlugTaken when the organization already has one with this slug."""
    if await find_by_slug(session, organization_id, body.slug) is not None:
        raise SlugTaken(f"A Model Router with slug {body.slug!r} already exists.")
    now = utcnow()
    router = ModelRouter(
        id=str(uuid.uuid4()),
        organization_id=organization_id,
        slug=body.slug,
        name=body.name or body.slug,
        description=body.description,
        settings=snapshot(body.settings),
        version=1,
        created_at=now,
        updated_at=now,
    )
    session.add(router)
    await session.flush()
    _record(session, router, "created", actor, None, _audited(router))
    return router


async def get(session: AsyncSession, organization_id: str, router_id: str) -> ModelRouter | None:
    router = await session.get(ModelRouter, router_id)
    return router if router is not None and router.organization_id == organization_id else None


async def find_by_slug(session: AsyncSession, organization_id: str, slug: str) -> ModelRouter | None:
    found: ModelRouter | None = await session.scalar(
        select(ModelRouter).where(ModelRouter.organization_id == organization_id, ModelRouter.slug == slug)
    )
    return found


async def update(
    session: AsyncSession, router: ModelRouter, body: RouterUpdate, actor: audit.Actor
) -> ModelRouter:
    """Name and description as given; settings merged, a new version when they change."""
    before = _audited(router)
    given = body.model_fields_set
    if body.name is not None:
        router.name = body.name
    if "description" in given:
        router.description = body.description
    if body.settings is not None:
        settings = merged(router.settings, body.settings)
        if settings != router.settings:
            router.settings = settings
            router.version += 1
    after = _audited(router)
    if after != before:
        router.updated_at = utcnow()
        _record(session, router, "updated", actor, before, after)
    await session.flush()
    return router


async def remove(session: AsyncSession, router: ModelRouter, actor: audit.Actor) -> None:
    """Gone with its routing history; its slug is free again."""
    _record(session, router, "deleted", actor, _audited(router), None)
    await session.execute(delete(ModelRouter).where(ModelRouter.id == router.id))


async def page(
    session: AsyncSession, organization_id: str, limit: int, after: After | None
) -> list[ModelRouter]:
    """Newest first, after `(created_at, id)` of the last router served."""
    query = select(ModelRouter).where(ModelRouter.organization_id == organization_id)
    query = newest_first(query, ModelRouter.created_at, ModelRouter.id, limit, after)
    return list(await session.scalars(query))
