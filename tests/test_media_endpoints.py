"""The media endpoints' rules that need the server's state or a measured input: custom avatars and
voices, and image_upscale's pixel limits, through the official SDK (strict models)."""

from __future__ import annotations

import io
import time
from typing import Any

import httpx
import pytest
from PIL import Image
from runwayml import AsyncRunwayML, BadRequestError, RunwayML

from conformance.media import png, wav
from support.clients import async_sdk
from support.server import Server
from test_avatars_api import wait_processed
from test_media_engines import frames_of

VOICE = {"type": "runway-live-preset", "preset_id": "vincent"}


def issue_paths(error: BadRequestError) -> list[list[Any]]:
    body = error.body if isinstance(error.body, dict) else {}
    return [issue["path"] for issue in body.get("issues", [])]


def test_unknown_avatar_and_voice_are_400s_naming_them(client: RunwayML) -> None:
    with pytest.raises(BadRequestError) as refused:
        client.avatar_videos.create(
            model="gwm1_avatars",
            avatar={"type": "custom", "avatar_id": "00000000-0000-0000-0000-000000000000"},
            speech={"type": "text", "text": "Hi", "voice": {"type": "custom", "id": "nope"}},
        )
    assert issue_paths(refused.value) == [["avatar", "avatarId"], ["speech", "voice", "id"]]


@pytest.mark.parametrize(
    ("size", "scale", "field"),
    [((299, 400), 2, "imageUri"), ((400, 8001), 2, "imageUri"), ((2000, 1600), 4, "scaleFactor")],
)
def test_image_upscale_pixel_limits_are_400s(
    client: RunwayML, size: tuple[int, int], scale: int, field: str
) -> None:
    with pytest.raises(BadRequestError) as refused:
        client.image_upscale.create(
            model="magnific_precision_upscaler_v2",
            image_uri=png(*size),
            scale_factor=scale,  # type: ignore[arg-type]
        )
    assert issue_paths(refused.value) == [[field]]


def test_a_custom_avatar_speaks_in_its_own_face(client: RunwayML, server: Server) -> None:
    face = Image.new("RGB", (544, 352), (30, 140, 60))  # a green portrait: the output must be green
    buffer = io.BytesIO()
    face.save(buffer, "PNG")
    from conformance.media import data_uri

    avatar = client.avatars.create(
        name="Greta", personality="p", reference_image=data_uri(buffer.getvalue(), "image/png"), voice=VOICE
    )
    assert wait_processed(client, avatar.id).status == "READY"

    async def make() -> Any:
        async with async_sdk(server) as aclient:
            assert isinstance(aclient, AsyncRunwayML)
            created = await aclient.avatar_videos.create(
                model="gwm1_avatars",
                avatar={"type": "custom", "avatar_id": avatar.id},
                speech={"type": "audio", "audio": wav(1.0)},
            )
            return await created.wait_for_task_output(timeout=300)

    import asyncio

    deadline = time.monotonic() + 300
    task = asyncio.run(make())
    assert time.monotonic() < deadline
    assert task.status == "SUCCEEDED"
    video = httpx.get(task.output[0], timeout=60).content
    first = frames_of(video)[0]
    assert first.shape == (704, 1088, 3)
    assert first[..., 1].mean() > first[..., 0].mean() + 40, "the avatar's own (green) image"
