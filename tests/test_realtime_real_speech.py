"""The avatar worker with the real offline speech engines: synthesized speech is the user's microphone.

Silero decides when the user spoke, Whisper transcribes it, retrieval answers, and the avatar's preset
voice speaks the answer back, all as audio frames through the (fake) room.
"""

from __future__ import annotations

import asyncio

import numpy as np

from support.fake_room import FakeRoom
from support.server import ENGINE_CACHE
from taxiway.config import Settings
from taxiway.engines.audio import tts
from taxiway.realtime.conversation import Persona
from taxiway.realtime.launcher import OfflineSpeech
from taxiway.realtime.worker import AvatarWorker, WorkerOptions
from test_realtime_worker import HOURS_ANSWER, USER, RecordingReporter, ScaledClock, make_session


async def test_spoken_question_gets_a_spoken_grounded_answer() -> None:
    session = make_session(
        persona=Persona("Clara", "The clinic's receptionist.", "Clint", start_script="Hello, how can I help?")
    )
    room = FakeRoom(f"worker:{session.session_id}")
    reporter = RecordingReporter()
    worker = AvatarWorker(
        session,
        room,
        OfflineSpeech(ENGINE_CACHE),
        OfflineSpeech(ENGINE_CACHE),
        Settings(),
        reporter=reporter,
        clock=ScaledClock(4.0),
        options=WorkerOptions(width=160, height=104, join_timeout_seconds=600.0),
    )
    task = asyncio.create_task(worker.run())
    room.join(USER)
    await room.until(lambda: bool(room.messages("transcription", "assistant")), 120)

    question = tts.synthesize("When do you open on Saturday?", "Mark", cache=ENGINE_CACHE)
    room.speak(USER, question.samples, question.rate, silence_after=1.5)
    await room.until(lambda: bool(room.messages("transcription", "user")), 120)
    heard = room.messages("transcription", "user")[0]["text"].lower()
    assert "saturday" in heard, heard

    await room.until(lambda: len(room.messages("transcription", "assistant")) >= 2, 120)
    assert room.messages("transcription", "assistant")[1]["text"] == HOURS_ANSWER
    await room.until(lambda: len(room.published_audio()) > 48_000 * 3, 120)
    assert float(np.sqrt(np.mean(room.published_audio() ** 2))) > 0.01  # a voice, not silence

    room.send_data(USER, {"type": "END_CALL"})
    outcome = await asyncio.wait_for(task, 60)
    assert (outcome.status, outcome.reason) == ("COMPLETED", "end_call")
