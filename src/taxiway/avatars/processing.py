"""Background processing of avatars' reference images: PROCESSING → READY | FAILED.

Each new reference image (or new `imageProcessing`) bumps the avatar's `image_version`; a job writes
its result only if the version is still the one it read, so a superseded job cannot overwrite a
newer image. Blobs live under `avatars/<id>/v<version>/`; once a version is final, the older
versions' blobs are deleted. Jobs run in the server process and resume at start-up.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from sqlalchemy import update

from taxiway.assets.background import BLOB_PENDING, AssetJobs, load_staged, stage
from taxiway.assets.errors import AssetError
from taxiway.assets.kinds import AssetKind
from taxiway.avatars import images
from taxiway.clock import utcnow
from taxiway.db.tables import Avatar
from taxiway.errors import Failure
from taxiway.storage.blobs import BlobStore

log = logging.getLogger(__name__)

FIELD = "referenceImage"
GONE = "The reference image is no longer available. Update the avatar with a new one."


def avatar_prefix(avatar_id: str) -> str:
    return f"avatars/{avatar_id}"


def version_prefix(avatar_id: str, version: int) -> str:
    return f"{avatar_prefix(avatar_id)}/v{version}"


def original_key(avatar_id: str, version: int) -> str:
    return f"{version_prefix(avatar_id, version)}/original"


async def stage_image(store: BlobStore, avatar_id: str, version: int, uri: str) -> str:
    """The `pending_image` for a new, already checked reference image (see `assets.background`)."""
    return await stage(store, original_key(avatar_id, version), uri, AssetKind.IMAGE)


def reprocess_source(avatar: Avatar) -> str | None:
    """What to process again when only `imageProcessing` changes: the waiting image, else the last
    original that was processed; None when there is none (a FAILED avatar keeps just the setting)."""
    if avatar.pending_image:
        return avatar.pending_image
    if avatar.processed_key:
        return BLOB_PENDING + avatar.processed_key.rsplit("/", 1)[0] + "/original"
    return None


@dataclass(frozen=True)
class _Job:
    avatar_id: str
    organization_id: str
    version: int
    source: str
    image_processing: str


class AvatarProcessor(AssetJobs):
    table = Avatar

    async def _run(self, avatar_id: str) -> None:
        async with self._slots:
            async with self.sessions() as session:
                avatar = await session.get(Avatar, avatar_id)
                if avatar is None or avatar.status != "PROCESSING" or not avatar.pending_image:
                    return
                job = _Job(
                    avatar.id,
                    avatar.organization_id,
                    avatar.image_version,
                    avatar.pending_image,
                    avatar.image_processing,
                )
            try:
                made = await self._process(job)
            except (Failure, AssetError) as exc:
                reason = exc.message if isinstance(exc, Failure) else f"{FIELD}: {exc.reason}"
                await self._fail(job, reason)
            except Exception:
                log.exception("avatar %s: processing failed", avatar_id)
                await self._fail(job, "The reference image could not be processed.")
            else:
                await self._finish(job, made)

    async def _process(self, job: _Job) -> dict[str, str]:
        data = await load_staged(
            self.store, self.intake, job.source, AssetKind.IMAGE, [FIELD], job.organization_id, GONE
        )
        try:
            made = await asyncio.to_thread(images.process, data, job.image_processing)
        except images.ImageRejected as exc:
            raise AssetError(str(exc)) from None
        prefix = version_prefix(job.avatar_id, job.version)
        keys = {
            "processed_key": f"{prefix}/processed.png",
            "processed_preview_key": f"{prefix}/processed-preview.jpg",
            "reference_preview_key": f"{prefix}/reference-preview.jpg",
        }
        original = original_key(job.avatar_id, job.version)
        if job.source != BLOB_PENDING + original:
            await self.store.put(original, made.original)
        await self.store.put(keys["processed_key"], made.processed)
        await self.store.put(keys["processed_preview_key"], made.processed_preview)
        await self.store.put(keys["reference_preview_key"], made.reference_preview)
        return keys

    async def _settle(self, job: _Job, **values: object) -> bool:
        async with self.sessions.begin() as session:
            result = await session.execute(
                update(Avatar)
                .where(Avatar.id == job.avatar_id, Avatar.image_version == job.version)
                .values(pending_image=None, updated_at=utcnow(), **values)
            )
            if getattr(result, "rowcount", 0):
                return True
            gone = await session.get(Avatar, job.avatar_id) is None
        if gone:  # deleted while processing: what this job wrote is nobody's now
            await self.store.delete_prefix(avatar_prefix(job.avatar_id))
        return False

    async def _finish(self, job: _Job, keys: dict[str, str]) -> None:
        if await self._settle(job, status="READY", failure_reason=None, **keys):
            for older in range(1, job.version):
                await self.store.delete_prefix(version_prefix(job.avatar_id, older))

    async def _fail(self, job: _Job, reason: str) -> None:
        cleared = {"processed_key": None, "processed_preview_key": None, "reference_preview_key": None}
        if await self._settle(job, status="FAILED", failure_reason=reason, **cleared):
            for version in range(1, job.version + 1):
                await self.store.delete_prefix(version_prefix(job.avatar_id, version))
