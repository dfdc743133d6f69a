"""The part of a LiveKit room the avatar worker touches, and its adapter over the real `livekit.rtc` SDK.

The worker codes against `AvatarRoom` only, so it runs unchanged in a real LiveKit room (through
`LiveKitRoom`) and in tests, where no LiveKit server can run. Frames cross the seam as the SDK's own
`rtc.AudioFrame` / `rtc.VideoFrame` objects (plain Python buffers; building them needs no connection),
so what a test receives is byte for byte what the SDK would encode.

Room callbacks arrive on the event loop that connected, one `RoomEvent` at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol

from livekit import rtc

log = logging.getLogger(__name__)

OUTPUT_SAMPLE_RATE = 48_000
AUDIO_QUEUE_MS = 200  # the worker paces its own frames; a short queue keeps lips and voice together


@dataclass(frozen=True)
class ParticipantJoined:
    identity: str


@dataclass(frozen=True)
class ParticipantLeft:
    identity: str


@dataclass(frozen=True)
class DataReceived:
    payload: bytes
    topic: str | None
    sender: str | None  # None when a server SDK sent it


@dataclass(frozen=True)
class RoomDisconnected:
    reason: str


RoomEvent = ParticipantJoined | ParticipantLeft | DataReceived | RoomDisconnected


@dataclass
class ByteStream:
    """An incoming LiveKit byte stream (integration mode: the agent's TTS on `lk.audio_stream`)."""

    topic: str
    sender: str
    attributes: dict[str, str]
    chunks: AsyncIterator[bytes] = field(repr=False)


RpcHandler = Callable[[str, str], Awaitable[str]]  # (payload, caller identity) -> reply payload


class AudioOutput(Protocol):
    """What the worker needs of `rtc.AudioSource`."""

    async def capture_frame(self, frame: rtc.AudioFrame) -> None: ...

    def clear_queue(self) -> None: ...


class VideoOutput(Protocol):
    """What the worker needs of `rtc.VideoSource`."""

    def capture_frame(self, frame: rtc.VideoFrame) -> None: ...


class AvatarRoom(Protocol):
    @property
    def local_identity(self) -> str: ...

    async def connect(self, url: str, token: str) -> None: ...

    def on_event(self, callback: Callable[[RoomEvent], None]) -> None:
        """Set the one receiver of participant, data and disconnect events."""
        ...

    def remote_identities(self) -> list[str]:
        """Participants already in the room (no join event fires for them)."""
        ...

    async def publish_audio(self, sample_rate: int) -> AudioOutput:
        """Publish a mono `Microphone` track and return its source."""
        ...

    async def publish_video(self, width: int, height: int) -> VideoOutput:
        """Publish a `Camera` track and return its source."""
        ...

    def audio_frames(self, identity: str) -> AsyncIterator[rtc.AudioFrame]:
        """Mono frames of `identity`'s microphone, from when it is published until it ends."""
        ...

    async def publish_data(self, payload: bytes, *, topic: str) -> None:
        """Reliable data to everyone in the room."""
        ...

    async def perform_rpc(
        self, *, destination_identity: str, method: str, payload: str, response_timeout: float
    ) -> str:
        """Call a method another participant registered; raises `rtc.RpcError` on failure or timeout."""
        ...

    def register_rpc_method(self, method: str, handler: RpcHandler) -> None: ...

    def on_byte_stream(self, topic: str, handler: Callable[[ByteStream], None]) -> None: ...

    async def disconnect(self) -> None: ...


class LiveKitRoom:
    """`AvatarRoom` over a real `rtc.Room`."""

    def __init__(self) -> None:
        self._room: rtc.Room | None = None
        self._callback: Callable[[RoomEvent], None] = lambda _event: None
        self._sources: list[rtc.AudioSource | rtc.VideoSource] = []

    @property
    def room(self) -> rtc.Room:
        if self._room is None:
            raise RuntimeError("not connected")
        return self._room

    @property
    def local_identity(self) -> str:
        return self.room.local_participant.identity

    async def connect(self, url: str, token: str) -> None:
        room = rtc.Room(loop=asyncio.get_running_loop())
        room.on("participant_connected", lambda p: self._callback(ParticipantJoined(p.identity)))
        room.on("participant_disconnected", lambda p: self._callback(ParticipantLeft(p.identity)))
        room.on("data_received", self._on_data)
        room.on("disconnected", lambda reason: self._callback(RoomDisconnected(str(reason))))
        self._room = room
        await room.connect(url, token, rtc.RoomOptions(auto_subscribe=True))

    def _on_data(self, packet: rtc.DataPacket) -> None:
        sender = packet.participant.identity if packet.participant else None
        self._callback(DataReceived(bytes(packet.data), packet.topic or None, sender))

    def on_event(self, callback: Callable[[RoomEvent], None]) -> None:
        self._callback = callback

    def remote_identities(self) -> list[str]:
        return list(self.room.remote_participants)

    async def publish_audio(self, sample_rate: int) -> AudioOutput:
        source = rtc.AudioSource(sample_rate, 1, queue_size_ms=AUDIO_QUEUE_MS)
        track = rtc.LocalAudioTrack.create_audio_track("avatar-voice", source)
        options = rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE)
        await self.room.local_participant.publish_track(track, options)
        self._sources.append(source)
        return source

    async def publish_video(self, width: int, height: int) -> VideoOutput:
        source = rtc.VideoSource(width, height)
        track = rtc.LocalVideoTrack.create_video_track("avatar-video", source)
        options = rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_CAMERA)
        await self.room.local_participant.publish_track(track, options)
        self._sources.append(source)
        return source

    async def audio_frames(self, identity: str) -> AsyncIterator[rtc.AudioFrame]:
        participant = self.room.remote_participants.get(identity)
        if participant is None:
            return
        stream = rtc.AudioStream.from_participant(
            participant=participant,
            track_source=rtc.TrackSource.SOURCE_MICROPHONE,
            sample_rate=OUTPUT_SAMPLE_RATE,
            num_channels=1,
        )
        try:
            async for event in stream:
                yield event.frame
        finally:
            await stream.aclose()

    async def publish_data(self, payload: bytes, *, topic: str) -> None:
        await self.room.local_participant.publish_data(payload, reliable=True, topic=topic)

    async def perform_rpc(
        self, *, destination_identity: str, method: str, payload: str, response_timeout: float
    ) -> str:
        return await self.room.local_participant.perform_rpc(
            destination_identity=destination_identity,
            method=method,
            payload=payload,
            response_timeout=response_timeout,
        )

    def register_rpc_method(self, method: str, handler: RpcHandler) -> None:
        async def invoke(data: rtc.RpcInvocationData) -> str:
            return await handler(data.payload, data.caller_identity)

        self.room.local_participant.register_rpc_method(method, invoke)

    def on_byte_stream(self, topic: str, handler: Callable[[ByteStream], None]) -> None:
        def opened(reader: rtc.ByteStreamReader, sender: str) -> None:
            info = reader.info
            handler(ByteStream(info.topic, sender, dict(info.attributes or {}), aiter(reader)))

        self.room.register_byte_stream_handler(topic, opened)

    async def disconnect(self) -> None:
        if self._room is None:
            return
        for source in self._sources:
            with contextlib.suppress(Exception):  # closing a source of a dropped room may fail; nothing to do
                await source.aclose()
        self._sources.clear()
        await self._room.disconnect()
