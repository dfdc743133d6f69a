"""Avatar conversations and avatar usage, through the official SDK against a live server.

The server runs in this process (uvicorn on a thread), so its avatar worker can be given the fake
LiveKit room and the tone-coded speech doubles: the test plays the user in the room (joins, speaks,
ends the call) while it reads the conversation record over HTTP, as a customer would.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Callable, Coroutine, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
import uvicorn
from alembic import command
from pydantic import BaseModel
from runwayml import BadRequestError, NotFoundError, RunwayML
from runwayml.types import AvatarConversationListResponse, AvatarGetUsageResponse
from runwayml.types.avatar_conversation_retrieve_response import Ended, EndedTranscript
from sqlalchemy import bindparam, text

from conformance.media import png
from support.clients import documented
from support.fake_room import FakeRoom
from support.postgres import postgres_cluster, run_in_thread
from support.server import READY_TIMEOUT, free_port
from support.speech_doubles import ToneSynthesizer, ToneTranscriber
from taxiway.accounts.keys import generate_key
from taxiway.accounts.repository import create_key, create_organization
from taxiway.api.conversations import AvatarUsageView, ConversationPage, ConversationView
from taxiway.app import create_app
from taxiway.config import Settings
from taxiway.db.engine import alembic_config, create_engine, session_factory
from taxiway.db.tables import Organization, RealtimeSession
from taxiway.realtime import records
from taxiway.realtime.conversation import EnergyVad, Persona
from taxiway.realtime.launcher import OfflineWorkerLauncher
from taxiway.realtime.sessions import SessionService
from taxiway.realtime.transcript import MemoryRecorder, ToolCall, ToolResult, Turn
from taxiway.realtime.worker import AvatarWorker, RoomAccess, WorkerOptions, WorkerSession

T = TypeVar("T")
PRESET: Any = {"type": "runway-preset", "preset_id": "cooking-teacher"}
TOOLS: list[Any] = [
    {"type": "client_event", "name": "show_caption", "description": "Show a caption"},
    {
        "type": "backend_rpc",
        "name": "lookup_order",
        "description": "Find an order",
        "parameters": [{"name": "order_id", "type": "integer", "description": "The order"}],
    },
]


class ToneSpeech:
    def __init__(self) -> None:
        self.synthesizer, self.transcriber = ToneSynthesizer(), ToneTranscriber()

    def synthesize(self, text: str, voice: str, language: str | None = None) -> tuple[Any, int]:
        return self.synthesizer.synthesize(text, voice, language)

    def transcribe(self, samples: Any, sample_rate: int, language: str | None = None) -> str:
        return self.transcriber.transcribe(samples, sample_rate, language)


class LiveServer:
    """The whole app on its own event loop and thread; its workers join `FakeRoom`s."""

    def __init__(self, data_dir: Path) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.key = generate_key()
        settings = Settings(
            data_dir=data_dir,
            port=self.port,
            workers=1,
            bootstrap_api_key=self.key,
            livekit_url="wss://livekit.example.test",
            livekit_api_key="APIconversations",
            livekit_api_secret="conversations-secret-" * 3,
        )
        self.app = create_app(settings)
        self.server = uvicorn.Server(
            uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning")
        )
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(
            target=self.loop.run_until_complete, args=(self.server.serve(),), daemon=True
        )
        self.rooms: list[FakeRoom] = []

    def start(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + READY_TIMEOUT
        while not self.server.started:
            assert time.monotonic() < deadline and self.thread.is_alive(), "the server did not start"
            time.sleep(0.02)
        launcher = self.service.launcher
        assert isinstance(launcher, OfflineWorkerLauncher)
        launcher.room_factory = self._room
        launcher.speech = ToneSpeech()
        launcher.vad = EnergyVad
        launcher.options = WorkerOptions(width=160, height=104)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)

    @property
    def service(self) -> SessionService:
        service: SessionService = self.app.state.taxiway.realtime
        return service

    def _room(self) -> FakeRoom:
        self.rooms.append(FakeRoom("worker:pending"))
        return self.rooms[-1]

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=30)

    def in_room(self, action: Callable[..., Any], *args: Any) -> None:
        """Act as the user, on the server's loop (the fake room is not thread-safe)."""
        self.loop.call_soon_threadsafe(action, *args)

    def client(self, key: str | None = None) -> RunwayML:
        return RunwayML(
            base_url=self.base_url, api_key=key or self.key, _strict_response_validation=True, max_retries=0
        )

    def new_org(self, name: str) -> RunwayML:
        async def make() -> str:
            async with self.app.state.taxiway.sessions.begin() as session:
                org = await create_organization(session, name, 1, 1_000)
                return (await create_key(session, org.id))[1]

        return self.client(self.run(make()))


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    server = LiveServer(tmp_path_factory.mktemp("conversations")).start()
    yield server
    server.stop()


def until(condition: Callable[[], Any], timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        assert time.monotonic() < deadline, "never got there"
        time.sleep(0.02)
    return value


def raw(live: LiveServer, path: str, **params: Any) -> Any:
    headers = {"Authorization": f"Bearer {live.key}", "X-Runway-Version": "2024-11-06"}
    response = httpx.get(f"{live.base_url}{path}", params=params, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def fields(model: type[BaseModel]) -> set[str]:
    """The JSON keys an SDK model defines (strict validation allows extras; the real API sends none)."""
    return {info.alias or name for name, info in model.model_fields.items()}


def issues(error: BadRequestError) -> Any:
    assert isinstance(error.body, dict)
    return error.body["issues"]


def status(client: RunwayML, session_id: str) -> str:
    return str(client.realtime_sessions.retrieve(session_id).status)


class Call:
    """A session whose user joined: consumed like a browser does, then in the fake room."""

    def __init__(self, live: LiveServer, client: RunwayML, **params: Any) -> None:
        self.live, self.client = live, client
        rooms = len(live.rooms)
        self.id = client.realtime_sessions.create(model="gwm1_avatars", avatar=PRESET, **params).id
        until(lambda: status(client, self.id) == "READY")
        key = client.realtime_sessions.retrieve(self.id).session_key  # type: ignore[union-attr]
        consumed = httpx.post(
            f"{live.base_url}/v1/realtime_sessions/{self.id}/consume",
            headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
        )
        assert consumed.status_code == 200, consumed.text
        self.room = until(lambda: len(live.rooms) > rooms and live.rooms[rooms])
        self.user = f"user:{self.id}"
        until(lambda: self.room.connected_to is not None)
        live.in_room(self.room.join, self.user)
        until(lambda: status(client, self.id) == "RUNNING")

    def said(self, role: str) -> list[str]:
        return [message["text"] for message in self.room.messages("transcription", role)]

    def say(self, text: str) -> None:
        """Speak and wait for the avatar's answer."""
        answers = len(self.said("assistant"))
        samples, rate = ToneSynthesizer().synthesize(text, "user")
        self.live.in_room(self.room.speak, self.user, samples, rate, 0.8)
        until(lambda: len(self.said("assistant")) > answers)

    def end_call(self) -> None:
        self.live.in_room(self.room.send_data, self.user, {"type": "END_CALL"})
        until(lambda: status(self.client, self.id) == "COMPLETED")


def test_transcript_is_kept_as_the_call_goes_and_whole_after_end_call(live: LiveServer) -> None:
    client = live.client()
    call = Call(live, client, start_script="hi there", tools=TOOLS, max_duration=120)
    until(lambda: call.said("assistant") == ["hi there"])
    running = until(lambda: (c := client.avatar_conversations.retrieve(call.id)).transcript and c)
    assert running.status == "in_progress" and running.max_duration == 120
    assert running.started_at is not None and running.duration is not None
    assert [(t.role, t.content) for t in running.transcript] == [("assistant", "hi there")]
    documented(ConversationView, running)

    call.say("show caption hi")
    call.say("lookup order 42")  # no backend serves it: the RPC fails
    call.end_call()

    ended = client.avatar_conversations.retrieve(call.id)
    session = client.realtime_sessions.retrieve(call.id)
    assert ended.status == "ended" and session.status == "COMPLETED"
    assert ended.duration == session.duration and ended.ended_at is not None
    assert ended.avatar is not None and ended.avatar.type == "runway-preset"
    assert ended.avatar.preset_id == "cooking-teacher"
    assert ended.recording_url is None and ended.name
    assert [(t.type, t.name, t.description) for t in ended.tools] == [
        ("client_event", "show_caption", "Show a caption"),
        ("backend_rpc", "lookup_order", "Find an order"),
    ]
    turns = [(t.role, t.content) for t in ended.transcript]
    assert turns == [
        ("assistant", "hi there"),
        ("user", "show caption hi"),
        ("assistant", "Done."),
        ("user", "lookup order 42"),
        ("assistant", "Sorry, that didn't work."),
    ]
    stamps = [t.timestamp for t in ended.transcript]
    assert all(stamp is not None for stamp in stamps) and stamps == sorted(stamps)  # type: ignore[type-var]
    caption, lookup = ended.transcript[2], ended.transcript[4]
    assert caption.tool_calls and caption.tool_results
    assert (caption.tool_calls[0].name, caption.tool_calls[0].arguments) == (
        "show_caption",
        {},
    )
    result = caption.tool_results[0]
    assert result.id == caption.tool_calls[0].id and result.result == "event_sent" and result.error is None
    assert result.duration_ms is not None and result.duration_ms >= 0
    assert lookup.tool_calls and lookup.tool_results
    assert lookup.tool_calls[0].arguments == {"order_id": 42}
    failed = lookup.tool_results[0]
    assert failed.id == lookup.tool_calls[0].id and failed.result is None
    assert failed.error and "not supported" in failed.error.lower()
    assert ended.transcript[1].tool_calls is None  # tools ride on assistant entries only

    body = raw(live, f"/v1/avatar_conversations/{call.id}")
    assert set(body) == fields(Ended)
    assert all(set(entry) <= fields(EndedTranscript) for entry in body["transcript"])
    listed = raw(live, "/v1/avatar_conversations", limit=1)
    documented(ConversationView, body)
    documented(ConversationPage, listed)
    assert set(listed["data"][0]) == fields(AvatarConversationListResponse)

    summary = next(c for c in client.avatar_conversations.list(limit=100) if c.id == call.id)
    assert (summary.status, summary.has_tools, summary.duration) == ("ended", True, ended.duration)
    assert summary.avatar is not None and summary.avatar.name == "Chef Leo"


def test_a_cancelled_call_keeps_no_transcript(live: LiveServer) -> None:
    client = live.client()
    call = Call(live, client, start_script="hello")
    until(lambda: client.avatar_conversations.retrieve(call.id).transcript)
    client.realtime_sessions.delete(call.id)
    cancelled = client.avatar_conversations.retrieve(call.id)
    assert cancelled.transcript == []
    assert cancelled.status == "ended" and cancelled.duration is not None and cancelled.ended_at is not None


def test_list_pages_filters_and_isolates_organizations(live: LiveServer) -> None:
    client = live.new_org("conversation-lister")
    avatar = client.avatars.create(
        name="Host",
        personality="A quiz host.",
        reference_image=png(),
        voice={"type": "runway-live-preset", "preset_id": "max"},
    )
    until(lambda: client.avatars.retrieve(avatar.id).status == "READY")
    made = [client.realtime_sessions.create(model="gwm1_avatars", avatar=PRESET).id for _ in range(3)]
    custom = {"type": "custom", "avatar_id": avatar.id}
    made.append(client.realtime_sessions.create(model="gwm1_avatars", avatar=custom).id)  # type: ignore[arg-type]

    first = client.avatar_conversations.list(limit=3)
    assert len(first.data) == 3 and first.next_cursor
    listed = [c.id for c in client.avatar_conversations.list(limit=3)]  # follows nextCursor
    assert listed == made[::-1]  # newest first
    assert {c.status for c in first.data} == {"in_progress"}
    assert not first.data[0].has_tools

    mine = client.avatar_conversations.list(limit=10, avatar=avatar.id).data
    assert [c.id for c in mine] == [made[3]]
    assert mine[0].avatar is not None and mine[0].avatar.type == "custom"
    assert (mine[0].avatar.id, mine[0].avatar.name) == (avatar.id, "Host")
    documented(ConversationPage, first, client.avatar_conversations.list(limit=10, avatar=avatar.id))
    documented(ConversationView, client.avatar_conversations.retrieve(made[3]))
    detail = client.avatar_conversations.retrieve(made[3]).avatar
    assert detail is not None and detail.type == "custom" and detail.image_url
    assert httpx.get(detail.image_url).status_code == 200  # a signed URL the server serves

    second = client.realtime_sessions.retrieve(made[1]).created_at
    since = client.avatar_conversations.list(limit=10, start_date=second).data
    assert [c.id for c in since] == made[:0:-1]  # inclusive
    before = client.avatar_conversations.list(limit=10, end_date=second).data
    assert [c.id for c in before] == made[:1]  # exclusive
    with pytest.raises(BadRequestError) as info:
        client.avatar_conversations.list(limit=10, start_date=second, end_date=second)
    assert issues(info.value)[0]["path"] == ["query", "endDate"]
    with pytest.raises(BadRequestError):
        client.avatar_conversations.list(limit=10, cursor="not-a-cursor")
    with pytest.raises(BadRequestError):
        client.avatar_conversations.list(limit=0)

    client.avatars.delete(avatar.id)  # the record keeps its name; the id is gone
    gone = client.avatar_conversations.list(limit=10, avatar=avatar.id).data[0].avatar
    assert gone is not None and gone.type == "custom" and gone.id is None
    documented(ConversationView, client.avatar_conversations.retrieve(made[3]))

    outsider = live.new_org("conversation-outsider")
    assert all(c.id not in made for c in outsider.avatar_conversations.list(limit=100))
    with pytest.raises(NotFoundError):
        outsider.avatar_conversations.retrieve(made[0])
    with pytest.raises(NotFoundError):
        outsider.avatar_conversations.delete(made[0])

    client.avatar_conversations.delete(made[0])
    with pytest.raises(NotFoundError):
        client.avatar_conversations.retrieve(made[0])
    with pytest.raises(NotFoundError):
        client.avatar_conversations.delete(made[0])
    assert made[0] not in [c.id for c in client.avatar_conversations.list(limit=100)]
    assert client.realtime_sessions.retrieve(made[0]).id == made[0]  # the session itself stays


def test_usage_sums_the_sessions_that_ran(live: LiveServer) -> None:
    client = live.new_org("conversation-usage")
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    start, end = today - timedelta(days=1), today + timedelta(days=2)
    empty = client.avatars.get_usage(start_date=start, end_date=end)
    assert (empty.total_sessions, empty.total_seconds, empty.avg_duration_seconds) == (0, 0, 0)
    assert [day.date for day in empty.by_day] == [(start + timedelta(days=n)).date() for n in range(3)]

    call = Call(live, client)
    time.sleep(1.2)
    call.end_call()
    ran = client.realtime_sessions.retrieve(call.id).duration  # type: ignore[union-attr]
    billed = client.realtime_sessions.create(model="gwm1_avatars", avatar=PRESET).id
    until(lambda: status(client, billed) == "READY")
    live.run(live.service.mark_running(billed))
    live.run(live.service.complete(billed, 90))
    never = client.realtime_sessions.create(model="gwm1_avatars", avatar=PRESET).id
    client.realtime_sessions.delete(never)

    usage = client.avatars.get_usage(start_date=start.isoformat(), end_date=end.isoformat())
    assert usage.total_sessions == 3
    body = raw(live, "/v1/avatar_usage", startDate=start.isoformat(), endDate=end.isoformat())
    assert set(body) == fields(AvatarGetUsageResponse)
    documented(AvatarUsageView, body, empty)
    assert usage.total_seconds == ran + 90 and ran >= 1
    assert usage.avg_duration_seconds == round((ran + 90) / 2)
    assert sum(day.sessions for day in usage.by_day) == 3
    assert sum(day.seconds for day in usage.by_day) == ran + 90
    durations = [c.duration or 0 for c in client.avatar_conversations.list(limit=10)]
    assert sorted(durations) == sorted([ran, 90, 0])

    client.avatar_conversations.delete(billed)  # usage, like the bill, stays
    assert client.avatars.get_usage(start_date=start, end_date=end).total_seconds == ran + 90

    with pytest.raises(BadRequestError) as info:
        client.avatars.get_usage(start_date=end, end_date=start)
    assert issues(info.value)[0]["path"] == ["query", "endDate"]
    with pytest.raises(BadRequestError) as info:
        client.avatars.get_usage(start_date=start, end_date=start + timedelta(days=400))
    assert "366" in issues(info.value)[0]["message"]
    headers = {"Authorization": f"Bearer {live.key}", "X-Runway-Version": "2024-11-06"}
    missing = httpx.get(f"{live.base_url}/v1/avatar_usage", params={"endDate": "2026-01-01"}, headers=headers)
    assert missing.status_code == 400 and missing.json()["issues"][0]["path"] == ["query", "startDate"]
    garbled = httpx.get(
        f"{live.base_url}/v1/avatar_usage",
        params={"startDate": "yesterday", "endDate": "2026-01-01"},
        headers=headers,
    )
    assert garbled.status_code == 400 and garbled.json()["issues"][0]["path"] == ["query", "startDate"]


# -- the worker's side, without a database


async def test_the_worker_reports_the_end_once_its_transcript_is_kept() -> None:
    events: list[tuple[Any, ...]] = []

    class Recorder(MemoryRecorder):
        async def flush(self) -> None:
            events.append(("flush", [(turn.role, turn.content) for turn in self.turns]))

    class Reporter:
        async def mark_running(self, session_id: str) -> None:
            events.append(("running",))

        async def complete(self, session_id: str, duration_seconds: int) -> None:
            events.append(("complete",))

        async def fail(self, session_id: str, code: str, message: str) -> None:
            events.append(("fail", code))

    room = FakeRoom("worker:s-1")
    session = WorkerSession("s-1", RoomAccess("wss://lk", "t", "r"), Persona("Ada", "Kind.", "clara", "hey"))
    worker = AvatarWorker(
        session,
        room,
        ToneSynthesizer(),
        ToneTranscriber(),
        Settings(),
        reporter=Reporter(),
        options=WorkerOptions(width=160, height=104),
        vad=EnergyVad(),
        recorder=Recorder(),
    )
    task = asyncio.create_task(worker.run())
    room.join("user-1")
    await room.until(lambda: bool(room.messages("transcription", "assistant")))
    room.send_data("user-1", {"type": "END_CALL"})
    assert (await asyncio.wait_for(task, 30)).reason == "end_call"
    assert events == [("running",), ("flush", [("assistant", "hey")]), ("complete",)]


# -- the schema, on both databases


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'taxiway.db'}"
        return
    with postgres_cluster(database=None) as cluster:
        yield cluster.create_database("conversations")


def test_migration_gives_earlier_sessions_their_records(database_url: str) -> None:
    """Sessions from before the records existed are listed and counted like new ones."""
    config = alembic_config(database_url)
    command.upgrade(config, "0002")  # env.py runs `asyncio.run`: a sync test, with no loop running
    created = datetime(2026, 11, 20, 23, 59, 30, tzinfo=UTC)
    params = {
        "model": "gwm1_avatars",
        "avatar": {"type": "runway-preset", "presetId": "influencer"},
        "tools": [{"type": "client_event", "name": "wave", "description": "Wave"}],
        "persona": {"name": "Jade"},
    }

    async def before() -> str:
        engine = create_engine(database_url)
        async with session_factory(engine).begin() as db:
            # The organization as the 0002 schema holds it, in SQL: today's table and
            # create_organization have columns and tables that came later (kept balance, audit log).
            organization_id = str(uuid.uuid4())
            await db.execute(
                text(
                    "INSERT INTO organizations (id, name, tier, ledger_version, created_at)"
                    " VALUES (:id, 'migrated', 1, 0, :created)"
                ).bindparams(bindparam("created", type_=Organization.__table__.c.created_at.type)),
                {"id": organization_id, "created": created},
            )
            db.add(
                RealtimeSession(
                    id="00000000-0000-4000-8000-000000000001",
                    organization_id=organization_id,
                    status="COMPLETED",
                    params=params,
                    max_duration=300,
                    reserved_credits=100,
                    duration=42,
                    created_at=created,
                    updated_at=created,
                    started_at=created,
                    finished_at=created + timedelta(seconds=42),
                )
            )
        await engine.dispose()
        return organization_id

    organization_id = run_in_thread(before)
    command.upgrade(config, "head")

    async def after() -> tuple[Any, ...]:
        engine = create_engine(database_url)
        sessions = session_factory(engine)
        transcript = records.StoredTranscript(sessions, "00000000-0000-4000-8000-000000000001")
        call = ToolCall("call_1", "wave", {"hand": "left"})
        transcript.record(Turn("user", "wave please", created))
        transcript.record(Turn("assistant", None, created, (call,), (ToolResult("call_1", "wave", {}, 1.5),)))
        await transcript.flush()
        async with sessions() as db:
            rows, more = await records.page(db, organization_id, 10, None, records.ListFilter())
            turns = await records.turns(db, rows[0][0].id) if rows else []
            day = await records.usage(db, organization_id, created - timedelta(hours=1), created)
            spanned = await records.usage(
                db, organization_id, datetime(2026, 11, 20, tzinfo=UTC), datetime(2026, 11, 22, tzinfo=UTC)
            )
        async with sessions.begin() as db:
            assert await records.remove(db, organization_id, rows[0][0].id)
        async with sessions() as db:
            assert await records.turns(db, rows[0][0].id) == []
        await engine.dispose()
        return rows, more, turns, day, spanned

    rows, more, turns, day, spanned = run_in_thread(after)
    assert [(t.position, t.role, t.content, t.tool_calls) for t in turns] == [
        (0, "user", "wave please", None),
        (1, "assistant", None, [{"id": "call_1", "name": "wave", "arguments": {"hand": "left"}}]),
    ]
    assert turns[1].tool_results == [{"id": "call_1", "name": "wave", "result": {}, "durationMs": 1.5}]
    assert not more and len(rows) == 1
    record, session = rows[0]
    assert (record.name, record.avatar, record.created_at) == (
        "Conversation with Jade",
        {"type": "runway-preset", "presetId": "influencer", "name": "Jade"},
        created,
    )
    assert record.tools == [{"type": "client_event", "name": "wave", "description": "Wave"}]
    assert (records.status_of(session), records.measured_seconds(session)) == ("ended", 42)
    assert day["totalSessions"] == 0  # the end is exclusive
    assert [(d["date"], d["sessions"], d["seconds"]) for d in spanned["byDay"]] == [
        ("2026-11-20", 1, 42),
        ("2026-11-21", 0, 0),
    ]
    command.downgrade(config, "0002")
    command.upgrade(config, "head")
