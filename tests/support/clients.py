"""Official SDK clients in strict mode, and direct reads of a server's books."""

from __future__ import annotations

import sqlite3

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


def balance(server: Server, organization: str = "default") -> int:
    """An organization's balance as the ledger sums it, read straight from the server's database."""
    with sqlite3.connect(server.data_dir / "taxiway.db") as db:
        row = db.execute(
            "SELECT COALESCE(SUM(l.amount), 0) FROM ledger_entries l JOIN organizations o"
            " ON o.id = l.organization_id WHERE o.name = ?",
            (organization,),
        ).fetchone()
    return int(row[0])
