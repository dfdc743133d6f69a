"""Published workflow versions: what the CLI, the startup directory sync and the API read and write.

Versions of a name are numbered from 1 within a scope: every organization (no organization given), or
one organization, whose own versions of a name it sees besides the shared ones.
"""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from taxiway.clock import utcnow
from taxiway.db.tables import Workflow
from taxiway.workflows.graph import Definition, GraphError, Problem, parse

log = logging.getLogger("taxiway.workflows")


@dataclass(frozen=True)
class Added:
    workflow: Workflow
    # False when the newest version already had this exact graph and description.
    created: bool


def _scope(organization_id: str | None) -> object:
    return (
        Workflow.organization_id.is_(None)
        if organization_id is None
        else (Workflow.organization_id == organization_id)
    )


async def newest(session: AsyncSession, name: str, organization_id: str | None) -> Workflow | None:
    return await session.scalar(
        select(Workflow)
        .where(Workflow.name == name, _scope(organization_id))  # type: ignore[arg-type]
        .order_by(Workflow.version.desc())
        .limit(1)
    )


async def add_version(session: AsyncSession, definition: Definition, organization_id: str | None) -> Added:
    """Publish `definition` as the next version of its name, unless the newest version is identical."""
    graph = definition.graph.dump()
    latest = await newest(session, definition.name, organization_id)
    if latest is not None and latest.graph == graph and latest.description == definition.description:
        return Added(latest, created=False)
    now = utcnow()
    row = Workflow(
        id=str(uuid.uuid4()),
        organization_id=organization_id,
        name=definition.name,
        version=(latest.version + 1) if latest else 1,
        description=definition.description,
        graph=graph,
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    await session.flush()
    return Added(row, created=True)


def _visible(organization_id: str) -> object:
    return or_(Workflow.organization_id.is_(None), Workflow.organization_id == organization_id)


async def visible(session: AsyncSession, organization_id: str) -> list[Workflow]:
    """Every version an organization may run, by name, newest version first."""
    rows = await session.scalars(
        select(Workflow)
        .where(_visible(organization_id))  # type: ignore[arg-type]
        .order_by(Workflow.name, Workflow.organization_id, Workflow.version.desc())
    )
    return list(rows)


async def get_visible(session: AsyncSession, organization_id: str, workflow_id: str) -> Workflow | None:
    return await session.scalar(
        select(Workflow).where(Workflow.id == workflow_id, _visible(organization_id))  # type: ignore[arg-type]
    )


async def all_versions(session: AsyncSession) -> list[Workflow]:
    rows = await session.scalars(select(Workflow).order_by(Workflow.name, Workflow.version.desc()))
    return list(rows)


async def find(
    session: AsyncSession, name_or_id: str, organization_id: str | None, version: int | None = None
) -> list[Workflow]:
    """Versions named by id, or by name in a scope (one version, or all of them)."""
    by_id = await session.get(Workflow, name_or_id)
    if by_id is not None:
        return [by_id] if version in (None, by_id.version) else []
    query = select(Workflow).where(Workflow.name == name_or_id, _scope(organization_id))  # type: ignore[arg-type]
    if version is not None:
        query = query.where(Workflow.version == version)
    return list(await session.scalars(query.order_by(Workflow.version.desc())))


async def remove(session: AsyncSession, rows: list[Workflow]) -> int:
    """Unpublish versions. Invocations keep their own copy of the graph and run on."""
    if not rows:
        return 0
    await session.execute(delete(Workflow).where(Workflow.id.in_([row.id for row in rows])))
    return len(rows)


async def count(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count(Workflow.id))) or 0)


def load_file(path: Path) -> Definition:
    """A definition file, parsed and validated; GraphError names the file's problems."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise GraphError([Problem((), f"not a readable JSON file ({exc})")], path.name) from None
    try:
        return parse(data)
    except GraphError as exc:
        raise GraphError(exc.problems, path.name) from None


def load_directory(directory: Path) -> list[Definition]:
    """Every `*.json` definition of a folder, all checked: one bad file is an error naming it."""
    return [load_file(path) for path in sorted(directory.glob("*.json"))]


async def publish_all(session: AsyncSession, definitions: list[Definition]) -> list[Added]:
    """Publish each definition whose content is new, shared by every organization."""
    added = [await add_version(session, definition, None) for definition in definitions]
    for result in added:
        if result.created:
            log.info("workflow %r version %d published", result.workflow.name, result.workflow.version)
    return added
