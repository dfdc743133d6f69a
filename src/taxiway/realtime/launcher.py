"""Starts and stops avatar workers for the session service, with the offline speech engines.

The session service decides *when* a room gets its avatar (consume, an integration room at READY, a
restart); this module turns a session's plan into a running `AvatarWorker` on the server's event loop,
its transcript kept in the session's conversation record.
"""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from taxiway.assets.errors import FETCH_FAILED, AssetError
from taxiway.assets.fetch import AssetFetcher, parse_url
from taxiway.assets.intake import AssetPolicy
from taxiway.config import Settings
from taxiway.realtime.conversation import Persona, ToolSpec, VoiceActivity
from taxiway.realtime.records import StoredTranscript
from taxiway.realtime.retrieval import KnowledgeDocument
from taxiway.realtime.room import AvatarRoom, LiveKitRoom
from taxiway.realtime.sessions import SessionPlan, SessionService
from taxiway.realtime.speech import FloatArray, SpeakingVoice
from taxiway.realtime.worker import (
    CONNECT_FAILED_CODE,
    AvatarWorker,
    RoomAccess,
    WorkerOptions,
    WorkerSession,
)
from taxiway.storage.blobs import BlobStore

log = logging.getLogger(__name__)

# A custom voice that is gone (deleted since the avatar chose it) speaks with this live preset.
FALLBACK_VOICE = "clara"


class OfflineSpeech:
    """The worker's `Synthesizer` and `Transcriber`, served by the audio engines' public functions."""

    def __init__(self, cache: Path) -> None:
        self.cache = cache  # the engine cache dir, where the speech models are assembled on first use

    def synthesize(
        self, text: str, voice: SpeakingVoice, language: str | None = None
    ) -> tuple[FloatArray, int]:
        from taxiway.engines.audio import tts  # loaded on the first session, not at server start

        clip = tts.synthesize(text, voice, language, cache=self.cache)
        return clip.samples, clip.rate

    def transcribe(self, samples: FloatArray, sample_rate: int, language: str | None = None) -> str:
        from taxiway.engines.audio import asr
        from taxiway.engines.audio.codec import Clip

        clip = Clip(np.asarray(samples, np.float32), sample_rate)
        return asr.transcribe(clip, language, cache=self.cache).text.strip()


def worker_session(plan: SessionPlan, image: Image.Image | None) -> WorkerSession:
    persona = plan.persona
    voice: SpeakingVoice | None = plan.custom_voice
    if voice is None and persona.voice.get("type") == "runway-live-preset":
        voice = persona.voice.get("presetId")
    return WorkerSession(
        session_id=plan.session_id,
        access=RoomAccess(plan.access.url, plan.access.token, plan.access.room_name),
        persona=Persona(
            name=persona.name,
            personality=persona.personality,
            voice=voice or FALLBACK_VOICE,
            start_script=persona.start_script,
        ),
        reference_image=image,
        documents=tuple(KnowledgeDocument(name, content) for name, content in plan.documents),
        tools=tuple(ToolSpec.from_api(tool) for tool in plan.tools),
        max_duration_seconds=float(plan.max_duration),
        integration=plan.integration,
        agent_identity=plan.agent_identity,
    )


class OfflineWorkerLauncher:
    """One asyncio task per live session; `stop` cancels it (the session was ended from outside).

    `room_factory`, `speech`, `vad` and `options` are the worker's parts, replaceable where no LiveKit
    server or speech model can run (tests). `network` is the asset intake's network policy: a room URL
    the client chose (`integration`) is resolved under it before anything connects, and a name that
    leads into a private network is refused, as for asset URLs. The operator's own LiveKit server is
    trusted as configured.
    """

    def __init__(
        self,
        service: SessionService,
        store: BlobStore,
        settings: Settings,
        *,
        room_factory: Callable[[], AvatarRoom] = LiveKitRoom,
        speech: Any = None,
        vad: Callable[[], VoiceActivity] | None = None,
        options: WorkerOptions | None = None,
        network: AssetFetcher | None = None,
    ) -> None:
        self.service, self.store, self.settings = service, store, settings
        self.network = network or AssetPolicy.from_settings(settings).fetcher()
        self.room_factory = room_factory
        self.speech = speech or OfflineSpeech(settings.engine_cache_dir)
        self.vad = vad
        self.options = options
        self._tasks: dict[str, asyncio.Task[None]] = {}

    def start(self, session_id: str) -> None:
        if session_id in self._tasks:
            return
        task = asyncio.get_running_loop().create_task(self._run(session_id), name=f"avatar-{session_id}")
        self._tasks[session_id] = task
        task.add_done_callback(lambda _task: self._tasks.pop(session_id, None))

    def stop(self, session_id: str) -> None:
        task = self._tasks.get(session_id)
        if task is not None:
            task.cancel()

    async def close(self) -> None:
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _run(self, session_id: str) -> None:
        plan = await self.service.plan(session_id)
        if plan is None:
            return
        if plan.integration and not await self._reachable(plan):
            return
        transcript = StoredTranscript(self.service.sessions, session_id)
        try:
            session = worker_session(plan, await self._image(plan.persona.image_key))
            worker = AvatarWorker(
                session,
                self.room_factory(),
                self.speech,
                self.speech,
                self.settings,
                reporter=self.service,
                options=self.options,
                vad=self.vad() if self.vad is not None else None,
                recorder=transcript,
            )
            await worker.run()
        except asyncio.CancelledError:
            raise
        except Exception as error:  # the worker reports its own failures; this is everything else
            log.exception("avatar worker for session %s crashed", session_id)
            message = f"avatar worker error: {error}"
            await self.service.fail(session_id, "TALKING_AVATAR.WORKER_ERROR", message)
        finally:  # a stopped worker's last turns are written before the task ends (and the app with it)
            await transcript.flush()

    async def _reachable(self, plan: SessionPlan) -> bool:
        """The customer's room URL passes the network policy; otherwise the session fails, unconnected."""
        allow_private = self.network.policy.allow_private_networks
        schemes = ("wss", "https", "ws", "http") if allow_private else ("wss", "https")
        try:
            await self.network.pin(parse_url(plan.access.url, schemes, allow_addresses=allow_private))
        except AssetError as exc:
            reason = exc.reason.removeprefix(FETCH_FAILED).strip() or exc.reason
            await self.service.fail(
                plan.session_id, CONNECT_FAILED_CODE, f"Could not join the room: {reason}"
            )
            return False
        return True

    async def _image(self, key: str | None) -> Image.Image | None:
        if not key:
            return None
        data = await self.store.read(key)
        if data is None:
            return None
        image = Image.open(io.BytesIO(data))
        image.load()
        return image.convert("RGB")
