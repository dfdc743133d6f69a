"""Blobs in an S3-compatible bucket (AWS S3, SeaweedFS, MinIO, Ceph, R2…) through obstore.

obstore (Rust's `object_store` behind a Python API) is async, streams ranges and uploads large files in
parts on its own. Credentials and region come from the usual `AWS_*` variables (access key, secret,
session token, region) as the AWS tools read them; the endpoint of a store that is not AWS's from
`TAXIWAY_S3_ENDPOINT_URL`. Installed with `pip install taxiway[cluster]`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import IO, TYPE_CHECKING
from urllib.parse import urlsplit

import obstore
from obstore.exceptions import NotFoundError
from obstore.store import S3Store

from taxiway.storage.blobs import CHUNK_BYTES, BlobInfo, check_key

if TYPE_CHECKING:  # types only: the stub declares them, the module does not
    from obstore.store import ClientConfig, S3Config

# Deletes go in batches of this many keys (S3's DeleteObjects takes at most 1,000).
DELETE_BATCH = 1000


def parse_blob_url(url: str) -> tuple[str, str]:
    """`s3://bucket/prefix` as (bucket, prefix without slashes at either end)."""
    parts = urlsplit(url)
    if parts.scheme != "s3" or not parts.netloc:
        raise ValueError(f"not an s3:// URL: {url!r}")
    if parts.query or parts.fragment:
        raise ValueError(f"an s3:// URL names a bucket and a prefix, nothing more: {url!r}")
    return parts.netloc, parts.path.strip("/")


class S3BlobStore:
    """Keys live under the URL's prefix. Writes are whole objects (S3 has no half-written blobs)."""

    def __init__(self, url: str, endpoint_url: str | None = None, *, timeout_seconds: float = 60) -> None:
        bucket, prefix = parse_blob_url(url)
        self.url = url
        config: S3Config = {}
        client_options: ClientConfig = {"timeout": f"{timeout_seconds}s", "connect_timeout": "10s"}
        if endpoint_url:
            config["endpoint"] = endpoint_url.rstrip("/")
            client_options["allow_http"] = urlsplit(endpoint_url).scheme == "http"
        self._store = S3Store(bucket, prefix=prefix or None, config=config, client_options=client_options)

    async def check(self) -> None:
        """Reach the bucket once, so that a wrong endpoint, bucket or key stops the server at start-up."""
        stream = obstore.list(self._store, "taxiway-start-up-check/", chunk_size=1)
        async for _batch in stream:
            break

    async def put(self, key: str, data: bytes) -> None:
        await obstore.put_async(self._store, check_key(key), data)

    async def put_file(self, key: str, source: IO[bytes]) -> None:
        # The sync call reads the file on a worker thread; large files go up in parts.
        await asyncio.to_thread(obstore.put, self._store, check_key(key), source)

    async def read(self, key: str) -> bytes | None:
        try:
            result = await obstore.get_async(self._store, check_key(key))
            return bytes(await result.bytes_async())
        except (NotFoundError, FileNotFoundError):
            return None

    async def stat(self, key: str) -> BlobInfo | None:
        try:
            meta = await obstore.head_async(self._store, check_key(key))
        except (NotFoundError, FileNotFoundError):
            return None
        return BlobInfo(size=meta["size"], modified=meta["last_modified"].timestamp())

    async def stream(self, key: str, start: int, end: int) -> AsyncIterator[bytes]:
        if end <= start:
            return
        result = await obstore.get_async(self._store, check_key(key), options={"range": (start, end)})
        async for chunk in result.stream(min_chunk_size=CHUNK_BYTES):
            yield bytes(chunk)

    async def exists(self, key: str) -> bool:
        return await self.stat(key) is not None

    async def _keys(self, prefix: str) -> dict[str, float]:
        found: dict[str, float] = {}
        async for batch in obstore.list(self._store, check_key(prefix) + "/", chunk_size=1000):
            for meta in batch:
                found[meta["path"]] = meta["last_modified"].timestamp()
        return found

    async def delete_prefix(self, prefix: str) -> None:
        keys = list(await self._keys(prefix))
        for start in range(0, len(keys), DELETE_BATCH):
            await obstore.delete_async(self._store, keys[start : start + DELETE_BATCH])

    async def list_prefix(self, prefix: str) -> dict[str, float]:
        return await self._keys(prefix)

    async def close(self) -> None:
        """obstore's client holds a connection pool that goes with the object."""
