"""Realtime sessions: the SDK's calls, the browser's /consume, LiveKit tokens, timers and billing.

No LiveKit server runs in tests; the tokens a server mints are checked by verifying and decoding them
with the configured secret, as LiveKit itself would.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from runwayml import BadRequestError, NotFoundError, RunwayML

from conformance.media import png
from support.clients import balance, documented, sdk
from support.server import Server
from taxiway import clock
from taxiway.accounts.repository import Principal, create_organization
from taxiway.api.realtime import RoomAccess, SessionCreated, SessionView, render_session
from taxiway.billing import ledger
from taxiway.config import Settings
from taxiway.db.engine import create_engine, session_factory, upgrade_schema
from taxiway.db.tables import RealtimeSession
from taxiway.realtime import sessions as lifecycle
from taxiway.realtime.sessions import SessionService
from taxiway.storage.signing import UrlSigner

LIVEKIT_URL = "wss://livekit.example.test"
LIVEKIT_KEY = "APItaxiwaytest"
LIVEKIT_SECRET = "s3cr3t-" * 6
PRESET = {"type": "runway-preset", "preset_id": "cooking-teacher"}
LIVEKIT_ENV = {
    "TAXIWAY_LIVEKIT_URL": LIVEKIT_URL,
    "TAXIWAY_LIVEKIT_API_KEY": LIVEKIT_KEY,
    "TAXIWAY_LIVEKIT_API_SECRET": LIVEKIT_SECRET,
}


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server with LiveKit configured, in test mode so the tests can move its clock."""
    server = Server(tmp_path_factory.mktemp("realtime"), env={**LIVEKIT_ENV, "TAXIWAY_TEST_MODE": "1"})
    yield server.start()
    server.stop()


def fresh_org(server: Server, name: str) -> RunwayML:
    """A client of a new organization, whose books no other test touches."""
    return sdk(server, key=server.new_org(name, "--credits", "1000"))


def wait_status(client: RunwayML, session_id: str, *statuses: str, timeout: float = 20) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        session = client.realtime_sessions.retrieve(session_id)
        if session.status in statuses:
            return session
        assert time.monotonic() < deadline, f"session stayed {session.status}"
        time.sleep(0.1)


def consume(server: Server, session_id: str, key: str, **headers: str) -> httpx.Response:
    """As `@runwayml/avatars` does it: the session key as bearer, no X-Runway-Version."""
    return httpx.post(
        f"{server.base_url}/v1/realtime_sessions/{session_id}/consume",
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json", **headers},
    )


def livekit_claims(token: str) -> dict[str, Any]:
    claims: dict[str, Any] = jwt.decode(
        token, LIVEKIT_SECRET, algorithms=["HS256"], options={"require": ["exp", "nbf", "sub", "iss"]}
    )
    assert claims["iss"] == LIVEKIT_KEY
    return claims


def test_create_ready_consume_once(live: Server) -> None:
    client = sdk(live)
    created = client.realtime_sessions.create(model="gwm1_avatars", avatar=PRESET, max_duration=120)
    ready = wait_status(client, created.id, "READY")
    assert ready.session_key.startswith("stk_")
    assert ready.expires_at - ready.created_at >= timedelta(minutes=4)

    origin = "https://app.example.com"
    preflight = httpx.options(
        f"{live.base_url}/v1/realtime_sessions/{created.id}/consume",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type",
        },
    )
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == "*"
    assert "POST" in preflight.headers["access-control-allow-methods"]
    assert "authorization" in preflight.headers["access-control-allow-headers"].lower()

    response = consume(live, created.id, ready.session_key, Origin=origin)
    assert response.status_code == 200, response.text
    assert response.headers["access-control-allow-origin"] == "*"
    body = response.json()
    documented(RoomAccess, body)
    documented(SessionCreated, created)
    documented(SessionView, ready)
    assert body["url"] == LIVEKIT_URL
    assert body["roomName"] == f"session-{created.id}"
    claims = livekit_claims(body["token"])
    assert claims["sub"] == f"user:{created.id}"
    assert claims["video"]["room"] == body["roomName"]
    assert claims["video"]["roomJoin"] is True
    assert (
        claims["video"]["canPublish"]
        and claims["video"]["canSubscribe"]
        and claims["video"]["canPublishData"]
    )
    # Valid until the credentials expire (plus the grace to finish joining), not for hours.
    assert ready.expires_at.timestamp() <= claims["exp"] <= ready.expires_at.timestamp() + 120

    second = consume(live, created.id, ready.session_key)
    assert second.status_code == 409
    assert "already consumed" in second.json()["error"]
    assert second.headers["access-control-allow-origin"] == "*"


def test_consume_needs_the_session_key(live: Server) -> None:
    client = sdk(live)
    created = client.realtime_sessions.create(model="gwm1_avatars", avatar=PRESET)
    ready = wait_status(client, created.id, "READY")
    assert consume(live, created.id, "stk_" + "0" * 64).status_code == 404
    assert consume(live, created.id, live.key).status_code == 404  # an API key is not a session key
    assert consume(live, str(uuid.uuid4()), ready.session_key).status_code == 404
    missing = httpx.post(f"{live.base_url}/v1/realtime_sessions/{created.id}/consume")
    assert missing.status_code == 401 and "session key" in missing.json()["error"]
    assert consume(live, created.id, ready.session_key).status_code == 200  # still unconsumed


def test_connect_backend_gives_a_hidden_participant(live: Server) -> None:
    client = sdk(live)
    created = client.realtime_sessions.create(
        model="gwm1_avatars",
        avatar=PRESET,
        tools=[
            {
                "type": "backend_rpc",
                "name": "lookup_order",
                "description": "Find an order",
                "timeout_seconds": 5,
                "parameters": [
                    {"name": "order_id", "type": "string", "description": "The id", "required": True}
                ],
            }
        ],
    )
    response = httpx.post(
        f"{live.base_url}/v1/realtime_sessions/{created.id}/connect_backend",
        headers={"Authorization": f"Bearer {live.key}", "X-Runway-Version": "2024-11-06"},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    documented(RoomAccess, body)
    assert body["roomName"] == f"session-{created.id}" and body["url"] == LIVEKIT_URL
    claims = livekit_claims(body["token"])
    assert claims["sub"] == f"backend:{created.id}"
    assert claims["video"]["hidden"] is True and claims["video"]["roomJoin"] is True
    assert claims["video"]["canPublishData"] is True and claims["video"]["canPublish"] is False


def test_unconsumed_session_expires_as_no_participant_and_is_refunded(live: Server) -> None:
    client = fresh_org(live, "expiring")
    created = client.realtime_sessions.create(model="gwm1_avatars", avatar=PRESET)
    assert balance(live, "expiring") == 1000 - lifecycle.credits_for(lifecycle.MAX_DURATION_SECONDS)
    ready = wait_status(client, created.id, "READY")
    live.cli("clock", "advance", "6m")
    failed = wait_status(client, created.id, "FAILED")
    assert failed.failure_code == "TALKING_AVATAR.NO_PARTICIPANT"
    assert failed.failure == "No participants joined the session"
    documented(SessionView, failed)
    assert balance(live, "expiring") == 1000
    assert consume(live, created.id, ready.session_key).status_code == 409


def test_delete_cancels_and_refunds(live: Server) -> None:
    client = fresh_org(live, "cancelling")
    created = client.realtime_sessions.create(model="gwm1_avatars", avatar=PRESET, max_duration=60)
    assert balance(live, "cancelling") == 1000 - lifecycle.credits_for(60)
    assert client.realtime_sessions.delete(created.id) is None
    cancelled = client.realtime_sessions.retrieve(created.id)
    assert cancelled.status == "CANCELLED"
    documented(SessionView, cancelled)
    assert balance(live, "cancelling") == 1000
    client.realtime_sessions.delete(created.id)  # a finished session stays as it is
    assert client.realtime_sessions.retrieve(created.id).status == "CANCELLED"
    with pytest.raises(NotFoundError):
        client.realtime_sessions.delete(str(uuid.uuid4()))


def test_custom_avatars_must_be_ready_and_ours(live: Server) -> None:
    client = sdk(live)
    avatar = client.avatars.create(
        name="Host",
        personality="A quiz host.",
        reference_image=png(),
        voice={"type": "runway-live-preset", "preset_id": "max"},
    )
    deadline = time.monotonic() + 20
    while client.avatars.retrieve(avatar.id).status != "READY":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    created = client.realtime_sessions.create(
        model="gwm1_avatars", avatar={"type": "custom", "avatar_id": avatar.id}, personality="Be brief."
    )
    assert wait_status(client, created.id, "READY").status == "READY"

    with pytest.raises(BadRequestError) as info:
        client.realtime_sessions.create(model="gwm1_avatars", avatar={"type": "custom", "avatar_id": "nope"})
    assert info.value.body["issues"][0]["path"] == ["avatar", "avatarId"]

    outsider = fresh_org(live, "session-outsider")
    with pytest.raises(BadRequestError):
        outsider.realtime_sessions.create(
            model="gwm1_avatars", avatar={"type": "custom", "avatar_id": avatar.id}
        )
    with pytest.raises(NotFoundError):
        outsider.realtime_sessions.retrieve(created.id)
    with pytest.raises(NotFoundError):
        outsider.realtime_sessions.delete(created.id)


def test_request_validation(live: Server) -> None:
    client = sdk(live)
    tool = {"type": "client_event", "name": "show", "description": "Show a caption"}
    with pytest.raises(BadRequestError) as info:
        client.realtime_sessions.create(
            model="gwm1_avatars", avatar=PRESET, tools=[{**tool, "name": "1show"}]
        )
    assert info.value.body["issues"][0]["path"] == ["tools", 0, "name"]
    with pytest.raises(BadRequestError):
        client.realtime_sessions.create(model="gwm1_avatars", avatar=PRESET, tools=[tool, tool])
    with pytest.raises(BadRequestError):
        client.realtime_sessions.create(model="gwm1_avatars", avatar=PRESET, max_duration=301)
    with pytest.raises(BadRequestError):
        client.realtime_sessions.create(
            model="gwm1_avatars",
            avatar={"type": "runway-preset", "preset_id": "pirate"},  # type: ignore[typeddict-item]
        )
    every_type = [
        {"name": "s", "type": "string", "description": "d", "enum": ["a", "b"], "required": True},
        {"name": "i", "type": "integer", "description": "d"},
        {"name": "n", "type": "number", "description": "d"},
        {"name": "b", "type": "boolean", "description": "d"},
        {"name": "a", "type": "array", "description": "d", "items": {"type": "string"}},
        {"name": "o", "type": "object", "description": "d", "properties": [{"name": "x"}]},
    ]
    created = client.realtime_sessions.create(
        model="gwm1_avatars", avatar=PRESET, tools=[{**tool, "name": "_show_2", "parameters": every_type}]
    )
    assert wait_status(client, created.id, "READY")
    with pytest.raises(BadRequestError):
        client.realtime_sessions.create(
            model="gwm1_avatars",
            avatar=PRESET,
            tools=[{**tool, "parameters": [{"name": "a", "type": "array", "description": "d"}]}],
        )


def test_integrations(live: Server, server: Server) -> None:
    room = {"url": "wss://customer.example.test", "token": "customer-token", "room_name": "their-room"}
    # Bring-your-own room: works even where taxiway has no LiveKit of its own.
    for target in (live, server):
        client = sdk(target)
        created = client.realtime_sessions.create(
            model="gwm1_avatars", avatar=PRESET, integration={"type": "livekit", **room}
        )
        settled = wait_status(client, created.id, "READY", "FAILED")
        if settled.status == "READY":
            assert consume(target, created.id, settled.session_key).status_code == 409  # nothing to consume
        # At READY the avatar joins the customer's room at once; this one does not exist.
        failed = wait_status(client, created.id, "FAILED", timeout=60)
        assert failed.failure_code == "TALKING_AVATAR.CONNECT_FAILED"
        deprecated = client.realtime_sessions.create(model="gwm1_avatars", avatar=PRESET, livekit=room)
        assert wait_status(client, deprecated.id, "READY", "FAILED")
    client = sdk(live)
    with pytest.raises(BadRequestError):
        client.realtime_sessions.create(
            model="gwm1_avatars", avatar=PRESET, integration={"type": "livekit", **room}, livekit=room
        )
    with pytest.raises(BadRequestError) as info:
        client.realtime_sessions.create(
            model="gwm1_avatars", avatar=PRESET, integration={"type": "livekit", **room, "url": "ftp://x"}
        )
    assert info.value.body["issues"][0]["path"] == ["integration", "url"]
    eleven = client.realtime_sessions.create(
        model="gwm1_avatars",
        avatar=PRESET,
        integration={"type": "elevenlabs", "signed_url": "wss://el.example"},
    )
    failed = wait_status(client, eleven.id, "FAILED")
    assert failed.failure_code == "TALKING_AVATAR.INTEGRATION_UNSUPPORTED"


def test_without_livekit_sessions_are_refused_clearly(server: Server) -> None:
    with pytest.raises(BadRequestError) as info:
        sdk(server).realtime_sessions.create(model="gwm1_avatars", avatar=PRESET)
    assert "LiveKit" in info.value.body["error"]
    assert "TAXIWAY_LIVEKIT_URL" in info.value.body["error"]


def test_sessions_survive_a_restart(tmp_path: Path) -> None:
    server = Server(tmp_path / "restart", env=LIVEKIT_ENV).start()
    try:
        client = sdk(server)
        created = client.realtime_sessions.create(model="gwm1_avatars", avatar=PRESET)
        ready = wait_status(client, created.id, "READY")
        server.stop()
        server.start()
        again = sdk(server).realtime_sessions.retrieve(created.id)
        assert again.status == "READY" and again.session_key == ready.session_key
        assert consume(server, created.id, ready.session_key).status_code == 200
    finally:
        server.stop()


# -- the worker's side of the lifecycle, in process


@pytest.fixture
async def service(tmp_path: Path) -> AsyncIterator[tuple[SessionService, Principal]]:
    settings = Settings(
        data_dir=tmp_path,
        livekit_url=LIVEKIT_URL,
        livekit_api_key=LIVEKIT_KEY,
        livekit_api_secret=LIVEKIT_SECRET,  # type: ignore[arg-type]
    )
    engine = create_engine(settings.resolved_database_url)
    await upgrade_schema(engine)
    sessions = session_factory(engine)
    async with sessions.begin() as session:
        org = await create_organization(session, "worker-org", 1, 1_000)
    yield SessionService(sessions, settings, UrlSigner(b"k" * 32)), Principal(org.id, "key", 1)
    clock.set_offset(0)
    await engine.dispose()


async def _balance(service: SessionService, organization_id: str) -> int:
    async with service.sessions() as session:
        return await ledger.balance(session, organization_id)


async def _row(service: SessionService, session_id: str) -> RealtimeSession:
    async with service.sessions() as session:
        row = await session.get(RealtimeSession, session_id)
    assert row is not None
    return row


async def _running(service: SessionService, principal: Principal, max_duration: int = 300) -> str:
    params = {"model": "gwm1_avatars", "avatar": {"type": "runway-preset", "presetId": "influencer"}}
    row = await service.create(principal, {**params, "maxDuration": max_duration})
    views = [render_session(row, service)]
    await service.tick()
    assert (await _row(service, row.id)).status == "READY"
    await service.mark_running(row.id)
    running = await _row(service, row.id)
    assert running.status == "RUNNING"
    documented(SessionView, *views, render_session(running, service))
    return row.id


async def test_worker_completion_charges_the_seconds_that_ran(
    service: tuple[SessionService, Principal],
) -> None:
    sessions, principal = service
    session_id = await _running(sessions, principal, max_duration=300)
    assert await _balance(sessions, principal.organization_id) == 1_000 - lifecycle.credits_for(300)
    plan = await sessions.plan(session_id)
    assert plan is not None and plan.persona.name == "Jade" and not plan.integration
    assert livekit_claims(plan.access.token)["sub"] == f"worker:{session_id}"

    await sessions.complete(session_id, 90)
    row = await _row(sessions, session_id)
    assert (row.status, row.duration, row.cost_credits) == ("COMPLETED", 90, lifecycle.credits_for(90))
    documented(SessionView, render_session(row, sessions))
    assert await _balance(sessions, principal.organization_id) == 1_000 - lifecycle.credits_for(90)
    await sessions.fail(session_id, "X", "late")  # terminal stays terminal
    assert (await _row(sessions, session_id)).status == "COMPLETED"
    assert await sessions.plan(session_id) is None


async def test_max_duration_ends_a_running_session(service: tuple[SessionService, Principal]) -> None:
    sessions, principal = service
    session_id = await _running(sessions, principal, max_duration=60)
    await sessions.tick()
    assert (await _row(sessions, session_id)).status == "RUNNING"
    clock.set_offset(61)
    await sessions.tick()
    row = await _row(sessions, session_id)
    assert (row.status, row.duration) == ("COMPLETED", 60)
    assert await _balance(sessions, principal.organization_id) == 1_000 - lifecycle.credits_for(60)


async def test_failures_before_running_cost_nothing(service: tuple[SessionService, Principal]) -> None:
    sessions, principal = service
    params = {"model": "gwm1_avatars", "avatar": {"type": "runway-preset", "presetId": "influencer"}}
    row = await sessions.create(principal, params)
    await sessions.tick()
    await sessions.fail(row.id, "TALKING_AVATAR.CONNECT_FAILED", "Could not join the room")
    failed = await _row(sessions, row.id)
    assert (failed.status, failed.failure_code, failed.cost_credits) == (
        "FAILED",
        "TALKING_AVATAR.CONNECT_FAILED",
        0,
    )
    assert await _balance(sessions, principal.organization_id) == 1_000


async def test_running_sessions_left_by_a_crash_end_at_start_up(
    service: tuple[SessionService, Principal],
) -> None:
    sessions, principal = service
    session_id = await _running(sessions, principal)
    restarted = SessionService(sessions.sessions, sessions.settings, sessions.signer)
    await restarted.start()
    await restarted.stop()
    row = await _row(sessions, session_id)
    assert (row.status, row.failure_code) == ("FAILED", lifecycle.INTERRUPTED_CODE)
    assert await _balance(sessions, principal.organization_id) == 1_000


async def test_clean_shutdown_completes_running_sessions(service: tuple[SessionService, Principal]) -> None:
    sessions, principal = service
    session_id = await _running(sessions, principal)
    clock.set_offset(30)
    await sessions.stop()
    row = await _row(sessions, session_id)
    assert (row.status, row.duration, row.cost_credits) == ("COMPLETED", 30, lifecycle.credits_for(30))
