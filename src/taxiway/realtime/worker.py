"""The avatar worker: the room participant (`worker:<sessionId>`) that is the avatar.

It joins the session's LiveKit room, publishes the avatar's voice (`Microphone`) and video (`Camera`),
waits for the user, speaks the start script, then holds the conversation (`conversation.py`) until the
user sends `{"type": "END_CALL"}`, the avatar ends the call, the user leaves, or `maxDuration` runs out;
then it reports the outcome to the session service, once the transcript recorder has kept every turn
(so a COMPLETED session's conversation has its whole transcript). If nobody joins in time the session
fails with `TALKING_AVATAR.NO_PARTICIPANT`, as Runway reports it. Cancelling the task (DELETE of the
session) leaves the room without reporting: the canceller owns that transition.

With `integration: livekit` the worker joins the customer's room with the customer's credentials and
only renders: the customer's agent owns the conversation and streams its speech to the worker as
LiveKit byte streams (`lk.audio_stream`, s16le PCM), the protocol of `livekit-plugins-runway`.

One loop (`Playout`) paces all media: every tick it sends 1/fps s of voice and the video frame whose
mouth follows that audio's loudness, so voice and lips cannot drift apart. Its clock is injectable.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import numpy as np
from livekit import rtc
from PIL import Image

from taxiway.config import Settings
from taxiway.realtime.avatar_video import AvatarAnimator, FaceLayout, MouthEnvelope, rms
from taxiway.realtime.conversation import (
    ChatModel,
    Conversation,
    LlmConfig,
    Persona,
    SileroVad,
    ToolSpec,
    TranscriptEntry,
    VoiceActivity,
)
from taxiway.realtime.livekit_tokens import BACKEND_PREFIX, WORKER_PREFIX, backend_identity
from taxiway.realtime.retrieval import KnowledgeBase, KnowledgeDocument
from taxiway.realtime.room import (
    OUTPUT_SAMPLE_RATE,
    AudioOutput,
    AvatarRoom,
    ByteStream,
    DataReceived,
    ParticipantJoined,
    ParticipantLeft,
    RoomDisconnected,
    RoomEvent,
    VideoOutput,
)
from taxiway.realtime.speech import FloatArray, Synthesizer, Transcriber, from_int16, resample, to_int16
from taxiway.realtime.transcript import MemoryRecorder, TranscriptRecorder

log = logging.getLogger(__name__)

NO_PARTICIPANT_CODE = "TALKING_AVATAR.NO_PARTICIPANT"
CONNECT_FAILED_CODE = "TALKING_AVATAR.CONNECT_FAILED"
WORKER_ERROR_CODE = "TALKING_AVATAR.WORKER_ERROR"
DISCONNECTED_CODE = "TALKING_AVATAR.DISCONNECTED"
AGENT_AUDIO_TOPIC = "lk.audio_stream"
AUDIO_FRAME_MS = 10


class Clock(Protocol):
    def now(self) -> float: ...

    async def sleep(self, seconds: float) -> None: ...


class MonotonicClock:
    def now(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class SessionReporter(Protocol):
    """The session service's side of the lifecycle (READY → RUNNING → COMPLETED | FAILED)."""

    async def mark_running(self, session_id: str) -> None: ...

    async def complete(self, session_id: str, duration_seconds: int) -> None: ...

    async def fail(self, session_id: str, code: str, message: str) -> None: ...


@dataclass(frozen=True)
class RoomAccess:
    url: str
    token: str
    room_name: str


@dataclass(frozen=True)
class WorkerSession:
    """Everything the worker needs about one realtime session, resolved by the session service."""

    session_id: str
    access: RoomAccess
    persona: Persona
    reference_image: Image.Image | None = None
    documents: tuple[KnowledgeDocument, ...] = ()
    tools: tuple[ToolSpec, ...] = ()
    max_duration_seconds: float = 300.0
    backend_identity: str | None = None  # the hidden participant serving `backend_rpc` tools
    integration: bool = False  # the customer's room; their agent owns the conversation
    agent_identity: str | None = None  # integration: whose speech to render (default: first to join)

    @property
    def backend(self) -> str:
        return self.backend_identity or backend_identity(self.session_id)


@dataclass(frozen=True)
class WorkerOptions:
    width: int = 640
    height: int = 414
    fps: int = 25  # 48 kHz / 25 = 1920 samples a tick: whole 10 ms audio frames
    join_timeout_seconds: float = 30.0
    layout: FaceLayout = field(default_factory=FaceLayout)


@dataclass(frozen=True)
class WorkerOutcome:
    status: Literal["COMPLETED", "FAILED"]
    reason: str  # end_call, avatar_ended, user_left, max_duration, …; the failure code when FAILED
    duration_seconds: int = 0
    message: str = ""


def llm_config(settings: Settings) -> LlmConfig | None:
    if not settings.llm_url or not settings.llm_model:
        return None
    key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else None
    return LlmConfig(url=settings.llm_url, model=settings.llm_model, api_key=key)


class Playout:
    """Paces the avatar's media: per tick, 1/fps s of voice and the matching video frame."""

    def __init__(
        self, audio: AudioOutput, video: VideoOutput, animator: AvatarAnimator, clock: Clock, fps: int
    ) -> None:
        self.audio, self.video, self.animator, self.clock, self.fps = audio, video, animator, clock, fps
        self.samples_per_tick = OUTPUT_SAMPLE_RATE // fps
        self.played_seconds = 0.0
        self.frames = 0
        self._buffer: deque[FloatArray] = deque()
        self._idle = asyncio.Event()
        self._idle.set()
        self._envelope = MouthEnvelope()

    def enqueue(self, samples: FloatArray, sample_rate: int) -> None:
        if samples.size:
            self._buffer.append(resample(samples, sample_rate, OUTPUT_SAMPLE_RATE))
            self._idle.clear()

    async def speak(self, samples: FloatArray, sample_rate: int) -> None:
        self.enqueue(samples, sample_rate)
        await self.drained()

    async def drained(self) -> None:
        await self._idle.wait()

    def clear(self) -> None:
        """Drop queued speech (an interruption)."""
        self._buffer.clear()
        self.audio.clear_queue()
        self._idle.set()

    async def run(self, on_tick: Callable[[float], None]) -> None:
        start = self.clock.now()
        while True:
            chunk = self._take(self.samples_per_tick)
            openness = self._envelope.update(rms(chunk) if chunk is not None else 0.0)
            if chunk is not None:
                await self._capture_audio(chunk)
                if not self._buffer:
                    self._idle.set()
            self.video.capture_frame(self.animator.video_frame(self.frames, openness))
            self.frames += 1
            now = self.clock.now()
            on_tick(now)
            delay = start + self.frames / self.fps - now
            if delay < -0.5:  # fell far behind (a stalled loop): drop the backlog rather than burst
                start, delay = now - self.frames / self.fps, 0.0
            await self.clock.sleep(max(0.0, delay))

    def _take(self, count: int) -> FloatArray | None:
        parts: list[FloatArray] = []
        while self._buffer and count > 0:
            head = self._buffer.popleft()
            parts.append(head[:count])
            if len(head) > count:
                self._buffer.appendleft(head[count:])
            count -= len(parts[-1])
        return np.concatenate(parts) if parts else None

    async def _capture_audio(self, chunk: FloatArray) -> None:
        per_frame = OUTPUT_SAMPLE_RATE * AUDIO_FRAME_MS // 1000
        pcm = to_int16(chunk)
        for begin in range(0, len(pcm), per_frame):
            part = pcm[begin : begin + per_frame]
            frame = rtc.AudioFrame(part.tobytes(), OUTPUT_SAMPLE_RATE, 1, len(part))
            await self.audio.capture_frame(frame)
        self.played_seconds += len(chunk) / OUTPUT_SAMPLE_RATE


class _RoomOutlet:
    """The conversation's view of the room."""

    def __init__(self, room: AvatarRoom, playout: Playout, backend: str) -> None:
        self.room, self.playout, self.backend = room, playout, backend

    async def speak(self, samples: FloatArray, sample_rate: int) -> None:
        await self.playout.speak(samples, sample_rate)

    async def send(self, message: Mapping[str, Any], topic: str) -> None:
        await self.room.publish_data(json.dumps(message).encode(), topic=topic)

    async def call_backend(self, method: str, payload: str, timeout_seconds: float) -> str:
        return await self.room.perform_rpc(
            destination_identity=self.backend,
            method=method,
            payload=payload,
            response_timeout=timeout_seconds,
        )


def frame_samples(frame: rtc.AudioFrame) -> FloatArray:
    pcm = np.frombuffer(frame.data, dtype=np.int16)
    if frame.num_channels > 1:
        pcm = pcm.reshape(-1, frame.num_channels).mean(axis=1).astype(np.int16)
    return from_int16(pcm)


class AvatarWorker:
    def __init__(
        self,
        session: WorkerSession,
        room: AvatarRoom,
        speech: Synthesizer,
        transcriber: Transcriber,
        settings: Settings,
        *,
        reporter: SessionReporter,
        clock: Clock | None = None,
        options: WorkerOptions | None = None,
        vad: VoiceActivity | None = None,
        llm: ChatModel | None = None,
        recorder: TranscriptRecorder | None = None,
    ) -> None:
        """`vad` defaults to Silero (speech, not noise, opens a turn); `llm` to the configured endpoint;
        `recorder` (the conversation record's transcript) to memory."""
        self.session, self.room = session, room
        self.speech, self.transcriber = speech, transcriber
        self.reporter = reporter
        self.clock = clock or MonotonicClock()
        self.options = options or WorkerOptions()
        self.vad = vad
        config = llm_config(settings)
        self.llm = llm or (ChatModel(config) if config else None)
        self.transcript: list[TranscriptEntry] = []  # the conversation's own log, tools included
        self.recorder: TranscriptRecorder = recorder or MemoryRecorder()
        self.playout: Playout | None = None
        self._user: str | None = None
        self._user_joined = asyncio.Event()
        self._finished = asyncio.Event()
        self._reason = ""
        self._join_deadline = float("inf")
        self._end_deadline = float("inf")

    async def run(self) -> WorkerOutcome:
        """Hold the session from join to end and report it; returns what was reported."""
        session = self.session
        try:
            self.room.on_event(self._on_event)
            await self.room.connect(session.access.url, session.access.token)
        except Exception as exc:
            # The reason stays in the log: told to the client, refused connections and failed TLS
            # handshakes would map which hosts and ports answer wherever the room URL points.
            log.warning("session %s: could not join the room: %s", session.session_id, exc)
            return await self._fail(CONNECT_FAILED_CODE, "Could not join the room.")
        media: asyncio.Task[None] | None = None
        try:
            audio = await self.room.publish_audio(OUTPUT_SAMPLE_RATE)
            video = await self.room.publish_video(self.options.width, self.options.height)
            animator = AvatarAnimator(
                session.reference_image,
                self.options.width,
                self.options.height,
                self.options.fps,
                self.options.layout,
            )
            self.playout = Playout(audio, video, animator, self.clock, self.options.fps)
            self._join_deadline = self.clock.now() + self.options.join_timeout_seconds
            media = asyncio.create_task(self.playout.run(self._on_tick))
            if session.integration:
                return await self._render_for_agent(self.playout)
            return await self._converse(self.playout)
        except Exception as exc:
            log.exception("session %s: worker failed", session.session_id)
            return await self._fail(WORKER_ERROR_CODE, f"The avatar worker failed: {exc}")
        finally:
            if media is not None:
                media.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await media
            with contextlib.suppress(Exception):
                await self.room.disconnect()

    # -- lifecycle

    def _is_user(self, identity: str) -> bool:
        if identity.startswith((WORKER_PREFIX, BACKEND_PREFIX)):
            return False
        wanted = self.session.agent_identity if self.session.integration else None
        return wanted is None or identity == wanted

    def _on_event(self, event: RoomEvent) -> None:
        if isinstance(event, ParticipantJoined):
            self._seen(event.identity)
        elif isinstance(event, ParticipantLeft) and event.identity == self._user:
            self._finish("user_left")
        elif isinstance(event, DataReceived):
            with contextlib.suppress(ValueError, AttributeError):
                if json.loads(event.payload).get("type") == "END_CALL":
                    self._finish("end_call")
        elif isinstance(event, RoomDisconnected):
            self._finish("disconnected")

    def _seen(self, identity: str) -> None:
        if self._user is None and self._is_user(identity):
            self._user = identity
            self._user_joined.set()

    def _on_tick(self, now: float) -> None:
        if now >= self._end_deadline:
            self._finish("max_duration")
        if not self._user_joined.is_set() and now >= self._join_deadline:
            self._finish("no_participant")

    def _finish(self, reason: str) -> None:
        if not self._finished.is_set():
            self._reason = reason
            self._finished.set()

    async def _wait_for_user(self) -> str | None:
        for identity in self.room.remote_identities():
            self._seen(identity)
        waits = [asyncio.ensure_future(event.wait()) for event in (self._user_joined, self._finished)]
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waits:
                waiter.cancel()
        return self._user if self._user_joined.is_set() and not self._finished.is_set() else None

    async def _run_until_finished(self, body: asyncio.Task[None]) -> None:
        ender = asyncio.ensure_future(self._finished.wait())
        try:
            await asyncio.wait([body, ender], return_when=asyncio.FIRST_COMPLETED)
        finally:
            ender.cancel()
            if not body.done():
                body.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await body  # re-raises the body's own error, if it failed

    async def _started(self) -> float:
        started = self.clock.now()
        self._end_deadline = started + self.session.max_duration_seconds
        await self.reporter.mark_running(self.session.session_id)
        return started

    async def _end(self, started: float) -> WorkerOutcome:
        if self._reason == "disconnected":
            return await self._fail(DISCONNECTED_CODE, "The avatar lost its connection to the room")
        duration = max(0, round(self.clock.now() - started))
        await self._flush_transcript()
        await self.reporter.complete(self.session.session_id, duration)
        return WorkerOutcome("COMPLETED", self._reason or "ended", duration)

    async def _fail(self, code: str, message: str) -> WorkerOutcome:
        await self._flush_transcript()
        await self.reporter.fail(self.session.session_id, code, message)
        return WorkerOutcome("FAILED", code, message=message)

    async def _flush_transcript(self) -> None:
        try:
            await self.recorder.flush()
        except Exception:  # a lost transcript must not keep the session from ending
            log.exception("session %s: the transcript could not be kept", self.session.session_id)

    # -- our room: the worker holds the conversation

    async def _converse(self, playout: Playout) -> WorkerOutcome:
        user = await self._wait_for_user()
        if user is None:
            if self._reason == "no_participant":
                return await self._fail(NO_PARTICIPANT_CODE, "No participants joined the session")
            return await self._fail(DISCONNECTED_CODE, "The room closed before anyone joined")
        started = await self._started()
        session = self.session
        conversation = Conversation(
            session.persona,
            _RoomOutlet(self.room, playout, session.backend),
            self.speech,
            self.transcriber,
            knowledge=KnowledgeBase(session.documents),
            tools=session.tools,
            llm=self.llm,
            vad=self.vad or SileroVad(),
            recorder=self.recorder,
        )
        self.transcript = conversation.transcript

        async def talk() -> None:
            await conversation.greet()
            await conversation.listen(self._user_audio(user))
            if conversation.ended.is_set():
                self._finish("avatar_ended")

        await self._run_until_finished(asyncio.create_task(talk()))
        return await self._end(started)

    async def _user_audio(self, identity: str) -> AsyncIterator[tuple[FloatArray, int]]:
        async for frame in self.room.audio_frames(identity):
            yield frame_samples(frame), frame.sample_rate

    # -- the customer's room: the agent talks, the worker renders

    async def _render_for_agent(self, playout: Playout) -> WorkerOutcome:
        segments: asyncio.Queue[ByteStream] = asyncio.Queue()
        self.room.on_byte_stream(AGENT_AUDIO_TOPIC, segments.put_nowait)
        interrupted = asyncio.Event()

        async def clear_buffer(_payload: str, _caller: str) -> str:
            interrupted.set()
            playout.clear()
            return "ok"

        self.room.register_rpc_method("lk.clear_buffer", clear_buffer)
        agent = await self._wait_for_user()
        if agent is None:
            if self._reason == "no_participant":
                return await self._fail(NO_PARTICIPANT_CODE, "The agent did not join the room")
            return await self._fail(DISCONNECTED_CODE, "The room closed before the agent joined")
        started = await self._started()

        async def render() -> None:
            while True:
                segment = await segments.get()
                interrupted.clear()
                await self._play_segment(playout, agent, segment, interrupted)

        await self._run_until_finished(asyncio.create_task(render()))
        return await self._end(started)

    async def _play_segment(
        self, playout: Playout, agent: str, segment: ByteStream, interrupted: asyncio.Event
    ) -> None:
        rate = int(segment.attributes.get("sample_rate", "16000"))
        channels = int(segment.attributes.get("num_channels", "1"))
        began = playout.played_seconds
        await self._agent_rpc(agent, "lk.playback_started", "")
        leftover = b""
        async for chunk in segment.chunks:
            data = leftover + chunk
            usable = len(data) - len(data) % (2 * channels)
            leftover = data[usable:]
            pcm = np.frombuffer(data[:usable], dtype=np.int16).reshape(-1, channels).mean(axis=1)
            if not interrupted.is_set():
                playout.enqueue(from_int16(pcm.astype(np.int16)), rate)
        await playout.drained()
        finished = {
            "playback_position": playout.played_seconds - began,
            "interrupted": interrupted.is_set(),
            "synchronized_transcript": None,
        }
        await self._agent_rpc(agent, "lk.playback_finished", json.dumps(finished))

    async def _agent_rpc(self, agent: str, method: str, payload: str) -> None:
        try:
            await self.room.perform_rpc(
                destination_identity=agent, method=method, payload=payload, response_timeout=5.0
            )
        except Exception as exc:  # the agent may not listen for these; rendering goes on
            log.debug("agent rpc %s failed: %s", method, exc)
