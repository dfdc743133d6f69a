"""Expired uploads are deleted; accepted work that still names one keeps it until it has finished.

The sweeper is called directly with an injected clock on a real (SQLite) schema, then driven on a live
test-mode server through the official SDK, time moved with `taxiway clock advance`.
"""

from __future__ import annotations

import base64
import io
import json
import os
import time
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from runwayml import BadRequestError
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from support.clients import sdk
from support.https_assets import image_bytes
from support.server import Server
from taxiway.assets.intake import AssetIntake, AssetRejected
from taxiway.assets.kinds import AssetKind
from taxiway.assets.sweeper import LEEWAY_SECONDS, SweepResult, UploadSweeper
from taxiway.assets.uploads import URI_TTL_SECONDS, store_upload, upload_folder
from taxiway.db.engine import create_engine, session_factory, upgrade_schema
from taxiway.db.tables import Avatar, Organization, Task
from taxiway.storage.blobs import LocalBlobStore
from taxiway.storage.signing import UrlSigner

PNG = image_bytes("PNG", (128, 128))
START = 1_800_000_000.0
EXPIRED = "The runway:// URI has expired. Upload the file again."


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now


def blob_key(uri: str) -> str:
    payload = uri.removeprefix("runway://").split(".")[1]
    return str(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["uploadKey"])


def folder(uri: str) -> str:
    found = upload_folder(blob_key(uri))
    assert found is not None
    return found[0]


@pytest.fixture
async def sessions(tmp_path: Path) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'taxiway.db'}")
    await upgrade_schema(engine)
    factory = session_factory(engine)
    async with factory.begin() as session:
        session.add(Organization(id="org-a", name="a", tier=1, created_at=datetime.now(UTC)))
    yield factory
    await engine.dispose()


def task_row(status: str, params: dict[str, Any]) -> Task:
    now = datetime.now(UTC)
    return Task(
        id=str(uuid.uuid4()),
        organization_id="org-a",
        endpoint="text_to_image",
        model="gen4_image",
        status=status,
        params=params,
        seed=1,
        estimated_credits=8,
        progress=0.0,
        attempts=0,
        created_at=now,
        updated_at=now,
    )


def avatar_row(pending_image: str) -> Avatar:
    now = datetime.now(UTC)
    return Avatar(
        id=str(uuid.uuid4()),
        organization_id="org-a",
        name="Ava",
        personality="calm",
        voice={"type": "runway-live-preset", "presetId": "clara"},
        image_processing="optimize",
        status="PROCESSING",
        pending_image=pending_image,
        created_at=now,
        updated_at=now,
    )


async def test_sweeper_deletes_expired_uploads_and_keeps_those_accepted_work_names(
    tmp_path: Path, sessions: async_sessionmaker[AsyncSession]
) -> None:
    clock = Clock()
    store = LocalBlobStore(tmp_path / "blobs")
    intake = AssetIntake.create(store, UrlSigner(b"gc-test-secret-0123456789"), clock=clock)
    sweeper = UploadSweeper(sessions, store, intake.tokens, interval_seconds=60, clock=clock)

    async def upload(name: str) -> str:
        grant = intake.tokens.grant("org-a", name)
        await store_upload(store, grant.claims.key, io.BytesIO(PNG))
        return grant.runway_uri

    unused, queued, finished, avatar_image = [await upload(f"{n}.png") for n in range(4)]
    # Written before keys recorded their expiry: judged by the file's age.
    legacy = store.root / f"uploads/org-a/{uuid.uuid4().hex}/file.png"
    legacy.parent.mkdir(parents=True)
    legacy.write_bytes(PNG)
    os.utime(legacy, (START, START))
    clock.now += 12 * 3600
    fresh = await upload("fresh.png")
    queued_task = task_row("THROTTLED", {"referenceImages": [{"uri": queued, "tag": "a"}], "seed": 1})
    avatar = avatar_row(avatar_image)
    async with sessions.begin() as session:
        session.add_all([queued_task, task_row("SUCCEEDED", {"promptImage": finished}), avatar])

    clock.now = START + URI_TTL_SECONDS + LEEWAY_SECONDS - 1
    assert await sweeper.sweep() == SweepResult([], [])  # expired, but still inside the leeway

    clock.now += 1
    result = await sweeper.sweep()
    assert set(result.deleted) == {folder(unused), folder(finished), "uploads/org-a/" + legacy.parent.name}
    assert set(result.kept) == {folder(queued), folder(avatar_image)}
    assert not (store.root / folder(unused)).exists() and not legacy.exists()
    assert await store.exists(blob_key(fresh))
    # The queued task gets its input when it finally runs; a new request is refused, naming the field.
    loaded = await intake.resolve(queued, AssetKind.IMAGE, ["referenceImages", 0, "uri"], "org-a")
    assert loaded.data == PNG
    for uri in (unused, queued):
        with pytest.raises(AssetRejected) as caught:
            await intake.check_at_submission(uri, AssetKind.IMAGE, ["promptImage"], "org-a")
        assert (caught.value.path, caught.value.message) == (["promptImage"], f"promptImage: {EXPIRED}")

    async with sessions.begin() as session:
        await session.execute(update(Task).where(Task.id == queued_task.id).values(status="SUCCEEDED"))
        await session.execute(update(Avatar).where(Avatar.id == avatar.id).values(pending_image=None))
    result = await sweeper.sweep()
    assert set(result.deleted) == {folder(queued), folder(avatar_image)} and result.kept == []
    clock.now += 12 * 3600
    assert (await sweeper.sweep()).deleted == [folder(fresh)]
    assert await store.list_prefix("uploads") == {}


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting until {what}")
        time.sleep(0.1)


def test_live_server_sweeps_expired_uploads_but_not_a_throttled_tasks_input(
    make_server: Callable[..., Server],
) -> None:
    server = make_server(TAXIWAY_TEST_MODE="1", TAXIWAY_UPLOAD_SWEEP_INTERVAL_SECONDS="0.2")
    client = sdk(server)
    kept = client.uploads.create_ephemeral(file=("kept.png", PNG)).uri
    dropped = client.uploads.create_ephemeral(file=("dropped.png", PNG)).uri
    blobs = server.data_dir / "blobs"
    assert (blobs / blob_key(kept)).is_file() and (blobs / blob_key(dropped)).is_file()
    # Two stalled tasks fill tier 1's two slots, so this one waits THROTTLED past its URI's expiry.
    stalled = [
        client.text_to_image.create(
            model="gen4_image",
            prompt_text=f"busy {n}",
            ratio="1024:1024",
            extra_headers={"X-Taxiway-Simulate": "progress=stall"},
        ).id
        for n in range(2)
    ]
    wait_until(lambda: all(client.tasks.retrieve(i).status == "RUNNING" for i in stalled), "both run")
    task = client.text_to_image.create(
        model="gen4_image", prompt_text="a lighthouse", ratio="1024:1024", reference_images=[{"uri": kept}]
    )
    assert client.tasks.retrieve(task.id).status == "THROTTLED"

    server.cli("clock", "advance", "25h")
    wait_until(lambda: not (blobs / blob_key(dropped)).exists(), "the unused upload is swept")
    assert (blobs / blob_key(kept)).is_file()
    with pytest.raises(BadRequestError) as caught:
        client.text_to_image.create(
            model="gen4_image",
            prompt_text="again",
            ratio="1024:1024",
            reference_images=[{"uri": dropped, "tag": "ref"}],
        )
    assert caught.value.status_code == 400
    assert caught.value.body["issues"] == [
        {
            "code": "custom",
            "path": ["referenceImages", 0, "uri"],
            "message": f"referenceImages.0.uri: {EXPIRED}",
        }
    ]

    assert client.tasks.retrieve(task.id).status == "THROTTLED"
    client.tasks.delete(stalled[0])  # frees a slot: the waiting task runs and reads its upload
    done = task.wait_for_task_output(timeout=30)
    assert done.status == "SUCCEEDED"
    wait_until(lambda: not (blobs / blob_key(kept)).exists(), "the finished task's upload is swept")
