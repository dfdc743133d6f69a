"""Outputs, uploads and avatars in an S3 bucket (SeaweedFS, started here): a server keeps nothing on its
disk, and a second replica on the same database, bucket and signing secret serves the first one's
output URLs and sees its uploads."""

from __future__ import annotations

import base64
import io
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from PIL import Image

from support.clients import sdk
from support.https_assets import image_bytes
from support.postgres import run_in_thread
from support.seaweed import S3Server, credentials
from support.server import Server
from taxiway.storage.s3 import S3BlobStore

pytest.importorskip("obstore")

SECRET = "a-signing-secret-shared-by-every-replica"


def data_uri(data: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(data).decode()


def png(size: tuple[int, int]) -> bytes:
    return image_bytes("PNG", size)


@pytest.fixture(scope="module")
def replicas(s3: S3Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Server]]:
    shared = tmp_path_factory.mktemp("shared")
    env = {
        **s3.env("deployment"),
        "TAXIWAY_SIGNING_SECRET": SECRET,
        "TAXIWAY_DATABASE_URL": f"sqlite+aiosqlite:///{shared / 'taxiway.db'}",
    }
    first = Server(tmp_path_factory.mktemp("first"), env=env).start()
    second = Server(tmp_path_factory.mktemp("second"), env=env, key=first.key)
    try:
        second.start()
        yield first, second
    finally:
        second.stop()
        first.stop()


def bucket_keys(s3: S3Server, prefix: str) -> set[str]:
    with credentials():
        store = S3BlobStore(f"s3://{s3.bucket}/deployment", s3.endpoint)
        return set(run_in_thread(lambda: store.list_prefix(prefix)))


def blobs_on_disk(server: Server) -> list[Path]:
    return [path for path in (server.data_dir / "blobs").rglob("*") if path.is_file()]


def test_outputs_live_in_the_bucket_and_any_replica_serves_them(
    s3: S3Server, replicas: tuple[Server, Server]
) -> None:
    first, second = replicas
    client = sdk(first)
    upload = client.uploads.create_ephemeral(file=("reference.png", png((128, 128))))
    task = client.text_to_image.create(
        model="gen4_image",
        prompt_text="a harbour at dawn",
        ratio="1280:720",
        reference_images=[{"uri": upload.uri, "tag": "harbour"}],
    ).wait_for_task_output(timeout=300)
    assert task.status == "SUCCEEDED"
    url = task.output[0]
    whole = httpx.get(url, timeout=30)
    assert whole.status_code == 200 and whole.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(whole.content)).size == (1280, 720)
    # The other replica, on the same path and signature, serves the same bytes, ranges too.
    elsewhere = httpx.get(url.replace(first.base_url, second.base_url), timeout=30)
    assert elsewhere.status_code == 200 and elsewhere.content == whole.content
    on_second = url.replace(first.base_url, second.base_url)
    part = httpx.get(on_second, headers={"Range": "bytes=8-23"}, timeout=30)
    assert part.status_code == 206 and part.content == whole.content[8:24]
    assert part.headers["content-range"] == f"bytes 8-23/{len(whole.content)}"
    beyond = httpx.get(url, headers={"Range": f"bytes={len(whole.content)}-"}, timeout=30)
    assert beyond.status_code == 416
    tampered = httpx.get(url.replace("sig=", "sig=0"), timeout=30)
    assert tampered.status_code == 403
    # Everything is in the bucket; neither replica wrote a blob to its disk.
    assert any(key.startswith("uploads/") for key in bucket_keys(s3, "uploads"))
    assert bucket_keys(s3, f"tasks/{task.id}")
    assert blobs_on_disk(first) == [] and blobs_on_disk(second) == []
    # The upload made on the first replica is an input on the second.
    again = (
        sdk(second)
        .text_to_image.create(
            model="gen4_image",
            prompt_text="a harbour at dusk",
            ratio="720:1280",
            reference_images=[{"uri": upload.uri, "tag": "harbour"}],
        )
        .wait_for_task_output(timeout=300)
    )
    assert again.status == "SUCCEEDED"
    # Deleting on one replica removes the outputs from the bucket for both.
    sdk(second).tasks.delete(task.id)
    assert bucket_keys(s3, f"tasks/{task.id}") == set()
    assert httpx.get(url, timeout=30).status_code == 404


def test_avatar_files_live_in_the_bucket(s3: S3Server, replicas: tuple[Server, Server]) -> None:
    first, second = replicas
    created = sdk(first).avatars.create(
        name="Harbour guide",
        reference_image=data_uri(png((400, 300))),
        personality="A calm guide to the harbour.",
        voice={"type": "runway-live-preset", "preset_id": "vincent"},
    )
    deadline = time.monotonic() + 300
    avatar = sdk(second).avatars.retrieve(created.id)
    while avatar.status == "PROCESSING" and time.monotonic() < deadline:
        time.sleep(0.5)
        avatar = sdk(second).avatars.retrieve(created.id)
    assert avatar.status == "READY", avatar
    assert bucket_keys(s3, f"avatars/{created.id}")
    image = httpx.get(avatar.processed_image_uri or "", timeout=30)  # served by the second replica
    assert image.status_code == 200 and image.headers["content-type"].startswith("image/")
    assert blobs_on_disk(first) == [] and blobs_on_disk(second) == []
