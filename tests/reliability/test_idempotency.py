"""`Idempotency-Key`: a retried create returns the first answer and is charged once.

The client's view: the SDKs send the header with `extra_headers`; a retry after a lost answer (here,
after the server restarts) gets the same task; the same key with another body is refused.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from runwayml import BadRequestError, UnprocessableEntityError

from support.clients import balance, sdk
from support.server import Server

IMAGE = {"model": "gen4_image", "prompt_text": "a lighthouse", "ratio": "1920:1080"}
PRICE = 8


def key() -> dict[str, str]:
    return {"Idempotency-Key": f"retry-{uuid.uuid4()}"}


def test_a_retry_gets_the_same_task_and_pays_once(server: Server) -> None:
    client = sdk(server)
    before = balance(server)
    headers = key()
    first = client.text_to_image.with_raw_response.create(**IMAGE, extra_headers=headers)
    again = client.text_to_image.with_raw_response.create(**IMAGE, extra_headers=headers)
    assert again.parse().id == first.parse().id
    assert again.headers["idempotent-replayed"] == "true" and "idempotent-replayed" not in first.headers
    assert balance(server) == before - PRICE
    # Key order and the SDK do not matter: the same JSON is the same request.
    raw = httpx.post(
        f"{server.base_url}/v1/text_to_image",
        headers={"Authorization": f"Bearer {server.key}", "X-Runway-Version": "2024-11-06", **headers},
        content=b'{"ratio": "1920:1080", "promptText": "a lighthouse", "model": "gen4_image"}',
    )
    assert raw.json()["id"] == first.parse().id


def test_the_same_key_with_another_body_is_refused(server: Server) -> None:
    client = sdk(server)
    headers = key()
    client.text_to_image.create(**IMAGE, extra_headers=headers)
    before = balance(server)
    with pytest.raises(UnprocessableEntityError) as info:
        client.text_to_image.create(**{**IMAGE, "prompt_text": "a harbour"}, extra_headers=headers)
    assert set(info.value.body) == {"error"} and "Idempotency-Key" in info.value.body["error"]
    with pytest.raises(UnprocessableEntityError):  # another endpoint is another request too
        client.text_to_video.create(
            model="veo3.1_fast",
            prompt_text="a lighthouse",
            ratio="1280:720",
            duration=4,
            extra_headers=headers,
        )
    assert balance(server) == before
    with pytest.raises(BadRequestError) as bad:
        client.text_to_image.create(**IMAGE, extra_headers={"Idempotency-Key": "x" * 256})
    assert bad.value.body["issues"][0]["path"] == ["headers", "Idempotency-Key"]


def test_racing_twins_make_one_task(server: Server) -> None:
    client = sdk(server)
    before = balance(server)
    headers = key()
    with ThreadPoolExecutor(8) as pool:
        ids = set(
            pool.map(lambda _: client.text_to_image.create(**IMAGE, extra_headers=headers).id, range(8))
        )
    assert len(ids) == 1
    assert balance(server) == before - PRICE


def test_keys_belong_to_an_organization(server: Server) -> None:
    other = sdk(server, key=server.new_org("idempotent-other", "--credits", "100"))
    headers = key()
    mine = sdk(server).text_to_image.create(**IMAGE, extra_headers=headers).id
    theirs = other.text_to_image.create(**IMAGE, extra_headers=headers).id
    assert mine != theirs
    assert balance(server, "idempotent-other") == 100 - PRICE


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/v1/documents", {"name": "notes", "content": "hello"}, "id"),
        ("/v1/uploads", {"filename": "a.png", "type": "ephemeral"}, "runwayUri"),
        (
            "/v1/recipes/marketing_stock_image",
            {"prompt": "a picnic", "version": "2026-06", "outputCount": 1, "quality": "low"},
            "id",
        ),
        (
            "/v1/voices",
            {
                "name": "v",
                "from": {"type": "text", "prompt": "a calm voice, warm and slow", "model": "eleven_ttv_v3"},
            },
            "id",
        ),
    ],
)
def test_other_creates_replay_too(server: Server, path: str, body: dict[str, object], field: str) -> None:
    auth = {"Authorization": f"Bearer {server.key}", "X-Runway-Version": "2024-11-06", **key()}
    one = httpx.post(server.base_url + path, headers=auth, json=body, timeout=60)
    two = httpx.post(server.base_url + path, headers=auth, json=body, timeout=60)
    assert one.status_code == 200, one.text
    assert two.json()[field] == one.json()[field] and two.headers["idempotent-replayed"] == "true"


def test_the_answer_outlives_a_restart_and_expires_after_a_day(make_server: Callable[..., Server]) -> None:
    server = make_server(TAXIWAY_TEST_MODE="1")
    headers = key()
    first = sdk(server).text_to_image.create(**IMAGE, extra_headers=headers).id
    server.kill()  # as if the answer was lost with the server
    server.start()
    assert sdk(server).text_to_image.create(**IMAGE, extra_headers=headers).id == first
    server.cli("clock", "advance", "25h")
    # The server takes up the stored clock within a second or so (longer on a busy machine); until
    # then the same key still replays `first`, which changes nothing.
    deadline = time.monotonic() + 120
    while sdk(server).text_to_image.create(**IMAGE, extra_headers=headers).id == first:
        assert time.monotonic() < deadline, "the key never expired"
        time.sleep(0.5)
