"""Background making of custom voices: PROCESSING → READY (with a spoken preview) | FAILED.

A voice from audio is cloned from its sample (`engines.audio.voice_clone`); a voice from text is designed
from its prompt (`engines.audio.voice_design`). Either way the result is a `Preset`, stored as data, and
an MP3 of the new voice reading `PREVIEW_TEXT`. Blobs live under `voices/<id>/`; the sample (a data URI's
bytes, saved at creation) is deleted once the voice is settled. Jobs run in the server process and
resume at start-up, like avatars'.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from taxiway.assets.background import AssetJobs, load_staged, stage
from taxiway.assets.errors import AssetError
from taxiway.assets.intake import AssetIntake
from taxiway.assets.kinds import MIB, AssetKind
from taxiway.clock import utcnow
from taxiway.db.tables import Voice
from taxiway.engines.audio import codec, tts, voice_clone
from taxiway.engines.audio.voice_clone import SampleRejected, clone
from taxiway.engines.audio.voice_design import design
from taxiway.engines.audio.voices import Preset
from taxiway.errors import Failure
from taxiway.storage.blobs import BlobStore

log = logging.getLogger(__name__)

FIELD = "from.audio"
PATH = ("from", "audio")
MAX_SAMPLE_BYTES = 10 * MIB
PREVIEW_TEXT = (
    "Hello! This is my new voice. I can read your stories, answer your questions, and keep you company."
)
PREVIEW_LANGUAGE = "en"
PREVIEWS_PREFIX = "voice-previews"
GONE = "The audio sample is no longer available. Create the voice again."
UNEXPECTED = "The voice could not be created."


def voice_prefix(voice_id: str) -> str:
    return f"voices/{voice_id}"


def sample_folder(voice_id: str) -> str:
    return f"{voice_prefix(voice_id)}/sample"


def sample_key(voice_id: str) -> str:
    return f"{sample_folder(voice_id)}/original"


def preview_key(voice_id: str) -> str:
    return f"{voice_prefix(voice_id)}/preview.mp3"


async def stage_audio(store: BlobStore, voice_id: str, uri: str) -> str:
    """The `pending_audio` for a checked sample (see `assets.background`)."""
    return await stage(store, sample_key(voice_id), uri, AssetKind.AUDIO)


@dataclass(frozen=True)
class Preview:
    mp3: bytes
    seconds: float


def speak(preset: Preset, cache: Path) -> Preview:
    """The preview: the voice reading `PREVIEW_TEXT`, as an MP3 (blocking)."""
    clip = tts.synthesize(PREVIEW_TEXT, preset, PREVIEW_LANGUAGE, cache=cache)
    return Preview(codec.encode_mp3(clip), clip.seconds)


def _clone(data: bytes, name: str, cache: Path) -> tuple[Preset, Preview]:
    if len(data) > MAX_SAMPLE_BYTES:
        raise SampleRejected(f"The audio sample is {len(data) / MIB:.1f} MB; at most 10 MB are accepted.")
    preset = clone(codec.decode(data, voice_clone.RATE, FIELD), name, cache)
    return preset, speak(preset, cache)


def _design(prompt: str, name: str, cache: Path) -> tuple[Preset, Preview]:
    preset = design(prompt, name)
    return preset, speak(preset, cache)


@dataclass(frozen=True)
class _Job:
    voice_id: str
    organization_id: str
    source: str
    pending_audio: str | None
    prompt: str | None


class VoiceProcessor(AssetJobs):
    """Runs voice jobs and previews, `concurrency` at a time: each is seconds of CPU."""

    table = Voice

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        store: BlobStore,
        intake: AssetIntake,
        *,
        cache: Path,
        concurrency: int = 2,
    ) -> None:
        super().__init__(sessions, store, intake, concurrency)
        self.cache = cache  # the engine cache dir (speech models are assembled there on first use)
        # A preview is answered while its client waits: it never queues behind voices being made in
        # the background (the API bounds previews per organization).
        self._preview_slots = asyncio.Semaphore(concurrency)

    async def preview(self, prompt: str) -> Preview:
        """`POST /v1/voices/preview`: the designed voice's sample, nothing stored in the database."""
        async with self._preview_slots:
            return await asyncio.to_thread(lambda: speak(design(prompt, "preview"), self.cache))

    async def store_preview(self, organization_id: str, mp3: bytes, ttl: float) -> str:
        """Saves a preview under a key of its own and deletes the organization's previews whose URLs
        have expired (nothing in the database points at them); returns the key."""
        folder = f"{PREVIEWS_PREFIX}/{organization_id}"
        for key, written in (await self.store.list_prefix(folder)).items():
            if written < time.time() - ttl:
                await self.store.delete_prefix(key.rsplit("/", 1)[0])
        key = f"{folder}/{uuid.uuid4().hex}/preview.mp3"
        await self.store.put(key, mp3)
        return key

    async def _run(self, voice_id: str) -> None:
        async with self._slots:
            async with self.sessions() as session:
                voice = await session.get(Voice, voice_id)
                if voice is None or voice.status != "PROCESSING":
                    return
                job = _Job(voice.id, voice.organization_id, voice.source, voice.pending_audio, voice.prompt)
            try:
                preset, preview = await self._make(job)
            except (Failure, AssetError, SampleRejected) as exc:
                await self._fail(job, _reason(exc))
            except Exception:
                log.exception("voice %s: processing failed", voice_id)
                await self._fail(job, UNEXPECTED)
            else:
                await self._finish(job, preset, preview)

    async def _make(self, job: _Job) -> tuple[Preset, Preview]:
        if job.source == "text":
            return await asyncio.to_thread(_design, job.prompt or "", job.voice_id, self.cache)
        source = job.pending_audio or ""
        data = await load_staged(
            self.store, self.intake, source, AssetKind.AUDIO, PATH, job.organization_id, GONE
        )
        return await asyncio.to_thread(_clone, data, job.voice_id, self.cache)

    async def _settle(self, job: _Job, **values: object) -> bool:
        async with self.sessions.begin() as session:
            result = await session.execute(
                update(Voice)
                .where(Voice.id == job.voice_id, Voice.status == "PROCESSING")
                .values(pending_audio=None, updated_at=utcnow(), **values)
            )
            settled = bool(getattr(result, "rowcount", 0))
            gone = not settled and await session.get(Voice, job.voice_id) is None
        if gone:  # deleted while processing: what this job wrote is nobody's now
            await self.store.delete_prefix(voice_prefix(job.voice_id))
        return settled

    async def _finish(self, job: _Job, preset: Preset, preview: Preview) -> None:
        key = preview_key(job.voice_id)
        await self.store.put(key, preview.mp3)
        if await self._settle(job, status="READY", preset=preset.to_json(), preview_key=key):
            await self.store.delete_prefix(sample_folder(job.voice_id))

    async def _fail(self, job: _Job, reason: str) -> None:
        if await self._settle(job, status="FAILED", failure_reason=reason, preset=None, preview_key=None):
            await self.store.delete_prefix(voice_prefix(job.voice_id))


def _reason(exc: Failure | AssetError | SampleRejected) -> str:
    """A failure reason that names the field, as the API's 400s do."""
    if isinstance(exc, Failure):
        return exc.message
    text = exc.reason if isinstance(exc, AssetError) else str(exc)
    return text if text.startswith(f"{FIELD}:") else f"{FIELD}: {text}"
