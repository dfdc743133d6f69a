"""The asset intake's network policy guards every URL a client chooses, realtime rooms included.

A realtime session's `integration.url` is the customer's LiveKit room, which the avatar worker joins
at once. Pointed at the server's own network it was a port scanner (refused connections and failed TLS
handshakes told apart in `failure`). Here the real LiveKit SDK is the worker's room, and a listener
on loopback counts every connection that reaches it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from runwayml import BadRequestError

from support.clients import sdk
from support.server import Server
from taxiway.config import Settings
from taxiway.realtime.launcher import OfflineWorkerLauncher
from taxiway.realtime.livekit_tokens import RoomGrant
from taxiway.realtime.sessions import AvatarPersona, SessionPlan
from taxiway.realtime.worker import CONNECT_FAILED_CODE, WorkerOptions
from taxiway.storage.blobs import LocalBlobStore

PRESET = {"type": "runway-preset", "preset_id": "cooking-teacher"}


@dataclass
class Listener:
    """A TCP port on loopback that counts the connections it accepts."""

    port: int = 0
    accepted: int = 0
    server: asyncio.Server | None = field(default=None, repr=False)

    async def _accept(self, _reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        writer.close()


@pytest.fixture
async def listener() -> AsyncIterator[Listener]:
    found = Listener()
    found.server = await asyncio.start_server(found._accept, "127.0.0.1", 0)
    found.port = found.server.sockets[0].getsockname()[1]
    yield found
    found.server.close()
    await found.server.wait_closed()


@dataclass
class Sessions:
    """The part of the session service a launcher calls: the plan, and where failures go."""

    url: str
    failures: list[tuple[str, str]] = field(default_factory=list)

    async def plan(self, session_id: str) -> SessionPlan:
        persona = AvatarPersona(
            "Ada", "helpful", None, {"type": "runway-live-preset", "presetId": "clara"}, None, []
        )
        return SessionPlan(
            session_id=session_id,
            organization_id="org",
            access=RoomGrant(self.url, "customer-token", "their-room"),
            integration=True,
            agent_identity=None,
            persona=persona,
            documents=[],
            tools=[],
            max_duration=10,
        )

    async def fail(self, session_id: str, code: str, message: str) -> None:
        self.failures.append((code, message))

    async def mark_running(self, session_id: str) -> None:
        raise AssertionError("the worker must not get as far as the room")

    async def complete(self, session_id: str, duration_seconds: int) -> None:
        raise AssertionError("the worker must not get as far as the room")

    @property
    def sessions(self) -> Any:
        return None


async def _run(tmp_path: Path, url: str, **settings: Any) -> Sessions:
    """One worker launch for a session whose integration room is `url`, through the real LiveKit SDK."""
    service = Sessions(url)
    launcher = OfflineWorkerLauncher(
        service,  # type: ignore[arg-type]
        LocalBlobStore(tmp_path / "blobs"),
        Settings(data_dir=tmp_path, **settings),
        options=WorkerOptions(join_timeout_seconds=1),
    )
    await launcher._run("session-1")
    return service


@pytest.mark.parametrize("host", ["rooms.example.test", "127.0.0.1", "[::1]"])
async def test_a_room_url_into_the_private_network_is_refused_unconnected(
    tmp_path: Path, listener: Listener, host: str
) -> None:
    # The name resolves to loopback (fixed DNS answers, as an operator's split-horizon DNS would give).
    url = f"wss://{host}:{listener.port}/"
    service = await _run(tmp_path, url, asset_host_overrides={"rooms.example.test": "127.0.0.1"})
    assert listener.accepted == 0
    [(code, message)] = service.failures
    assert code == CONNECT_FAILED_CODE
    assert "private" in message or "domain" in message


async def test_the_same_room_is_joined_where_private_networks_are_allowed(
    tmp_path: Path, listener: Listener
) -> None:
    """The listener does see the SDK's connection when the policy lets it through (the check above is
    what kept it away), and the failure that follows says nothing about what answered."""
    service = await _run(tmp_path, f"ws://127.0.0.1:{listener.port}/", allow_private_networks=True)
    assert listener.accepted >= 1
    [(code, message)] = service.failures
    assert code == CONNECT_FAILED_CODE
    assert message == "Could not join the room."


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("wss://127.0.0.1:7880", "domain"),
        ("wss://[::1]/rtc", "domain"),
        ("wss://2130706433/", "domain"),
        ("wss://user:secret@rooms.example.com", "credentials"),
        ("ws://rooms.example.com", "wss://"),
        ("http://rooms.example.com", "wss://"),
    ],
)
def test_room_urls_are_checked_at_submission(server: Server, url: str, reason: str) -> None:
    client = sdk(server)
    for integration in (
        {"type": "livekit", "url": url, "token": "t", "room_name": "r"},
        {"type": "elevenlabs", "signed_url": url},
    ):
        with pytest.raises(BadRequestError) as info:
            client.realtime_sessions.create(model="gwm1_avatars", avatar=PRESET, integration=integration)
        [issue] = info.value.body["issues"]
        key = "url" if integration["type"] == "livekit" else "signedUrl"
        assert issue["path"] == ["integration", key]
        assert reason in issue["message"]
