"""Official SDK clients in strict mode, and direct reads of a server's books."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
import pytest
import runwayml.lib.polling
from pydantic import TypeAdapter
from runwayml import AsyncRunwayML, RunwayML

from support.server import Server


def sdk(server: Server, key: str | None = None, **options: object) -> RunwayML:
    return RunwayML(
        base_url=server.base_url,
        api_key=key or server.key,
        _strict_response_validation=True,
        max_retries=0,
        **options,  # type: ignore[arg-type]
    )


def async_sdk(server: Server, key: str | None = None) -> AsyncRunwayML:
    return AsyncRunwayML(
        base_url=server.base_url, api_key=key or server.key, _strict_response_validation=True, max_retries=0
    )


def documented(shape: Any, *answers: Any) -> None:
    """Each answer (an SDK object or raw JSON) is what /openapi.json documents for its route, field for
    field: `shape` is the route's `response_model`, which forbids fields it does not list."""
    adapter = TypeAdapter(shape)
    for answer in answers:
        adapter.validate_python(answer.to_dict() if hasattr(answer, "to_dict") else answer)


def balance(server: Server, organization: str = "default") -> int:
    """An organization's balance as the ledger sums it, read straight from the server's database."""
    with sqlite3.connect(server.data_dir / "taxiway.db") as db:
        row = db.execute(
            "SELECT COALESCE(SUM(l.amount), 0) FROM ledger_entries l JOIN organizations o"
            " ON o.id = l.organization_id WHERE o.name = ?",
            (organization,),
        ).fetchone()
    return int(row[0])


@dataclass(frozen=True)
class Delivered:
    estimated: float
    cost: int
    files: list[tuple[str, bytes]]  # (content type, body) per output URL


Key = TypeVar("Key")


def delivered(created: Mapping[Key, Any], timeout: float) -> dict[Key, Delivered]:
    """Every created task waited for (polled every 0.2 s, not the SDK's seconds) and its outputs
    downloaded, with what it was estimated at and what it cost."""
    results = {}
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(runwayml.lib.polling, "POLL_TIME", 0.2)
        patch.setattr(runwayml.lib.polling, "POLL_JITTER", 0.0)
        for key, task in created.items():
            done = task.wait_for_task_output(timeout=timeout)
            files = []
            for url in done.output:
                response = httpx.get(url, timeout=60)
                assert response.status_code == 200
                files.append((response.headers["content-type"], response.content))
            results[key] = Delivered(task.estimated_cost.credits, done.cost.credits, files)
    return results
