"""SQLite's inline paths (`db.sessions`, `db.point_reads`): the same answers as SQLAlchemy's engine,
and no turn of the event loop spent closing."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from taxiway.accounts.repository import create_organization
from taxiway.clock import utcnow
from taxiway.db.engine import create_engine, session_factory, upgrade_schema
from taxiway.db.point_reads import EngineReads, SqliteReads, point_reads
from taxiway.db.tables import Organization, Task
from taxiway.tasks import repository


@pytest.fixture
async def database(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'taxiway.db'}")
    await upgrade_schema(engine)
    yield engine
    await engine.dispose()


def task_row(organization_id: str, status: str, **values: Any) -> Task:
    now = utcnow()
    row: dict[str, Any] = dict(
        id=str(uuid.uuid4()), organization_id=organization_id, api_key_id=None, endpoint="text_to_image",
        model="gen4_image", status=status, params={"promptText": "é ✓"}, seed=7, estimated_credits=5,
        cost_credits=None, progress=0.0, attempts=0, created_at=now - timedelta(microseconds=1234),
        updated_at=now,
    )  # fmt: skip
    return Task(**{**row, **values})


async def test_point_reads_answer_as_the_engine_and_see_each_commit(database: AsyncEngine) -> None:
    sessions: async_sessionmaker[Any] = session_factory(database)
    async with sessions.begin() as session:
        organization = await create_organization(session, "org", 1, 0)
        other = await create_organization(session, "other", 1, 0)
        tasks = [
            task_row(organization.id, "RUNNING", progress=0.25),
            task_row(organization.id, "SUCCEEDED", cost_credits=5, progress=1.0,
                     outputs={"files": [{"key": "tasks/x/output.png", "contentType": "image/png"}]}),
            task_row(organization.id, "FAILED", cost_credits=0, failure="no", failure_code="INTERNAL"),
            task_row(organization.id, "PENDING", deleted_at=utcnow()),
            task_row(other.id, "PENDING"),
        ]  # fmt: skip
        session.add_all(tasks)
    reads = point_reads(database)
    assert isinstance(reads, SqliteReads)
    engine = EngineReads(database)
    try:
        for task in tasks:
            inline = await repository.read_view(reads, organization.id, task.id)
            assert inline == await repository.read_view(engine, organization.id, task.id)
            if task.organization_id != organization.id or task.deleted_at is not None:
                assert inline is None  # another organization's, or deleted: invisible
            else:
                assert inline is not None
                assert (inline.created_at, inline.outputs) == (task.created_at, task.outputs)
                assert inline.created_at.tzinfo is not None
        async with sessions.begin() as session:
            await session.execute(update(Task).where(Task.id == tasks[0].id).values(progress=0.5))
        moved = await repository.read_view(reads, organization.id, tasks[0].id)
        assert moved is not None and moved.progress == 0.5
    finally:
        await reads.close()


async def test_a_point_read_that_sqlite_refuses_goes_through_the_engine(
    database: AsyncEngine, tmp_path: Path
) -> None:
    async with session_factory(database).begin() as session:
        organization = await create_organization(session, "org", 1, 0)
        task = task_row(organization.id, "PENDING")
        session.add(task)
    reads = SqliteReads(database, str(tmp_path))  # a folder: SQLite cannot open it
    read = await repository.read_view(reads, organization.id, task.id)
    assert read is not None and read.id == task.id


async def test_sqlite_transactions_close_without_a_turn_of_the_event_loop(database: AsyncEngine) -> None:
    """The one connection is checked in when the block ends, not a task later: others never queue
    behind a close (SQLAlchemy closes in a task of its own, for backends whose close can suspend)."""
    sessions: async_sessionmaker[Any] = session_factory(database)
    turns: list[str] = []
    async with sessions.begin() as session:
        await create_organization(session, "org", 1, 0)
        asyncio.get_running_loop().call_soon(turns.append, "turn")
    assert turns == [] and database.pool.checkedout() == 0  # type: ignore[attr-defined]
    async with sessions() as session:
        await session.get(Task, "none")
        asyncio.get_running_loop().call_soon(turns.append, "turn")
    assert turns == [] and database.pool.checkedout() == 0  # type: ignore[attr-defined]
    with pytest.raises(RuntimeError):
        async with sessions.begin() as session:
            await create_organization(session, "rolled back", 1, 0)
            raise RuntimeError
    async with sessions() as session:
        assert await session.scalar(select(Organization.id).where(Organization.name == "rolled back")) is None
    assert database.pool.checkedout() == 0  # type: ignore[attr-defined]
