"""Two API replicas on one PostgreSQL under a burst of concurrent creates: is any task claimed twice?

The suite checks claims with 120 creates (tests/test_scale_out.py); this runs the issue's 500 and more.
Both replicas share the database, a signing secret and an API key, and run an engine that returns at
once, so only claiming, leases and settling count. Half the creates go to each replica, all at once.
Printed: creates/s, seconds until every task SUCCEEDED, tasks run more than once (the figure that must
be 0), the share each replica ran, and whether the ledger holds exactly one reservation per task.

    python bench/replica_claims.py [--creates 500] [--lease-seconds 30]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO / "tests")]

from support.postgres import start_cluster  # noqa: E402
from support.server import Server  # noqa: E402

INSTANT = "support.engines:InstantImageEngine"
BODY = {"model": "gemini_2.5_flash", "promptText": "a buoy", "ratio": "1024:1024"}


async def create_all(servers: list[Server], creates: int) -> tuple[list[str], float]:
    import httpx

    headers = {"Authorization": f"Bearer {servers[0].key}", "X-Runway-Version": "2024-11-06"}
    limits = httpx.Limits(max_connections=128)
    started = time.perf_counter()
    async with httpx.AsyncClient(headers=headers, timeout=600, limits=limits) as client:
        answers = await asyncio.gather(
            *(client.post(f"{servers[n % 2].base_url}/v1/text_to_image", json=BODY) for n in range(creates))
        )
    elapsed = time.perf_counter() - started
    refused = Counter(answer.status_code for answer in answers if answer.status_code != 200)
    if refused:
        raise SystemExit(f"creates refused: {dict(refused)}")
    return [answer.json()["id"] for answer in answers], elapsed


async def fetch(url: str, query: str, *args: Any) -> list[Any]:
    import asyncpg

    connection = await asyncpg.connect(url)
    try:
        return list(await connection.fetch(query, *args))
    finally:
        await connection.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--creates", type=int, default=500)
    parser.add_argument("--lease-seconds", type=float, default=30.0)
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds to wait for every task")
    args = parser.parse_args()
    os.environ.setdefault("TAXIWAY_CACHE_DIR", tempfile.mkdtemp(prefix="taxiway-bench-cache-"))
    with tempfile.TemporaryDirectory(prefix="taxiway-replicas-") as work, start_cluster("taxiway") as pg:
        database = pg.url("taxiway")
        common = {
            "TAXIWAY_DATABASE_URL": database,
            "TAXIWAY_SIGNING_SECRET": "a-secret-every-replica-shares",
            "TAXIWAY_TASK_LEASE_SECONDS": str(args.lease_seconds),
            "TAXIWAY_BOOTSTRAP_TIER": "5",
            "TAXIWAY_BOOTSTRAP_CREDITS": str(10 * args.creates),
            "TAXIWAY_WORKERS": "4",
            "TAXIWAY_ENGINES": f'{{"gemini_2.5_flash": "{INSTANT}"}}',
        }
        first = Server(Path(work) / "first", env=common).start()
        second = Server(Path(work) / "second", env=common, key=first.key)
        try:
            second.start()
            servers = [first, second]
            load_before = os.getloadavg()[0]
            ids, create_seconds = asyncio.run(create_all(servers, args.creates))
            dsn = database.replace("postgresql+asyncpg", "postgresql")
            deadline = time.monotonic() + args.timeout
            started = time.monotonic()
            while True:
                rows = asyncio.run(
                    fetch(dsn, "SELECT status, attempts, lease_owner FROM tasks WHERE id = ANY($1)", ids)
                )
                if all(row["status"] == "SUCCEEDED" for row in rows) or time.monotonic() > deadline:
                    break
                time.sleep(0.5)
            drained = time.monotonic() - started
            reservations = asyncio.run(
                fetch(
                    dsn,
                    "SELECT task_id, count(*) AS n FROM ledger_entries"
                    " WHERE task_id = ANY($1) GROUP BY task_id",
                    ids,
                )
            )
        finally:
            second.stop()
            first.stop()
    statuses = Counter(row["status"] for row in rows)
    twice = sum(row["attempts"] > 1 for row in rows)
    shares = Counter(str(row["lease_owner"]).rsplit(":", 1)[-1] for row in rows)
    once = sum(row["n"] == 1 for row in reservations)
    print(f"machine: {os.cpu_count()} CPUs, load average {load_before:.1f} before")
    print(f"creates: {args.creates} at once, half on each replica, in {create_seconds:.1f} s "
          f"({args.creates / create_seconds:.0f} creates/s)")  # fmt: skip
    print(f"every task finished {drained:.1f} s after the last create: {dict(statuses)}")
    print(f"tasks run more than once: {twice} (must be 0)")
    print(f"runs per replica (port: tasks): {dict(shares)}")
    print(f"tasks with exactly one ledger entry: {once} of {args.creates}")
    if twice or statuses.get("SUCCEEDED", 0) != args.creates or once != args.creates:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
