"""Deletes uploaded files once their `runway://` URI has expired, without breaking accepted work.

Tasks and avatars read their `runway://` inputs when they run, which may be long after the URI
expired (a task submitted at 23h59 and throttled for hours). Rather than copying every input at
submission, the sweeper keeps every upload that a queued or running task, or an avatar or a voice still
waiting for processing, names: those rows are the one source of truth, so there is no second copy that a
crash could orphan, and a file many tasks use is stored once. Other uploads are deleted
`LEEWAY_SECONDS` after they expired; a new request naming one is refused as expired, as before.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from taxiway import clock as server_clock
from taxiway.assets.uploads import (
    SCHEME,
    UPLOADS_PREFIX,
    URI_TTL_SECONDS,
    UploadTokenError,
    UploadTokens,
    upload_folder,
)
from taxiway.db.tables import Avatar, Task, Voice
from taxiway.periodic import Periodic
from taxiway.status import TaskStatus
from taxiway.storage.blobs import BlobStore

log = logging.getLogger("taxiway.uploads")

# Room for a request that checked a URI just before it expired and is still committing its task, so
# that task is in the database before its upload can be judged unused.
LEEWAY_SECONDS = 3600.0
_UNFINISHED = tuple(status.value for status in TaskStatus if not status.terminal)


@dataclass(frozen=True)
class SweepResult:
    """Upload folders (`uploads/<org>/<expires>-<id>`) deleted, and those kept for accepted work."""

    deleted: list[str]
    kept: list[str]


def runway_uris(value: Any) -> Iterator[str]:
    """Every `runway://` string anywhere in a task's params, whatever field the catalog puts it in."""
    if isinstance(value, str):
        if value[: len(SCHEME)].lower() == SCHEME:
            yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from runway_uris(item)
    elif isinstance(value, list):
        for item in value:
            yield from runway_uris(item)


class UploadSweeper:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        store: BlobStore,
        tokens: UploadTokens,
        *,
        interval_seconds: float,
        leeway_seconds: float = LEEWAY_SECONDS,
        clock: Callable[[], float] = server_clock.timestamp,
    ) -> None:
        self._sessions = sessions
        self._store = store
        self._tokens = tokens
        self._leeway = leeway_seconds
        self._clock = clock
        self._loop = Periodic(
            "taxiway-upload-sweeper",
            self.sweep,
            interval_seconds,
            log,
            f"upload sweep failed; trying again in {interval_seconds:g} s",
        )

    async def start(self) -> None:
        """Sweep now (the server may have been down for days) and then every interval."""
        await self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()

    async def sweep(self) -> SweepResult:
        # Expired folders first, references second: a URI expired past the leeway cannot be
        # accepted any more, so no new reference to a listed folder can appear in between.
        expired = await self._expired_folders(self._clock())
        if not expired:
            return SweepResult([], [])
        in_use = await self._folders_in_use()
        deleted, kept = [], []
        for folder in sorted(expired):
            if folder in in_use:
                kept.append(folder)
                continue
            await self._store.delete_prefix(folder)
            deleted.append(folder)
        if deleted:
            log.info("deleted %d expired uploads (%d kept for queued work)", len(deleted), len(kept))
        return SweepResult(deleted, kept)

    async def _expired_folders(self, now: float) -> set[str]:
        expiries: dict[str, float] = {}
        for key, written in (await self._store.list_prefix(UPLOADS_PREFIX)).items():
            found = upload_folder(key)
            if found is None:
                continue
            folder, expires_at = found
            # A folder named without its expiry was written after its grant, so written + TTL is
            # never before the URI's real expiry.
            expiry = float(expires_at) if expires_at is not None else written + URI_TTL_SECONDS
            expiries[folder] = max(expiries.get(folder, -math.inf), expiry)
        return {folder for folder, expiry in expiries.items() if expiry + self._leeway <= now}

    async def _folders_in_use(self) -> set[str]:
        async with self._sessions() as session:
            tasks = (
                await session.execute(
                    select(Task.organization_id, Task.params).where(Task.status.in_(_UNFINISHED))
                )
            ).all()
            avatars = (
                await session.execute(
                    select(Avatar.organization_id, Avatar.pending_image).where(
                        Avatar.pending_image.is_not(None)
                    )
                )
            ).all()
            voices = (
                await session.execute(
                    select(Voice.organization_id, Voice.pending_audio).where(Voice.pending_audio.is_not(None))
                )
            ).all()
        named = [(org, uri) for org, params in tasks for uri in runway_uris(params)]
        named += [(org, uri) for org, image in avatars for uri in runway_uris(image)]
        named += [(org, uri) for org, audio in voices for uri in runway_uris(audio)]
        folders: set[str] = set()
        for organization_id, uri in named:
            try:
                # Expired or not: these URIs were valid when the work was accepted.
                claims = self._tokens.verify_uri(uri, organization_id, leeway_seconds=math.inf)
            except UploadTokenError:
                continue
            found = upload_folder(claims.key)
            if found is not None:
                folders.add(found[0])
        return folders
