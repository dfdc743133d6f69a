"""The race for the last credits on PostgreSQL, where the books lock is a real row lock."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from runwayml import BadRequestError

from support.clients import async_sdk, sdk
from support.postgres import postgres_cluster, run_in_thread
from support.server import Server
from taxiway.billing.ledger import INSUFFICIENT_CREDITS

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_server(tmp_path: Path) -> Iterator[Server]:
    """A server on a fresh cluster whose default organization holds 40 credits."""
    with postgres_cluster() as cluster:
        env = {"TAXIWAY_DATABASE_URL": cluster.url("taxiway"), "TAXIWAY_BOOTSTRAP_CREDITS": "40"}
        server = Server(tmp_path / "pg", env=env).start()
        try:
            yield server
        except BaseException:
            print(server.log())
            raise
        finally:
            server.stop()


def test_racing_submissions_never_overdraw(pg_server: Server) -> None:
    async def race() -> list[str | None]:
        async with async_sdk(pg_server) as client:

            async def one() -> str | None:
                try:
                    created = await client.text_to_image.create(
                        model="gen4_image", prompt_text="last credits", ratio="1280:720"
                    )
                except BadRequestError as exc:
                    assert exc.body == {"error": INSUFFICIENT_CREDITS}
                    return None
                return created.id

            return list(await asyncio.gather(*(one() for _ in range(30))))

    accepted = [task_id for task_id in run_in_thread(race) if task_id]
    assert len(accepted) == 8  # 40 credits at 5 each
    client = sdk(pg_server)
    for task_id in accepted:
        task = client.tasks.retrieve(task_id)
        assert task.wait_for_task_output(timeout=60).cost.credits == 5
    assert client.organization.retrieve().credit_balance == 0
    today = datetime.now(UTC).date()
    report = client.organization.retrieve_usage(start_date=today, before_date=today + timedelta(days=1))
    assert report.models == ["gen4_image"]
    [day] = report.results
    assert [(used.model, used.amount) for used in day.used_credits] == [("gen4_image", 40)]
