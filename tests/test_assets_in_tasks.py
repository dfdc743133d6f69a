"""Media inputs end to end: uploads, HTTPS URLs and data URIs feeding real tasks on a real server."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from runwayml import BadRequestError, RunwayML
from runwayml.lib.polling import TaskFailedError

from conformance.media import png
from support.clients import balance, sdk
from support.https_assets import AssetServer, Route, image_bytes, video_bytes
from support.server import Server


@pytest.fixture
def taxiway(make_server: Callable[..., Server], assets_server: tuple[AssetServer, Path]) -> Server:
    _server, bundle = assets_server
    return make_server(
        TAXIWAY_ALLOW_PRIVATE_NETWORKS="1",
        TAXIWAY_ASSET_HOST_OVERRIDES='{"assets.test": "127.0.0.1"}',
        TAXIWAY_ASSET_CA_BUNDLE=str(bundle),
    )


def test_https_image_feeds_image_to_video(taxiway: Server, assets_server: tuple[AssetServer, Path]) -> None:
    server, _ = assets_server
    server.routes["/still.png"] = Route(body=image_bytes("PNG", (320, 180)), content_type="image/png")
    task = (
        sdk(taxiway)
        .image_to_video.create(
            model="gen4_turbo", prompt_image=server.url("/still.png"), ratio="1280:720", duration=2
        )
        .wait_for_task_output(timeout=60)
    )
    assert task.status == "SUCCEEDED"
    assert server.requests_for("/still.png") == ["HEAD", "GET"]


def test_https_failures_fail_the_task_refunded(
    taxiway: Server, assets_server: tuple[AssetServer, Path]
) -> None:
    server, _ = assets_server
    server.routes["/gone.png"] = Route(status=404, body=b"no")
    server.routes["/wrong.png"] = Route(body=video_bytes(), content_type="image/png")
    client = sdk(taxiway)
    before = balance(taxiway)
    for path in ("/gone.png", "/wrong.png"):
        created = client.image_to_video.create(
            model="gen4_turbo", prompt_image=server.url(path), ratio="1280:720", duration=2
        )
        with pytest.raises(TaskFailedError) as info:
            created.wait_for_task_output(timeout=60)
        assert info.value.task_details.failure_code == "ASSET.INVALID"
        assert "promptImage" in info.value.task_details.failure
        assert info.value.task_details.cost.credits == 0
    assert balance(taxiway) == before


def test_upload_feeds_tasks_of_its_organization_only(taxiway: Server) -> None:
    client = sdk(taxiway)
    uri = client.uploads.create_ephemeral(file=("photo.png", image_bytes("PNG", (256, 256)))).uri
    task = client.text_to_image.create(
        model="gen4_image_turbo",
        prompt_text="@pet on a sofa",
        ratio="1024:1024",
        reference_images=[{"uri": uri, "tag": "pet"}],
    ).wait_for_task_output(timeout=60)
    assert task.status == "SUCCEEDED"
    taxiway.cli("orgs", "create", "other", "--credits", "100")
    other = sdk(taxiway, key=taxiway.cli("keys", "create", "--org", "other").strip())
    with pytest.raises(BadRequestError) as info:
        other.text_to_image.create(
            model="gen4_image_turbo", prompt_text="x", ratio="1024:1024", reference_images=[{"uri": uri}]
        )
    assert info.value.body["issues"][0]["path"] == ["referenceImages", 0, "uri"]


@pytest.mark.parametrize(
    ("uri", "reason"),
    [
        ("http://assets.test/a.png", "HTTPS"),
        ("https://127.0.0.1/a.png", "domain"),
        ("data:image/gif;base64,R0lGODlhAQABAAAAACw=", "Unsupported asset type"),
        ("data:image/png;base64,not-base64!!", "data URI"),
        ("runway://forged.token.here", ""),
    ],
)
def test_inputs_refused_at_submission(client: RunwayML, uri: str, reason: str) -> None:
    with pytest.raises(BadRequestError) as info:
        client.image_to_video.create(model="gen4_turbo", prompt_image=uri, ratio="1280:720", duration=2)
    issue = info.value.body["issues"][0]
    assert issue["path"] == ["promptImage"]
    assert reason in issue["message"]


def test_data_uri_too_short_for_the_model_is_400_at_submission(client: RunwayML) -> None:
    """A data URI is local, so the model's length rule is judged before a task exists."""
    from conformance.media import mp4

    with pytest.raises(BadRequestError) as info:
        client.character_performance.create(
            model="act_two",
            character={"type": "image", "uri": png()},
            reference={"type": "video", "uri": mp4(320, 180, 1.0)},
        )
    issue = info.value.body["issues"][0]
    assert issue["path"] == ["reference", "uri"]
    assert "at least 3 seconds" in issue["message"]
