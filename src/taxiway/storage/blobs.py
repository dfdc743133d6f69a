"""Blob stores: one interface for outputs, uploads and avatar/voice files, whatever holds the bytes.

The local store keeps files under one directory (the default); `storage.s3` keeps them in any
S3-compatible bucket, so that several API replicas and engine nodes share them. Every user of a store
goes through this interface: none may assume a file on this machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import stat
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, Protocol

# Reads of a served blob come in pieces of this size, so a large video never sits whole in memory.
CHUNK_BYTES = 1024 * 1024
# Writes up to this size go to the page cache from the event loop itself, in microseconds: a thread
# would cost two turns of the loop, which under load are milliseconds each in every task's run.
INLINE_WRITE_BYTES = 64 * 1024


@dataclass(frozen=True)
class BlobInfo:
    size: int
    # Unix time it was last written.
    modified: float


class BlobStore(Protocol):
    async def put(self, key: str, data: bytes) -> None: ...

    async def put_file(self, key: str, source: IO[bytes]) -> None:
        """Store what `source` holds from its current position, without reading it whole into memory."""
        ...

    async def read(self, key: str) -> bytes | None:
        """The blob's bytes, or None when there is no such blob."""
        ...

    async def stat(self, key: str) -> BlobInfo | None: ...

    def stream(self, key: str, start: int, end: int) -> AsyncIterator[bytes]:
        """Bytes [start, end) of a blob that exists, in chunks (an HTTP range, or all of it)."""
        ...

    async def exists(self, key: str) -> bool: ...

    async def delete_prefix(self, prefix: str) -> None:
        """Delete every blob in the folder `prefix` (not the blobs whose names merely start with it)."""
        ...

    async def list_prefix(self, prefix: str) -> dict[str, float]:
        """Every blob in the folder `prefix` (half-written ones too), with the Unix time of its last write."""
        ...

    async def close(self) -> None: ...


def check_key(key: str) -> str:
    """Keys are relative POSIX paths of plain segments: nothing may name a place outside the store."""
    parts = PurePosixPath(key).parts
    if not key or key.startswith("/") or any(part in ("", ".", "..") for part in parts):
        raise ValueError(f"blob key escapes the store: {key!r}")
    if "\\" in key or "\x00" in key or key != "/".join(parts):
        raise ValueError(f"blob key is not a plain path: {key!r}")
    return key


class LocalBlobStore:
    """Files under one directory; writes are atomic (temp file + rename) and, unless small, run off the
    event loop."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.root.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        path = (self.root / check_key(key)).resolve()
        if not path.is_relative_to(self.root) or path == self.root:
            raise ValueError(f"blob key escapes the store: {key!r}")
        return path

    def _write(self, key: str, source: IO[bytes] | bytes) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as handle:
                if isinstance(source, bytes):
                    handle.write(source)
                else:
                    shutil.copyfileobj(source, handle, CHUNK_BYTES)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    async def put(self, key: str, data: bytes) -> None:
        if len(data) <= INLINE_WRITE_BYTES:
            self._write(key, data)
        else:
            await asyncio.to_thread(self._write, key, data)

    async def put_file(self, key: str, source: IO[bytes]) -> None:
        await asyncio.to_thread(self._write, key, source)

    def _read(self, key: str) -> bytes | None:
        try:
            return self._path(key).read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return None

    async def read(self, key: str) -> bytes | None:
        return await asyncio.to_thread(self._read, key)

    def _stat(self, key: str) -> BlobInfo | None:
        try:
            found = self._path(key).stat()
        except (FileNotFoundError, NotADirectoryError):
            return None
        if not stat.S_ISREG(found.st_mode):
            return None
        return BlobInfo(size=found.st_size, modified=found.st_mtime)

    async def stat(self, key: str) -> BlobInfo | None:
        return await asyncio.to_thread(self._stat, key)

    async def stream(self, key: str, start: int, end: int) -> AsyncIterator[bytes]:
        handle = await asyncio.to_thread(self._path(key).open, "rb")
        try:
            await asyncio.to_thread(handle.seek, start)
            left = end - start
            while left > 0:
                chunk = await asyncio.to_thread(handle.read, min(CHUNK_BYTES, left))
                if not chunk:
                    return
                left -= len(chunk)
                yield chunk
        finally:
            await asyncio.to_thread(handle.close)

    async def exists(self, key: str) -> bool:
        return await asyncio.to_thread(self._path(key).is_file)

    async def delete_prefix(self, prefix: str) -> None:
        await asyncio.to_thread(shutil.rmtree, self._path(prefix), True)

    def _list(self, prefix: str) -> dict[str, float]:
        found: dict[str, float] = {}
        for folder, _, files in os.walk(self._path(prefix)):
            for name in files:
                path = Path(folder, name)
                with contextlib.suppress(FileNotFoundError):  # deleted while we walk
                    found[path.relative_to(self.root).as_posix()] = path.stat().st_mtime
        return found

    async def list_prefix(self, prefix: str) -> dict[str, float]:
        return await asyncio.to_thread(self._list, prefix)

    async def close(self) -> None:
        """Nothing to release: every call opens and closes its own files."""
