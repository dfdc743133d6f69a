"""An in-memory `AvatarRoom`: the test plays the user (and the backend), the worker is the avatar.

No LiveKit server can run in CI, so this stands in for the room the worker would join. It records
everything the worker publishes — audio frames, video frames (with how much audio preceded each),
data messages, RPC calls — and lets the test speak into a participant's microphone, send data, join,
leave, and serve RPC methods as the hidden backend participant would.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from livekit import rtc

from taxiway.realtime.room import (
    AudioOutput,
    ByteStream,
    DataReceived,
    ParticipantJoined,
    ParticipantLeft,
    RoomEvent,
    RpcHandler,
    VideoOutput,
)
from taxiway.realtime.speech import FloatArray, from_int16, resample, to_int16

MIC_RATE = 48_000
MIC_FRAME = 480  # 10 ms, what a browser sends


@dataclass
class VideoRecord:
    frame: rtc.VideoFrame
    audio_before: int  # audio samples the worker had published when it sent this frame

    def pixels(self) -> np.ndarray:
        return np.frombuffer(bytes(self.frame.data), dtype=np.uint8).reshape(
            self.frame.height, self.frame.width, 4
        )


class _Audio:
    def __init__(self, room: FakeRoom) -> None:
        self.room = room

    async def capture_frame(self, frame: rtc.AudioFrame) -> None:
        self.room.audio_frames_out.append(frame)
        self.room.audio_samples_out += frame.samples_per_channel

    def clear_queue(self) -> None:
        self.room.cleared += 1


class _Video:
    def __init__(self, room: FakeRoom) -> None:
        self.room = room

    def capture_frame(self, frame: rtc.VideoFrame) -> None:
        self.room.video_out.append(VideoRecord(frame, self.room.audio_samples_out))


class FakeRoom:
    def __init__(self, identity: str, present: tuple[str, ...] = ()) -> None:
        self.identity = identity
        self.present: list[str] = list(present)
        self.connected_to: tuple[str, str] | None = None
        self.disconnected = False
        self.audio_rate: int | None = None
        self.video_size: tuple[int, int] | None = None
        self.audio_frames_out: list[rtc.AudioFrame] = []
        self.audio_samples_out = 0
        self.cleared = 0
        self.video_out: list[VideoRecord] = []
        self.data_out: list[tuple[str, dict[str, Any]]] = []
        self.rpc_calls: list[dict[str, Any]] = []
        self.backend: dict[str, Callable[[str], Awaitable[str]]] = {}  # methods the fake backend serves
        self.worker_methods: dict[str, RpcHandler] = {}
        self.byte_handlers: dict[str, Callable[[ByteStream], None]] = {}
        self._callback: Callable[[RoomEvent], None] = lambda _event: None
        self._mics: dict[str, asyncio.Queue[rtc.AudioFrame | None]] = {}

    # -- AvatarRoom

    @property
    def local_identity(self) -> str:
        return self.identity

    async def connect(self, url: str, token: str) -> None:
        self.connected_to = (url, token)

    def on_event(self, callback: Callable[[RoomEvent], None]) -> None:
        self._callback = callback

    def remote_identities(self) -> list[str]:
        return list(self.present)

    async def publish_audio(self, sample_rate: int) -> AudioOutput:
        self.audio_rate = sample_rate
        return _Audio(self)

    async def publish_video(self, width: int, height: int) -> VideoOutput:
        self.video_size = (width, height)
        return _Video(self)

    async def audio_frames(self, identity: str) -> AsyncIterator[rtc.AudioFrame]:
        mic = self._mic(identity)
        while (frame := await mic.get()) is not None:
            yield frame

    async def publish_data(self, payload: bytes, *, topic: str) -> None:
        self.data_out.append((topic, json.loads(payload)))

    async def perform_rpc(
        self, *, destination_identity: str, method: str, payload: str, response_timeout: float
    ) -> str:
        self.rpc_calls.append(
            {
                "destination": destination_identity,
                "method": method,
                "payload": payload,
                "timeout": response_timeout,
            }
        )
        handler = self.backend.get(method)
        if handler is None:
            raise rtc.RpcError(
                rtc.RpcError.ErrorCode.UNSUPPORTED_METHOD, "Method not supported at destination"
            )
        return await handler(payload)

    def register_rpc_method(self, method: str, handler: RpcHandler) -> None:
        self.worker_methods[method] = handler

    def on_byte_stream(self, topic: str, handler: Callable[[ByteStream], None]) -> None:
        self.byte_handlers[topic] = handler

    async def disconnect(self) -> None:
        self.disconnected = True

    # -- the test's side

    def join(self, identity: str) -> None:
        self.present.append(identity)
        self._callback(ParticipantJoined(identity))

    def leave(self, identity: str) -> None:
        self.present.remove(identity)
        self._mic(identity).put_nowait(None)
        self._callback(ParticipantLeft(identity))

    def send_data(self, sender: str, message: dict[str, Any], topic: str | None = None) -> None:
        self._callback(DataReceived(json.dumps(message).encode(), topic, sender))

    def speak(self, identity: str, samples: FloatArray, rate: int, silence_after: float = 1.0) -> None:
        """Put speech, then quiet, into `identity`'s microphone as 10 ms 48 kHz int16 frames."""
        audio = np.concatenate([resample(samples, rate, MIC_RATE), np.zeros(int(silence_after * MIC_RATE))])
        pcm = to_int16(audio.astype(np.float32))
        mic = self._mic(identity)
        for start in range(0, len(pcm) - MIC_FRAME + 1, MIC_FRAME):
            mic.put_nowait(rtc.AudioFrame(pcm[start : start + MIC_FRAME].tobytes(), MIC_RATE, 1, MIC_FRAME))

    def published_audio(self) -> FloatArray:
        parts = [np.frombuffer(bytes(frame.data), dtype=np.int16) for frame in self.audio_frames_out]
        return from_int16(np.concatenate(parts)) if parts else np.zeros(0, dtype=np.float32)

    def messages(self, kind: str | None = None, role: str | None = None) -> list[dict[str, Any]]:
        return [
            message
            for _topic, message in self.data_out
            if (kind is None or message.get("type") == kind) and (role is None or message.get("role") == role)
        ]

    async def until(self, condition: Callable[[], bool], limit_seconds: float = 30.0) -> None:
        """Wait for the worker to bring about `condition` (the timeout only guards against hangs)."""
        deadline = time.monotonic() + limit_seconds
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError("the worker never got there")
            await asyncio.sleep(0.005)

    def _mic(self, identity: str) -> asyncio.Queue[rtc.AudioFrame | None]:
        return self._mics.setdefault(identity, asyncio.Queue())
