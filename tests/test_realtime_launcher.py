"""The session service and the worker wired together: consume starts the avatar, the call's end is billed.

A fake room stands in for LiveKit (no server can run in CI); the speech is the tone code of
`support.speech_doubles`, so audio really flows through the worker.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from support.fake_room import FakeRoom
from support.speech_doubles import ToneSynthesizer, ToneTranscriber, decode
from taxiway import clock
from taxiway.accounts.repository import Principal, create_organization
from taxiway.config import Settings
from taxiway.db.engine import create_engine, session_factory, upgrade_schema
from taxiway.db.tables import RealtimeSession
from taxiway.realtime import sessions as lifecycle
from taxiway.realtime.launcher import OfflineWorkerLauncher
from taxiway.realtime.sessions import SessionService
from taxiway.storage.blobs import LocalBlobStore
from taxiway.storage.signing import UrlSigner


class ToneSpeech:
    def __init__(self) -> None:
        self.synthesizer, self.transcriber = ToneSynthesizer(), ToneTranscriber()

    def synthesize(self, text: str, voice: str, language: str | None = None) -> tuple[object, int]:
        return self.synthesizer.synthesize(text, voice, language)

    def transcribe(self, samples: object, sample_rate: int, language: str | None = None) -> str:
        return self.transcriber.transcribe(samples, sample_rate, language)  # type: ignore[arg-type]


@pytest.fixture
async def wired(
    tmp_path: Path,
) -> AsyncIterator[tuple[SessionService, OfflineWorkerLauncher, list[FakeRoom], str]]:
    settings = Settings(
        data_dir=tmp_path,
        livekit_url="wss://livekit.example.test",
        livekit_api_key="APIlauncher",
        livekit_api_secret="launcher-secret-" * 3,  # type: ignore[arg-type]
    )
    engine = create_engine(settings.resolved_database_url)
    await upgrade_schema(engine)
    sessions = session_factory(engine)
    async with sessions.begin() as session:
        org = await create_organization(session, "launcher-org", 1, 1_000)
    rooms: list[FakeRoom] = []

    def room() -> FakeRoom:
        rooms.append(FakeRoom("worker:pending"))
        return rooms[-1]

    def workers(service: SessionService) -> OfflineWorkerLauncher:
        store = LocalBlobStore(tmp_path / "blobs")
        return OfflineWorkerLauncher(service, store, settings, room_factory=room, speech=ToneSpeech())

    service = SessionService(sessions, settings, UrlSigner(b"k" * 32), workers)
    launcher = service.launcher
    assert isinstance(launcher, OfflineWorkerLauncher)
    yield service, launcher, rooms, org.id
    await launcher.close()
    clock.set_offset(0)
    await engine.dispose()


async def _status(service: SessionService, session_id: str) -> RealtimeSession:
    async with service.sessions() as session:
        row = await session.get(RealtimeSession, session_id)
    assert row is not None
    return row


async def test_consume_starts_the_avatar_and_end_call_completes_the_session(
    wired: tuple[SessionService, OfflineWorkerLauncher, list[FakeRoom], str],
) -> None:
    service, launcher, rooms, organization_id = wired
    body = {
        "model": "gwm1_avatars",
        "avatar": {"type": "runway-preset", "presetId": "tennis-coach"},
        "startScript": "hello there",
        "maxDuration": 120,
    }
    row = await service.create(Principal(organization_id, "key", 1), body)
    await service.tick()
    assert (await _status(service, row.id)).status == "READY"

    grant = await service.consume(row.id, service.session_key(row.id))
    assert grant.room_name.endswith(row.id)
    await FakeRoom("probe").until(lambda: bool(rooms) and rooms[0].connected_to is not None)
    room = rooms[0]
    assert room.connected_to is not None and room.connected_to[0] == "wss://livekit.example.test"

    room.join(f"user:{row.id}")
    await room.until(lambda: bool(room.messages("transcription", "assistant")))
    assert room.messages("transcription", "assistant")[0]["text"] == "hello there"
    await room.until(lambda: decode(room.published_audio(), 48_000).startswith("hello there"))
    assert (await _status(service, row.id)).status == "RUNNING"

    room.send_data(f"user:{row.id}", {"type": "END_CALL"})
    await room.until(lambda: room.disconnected)
    await room.until(lambda: not launcher._tasks)  # the worker has reported
    finished = await _status(service, row.id)
    assert finished.status == "COMPLETED"
    assert finished.cost_credits == lifecycle.credits_for(finished.duration or 0)


async def test_cancel_stops_the_worker_without_a_report(
    wired: tuple[SessionService, OfflineWorkerLauncher, list[FakeRoom], str],
) -> None:
    service, launcher, _rooms, organization_id = wired
    body = {"model": "gwm1_avatars", "avatar": {"type": "runway-preset", "presetId": "tennis-coach"}}
    row = await service.create(Principal(organization_id, "key", 1), body)
    await service.tick()
    await service.consume(row.id, service.session_key(row.id))
    assert await service.cancel(organization_id, row.id)
    await launcher.close()
    assert (await _status(service, row.id)).status == "CANCELLED"
    assert not launcher._tasks
