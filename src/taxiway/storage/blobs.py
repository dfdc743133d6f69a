"""Blob stores. The local one keeps files on disk; a cloud store implements the same protocol."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Protocol


class BlobStore(Protocol):
    async def put(self, key: str, data: bytes) -> None: ...

    async def exists(self, key: str) -> bool: ...

    async def delete_prefix(self, prefix: str) -> None: ...

    async def list_prefix(self, prefix: str) -> dict[str, float]:
        """Every blob under `prefix` (half-written ones too), with the Unix time it was last written."""
        ...

    def local_path(self, key: str) -> Path | None:
        """A filesystem path to serve the blob from, or None where the store serves its own URLs."""
        ...


class LocalBlobStore:
    """Files under one directory; writes are atomic (temp file + rename) and run off the event loop."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.root.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root) or path == self.root:
            raise ValueError(f"blob key escapes the store: {key!r}")
        return path

    def _write(self, key: str, data: bytes) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    async def put(self, key: str, data: bytes) -> None:
        await asyncio.to_thread(self._write, key, data)

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

    def local_path(self, key: str) -> Path | None:
        try:
            path = self._path(key)
        except ValueError:
            return None
        return path if path.is_file() else None
