"""The avatar worker's conversation loop in a fake room: real audio in, real audio and video out."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np
import pytest
from PIL import Image

from support.fake_room import FakeRoom
from support.speech_doubles import ToneSynthesizer, ToneTranscriber, decode
from taxiway.config import Settings
from taxiway.realtime.avatar_video import AvatarAnimator, MouthEnvelope, openness_for
from taxiway.realtime.conversation import Endpointer, EnergyVad, Persona, SileroVad, ToolSpec
from taxiway.realtime.retrieval import KnowledgeBase, KnowledgeDocument, best_sentence, split_passages
from taxiway.realtime.room import ByteStream, LiveKitRoom
from taxiway.realtime.speech import to_int16
from taxiway.realtime.worker import (
    CONNECT_FAILED_CODE,
    NO_PARTICIPANT_CODE,
    AvatarWorker,
    RoomAccess,
    WorkerOptions,
    WorkerOutcome,
    WorkerSession,
)

SESSION = "3f6c1d2e-0000-4000-8000-000000000001"
USER = "user-7"
WIDTH, HEIGHT = 160, 104

CLINIC = KnowledgeDocument(
    "clinic.md",
    """# Opening hours
We are open Monday to Friday from 8 am to 6 pm. On Saturday we open at 9 am and close at 1 pm.
We are closed on Sundays and public holidays.

# Parking
Free parking is available behind the building. The garage entrance is on Elm Street.

# Prices
A standard check-up costs 60 dollars. Cleaning costs 80 dollars and takes forty minutes.
""",
)
RECIPES = KnowledgeDocument("recipes.txt", "Pancakes need flour, milk and eggs. Whisk the batter well.")
HOURS_ANSWER = "On Saturday we open at 9 am and close at 1 pm."


class ScaledClock:
    """Real time, sped up: the worker's seconds pass `speed` times faster, and still in order."""

    def __init__(self, speed: float = 25.0) -> None:
        self.speed = speed
        self.origin = time.monotonic()

    def now(self) -> float:
        return (time.monotonic() - self.origin) * self.speed

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds / self.speed)


class RecordingReporter:
    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    async def mark_running(self, session_id: str) -> None:
        self.calls.append(("running", session_id))

    async def complete(self, session_id: str, duration_seconds: int) -> None:
        self.calls.append(("complete", session_id, duration_seconds))

    async def fail(self, session_id: str, code: str, message: str) -> None:
        self.calls.append(("fail", session_id, code, message))


def portrait() -> Image.Image:
    """A light, textured stand-in reference image, so a dark mouth is easy to measure."""
    y, x = np.mgrid[0:208, 0:320]
    pixels = np.stack([200 + 40 * np.sin(x / 9.0), 180 + 30 * np.cos(y / 7.0), 170 + 0 * x], axis=-1)
    return Image.fromarray(pixels.astype(np.uint8), "RGB")


def make_session(**overrides: Any) -> WorkerSession:
    values: dict[str, Any] = {
        "session_id": SESSION,
        "access": RoomAccess("wss://livekit.example", "worker-token", SESSION),
        "persona": Persona(
            name="Clara",
            personality="You are Clara, the friendly receptionist of the Elm Street dental clinic.",
            voice="clara",
            start_script="Hello, I am Clara. Ask me anything about the clinic.",
        ),
        "reference_image": portrait(),
        "documents": (RECIPES, CLINIC),
        "max_duration_seconds": 300.0,
    }
    values.update(overrides)
    return WorkerSession(**values)


class Call:
    """One worker in one fake room, with the test as the user."""

    def __init__(self, session: WorkerSession, settings: Settings | None = None, **options: Any) -> None:
        self.room = FakeRoom(f"worker:{session.session_id}")
        self.reporter = RecordingReporter()
        self.synth = ToneSynthesizer()
        self.worker = AvatarWorker(
            session,
            self.room,
            self.synth,
            ToneTranscriber(),
            settings or Settings(),
            reporter=self.reporter,
            clock=ScaledClock(),
            options=WorkerOptions(width=WIDTH, height=HEIGHT, **{"join_timeout_seconds": 600.0, **options}),
            vad=EnergyVad(),
        )
        self.task: asyncio.Task[WorkerOutcome] = asyncio.create_task(self.worker.run())

    def say(self, text: str) -> None:
        samples, rate = self.synth.synthesize(text, "user")
        self.room.speak(USER, samples, rate)

    async def spoken(self, role: str, count: int) -> list[str]:
        await self.room.until(lambda: len(self.room.messages("transcription", role)) >= count)
        return [message["text"] for message in self.room.messages("transcription", role)]

    async def outcome(self) -> WorkerOutcome:
        return await asyncio.wait_for(self.task, 30)


def mouth_darkness(animator: AvatarAnimator, index: int, pixels: np.ndarray) -> float:
    x0, y0, x1, y1 = animator.mouth_box(index)
    return float(255 - pixels[y0:y1, x0:x1, :3].mean())


async def test_start_script_then_grounded_answer_with_lip_synced_video() -> None:
    call = Call(make_session())
    call.room.join(USER)

    assert (await call.spoken("assistant", 1)) == ["Hello, I am Clara. Ask me anything about the clinic."]
    assert call.reporter.calls == [("running", SESSION)]
    call.say("When do you open on Saturday?")

    assert (await call.spoken("user", 1)) == ["when do you open on saturday?"]
    answers = await call.spoken("assistant", 2)
    assert answers[1] == HOURS_ANSWER  # the hours passage, not parking, prices or pancakes
    assert [m["turn"] for m in call.room.messages("transcription")] == [1, 2, 3]

    # What the avatar said is in its published voice: start script, then the answer.
    await call.room.until(lambda: decode(call.room.published_audio(), 48_000).endswith(HOURS_ANSWER.lower()))
    assert decode(call.room.published_audio(), 48_000).startswith("hello, i am clara.")
    assert call.synth.calls[-1][1] == "clara"
    idle_from = len(call.room.video_out)
    await call.room.until(lambda: len(call.room.video_out) > idle_from + 30)

    call.room.send_data(USER, {"type": "END_CALL"})
    outcome = await call.outcome()
    assert (outcome.status, outcome.reason) == ("COMPLETED", "end_call")
    assert call.reporter.calls[-1] == ("complete", SESSION, outcome.duration_seconds)
    assert call.room.disconnected and call.room.connected_to == ("wss://livekit.example", "worker-token")

    # The video: RGBA at the published size, moving while idle, mouth open only while speaking.
    assert call.room.audio_rate == 48_000 and call.room.video_size == (WIDTH, HEIGHT)
    records = call.room.video_out
    assert all(r.frame.width == WIDTH and len(bytes(r.frame.data)) == WIDTH * HEIGHT * 4 for r in records)
    animator = AvatarAnimator(portrait(), WIDTH, HEIGHT, 25)
    speaking, quiet = [], []
    for index, record in enumerate(records[1:], start=1):
        pixels = record.pixels()
        darkness = mouth_darkness(animator, index, pixels)
        if record.audio_before > records[index - 1].audio_before:
            speaking.append(darkness)
        elif index >= 10 and records[index - 10].audio_before == record.audio_before:
            quiet.append(darkness)  # ten frames after the voice stopped: the mouth has closed
            assert np.array_equal(pixels, animator.render(index, 0.0))
    assert len(speaking) > 50 and len(quiet) > 5
    assert np.mean(speaking) > np.mean(quiet) + 20
    idle = [r.pixels() for r in records[:200]]
    assert any(not np.array_equal(idle[0], frame) for frame in idle)  # breathing motion


async def test_client_event_tool_sends_a_data_message() -> None:
    tool = ToolSpec.from_api(
        {
            "type": "client_event",
            "name": "show_caption",
            "description": "Show a caption on screen",
            "parameters": [{"name": "text", "type": "string", "description": "caption", "required": True}],
        }
    )
    call = Call(make_session(tools=(tool,), persona=Persona("Clara", "Helpful.", "clara")))
    call.room.join(USER)
    call.say("Please show caption hello world")

    await call.room.until(lambda: bool(call.room.messages("client_event")))
    assert call.room.messages("client_event") == [
        {"type": "client_event", "tool": "show_caption", "args": {"text": "please show caption hello world"}}
    ]
    assert call.room.data_out[-1][0] in ("client_event", "transcription")
    assert (await call.spoken("assistant", 1)) == ["Done."]
    call.room.leave(USER)
    outcome = await call.outcome()
    assert (outcome.status, outcome.reason) == ("COMPLETED", "user_left")
    entries = [e for e in call.worker.transcript if e.role == "tool"]
    assert entries[0].tool == "show_caption" and entries[0].result == "event_sent"


async def test_backend_rpc_tool_calls_the_backend_and_speaks_its_result() -> None:
    tool = ToolSpec.from_api(
        {
            "type": "backend_rpc",
            "name": "lookup_order",
            "description": "Find an order",
            "timeoutSeconds": 6,
            "parameters": [{"name": "order_id", "type": "integer", "description": "order", "required": True}],
        }
    )
    call = Call(make_session(tools=(tool,), persona=Persona("Clara", "Helpful.", "clara")))
    received: list[dict[str, Any]] = []

    async def lookup_order(payload: str) -> str:
        received.append(json.loads(payload))
        return json.dumps({"text": "Order 42 ships on Monday."})

    call.room.backend["lookup_order"] = lookup_order
    call.room.join(USER)
    call.say("Can you lookup order 42")

    assert (await call.spoken("assistant", 1)) == ["Order 42 ships on Monday."]
    assert received == [{"args": {"order_id": 42}}]
    rpc = call.room.rpc_calls[0]
    assert (rpc["destination"], rpc["method"], rpc["timeout"]) == (f"backend:{SESSION}", "lookup_order", 6.0)
    call.task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call.task
    assert call.room.disconnected
    assert call.reporter.calls == [("running", SESSION)]  # a cancelled session is the canceller's to report


async def test_goodbye_ends_the_call_and_completes_the_session() -> None:
    call = Call(make_session())
    call.room.join(USER)
    call.say("Thanks, goodbye!")
    outcome = await call.outcome()
    assert (outcome.status, outcome.reason) == ("COMPLETED", "avatar_ended")
    assert (await call.spoken("assistant", 2))[-1] == "Goodbye!"
    assert decode(call.room.published_audio(), 48_000).endswith("goodbye!")
    assert call.reporter.calls == [("running", SESSION), ("complete", SESSION, outcome.duration_seconds)]


async def test_max_duration_ends_the_session() -> None:
    call = Call(make_session(max_duration_seconds=3.0))
    call.room.join(USER)
    outcome = await call.outcome()
    assert (outcome.status, outcome.reason) == ("COMPLETED", "max_duration")
    assert outcome.duration_seconds >= 3
    assert call.reporter.calls[-1] == ("complete", SESSION, outcome.duration_seconds)


async def test_no_participant_fails_the_session() -> None:
    call = Call(make_session(), join_timeout_seconds=2.0)
    outcome = await call.outcome()
    assert (outcome.status, outcome.reason) == ("FAILED", NO_PARTICIPANT_CODE)
    assert call.reporter.calls == [
        ("fail", SESSION, NO_PARTICIPANT_CODE, "No participants joined the session")
    ]
    assert call.room.video_out  # the avatar was on camera while it waited


async def test_user_already_in_the_room_is_greeted_and_leaving_ends_it() -> None:
    session = make_session()
    call = Call(session)
    call.room.present.append(USER)  # joined before the worker: no join event
    await call.spoken("assistant", 1)
    call.room.leave(USER)
    outcome = await call.outcome()
    assert (outcome.status, outcome.reason) == ("COMPLETED", "user_left")


async def test_integration_mode_renders_the_agents_speech() -> None:
    """`integration: livekit`: the customer's agent talks (byte streams), the worker only renders."""
    agent = "agent-1"
    access = RoomAccess("wss://customer.example", "customer-token", "their-room")
    call = Call(make_session(access=access, integration=True, agent_identity=agent))
    rpcs: list[tuple[str, str]] = []

    def agent_method(name: str) -> Any:
        async def handle(payload: str) -> str:
            rpcs.append((name, payload))
            return "ok"

        return handle

    for method in ("lk.playback_started", "lk.playback_finished"):
        call.room.backend[method] = agent_method(method)
    call.room.join("someone-else")  # the end user: not whom the worker renders for
    call.room.join(agent)
    await call.room.until(lambda: "lk.audio_stream" in call.room.byte_handlers)
    assert await call.room.worker_methods["lk.clear_buffer"]("{}", agent) == "ok"

    samples, rate = call.synth.synthesize("Hi from the agent.", "agent")
    pcm = to_int16(samples).tobytes()

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(pcm), 3001):  # odd sizes: samples split across chunks
            yield pcm[start : start + 3001]

    attributes = {"sample_rate": str(rate), "num_channels": "1"}
    call.room.byte_handlers["lk.audio_stream"](ByteStream("lk.audio_stream", agent, attributes, chunks()))
    await call.room.until(lambda: len(rpcs) == 2)
    assert decode(call.room.published_audio(), 48_000) == "hi from the agent."
    assert rpcs[0] == ("lk.playback_started", "")
    finished = json.loads(rpcs[1][1])
    assert finished["interrupted"] is False and finished["synchronized_transcript"] is None
    assert finished["playback_position"] == pytest.approx(len(samples) / rate, abs=0.001)
    assert call.room.messages("transcription") == []  # the agent owns the conversation

    call.room.send_data(agent, {"type": "END_CALL"})
    outcome = await call.outcome()
    assert (outcome.status, outcome.reason) == ("COMPLETED", "end_call")
    assert call.room.connected_to == ("wss://customer.example", "customer-token")
    assert call.reporter.calls[0] == ("running", SESSION)


# --- the chat-model path ---------------------------------------------------------------------------


@pytest.fixture
def chat_server() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """An OpenAI-compatible endpoint: first asks for a client tool, then answers in words."""
    requests: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            body["_path"], body["_auth"] = self.path, self.headers.get("Authorization")
            requests.append(body)
            if body["messages"][-1]["role"] == "user":
                call = {"name": "show_caption", "arguments": json.dumps({"text": "Sat 9-13"})}
                message = {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [{"id": "call_1", "type": "function", "function": call}],
                }
            else:
                message = {"role": "assistant", "content": "We open at nine on Saturdays."}
            reply = json.dumps(
                {"choices": [{"index": 0, "message": message, "finish_reason": "stop"}]}
            ).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1", requests
    server.shutdown()
    server.server_close()


async def test_chat_model_answer_is_grounded_and_its_tool_call_runs(
    chat_server: tuple[str, list[dict[str, Any]]],
) -> None:
    url, requests = chat_server
    settings = Settings(llm_url=url, llm_model="tiny-chat", llm_api_key="sk-local")
    tool = ToolSpec("client_event", "show_caption", "Show a caption", ({"name": "text", "type": "string"},))
    call = Call(make_session(tools=(tool,)), settings)
    call.room.join(USER)
    call.say("When do you open on Saturday?")

    answers = await call.spoken("assistant", 2)
    assert answers[1] == "We open at nine on Saturdays."
    assert call.room.messages("client_event") == [
        {"type": "client_event", "tool": "show_caption", "args": {"text": "Sat 9-13"}}
    ]
    first, second = requests
    assert first["_path"] == "/v1/chat/completions" and first["_auth"] == "Bearer sk-local"
    assert first["model"] == "tiny-chat"
    system = first["messages"][0]
    assert system["role"] == "system" and system["content"].startswith("You are Clara")
    assert HOURS_ANSWER in system["content"] and "Pancakes" not in system["content"]
    assert first["messages"][-1] == {"role": "user", "content": "when do you open on saturday?"}
    names = [tool["function"]["name"] for tool in first["tools"]]
    assert names == ["show_caption", "end_call"]
    assert second["messages"][-1] == {"role": "tool", "tool_call_id": "call_1", "content": "event_sent"}
    call.room.send_data(USER, {"type": "END_CALL"})
    assert (await call.outcome()).reason == "end_call"


# --- the parts ---------------------------------------------------------------------------------------


def test_retrieval_picks_the_passage_that_answers() -> None:
    knowledge = KnowledgeBase([RECIPES, CLINIC])
    assert [p.heading for p in split_passages(CLINIC)] == ["Opening hours", "Parking", "Prices"]
    cases = {
        "where can I park my car": "Free parking is available behind the building.",
        "how much does a cleaning cost": "Cleaning costs 80 dollars and takes forty minutes.",
        "what do I need for pancakes": "Pancakes need flour, milk and eggs.",
        "are you open on sunday": "We are closed on Sundays and public holidays.",
    }
    for question, sentence in cases.items():
        hits = knowledge.search(question)
        assert best_sentence(hits[0].passage, question) == sentence, question
    assert knowledge.search("quantum chromodynamics lecture") == []
    assert KnowledgeBase([]).search("anything") == []


def test_endpointer_cuts_utterances_at_pauses() -> None:
    synth = ToneSynthesizer()
    first, rate = synth.synthesize("first words", "v")
    second, _ = synth.synthesize("then more", "v")
    quiet = np.zeros(rate, dtype=np.float32)
    stream = np.concatenate([quiet, first, quiet, second, quiet]).astype(np.float32)
    endpointer = Endpointer(EnergyVad())
    utterances = []
    for start in range(0, len(stream), 160):  # 10 ms frames
        utterances += endpointer.push(stream[start : start + 160], rate)
    assert [decode(samples, r) for samples, r in utterances] == ["first words", "then more"]


def test_silero_endpointing_ignores_noise_that_energy_endpointing_takes_for_speech() -> None:
    rate = 16_000
    noise = (np.random.default_rng(7).standard_normal(2 * rate) * 0.1).astype(np.float32)
    stream = np.concatenate([np.zeros(rate // 2), noise, np.zeros(rate)]).astype(np.float32)

    def utterances(vad: EnergyVad | SileroVad) -> int:
        endpointer = Endpointer(vad)
        return sum(len(endpointer.push(stream[i : i + 160], rate)) for i in range(0, len(stream), 160))

    assert utterances(EnergyVad()) == 1
    assert utterances(SileroVad()) == 0


async def test_unreachable_livekit_server_fails_the_session() -> None:
    """The real `livekit.rtc` adapter, as far as it goes without a LiveKit server."""
    reporter = RecordingReporter()
    session = make_session(access=RoomAccess("ws://127.0.0.1:9", "token", SESSION))
    worker = AvatarWorker(
        session, LiveKitRoom(), ToneSynthesizer(), ToneTranscriber(), Settings(), reporter=reporter
    )
    outcome = await asyncio.wait_for(worker.run(), 60)
    assert (outcome.status, outcome.reason) == ("FAILED", CONNECT_FAILED_CODE)
    assert reporter.calls[0][:3] == ("fail", SESSION, CONNECT_FAILED_CODE)


def test_mouth_follows_loudness() -> None:
    assert openness_for(0.0) == 0.0 and openness_for(1e-4) == 0.0 and openness_for(0.3) == 1.0
    assert 0.0 < openness_for(0.02) < 1.0
    envelope = MouthEnvelope()
    assert envelope.update(0.3) == 1.0
    closing = [envelope.update(0.0) for _ in range(4)]
    assert closing == sorted(closing, reverse=True) and 0.0 < closing[0] < 1.0
    animator = AvatarAnimator(None, WIDTH, HEIGHT, 25)  # no reference image: a drawn face
    closed, opened = animator.render(0, 0.0), animator.render(0, 1.0)
    assert closed.shape == (HEIGHT, WIDTH, 4)
    assert mouth_darkness(animator, 0, opened) > mouth_darkness(animator, 0, closed) + 20
    assert np.array_equal(animator.render(7, 0.5), animator.render(7, 0.5))
