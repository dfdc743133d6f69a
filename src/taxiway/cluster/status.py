"""The status view of a deployment: the queue in the database, and where engines run (this process, or
the Ray cluster's nodes and actors with the models they keep loaded). Read by `taxiway cluster status`
and the operator API (`GET /operator/cluster`), so both show the same document."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from taxiway.db.tables import Task
from taxiway.status import TaskStatus

# The queue, in the order a task moves through it.
UNFINISHED = (TaskStatus.THROTTLED, TaskStatus.PENDING, TaskStatus.RUNNING)


async def collect(session: AsyncSession, engines: Any) -> dict[str, Any]:
    """The whole view; `engines` is the executor (`engines.executor.Executor`) whose runs it shows."""
    return {"queue": await queue(session), "engines": await engines.describe()}


async def queue(session: AsyncSession) -> dict[str, int]:
    """Tasks not yet finished, by status (THROTTLED, PENDING, RUNNING), across every replica."""
    rows = await session.execute(
        select(Task.status, func.count())
        .where(Task.status.in_([status.value for status in UNFINISHED]))
        .group_by(Task.status)
    )
    counts = {status.value: 0 for status in UNFINISHED}
    counts.update({str(status): int(count) for status, count in rows.all()})
    return counts


def render(document: dict[str, Any]) -> list[tuple[str, list[str], list[list[str]]]]:
    """The document as (title, columns, rows) tables for a terminal."""
    tables = [("Queue", ["status", "tasks"], [[status, str(n)] for status, n in document["queue"].items()])]
    engines = document["engines"]
    if engines["executor"] == "local":
        loaded = ", ".join(engines["engines"]) or "none yet"
        tables.append(
            ("Engines (this process)", ["loaded", "weights"], [[loaded, ", ".join(engines["weights"])]])
        )
        return tables
    nodes = [
        [
            node["id"][:12],
            node["address"],
            "alive" if node["alive"] else "dead",
            _resources(node["resources"]),
        ]
        for node in engines["nodes"]
    ]
    tables.append(
        (f"Ray nodes (namespace {engines['namespace']})", ["node", "address", "state", "resources"], nodes)
    )
    actors = [
        [
            actor["name"],
            str(actor.get("node", ""))[:12],
            ",".join(actor.get("gpus", [])) or "-",
            ", ".join(actor.get("engines", [])) or actor.get("state", "-"),
            ", ".join(actor.get("weights", [])) or "-",
            str(len(actor.get("running", []))),
            str(actor.get("completed", "-")),
        ]
        for actor in engines["actors"]
    ]
    columns = ["actor", "node", "gpus", "engines loaded", "resident weights", "running", "done"]
    tables.append(("Engine actors", columns, actors))
    return tables


def _resources(resources: dict[str, float]) -> str:
    shown = {
        key: value
        for key, value in resources.items()
        if not key.startswith("node:") and key not in ("memory", "object_store_memory")
    }
    return ", ".join(f"{key} {value:g}" for key, value in sorted(shown.items()))
