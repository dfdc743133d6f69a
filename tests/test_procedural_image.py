"""The procedural image engine: exact sizes, byte-for-byte reruns, prompts that steer, references, cancel."""

from __future__ import annotations

import base64
import io
from typing import Any

import numpy as np
import pytest
from PIL import Image, ImageDraw

from taxiway.engines.base import EngineRequest, RunContext, TaskCancelled
from taxiway.engines.offline.procedural_image import ProceduralImageEngine
from taxiway.errors import Failure


def make_request(
    prompt: str = "a red fox in snow at dusk",
    seed: int = 42,
    ratio: str = "1280:720",
    model: str = "gen4_image",
    references: list[dict[str, Any]] | None = None,
) -> EngineRequest:
    params: dict[str, Any] = {"model": model, "promptText": prompt, "ratio": ratio, "seed": seed}
    if references is not None:
        params["referenceImages"] = references
    return EngineRequest(task_id="t1", endpoint="text_to_image", model=model, params=params, seed=seed)


def render(request: EngineRequest, engine: ProceduralImageEngine | None = None) -> bytes:
    artifacts = (engine or ProceduralImageEngine()).run(request, RunContext())
    assert len(artifacts) == 1
    assert artifacts[0].filename == "output.png"
    assert artifacts[0].content_type == "image/png"
    return artifacts[0].data


def pixels(data: bytes) -> np.ndarray[Any, np.dtype[np.uint8]]:
    with Image.open(io.BytesIO(data)) as image:
        assert image.format == "PNG"
        assert image.mode == "RGB"
        return np.asarray(image)


def data_uri(image: Image.Image, fmt: str = "PNG") -> str:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return f"data:image/{fmt.lower()};base64," + base64.b64encode(buffer.getvalue()).decode()


def checkerboard() -> Image.Image:
    image = Image.new("RGB", (320, 240), (250, 240, 20))
    draw = ImageDraw.Draw(image)
    for x in range(0, 320, 40):
        for y in range(0, 240, 40):
            if (x + y) // 40 % 2:
                draw.rectangle((x, y, x + 39, y + 39), fill=(10, 10, 200))
    return image


def test_engine_name() -> None:
    assert ProceduralImageEngine.name == "procedural-image"


@pytest.mark.parametrize(
    ("ratio", "size"),
    [
        ("1920:1080", (1920, 1080)),
        ("720:1280", (720, 1280)),
        ("2112:912", (2112, 912)),
        ("1024:1024", (1024, 1024)),
        ("1680:720", (1680, 720)),
        ("7:5", (7, 5)),
    ],
)
def test_output_is_exactly_the_ratio_in_pixels(ratio: str, size: tuple[int, int]) -> None:
    with Image.open(io.BytesIO(render(make_request(ratio=ratio)))) as image:
        assert image.format == "PNG"
        assert image.mode == "RGB"
        assert image.size == size


def test_same_request_gives_identical_bytes() -> None:
    request = make_request(prompt="golden sunset over the sea", seed=7)
    assert render(request) == render(request)
    assert render(request) == render(make_request(prompt="golden sunset over the sea", seed=7))


def test_task_id_does_not_change_the_output() -> None:
    request = make_request()
    other = EngineRequest("another", request.endpoint, request.model, request.params, request.seed)
    assert render(request) == render(other)


def test_different_seed_gives_different_image() -> None:
    first = pixels(render(make_request(seed=1)))
    second = pixels(render(make_request(seed=2)))
    assert np.abs(first.astype(int) - second.astype(int)).mean() > 2.0


@pytest.mark.parametrize(
    "other", ["a cat on a sofa", "a red fox in snow at dawn", "a red fox in snow at dusk."]
)
def test_different_prompt_gives_different_image(other: str) -> None:
    base = pixels(render(make_request(prompt="a red fox in snow at dusk")))
    changed = pixels(render(make_request(prompt=other)))
    assert not np.array_equal(base, changed)


def test_model_and_ratio_feed_the_hash() -> None:
    assert render(make_request(model="gen4_image")) != render(make_request(model="gen4_image_turbo"))


@pytest.mark.parametrize("seed", [0, 1, 42, 4_294_967_295])
def test_colour_words_steer_the_palette(seed: int) -> None:
    red = pixels(render(make_request(prompt="a vast red desert", seed=seed))).astype(float)
    blue = pixels(render(make_request(prompt="a deep blue ocean", seed=seed))).astype(float)
    assert red[..., 0].mean() > blue[..., 0].mean() + 20
    assert blue[..., 2].mean() > red[..., 2].mean() + 20


def test_night_is_darker_than_day() -> None:
    night = pixels(render(make_request(prompt="mountains at night", seed=3))).astype(float)
    day = pixels(render(make_request(prompt="mountains under a clear sky", seed=3))).astype(float)
    assert night.mean() + 30 < day.mean()


def test_reference_data_uri_is_composited() -> None:
    plain = pixels(render(make_request()))
    for fmt in ("PNG", "JPEG", "WEBP"):
        with_reference = pixels(render(make_request(references=[{"uri": data_uri(checkerboard(), fmt)}])))
        assert with_reference.shape == plain.shape
        assert np.abs(with_reference.astype(int) - plain.astype(int)).mean() > 1.0


def test_reference_with_transparency_and_odd_sizes() -> None:
    transparent = Image.new("RGBA", (200, 300), (0, 0, 0, 0))
    ImageDraw.Draw(transparent).ellipse((20, 20, 180, 280), fill=(200, 30, 200, 255))
    references = [
        {"uri": data_uri(transparent), "tag": "blob"},
        {"uri": data_uri(Image.new("RGB", (1, 1), (255, 0, 0)))},
        {"uri": data_uri(Image.new("L", (3000, 2), 128))},
    ]
    image = pixels(render(make_request(ratio="720:1280", references=references)))
    assert image.shape == (1280, 720, 3)


def test_non_data_uris_are_skipped_without_fetch() -> None:
    references = [{"uri": "https://example.com/fox.png"}, {"uri": "runway://assets/abc"}]
    assert render(make_request(references=references)) == render(make_request())


def test_fetch_resolves_non_data_uris() -> None:
    payload = base64.b64decode(data_uri(checkerboard()).partition(",")[2])
    seen: list[str] = []

    def fetch(uri: str) -> bytes:
        seen.append(uri)
        return payload

    engine = ProceduralImageEngine(fetch=fetch)
    fetched = render(make_request(references=[{"uri": "https://example.com/fox.png"}]), engine)
    inline = render(make_request(references=[{"uri": data_uri(checkerboard())}]))
    assert seen == ["https://example.com/fox.png"]
    assert fetched == inline


@pytest.mark.parametrize(
    "uri",
    [
        "data:image/png;base64," + base64.b64encode(b"definitely not a png").decode(),
        "data:image/png;base64,@@@not-base64",
        "data:image/png;base64",
        "data:text/plain,hello",
    ],
)
def test_undecodable_data_uri_is_an_asset_failure(uri: str) -> None:
    references = [{"uri": data_uri(checkerboard())}, {"uri": uri}]
    with pytest.raises(Failure) as raised:
        render(make_request(references=references))
    assert raised.value.code == "ASSET.INVALID"
    assert raised.value.message == "referenceImages[1] could not be decoded as an image"


def test_fetched_bytes_that_are_not_an_image_are_an_asset_failure() -> None:
    engine = ProceduralImageEngine(fetch=lambda _uri: b"<html>not found</html>")
    with pytest.raises(Failure) as raised:
        render(make_request(references=[{"uri": "https://example.com/missing.png"}]), engine)
    assert raised.value.code == "ASSET.INVALID"
    assert "referenceImages[0]" in raised.value.message


def test_cancelled_context_stops_the_run() -> None:
    context = RunContext()
    context.cancel_event.set()
    with pytest.raises(TaskCancelled):
        ProceduralImageEngine().run(make_request(), context)


def test_cancellation_between_stages() -> None:
    reported: list[float] = []
    context = RunContext()

    def on_progress(fraction: float) -> None:
        reported.append(fraction)
        if len(reported) == 2:
            context.cancel_event.set()

    context.on_progress = on_progress
    with pytest.raises(TaskCancelled):
        ProceduralImageEngine().run(make_request(), context)
    assert len(reported) == 2


def test_progress_is_reported_in_order_up_to_one() -> None:
    reported: list[float] = []
    ProceduralImageEngine().run(make_request(), RunContext(on_progress=reported.append))
    assert len(reported) >= 4
    assert reported == sorted(reported)
    assert reported[-1] == 1.0
