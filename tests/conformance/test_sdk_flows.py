"""Every model variant through both official SDKs: create, wait, download, probe, and check the bill."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image
from runwayml import RunwayML
from runwayml.lib.polling import NewTaskCreatedResponse, create_waitable_resource
from runwayml.types import TextToSpeechCreateResponse

from conformance.probe import probe, probe_audio
from conformance.test_sdk_models import node_declarations
from conformance.variants import Variant, variants
from support.clients import async_sdk
from support.server import Server
from taxiway.api.generation import validate_body
from taxiway.catalog import CATALOG, framing
from taxiway.engines.fields import RequestFields
from taxiway.engines.offline.video_camera import keyframe_uris

VARIANTS = variants()
NODE_DIR = Path(__file__).parent / "node"


CONTENT_TYPES = {
    "png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp", "svg": "image/svg+xml",
    "mp4": "video/mp4", "mov": "video/quicktime",
}  # fmt: skip


def check_outputs(variant: Variant, urls: list[str]) -> None:
    assert len(urls) == variant.outputs
    for url in urls:
        check_output(variant, url)


def check_output(variant: Variant, url: str) -> None:
    response = httpx.get(url, timeout=60)
    assert response.status_code == 200
    if variant.sound:
        check_audio(variant, response)
        return
    found = probe(response.content)
    assert (found.width, found.height) == (variant.width, variant.height)
    assert response.headers["content-type"] == CONTENT_TYPES[variant.file_type]
    if variant.seconds is None:
        assert found.kind == variant.file_type
        assert ("A" in found.pix_fmt) is variant.alpha
        return
    assert variant.file_type in found.kind
    assert (found.codec, found.pix_fmt) == variant.picture
    assert found.fps == variant.fps
    assert found.frames == round(variant.seconds * variant.fps)
    assert found.has_audio is variant.audio


AUDIO_TYPES = {  # file type -> (container, decoder, media type)
    "mp3": ("mp3", "mp3float", "audio/mpeg"),
    "wav": ("wav", "pcm_s16le", "audio/wav"),
    "flac": ("flac", "flac", "audio/flac"),
    "ogg": ("ogg", "opus", "audio/ogg"),
}


def check_audio(variant: Variant, response: httpx.Response) -> None:
    """Mono audio in the requested format and rate (MP3 at 44.1 kHz, as the real service's ElevenLabs
    models answer, unless asked otherwise); exact length where known."""
    kind, codec, content_type = AUDIO_TYPES[variant.file_type]
    assert response.headers["content-type"] == content_type
    found = probe_audio(response.content)
    assert (found.kind, found.codec, found.rate, found.channels) == (kind, codec, variant.rate, 1)
    if variant.seconds is None:
        assert found.seconds > 0.5
    else:
        assert found.seconds == pytest.approx(variant.seconds, abs=0.03)
    assert found.rms > 0.005  # not silence


def create(client: RunwayML, variant: Variant) -> NewTaskCreatedResponse:
    """Through the SDK's method; the seeds' older shapes through the SDK's raw POST (no method takes them)."""
    if variant.raw:
        created: NewTaskCreatedResponse = client.post(
            f"/v1/{variant.endpoint}",
            body=variant.params,
            # Every create response has the same shape: an id and the estimated cost.
            cast_to=create_waitable_resource(TextToSpeechCreateResponse, client),
        )
        return created
    resource = getattr(client, variant.resource)
    result: NewTaskCreatedResponse = resource.create(**variant.sdk_kwargs())
    return result


@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: v.id)
def test_python_sdk(conformance_client: RunwayML, variant: Variant) -> None:
    created = create(conformance_client, variant)
    if "estimated_cost" in type(created).model_fields:  # avatar_videos answers with the id alone
        assert created.estimated_cost.credits == variant.estimated
    if not variant.full:  # accepted and priced; the task reads back strictly, then is deleted
        assert conformance_client.tasks.retrieve(created.id).status != "FAILED"
        conformance_client.tasks.delete(created.id)
        return
    task = created.wait_for_task_output(timeout=900)
    assert task.status == "SUCCEEDED"
    assert task.cost.credits == variant.cost
    check_outputs(variant, task.output)


def _decoded(uri: str) -> bytes:
    return base64.b64decode(uri.split(",", 1)[1])


def framed_like(variant: Variant) -> tuple[tuple[int, int] | None, float | None]:
    """The size of the input the request's picture follows (the first keyframe, the video, or the first
    reference of a text-to-video request), and the input video's length."""
    params = variant.params
    if variant.endpoint == "image_to_video":
        keyframes = RequestFields.model_validate({"promptImage": params["promptImage"]}).prompt_image
        first = keyframe_uris(keyframes)[0]
        return Image.open(io.BytesIO(_decoded(first))).size, None
    video = params.get("videoUri") or params.get("promptVideo")
    if video:
        found = probe(_decoded(video))
        return (found.width, found.height), found.frames / found.fps
    references = params.get("references")
    return (Image.open(io.BytesIO(_decoded(references[0]["uri"]))).size if references else None), None


@pytest.mark.parametrize("variant", [v for v in VARIANTS if not v.full], ids=lambda v: v.id)
def test_brief_variants_frame_and_bill_as_declared(variant: Variant) -> None:
    """What the engines would make of a variant that is not run: its catalog framing and final bill."""
    params = validate_body(variant.endpoint, json.dumps(variant.params).encode(), variant.params)
    spec = CATALOG[(variant.endpoint, variant.params["model"])]
    source, input_seconds = framed_like(variant)
    if variant.seconds is not None and not variant.sound:
        assert framing.output_size(spec, params, source) == (variant.width, variant.height)
    pixels = variant.width * variant.height or None
    assert spec.estimated_credits(params, input_seconds) == variant.estimated
    assert spec.final_credits(params, variant.seconds, pixels) == variant.cost


def one_per_endpoint(variants: list[Variant]) -> list[Variant]:
    """The first variant of each endpoint: the seeds' models, the cheapest to run."""
    return list({v.endpoint: v for v in reversed(variants)}.values())[::-1]


def test_async_python_sdk_one_per_endpoint(server: Server, conformance_key: str) -> None:
    chosen = one_per_endpoint([v for v in VARIANTS if v.full and v.node and not v.raw and not v.node_path])

    async def run(variant: Variant) -> Any:
        async with async_sdk(server, key=conformance_key) as client:
            created = await getattr(client, variant.resource).create(**variant.sdk_kwargs())
            return await created.wait_for_task_output(timeout=900)

    async def run_all() -> list[Any]:
        return await asyncio.gather(*(run(v) for v in chosen))

    for variant, task in zip(chosen, asyncio.run(run_all()), strict=True):
        assert task.status == "SUCCEEDED", variant.id
        assert task.cost.credits == variant.cost
        check_outputs(variant, task.output)


@pytest.mark.skipif(
    shutil.which("node") is None or not (NODE_DIR / "node_modules" / "@runwayml" / "sdk").exists(),
    reason="the Node SDK is installed by `make test` (npm ci in tests/conformance/node)",
)
def test_node_sdk(server: Server, conformance_key: str) -> None:
    """Every variant the Node SDK can send is created through it and priced; one per endpoint is waited for
    with its own `waitForTaskOutput` and its outputs checked, the others are read back and deleted (the
    Python SDK runs the same requests to their outputs)."""
    declared = {path: set(models) for path, models in node_declarations().items()}
    # What the Node SDK can send: the models it declares, and raw posts where it has no method.
    chosen = [
        v for v in VARIANTS if v.node and (v.node_path or v.params["model"] in declared.get(v.path, []))
    ]
    waited = {id(v) for v in one_per_endpoint([v for v in chosen if v.full])}
    spec = {
        "baseURL": server.base_url,
        "apiKey": conformance_key,
        "calls": [
            {"resource": v.node_resource, "path": v.node_path, "params": v.params, "wait": id(v) in waited}
            for v in chosen
        ],
    }
    done = subprocess.run(
        ["node", "run.mjs"],
        cwd=NODE_DIR,
        input=json.dumps(spec),
        capture_output=True,
        text=True,
        timeout=1500,
    )
    assert done.returncode == 0, done.stderr
    results = json.loads(done.stdout)
    for variant, result in zip(chosen, results, strict=True):
        assert result["ok"], (variant.id, result)
        task = result["task"]
        assert result["created"]["estimatedCost"]["credits"] == variant.estimated, variant.id
        if id(variant) not in waited:
            assert task["status"] != "FAILED", (variant.id, task)
            continue
        assert task["status"] == "SUCCEEDED"
        assert task["cost"]["credits"] == variant.cost
        check_outputs(variant, task["output"])
