"""The end-to-end flow through the official SDK, sync and async, in strict response validation."""

from __future__ import annotations

import io

import httpx
import pytest
from PIL import Image
from runwayml import RunwayML
from runwayml.types import TaskRetrieveResponse

from support.clients import async_sdk, balance
from support.server import Server


def download_image(url: str) -> Image.Image:
    response = httpx.get(url, timeout=10)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/png"
    image = Image.open(io.BytesIO(response.content))
    image.load()
    return image


@pytest.mark.parametrize(
    ("model", "ratio", "credits", "extra"),
    [
        ("gen4_image", "1920:1080", 8, {}),
        ("gen4_image", "720:1280", 5, {"seed": 7}),
        ("gemini_2.5_flash", "1344:768", 5, {}),
    ],
)
def test_create_wait_download(
    server: Server, client: RunwayML, model: str, ratio: str, credits: int, extra: dict[str, int]
) -> None:
    before = balance(server)
    created = client.text_to_image.create(
        model=model,  # type: ignore[arg-type]
        prompt_text="a lighthouse on a cliff at dusk",
        ratio=ratio,  # type: ignore[arg-type]
        **extra,  # type: ignore[arg-type]
    )
    assert created.estimated_cost.credits == credits
    task = created.wait_for_task_output(timeout=60)
    assert task.status == "SUCCEEDED"
    assert task.cost.credits == credits
    assert len(task.output) == 1
    image = download_image(task.output[0])
    assert image.format == "PNG"
    assert image.size == tuple(int(side) for side in ratio.split(":"))
    assert balance(server) == before - credits


def test_turbo_with_reference_image(client: RunwayML) -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), (200, 30, 30)).save(buffer, "PNG")
    import base64

    uri = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()
    task = client.text_to_image.create(
        model="gen4_image_turbo",
        prompt_text="@fox in the snow",
        ratio="1024:1024",
        reference_images=[{"uri": uri, "tag": "fox"}],
    ).wait_for_task_output(timeout=60)
    assert task.status == "SUCCEEDED"
    assert download_image(task.output[0]).size == (1024, 1024)


def test_same_seed_same_bytes(client: RunwayML) -> None:
    def render() -> bytes:
        task = client.text_to_image.create(
            model="gen4_image", prompt_text="two moons over a lake", ratio="1280:720", seed=1234
        ).wait_for_task_output(timeout=60)
        assert task.status == "SUCCEEDED"
        return httpx.get(task.output[0]).content

    assert render() == render()


def test_retrieve_is_strictly_valid_at_every_status(client: RunwayML) -> None:
    created = client.text_to_image.create(model="gen4_image", prompt_text="a cat", ratio="1024:1024")
    seen: set[str] = set()
    for _ in range(300):
        task: TaskRetrieveResponse = client.tasks.retrieve(created.id)
        seen.add(task.status)
        if task.status == "SUCCEEDED":
            break
    assert "SUCCEEDED" in seen
    raw = httpx.get(
        f"{str(client.base_url).rstrip('/')}/v1/tasks/{created.id}",
        headers={"Authorization": f"Bearer {client.api_key}", "X-Runway-Version": "2024-11-06"},
    ).json()
    assert set(raw) == {"id", "createdAt", "status", "output", "cost"}
    assert raw["createdAt"].endswith("Z") and len(raw["createdAt"]) == 24


async def test_async_client(server: Server) -> None:
    async with async_sdk(server) as client:
        created = await client.text_to_image.create(
            model="gen4_image", prompt_text="a blue whale", ratio="1360:768"
        )
        task = await created.wait_for_task_output(timeout=60)
        assert task.status == "SUCCEEDED"
        async with httpx.AsyncClient() as http:
            response = await http.get(task.output[0])
        assert Image.open(io.BytesIO(response.content)).size == (1360, 768)


def test_delete_after_success_removes_task_and_outputs(client: RunwayML) -> None:
    task = client.text_to_image.create(
        model="gen4_image", prompt_text="a red barn", ratio="1080:1080"
    ).wait_for_task_output(timeout=60)
    url = task.output[0]
    assert httpx.get(url).status_code == 200
    client.tasks.delete(task.id)
    from runwayml import NotFoundError

    with pytest.raises(NotFoundError) as info:
        client.tasks.retrieve(task.id)
    assert info.value.body == {"error": "Could not find Task"}
    assert httpx.get(url).status_code == 404
    with pytest.raises(NotFoundError):
        client.tasks.delete(task.id)
