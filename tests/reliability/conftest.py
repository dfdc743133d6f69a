"""The reliability suite's servers: the same API on SQLite and on PostgreSQL, loopback only."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from support.postgres import postgres_cluster
from support.server import Server


@pytest.fixture(scope="module")
def postgres_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with postgres_cluster() as cluster:
        server = Server(
            tmp_path_factory.mktemp("pg-server"), env={"TAXIWAY_DATABASE_URL": cluster.url("taxiway")}
        )
        yield server.start()
        server.stop()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> Server:
    """Each test that takes it runs once per database."""
    name = "server" if request.param == "sqlite" else "postgres_server"
    found: Server = request.getfixturevalue(name)
    return found
