"""Shared fixtures: live servers in subprocesses and official SDK clients pointed at them."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import runwayml.lib.polling
import trustme
from hypothesis import settings
from runwayml import RunwayML

from support.clients import sdk
from support.https_assets import AssetServer
from support.ray_cluster import RayCluster, ray_cluster
from support.seaweed import S3Server, seaweed_s3
from support.server import OPERATOR_TOKEN, Server

# CI runs every property test on the same examples, so a red build always reproduces.
settings.register_profile("ci", derandomize=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


@pytest.fixture(autouse=True)
def fast_sdk_polling(monkeypatch: pytest.MonkeyPatch) -> None:
    """The SDK polls every 6 s ± 1.5 s; the tests keep its logic and shorten the wait."""
    monkeypatch.setattr(runwayml.lib.polling, "POLL_TIME", 0.2)
    monkeypatch.setattr(runwayml.lib.polling, "POLL_JITTER", 0.0)


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One shared server with the default offline engines."""
    srv = Server(tmp_path_factory.mktemp("server")).start()
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def operator_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A shared test-mode server with the operator API on (token `support.server.OPERATOR_TOKEN`)."""
    srv = Server(
        tmp_path_factory.mktemp("operator-server"),
        env={"TAXIWAY_OPERATOR_TOKEN": OPERATOR_TOKEN, "TAXIWAY_TEST_MODE": "1"},
    ).start()
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def s3() -> Iterator[S3Server]:
    """One SeaweedFS S3 endpoint for the session (bucket `taxiway`); tests keep to prefixes of their own."""
    with seaweed_s3() as server:
        yield server


@pytest.fixture(scope="session")
def ray_nodes() -> Iterator[RayCluster]:
    """One local Ray cluster for the session: a head and a worker node with a GPU and an `A100`
    resource declared; tests may add nodes. Tests use a Ray namespace of their own."""
    with ray_cluster() as cluster:
        yield cluster


@pytest.fixture
def make_server(tmp_path: Path) -> Iterator[Callable[..., Server]]:
    """Servers of a test's own, e.g. with slow engines; all stopped when the test ends."""
    started: list[Server] = []

    def make(**env: str) -> Server:
        index = len(started)
        srv = Server(tmp_path / f"server{index}", env=dict(env))
        started.append(srv.start())
        return srv

    yield make
    for srv in started:
        srv.stop()


@pytest.fixture
def assets_server(tmp_path: Path) -> Iterator[tuple[AssetServer, Path]]:
    """A local HTTPS asset host with its own CA, and the CA bundle a taxiway server must trust."""
    ca = trustme.CA()
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    server = AssetServer(ca).start()
    yield server, bundle
    server.stop()


@pytest.fixture
def client(server: Server) -> RunwayML:
    return sdk(server)
