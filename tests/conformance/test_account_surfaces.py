"""What the newer SDKs read back about models: usage reports strict clients can parse after legacy models
ran, dubbing targets refused at submission when this machine cannot reach them, Seedance 2.5 drafts
remade at 1080p."""

from __future__ import annotations

import importlib
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any, get_args

import httpx
import pytest
from runwayml import BadRequestError, RunwayML

from conformance.media import mp4, speech
from conformance.probe import probe
from support.clients import delivered, sdk
from support.server import Server
from taxiway.catalog import CATALOG
from taxiway.engines.audio import dubbing


def sdk_usage_models() -> set[str]:
    """The model ids a strict SDK client accepts in a usage report."""
    module = importlib.import_module("runwayml.types.organization_retrieve_usage_response")
    return set(get_args(module.ResultUsedCredit.model_fields["model"].annotation))


def test_every_model_is_reported_under_an_id_the_sdk_knows() -> None:
    known = sdk_usage_models()
    assert {"gen4.5", "gwm1_avatars", "seedance2_5"} <= known  # the reader itself works
    assert {spec.usage_id or spec.id for spec in CATALOG.values()} - known == set()


@pytest.fixture
def fresh_client(server: Server) -> RunwayML:
    name = f"usage-{uuid.uuid4().hex[:12]}"
    server.cli("orgs", "create", name, "--tier", "5", "--credits", "100000")
    return sdk(server, key=server.cli("keys", "create", "--org", name).strip())


def _post(server: Server, client: RunwayML, endpoint: str, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(
        f"{server.base_url}/v1/{endpoint}",
        json=body,
        headers={"Authorization": f"Bearer {client.api_key}", "X-Runway-Version": "2024-11-06"},
        timeout=60,
    )


def test_usage_after_a_legacy_model_is_strictly_valid(server: Server, fresh_client: RunwayML) -> None:
    """upscale_v1 is gone from the SDK's usage enum: its credits come back as its successor's."""
    created = _post(
        server, fresh_client, "video_upscale", {"model": "upscale_v1", "videoUri": mp4(320, 180, 1.0)}
    )
    assert created.status_code == 200, created.text
    delivered({"upscale": fresh_client.tasks.retrieve(created.json()["id"])}, timeout=300)
    today = datetime.now(UTC).date()  # the default window ends before today
    # Strict: the reader raises on a model id the SDK's enum does not know.
    report = fresh_client.organization.retrieve_usage(start_date=today, before_date=today + timedelta(days=1))
    assert report.models == ["magnific_video_upscaler_creative"]
    assert [(c.model, c.amount) for day in report.results for c in day.used_credits] == [
        ("magnific_video_upscaler_creative", 2)
    ]


@pytest.mark.parametrize(
    ("target", "says"),
    [
        ("de", "no offline voice speaks 'de'"),
        pytest.param(
            "fr",
            "apt-get install apertium apertium-eng-spa apertium-fr-es",
            marks=pytest.mark.skipif(
                "fr" in dubbing.available_targets(), reason="this machine has a translation into French"
            ),
        ),
    ],
)
def test_a_dubbing_target_this_machine_cannot_reach_is_refused_at_submission(
    client: RunwayML, target: str, says: str
) -> None:
    """Known at submission, naming `targetLang` and what to install, not a task failing later."""
    with pytest.raises(BadRequestError) as info:
        client.voice_dubbing.create(
            model="eleven_voice_dubbing", audio_uri=speech(seconds=2.0), target_lang=target
        )
    body = info.value.body
    assert isinstance(body, dict)
    [issue] = body["issues"]
    assert issue["path"] == ["targetLang"]
    assert says in issue["message"]


def test_a_seedance_draft_is_remade_at_1080p(server: Server, fresh_client: RunwayML) -> None:
    """The draft's 480p preview, then the same request named by its task id: 1080p, same length, the
    1080p price; the draft's own settings are used and nothing else may be given."""
    prompt = "a red kite over a green hill, wide"
    draft = fresh_client.text_to_video.create(
        model="seedance2_5", prompt_text=prompt, ratio="1280:720", duration=4, draft=True, audio=False
    ).wait_for_task_output(timeout=300)
    assert probe(httpx.get(draft.output[0], timeout=60).content).width == 854
    remake = fresh_client.text_to_video.create(model="seedance2_5", draft_task_id=draft.id)
    assert remake.estimated_cost.credits == 48 * 4
    task = remake.wait_for_task_output(timeout=300)
    found = probe(httpx.get(task.output[0], timeout=60).content)
    assert (found.width, found.height, found.frames, found.has_audio) == (1920, 1080, 96, False)
    with pytest.raises(BadRequestError) as info:
        fresh_client.text_to_video.create(model="seedance2_5", draft_task_id=draft.id, prompt_text="else")
    assert [i["path"] for i in info.value.body["issues"]] == [["promptText"]]  # type: ignore[index]
    with pytest.raises(BadRequestError) as info:  # a remake is not a draft
        fresh_client.text_to_video.create(model="seedance2_5", draft_task_id=task.id)
    assert [i["path"] for i in info.value.body["issues"]] == [["draftTaskId"]]  # type: ignore[index]
