"""Avatars through the official SDK (strict models) against a live server."""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image
from runwayml import BadRequestError, NotFoundError, RunwayML

from conformance.media import png
from support.clients import documented, sdk
from support.https_assets import AssetServer, Route, image_bytes, video_bytes
from support.server import Server
from taxiway.api.avatars import AvatarPage, AvatarView
from taxiway.avatars.tokens import KNOWLEDGE_TOKEN_LIMIT, count_tokens
from taxiway.avatars.voices import LIVE_VOICES

VOICE = {"type": "runway-live-preset", "preset_id": "vincent"}


def wait_processed(client: RunwayML, avatar_id: str, timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        avatar = client.avatars.retrieve(avatar_id)
        if avatar.status != "PROCESSING":
            return avatar
        assert time.monotonic() < deadline, "the avatar never finished processing"
        time.sleep(0.1)


def fetch_image(url: str) -> Image.Image:
    response = httpx.get(url)
    assert response.status_code == 200
    image = Image.open(io.BytesIO(response.content))
    image.load()
    return image


def test_processing_to_ready_with_a_data_uri(client: RunwayML) -> None:
    created = client.avatars.create(
        name="Vince",
        personality="A calm museum guide.",
        reference_image=png(400, 300),
        voice=VOICE,
        start_script="Welcome to the museum!",
    )
    assert created.status == "PROCESSING"
    assert created.voice.type == "runway-live-preset"
    assert (created.voice.name, created.voice.description) == ("Vincent", LIVE_VOICES["vincent"].description)
    ready = wait_processed(client, created.id)
    assert ready.status == "READY"
    assert ready.start_script == "Welcome to the museum!"
    assert ready.reference_image_uri and ready.processed_image_uri
    assert fetch_image(ready.reference_image_uri).size == (400, 300)
    processed = fetch_image(ready.processed_image_uri)  # a preview of the 1088x704 frame
    documented(AvatarView, created, ready)
    assert processed.width <= 512 and abs(processed.width / processed.height - 1088 / 704) < 0.01


def test_image_processing_none_keeps_the_aspect(client: RunwayML) -> None:
    created = client.avatars.create(
        name="Square", personality="p", reference_image=png(300, 300), voice=VOICE, image_processing="none"
    )
    ready = wait_processed(client, created.id)
    assert fetch_image(ready.processed_image_uri).size == (300, 300)


def test_unusable_images(client: RunwayML) -> None:
    with pytest.raises(BadRequestError) as info:  # not an image at all: refused at once
        client.avatars.create(
            name="x", personality="p", reference_image="data:image/png;base64,aGVsbG8=", voice=VOICE
        )
    assert info.value.body["issues"][0]["path"] == ["referenceImage"]
    tiny = client.avatars.create(name="Tiny", personality="p", reference_image=png(16, 16), voice=VOICE)
    failed = wait_processed(client, tiny.id)
    assert failed.status == "FAILED"
    assert "too small" in failed.failure_reason
    assert failed.reference_image_uri is None
    documented(AvatarView, failed)


def test_https_reference_image_that_is_not_an_image_fails(
    make_server: Callable[..., Server], assets_server: tuple[AssetServer, Path]
) -> None:
    files, bundle = assets_server
    taxiway = make_server(
        TAXIWAY_ALLOW_PRIVATE_NETWORKS="1",
        TAXIWAY_ASSET_HOST_OVERRIDES='{"assets.test": "127.0.0.1"}',
        TAXIWAY_ASSET_CA_BUNDLE=str(bundle),
    )
    client = sdk(taxiway)
    files.routes["/clip.png"] = Route(body=video_bytes(), content_type="image/png")
    files.routes["/ok.png"] = Route(body=image_bytes("PNG", (200, 150)), content_type="image/png")
    bad = client.avatars.create(
        name="Bad", personality="p", reference_image=files.url("/clip.png"), voice=VOICE
    )
    assert bad.status == "PROCESSING"
    failed = wait_processed(client, bad.id)
    assert failed.status == "FAILED" and "referenceImage" in failed.failure_reason

    good = client.avatars.update(bad.id, reference_image=files.url("/ok.png"))
    assert good.status == "PROCESSING"
    assert wait_processed(client, bad.id).status == "READY"


def test_update_fields_documents_and_image(client: RunwayML) -> None:
    first = client.documents.create(name="one", content="first")
    second = client.documents.create(name="two", content="second")
    avatar = client.avatars.create(
        name="Ada",
        personality="Curious.",
        reference_image=png(),
        voice=VOICE,
        start_script="Hello!",
        document_ids=[first.id],
    )
    ready = wait_processed(client, avatar.id)

    updated = client.avatars.update(
        avatar.id,
        name="Ada L.",
        personality="Very curious.",
        voice={"type": "runway-live-preset", "preset_id": "clara"},
        document_ids=[second.id, first.id],
    )
    assert (updated.name, updated.personality, updated.start_script) == ("Ada L.", "Very curious.", "Hello!")
    assert updated.voice.type == "runway-live-preset" and updated.voice.name == "Clara"
    assert updated.document_ids == [second.id, first.id]
    assert updated.status == "READY"  # no new image: no new processing
    documented(AvatarView, updated)
    assert updated.updated_at > ready.updated_at

    assert client.avatars.update(avatar.id, start_script=None).start_script is None
    assert client.avatars.update(avatar.id, document_ids=[]).document_ids == []

    reimaged = client.avatars.update(avatar.id, reference_image=png(320, 240, color=(10, 200, 10)))
    assert reimaged.status == "PROCESSING"
    again = wait_processed(client, avatar.id)
    assert again.status == "READY" and again.reference_image_uri != ready.reference_image_uri
    assert fetch_image(again.reference_image_uri).size == (320, 240)
    old = httpx.get(ready.reference_image_uri)  # the superseded image's blobs are gone
    assert old.status_code == 404

    reshaped = client.avatars.update(avatar.id, image_processing="none")  # reprocesses the same image
    assert reshaped.status == "PROCESSING"
    assert fetch_image(wait_processed(client, avatar.id).processed_image_uri).size == (320, 240)

    with pytest.raises(BadRequestError):
        client.avatars.update(avatar.id, voice={"type": "runway-live-preset", "preset_id": "nobody"})  # type: ignore[typeddict-item]
    with pytest.raises(BadRequestError) as info:
        client.avatars.update(avatar.id, document_ids=["no-such-document"])
    assert info.value.body["issues"][0]["path"] == ["documentIds", 0]
    with pytest.raises(BadRequestError) as info:  # custom voices must be READY voices (tests/test_voices.py)
        client.avatars.update(avatar.id, voice={"type": "custom", "id": "voice-123"})
    assert info.value.body["issues"][0]["path"] == ["voice", "id"]


def test_knowledge_limit_on_create_and_update(client: RunwayML) -> None:
    a = client.documents.create(name="a", content=" word" * 30_000)
    b = client.documents.create(name="b", content=" word" * 25_000)
    total = count_tokens(" word" * 30_000) + count_tokens(" word" * 25_000)
    with pytest.raises(BadRequestError) as info:
        client.avatars.create(
            name="Big", personality="p", reference_image=png(), voice=VOICE, document_ids=[a.id, b.id]
        )
    assert f"{KNOWLEDGE_TOKEN_LIMIT:,}" in info.value.body["error"]
    assert f"{total:,}" in info.value.body["error"]
    avatar = client.avatars.create(
        name="Big", personality="p", reference_image=png(), voice=VOICE, document_ids=[a.id]
    )
    with pytest.raises(BadRequestError) as info:
        client.avatars.update(avatar.id, document_ids=[a.id, b.id])
    assert "50,000" in info.value.body["error"]
    assert client.avatars.retrieve(avatar.id).document_ids == [a.id]
    # A repeated id counts once.
    assert client.avatars.update(avatar.id, document_ids=[a.id, a.id]).document_ids == [a.id]


def test_delete(client: RunwayML) -> None:
    avatar = client.avatars.create(name="Gone", personality="p", reference_image=png(), voice=VOICE)
    preview = wait_processed(client, avatar.id).reference_image_uri
    assert client.avatars.delete(avatar.id) is None
    with pytest.raises(NotFoundError):
        client.avatars.retrieve(avatar.id)
    with pytest.raises(NotFoundError):
        client.avatars.delete(avatar.id)
    assert httpx.get(preview).status_code == 404


def test_list_pages_and_isolation(server: Server, client: RunwayML) -> None:
    other = sdk(server, key=server.new_org("avatar-lister", "--credits", "100"))
    made = [
        other.avatars.create(name=f"A{i}", personality="p", reference_image=png(64, 64), voice=VOICE).id
        for i in range(5)
    ]
    pages = list(other.avatars.list(limit=2).iter_pages())
    assert [len(page.data) for page in pages] == [2, 2, 1]
    documented(AvatarPage, *pages)
    assert [a.id for a in other.avatars.list(limit=2)] == made[::-1]  # newest first, every page
    with pytest.raises(BadRequestError):
        other.avatars.list(limit=101)

    mine = client.avatars.create(name="Mine", personality="p", reference_image=png(), voice=VOICE)
    assert mine.id not in [a.id for a in other.avatars.list(limit=100)]
    with pytest.raises(NotFoundError):
        other.avatars.retrieve(mine.id)
    with pytest.raises(NotFoundError):
        other.avatars.update(mine.id, name="stolen")
    with pytest.raises(NotFoundError):
        other.avatars.delete(mine.id)
    assert client.avatars.retrieve(mine.id).name == "Mine"
