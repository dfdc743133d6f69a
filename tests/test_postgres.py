"""The same migrations and the same API on a real PostgreSQL server, started for this module."""

from __future__ import annotations

import asyncio
import io
import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from alembic import command
from alembic.script import ScriptDirectory
from PIL import Image
from runwayml import NotFoundError

from support.clients import async_sdk, sdk
from support.postgres import PostgresCluster, postgres_cluster, run_in_thread
from support.server import Server
from taxiway.db.engine import alembic_config

pytestmark = pytest.mark.postgres

TABLES = {
    "organizations", "settings", "api_keys", "ledger_entries", "tasks",
    "documents", "avatars", "avatar_documents", "realtime_sessions",
    "avatar_conversations", "avatar_conversation_turns", "voices",
    "workflows", "workflow_invocations", "workflow_node_runs", "idempotency_keys",
    "audit_events", "model_routers", "router_requests", "model_run_times", "usage_days",
}  # fmt: skip
BOOTSTRAP_CREDITS = 10_000  # Settings.bootstrap_credits by default

_database_numbers = itertools.count()


@pytest.fixture(scope="module")
def cluster() -> Iterator[PostgresCluster]:
    with postgres_cluster(database=None) as running:
        yield running


@pytest.fixture
def database_url(cluster: PostgresCluster) -> str:
    """A fresh, empty database per test."""
    return cluster.create_database(f"taxiway_{next(_database_numbers)}")


def query(url: str, sql: str, *args: object) -> list[tuple[Any, ...]]:
    import asyncpg

    dsn = url.replace("postgresql+asyncpg://", "postgresql://", 1)

    async def fetch() -> list[tuple[Any, ...]]:
        connection = await asyncpg.connect(dsn)
        try:
            return [tuple(row) for row in await connection.fetch(sql, *args)]
        finally:
            await connection.close()

    return run_in_thread(fetch)


def tables(url: str) -> set[str]:
    rows = query(url, "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'")
    return {str(row[0]) for row in rows}


def ledger_balance(url: str, organization: str = "default") -> int:
    rows = query(
        url,
        "SELECT COALESCE(SUM(l.amount), 0) FROM ledger_entries l JOIN organizations o"
        " ON o.id = l.organization_id WHERE o.name = $1",
        organization,
    )
    return int(rows[0][0])


def download_png(url: str) -> Image.Image:
    response = httpx.get(url, timeout=10)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/png"
    image = Image.open(io.BytesIO(response.content))
    image.load()
    assert image.format == "PNG"
    return image


def test_migrations_up_down_up(database_url: str) -> None:
    # env.py runs `asyncio.run` when given a URL: this is a sync test, with no event loop running.
    config = alembic_config(database_url)
    command.upgrade(config, "head")
    assert tables(database_url) == TABLES | {"alembic_version"}
    head = ScriptDirectory.from_config(config).get_current_head()
    assert query(database_url, "SELECT version_num FROM alembic_version") == [(head,)]

    command.downgrade(config, "base")
    assert tables(database_url) & TABLES == set()
    assert query(database_url, "SELECT version_num FROM alembic_version") == []

    command.upgrade(config, "head")
    assert tables(database_url) == TABLES | {"alembic_version"}
    indexes = {
        str(row[0])
        for row in query(database_url, "SELECT indexname FROM pg_indexes WHERE schemaname = 'public'")
    }
    assert {
        "ix_api_keys_organization",
        "ix_ledger_org_created",
        "ix_tasks_org_model_status",
        "ix_tasks_status_created",
        "ix_tasks_org_model_created",
        "ix_tasks_org_created",
    } <= indexes


def test_api_flow_and_restart(database_url: str, tmp_path: Path) -> None:
    server = Server(tmp_path / "pg", env={"TAXIWAY_DATABASE_URL": database_url})
    try:
        server.start()
        assert not (server.data_dir / "taxiway.db").exists(), "the server fell back to SQLite"
        client = sdk(server)
        task = client.text_to_image.create(
            model="gen4_image", prompt_text="a lighthouse on a cliff at dusk", ratio="1920:1080"
        ).wait_for_task_output(timeout=60)
        assert task.status == "SUCCEEDED"
        assert len(task.output) == 1
        assert download_png(task.output[0]).size == (1920, 1080)
        assert ledger_balance(database_url) == BOOTSTRAP_CREDITS - task.cost.credits

        client.tasks.delete(task.id)
        with pytest.raises(NotFoundError):
            client.tasks.retrieve(task.id)

        server.stop()
        server.start()
        client = sdk(server)
        again = client.text_to_image.create(
            model="gen4_image", prompt_text="the same lighthouse, at dawn", ratio="1280:720"
        ).wait_for_task_output(timeout=60)
        assert again.status == "SUCCEEDED"
        assert download_png(again.output[0]).size == (1280, 720)
        with pytest.raises(NotFoundError):
            client.tasks.retrieve(task.id)
        assert ledger_balance(database_url) == BOOTSTRAP_CREDITS - task.cost.credits - again.cost.credits
    except BaseException:
        print(server.log())
        raise
    finally:
        server.stop()


def test_concurrent_tasks_balance_the_ledger(database_url: str, tmp_path: Path) -> None:
    server = Server(tmp_path / "pg", env={"TAXIWAY_DATABASE_URL": database_url}).start()
    try:

        async def submit_all() -> list[int]:
            async with async_sdk(server) as client:

                async def one(index: int) -> int:
                    created = await client.text_to_image.create(
                        model="gen4_image", prompt_text=f"a paper boat, number {index}", ratio="1024:1024"
                    )
                    task = await created.wait_for_task_output(timeout=60)
                    assert task.status == "SUCCEEDED", task
                    return task.cost.credits

                return list(await asyncio.gather(*(one(index) for index in range(8))))

        costs = run_in_thread(submit_all)
        assert len(costs) == 8 and all(cost > 0 for cost in costs)
        assert ledger_balance(database_url) == BOOTSTRAP_CREDITS - sum(costs)
    except BaseException:
        print(server.log())
        raise
    finally:
        server.stop()
