"""The blob store a server's settings name: a local directory by default, an S3 bucket for a cluster."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from taxiway.config import Settings
from taxiway.storage.blobs import BlobStore, LocalBlobStore


async def open_store(settings: Settings) -> BlobStore:
    """The store, checked to answer: a bucket that cannot be reached stops the server at start-up."""
    url = settings.blob_url
    if url is None:
        return LocalBlobStore(settings.blob_dir)
    scheme = urlsplit(url).scheme
    if scheme == "s3":
        try:
            from taxiway.storage.s3 import S3BlobStore
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise RuntimeError(
                "TAXIWAY_BLOB_URL names an S3 bucket: install the cluster extra "
                "(pip install 'taxiway[cluster]')"
            ) from exc
        store = S3BlobStore(url, settings.s3_endpoint_url)
        try:
            await store.check()
        except Exception as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise RuntimeError(f"the blob store {url} cannot be reached: {first}") from exc
        return store
    return LocalBlobStore(Path(urlsplit(url).path) if scheme == "file" else Path(url))
