"""The blob store contract, on a local directory and on an S3 bucket (SeaweedFS, started here): both
stores answer alike, so outputs, uploads and avatar files work the same on one machine or a cluster."""

from __future__ import annotations

import io
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from support.seaweed import S3Server, credentials
from taxiway.config import Settings
from taxiway.storage.blobs import BlobStore, LocalBlobStore
from taxiway.storage.stores import open_store

pytest.importorskip("obstore")


@pytest.fixture(autouse=True)
def s3_credentials() -> Iterator[None]:
    """obstore reads the AWS_* variables of this process, as a server reads its own."""
    with credentials():
        yield


@pytest.fixture(params=["local", "s3"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[BlobStore]:
    if request.param == "local":
        made: BlobStore = LocalBlobStore(tmp_path / "blobs")
    else:
        server: S3Server = request.getfixturevalue("s3")
        url = f"s3://{server.bucket}/{uuid.uuid4().hex}"  # each test its own prefix
        made = await open_store(Settings(data_dir=tmp_path, blob_url=url, s3_endpoint_url=server.endpoint))
    yield made
    await made.close()


async def collect(store: BlobStore, key: str, start: int, end: int) -> bytes:
    return b"".join([chunk async for chunk in store.stream(key, start, end)])


async def test_put_read_stat_and_ranges(store: BlobStore) -> None:
    await store.put("tasks/t1/out.png", b"0123456789")
    assert await store.read("tasks/t1/out.png") == b"0123456789"
    assert await store.read("tasks/t1/missing.png") is None
    info = await store.stat("tasks/t1/out.png")
    assert info is not None and info.size == 10 and info.modified > 1.7e9
    assert await store.stat("tasks/t1") is None  # a folder is not a blob
    assert await store.exists("tasks/t1/out.png") and not await store.exists("tasks/t1")
    assert await collect(store, "tasks/t1/out.png", 2, 7) == b"23456"
    assert await collect(store, "tasks/t1/out.png", 0, 10) == b"0123456789"
    await store.put("tasks/t1/out.png", b"replaced")
    assert await store.read("tasks/t1/out.png") == b"replaced"


async def test_large_files_stream_in_and_out(store: BlobStore) -> None:
    data = bytes(range(256)) * (40 * 1024 + 7)  # ~10 MiB: several parts and chunks
    await store.put_file("uploads/o/u/video.mp4", io.BytesIO(data))
    assert (await store.stat("uploads/o/u/video.mp4")).size == len(data)  # type: ignore[union-attr]
    assert await collect(store, "uploads/o/u/video.mp4", 0, len(data)) == data
    assert await collect(store, "uploads/o/u/video.mp4", len(data) - 5, len(data)) == data[-5:]


async def test_prefixes_are_folders(store: BlobStore) -> None:
    for key in ("avatars/a1/v1/img.png", "avatars/a1/v2/img.png", "avatars/a10/v1/img.png"):
        await store.put(key, b"x")
    assert set(await store.list_prefix("avatars/a1")) == {"avatars/a1/v1/img.png", "avatars/a1/v2/img.png"}
    await store.delete_prefix("avatars/a1")
    assert await store.list_prefix("avatars/a1") == {}
    assert set(await store.list_prefix("avatars")) == {"avatars/a10/v1/img.png"}  # the sibling stays
    await store.delete_prefix("nothing/here")


@pytest.mark.parametrize("key", ["../x", "/etc/passwd", "a/../../b", "a//b", "", "a/./b"])
async def test_keys_never_leave_the_store(store: BlobStore, key: str) -> None:
    with pytest.raises(ValueError):
        await store.put(key, b"x")
    with pytest.raises(ValueError):
        await store.read(key)


async def test_an_unreachable_bucket_stops_start_up(tmp_path: Path, s3: S3Server) -> None:
    wrong = Settings(data_dir=tmp_path, blob_url="s3://no-such-bucket-here", s3_endpoint_url=s3.endpoint)
    with pytest.raises(RuntimeError, match="no-such-bucket-here"):
        await open_store(wrong)


def test_the_setting_names_a_bucket_or_a_directory(tmp_path: Path) -> None:
    assert Settings(blob_url="s3://bucket/some/prefix").blob_url == "s3://bucket/some/prefix"
    assert Settings(blob_url=str(tmp_path)).blob_url == str(tmp_path)
    for wrong in ("gs://bucket", "s3://", "s3://B_ad"):
        with pytest.raises(ValueError, match="blob_url"):
            Settings(blob_url=wrong)
    with pytest.raises(ValueError, match="s3_endpoint_url"):
        Settings(s3_endpoint_url="seaweedfs:8333")
