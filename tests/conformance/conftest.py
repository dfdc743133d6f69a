"""Conformance fixtures: one server, an organization with room to run every variant at once."""

from __future__ import annotations

import pytest
from runwayml import RunwayML

from support.clients import sdk
from support.server import Server


@pytest.fixture(scope="session")
def conformance_key(server: Server) -> str:
    server.cli("orgs", "create", "conformance", "--tier", "5", "--credits", "10000000")
    return server.cli("keys", "create", "--org", "conformance").strip()


@pytest.fixture
def conformance_client(server: Server, conformance_key: str) -> RunwayML:
    # A busy machine may take long to answer a call: wait on the server, not on the SDK's 60 s default.
    return sdk(server, key=conformance_key, timeout=600)
