"""Background jobs that turn an accepted asset into something READY: avatars' images, voices' samples.

A job's input is staged when the request is accepted: a data URI's bytes are saved as a blob at once
(kept out of the database, and not lost on a restart); HTTPS and `runway://` URIs are fetched when the
job runs, as tasks fetch theirs. Jobs run in the server process, `concurrency` at a time, and the rows a
previous run left PROCESSING resume at start-up.
"""

from __future__ import annotations

import asyncio
import contextlib
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, ClassVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from taxiway.assets.datauri import is_data_uri, parse_data_uri
from taxiway.assets.errors import AssetError
from taxiway.assets.intake import AssetIntake
from taxiway.assets.kinds import AssetKind
from taxiway.storage.blobs import BlobStore

# Prefix of a staged source that is already a blob (the key follows), rather than a URI to fetch.
BLOB_PENDING = "blob:"


async def stage(store: BlobStore, key: str, uri: str, kind: AssetKind) -> str:
    """The pending source to store with the row: a data URI's bytes saved under `key`, else the URI."""
    if not is_data_uri(uri):
        return uri
    await store.put(key, parse_data_uri(uri, kind).data)
    return BLOB_PENDING + key


async def load_staged(
    store: BlobStore,
    intake: AssetIntake,
    source: str,
    kind: AssetKind,
    path: Sequence[str],
    organization_id: str,
    gone: str,
) -> bytes:
    """A staged source's bytes: the saved blob (an AssetError saying `gone` if it is no longer there), or
    the URI fetched through the asset intake, whose errors name `path`."""
    if source.startswith(BLOB_PENDING):
        data = await store.read(source.removeprefix(BLOB_PENDING))
        if data is None:
            raise AssetError(gone)
        return data
    loaded = await intake.resolve(source, kind, list(path), organization_id)
    return loaded.data


class AssetJobs(ABC):
    """One job per row of `table` that is PROCESSING, `concurrency` at a time (each is seconds of CPU)."""

    table: ClassVar[Any]  # a mapped class with `id` and `status` columns

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        store: BlobStore,
        intake: AssetIntake,
        concurrency: int = 2,
    ) -> None:
        self.sessions, self.store, self.intake = sessions, store, intake
        self._slots = asyncio.Semaphore(concurrency)
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        """Resume what a previous run left PROCESSING."""
        async with self.sessions() as session:
            waiting = list(
                await session.scalars(select(self.table.id).where(self.table.status == "PROCESSING"))
            )
        for row_id in waiting:
            self.submit(row_id)

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def submit(self, row_id: str) -> None:
        task = asyncio.create_task(self._run(row_id), name=f"{self.table.__tablename__}-{row_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @abstractmethod
    async def _run(self, row_id: str) -> None:
        """Process the row, if it is still PROCESSING, and settle it READY or FAILED."""
