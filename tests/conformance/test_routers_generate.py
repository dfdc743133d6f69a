"""Model Routers, router-driven generation, web-app usage and the audit log through both official SDKs:
the Python SDK in strict mode here, the Node SDK in one process (node/routing.mjs)."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import runwayml
from PIL import Image

from support.clients import sdk
from support.server import OPERATOR_TOKEN, Server
from taxiway.accounts.keys import display_prefix
from taxiway.api.generate import AudioGenerated, ImageGenerated, VideoGenerated
from taxiway.api.routers import RouterDecisionPage, RouterPage, RouterView

NODE_DIR = Path(__file__).parent / "node"
# Holds a task THROTTLED for a while: its model is then full for the organization (a new task would
# queue behind it), without keeping an engine worker busy.
HELD = {"X-Taxiway-Simulate": "status=THROTTLED:120s"}
STILLS = {
    "optimize_for": "quality",
    "fallback": {"on_capacity": True},
    "models": {"ids": ["gen4_image", "gemini_2.5_flash"], "mode": "allowlist_only"},
}


def operator(server: Server, method: str, path: str, **kwargs: Any) -> httpx.Response:
    url, headers = f"{server.base_url}/operator{path}", {"Authorization": f"Bearer {OPERATOR_TOKEN}"}
    response = httpx.request(method, url, headers=headers, timeout=30, **kwargs)
    response.raise_for_status()
    return response


def new_org(server: Server, credits: int = 100_000) -> tuple[str, str]:
    """A tier-1 organization and a key of it, made through the operator API."""
    name = f"routing-{uuid.uuid4().hex[:8]}"
    operator(server, "POST", "/organizations", json={"name": name, "tier": 1, "credits": credits})
    return name, operator(server, "POST", f"/organizations/{name}/keys", json={}).json()["key"]


@pytest.fixture(scope="module")
def org(operator_server: Server) -> tuple[str, str]:
    return new_org(operator_server)


def test_routers_crud_and_validation(operator_server: Server, org: tuple[str, str]) -> None:
    client = sdk(operator_server, org[1])
    created = client.routers.create(
        slug="crud-drafts", name="Drafts", description="fast previews", settings={"optimize_for": "latency"}
    )
    assert (created.slug, created.name, created.description, created.version) == (
        "crud-drafts",
        "Drafts",
        "fast previews",
        1,
    )
    assert created.settings.schema_version == 1 and created.settings.optimize_for == "latency"
    assert created.settings.fallback is not None and created.settings.fallback.on_capacity is False
    assert client.routers.retrieve(created.id).model_dump() == created.model_dump()
    named = client.routers.update(created.id, name="Drafts v2", description=None)
    assert (named.name, named.description, named.version) == ("Drafts v2", None, 1)
    capped = client.routers.update(
        created.id,
        settings={
            "max_credits_per_generation": {"video": 100},
            "models": {"ids": ["seedance2"], "mode": "allow_new_except"},
        },
    )
    assert capped.version == 2 and capped.settings.optimize_for == "latency"
    assert capped.settings.models is not None and capped.settings.models.ids == ["seedance2"]
    uncapped = client.routers.update(created.id, settings={"max_credits_per_generation": None})
    assert uncapped.version == 3 and uncapped.settings.max_credits_per_generation is None
    for answer in (created, named, capped, uncapped):  # as /openapi.json documents them, and no more
        RouterView.model_validate(answer.to_dict())
    with pytest.raises(runwayml.ConflictError):
        client.routers.create(slug="crud-drafts")
    with pytest.raises(runwayml.BadRequestError) as bad:
        client.routers.create(
            slug="crud-other", settings={"models": {"ids": ["gen9"], "mode": "allowlist_only"}}
        )
    assert bad.value.body["issues"][0]["path"] == ["settings", "models", "ids", 0]
    with pytest.raises(runwayml.BadRequestError) as bad:
        client.routers.create(slug="Not A Slug")
    assert bad.value.body["issues"][0]["path"] == ["slug"]
    with pytest.raises(runwayml.BadRequestError) as bad:
        client.routers.update(created.id, extra_body={"slug": "renamed"})
    assert bad.value.body["issues"][0]["path"] == ["slug"]
    retry = {"Idempotency-Key": f"router-{uuid.uuid4()}"}
    second = client.routers.create(slug="crud-second", extra_headers=retry)
    assert second.name == "crud-second"  # the slug when no name is given
    again = client.routers.with_raw_response.create(slug="crud-second", extra_headers=retry)
    assert again.headers["idempotent-replayed"] == "true" and again.parse().id == second.id
    listed = client.routers.list(limit=1)
    RouterPage.model_validate(listed.to_dict())
    assert [r.id for r in listed.data] == [second.id] and listed.next_cursor
    assert {r.id for page in listed.iter_pages() for r in page.data} == {created.id, second.id}
    stranger = sdk(operator_server, new_org(operator_server)[1])
    with pytest.raises(runwayml.NotFoundError):
        stranger.routers.retrieve(created.id)
    with pytest.raises(runwayml.NotFoundError):
        stranger.generate.image.create(config_id="crud-drafts", input={"prompt_text": "a kite"})
    client.routers.delete(second.id)
    with pytest.raises(runwayml.NotFoundError):
        client.routers.retrieve(second.id)


def test_generate_routes_falls_back_on_capacity_and_lists_its_decisions(
    operator_server: Server, org: tuple[str, str]
) -> None:
    client = sdk(operator_server, org[1])
    stills = client.routers.create(slug="stills", settings=STILLS)
    kite = {"prompt_text": "a red kite", "aspect_ratio": "16:9"}
    retry = {"Idempotency-Key": f"generate-{uuid.uuid4()}"}
    first = client.generate.image.create(config_id="stills", input=kite, extra_headers=retry)
    again = client.generate.image.with_raw_response.create(
        config_id="stills", input=kite, extra_headers=retry
    )
    assert again.headers["idempotent-replayed"] == "true"
    assert again.parse().model_dump() == first.model_dump()  # and no second decision
    routing = first.routing
    assert (routing.model, routing.provider, routing.config_id) == ("gen4_image", "runway", "stills")
    assert routing.resolved_input.model_dump() == {
        "aspect_ratio": "16:9",
        "ratio": "1280:720",
        "resolution": "1k",
    }
    assert routing.resolved_settings.optimize_for == "quality" and routing.capacity_fallback is None
    task = client.tasks.retrieve(first.id).wait_for_task_output(timeout=120)
    assert task.status == "SUCCEEDED" and routing.estimated_cost.credits == task.cost.credits
    picture = Image.open(io.BytesIO(httpx.get(task.output[0], timeout=30).content))
    assert picture.size == (1280, 720)

    held = client.text_to_image.with_raw_response.create(
        model="gen4_image", prompt_text="held", ratio="1280:720", extra_headers=HELD
    ).parse()
    fallen = client.generate.image.create(config_id="stills", input={"prompt_text": "a red kite"})
    assert fallen.routing.model == "gemini_2.5_flash"
    assert fallen.routing.capacity_fallback is not None
    assert fallen.routing.capacity_fallback.model_dump() == {
        "all_exhausted": False,
        "skipped": ["gen4_image"],
    }
    client.tasks.delete(held.id)  # cancelled while THROTTLED: refunded
    for answer in (first, fallen):  # as /openapi.json documents it, and no more
        ImageGenerated.model_validate(answer.to_dict())

    # Models that make 4k exist (gpt_image_2, seedream5_lite…), but not among the router's allowed ones.
    with pytest.raises(runwayml.BadRequestError) as refused:
        client.generate.image.create(config_id="stills", input={"prompt_text": "a kite", "resolution": "4k"})
    assert {tuple(issue["path"]) for issue in refused.value.body["issues"]} == {("configId",)}
    with pytest.raises(runwayml.BadRequestError) as refused:
        client.generate.image.create(config_id="stills", input={"prompt_text": "", "seed": -1})
    assert {tuple(i["path"]) for i in refused.value.body["issues"]} == {
        ("input", "promptText"),
        ("input", "seed"),
    }
    with pytest.raises(runwayml.NotFoundError):
        client.generate.image.create(config_id="no-such-router", input={"prompt_text": "a kite"})

    page = client.routers.list_requests(stills.id, limit=10)
    RouterDecisionPage.model_validate(page.to_dict())
    decisions = page.data
    assert [d.status for d in decisions] == ["no_eligible_model", "routed", "routed"]
    refusal, fallback, plain = decisions
    assert refusal.emptied_by == ["allow_deny"] and refusal.task_id is None and refusal.reason_code is None
    assert [step.type for step in fallback.pipeline] == ["filter"] * 5 + ["capacity", "rank"]
    capacity = fallback.pipeline[5]
    assert capacity.type == "capacity" and capacity.skipped == ["gen4_image"] and not capacity.all_exhausted
    assert (fallback.task_id, fallback.model, fallback.reason_code) == (
        fallen.id,
        "gemini_2.5_flash",
        "best_quality",
    )
    assert (plain.task_id, plain.estimated_credits, plain.provider) == (first.id, task.cost.credits, "runway")
    assert plain.pipeline[-1].type == "rank" and plain.reason and "gen4_image" in plain.reason


def test_video_and_audio_generation(operator_server: Server, org: tuple[str, str]) -> None:
    # Routed tasks run as any task does (the image test waits for one): these are held, then cancelled.
    client = sdk(operator_server, org[1]).with_options(default_headers=HELD)
    client.routers.create(slug="cheapest", settings={"max_credits_per_generation": {"video": 30}})
    clip = client.generate.video.create(config_id="cheapest", input={"prompt_text": "waves", "duration": 2})
    assert (clip.routing.model, clip.routing.estimated_cost.credits) == ("grok_imagine_1_5_lite", 10)
    assert clip.routing.resolved_input.model_dump() == {
        "duration": 2.0,
        "ratio": "1280:720",
        "resolution": "720p",
    }
    assert clip.routing.resolved_settings.price_ceiling == 30
    with pytest.raises(runwayml.BadRequestError) as refused:
        client.generate.video.create(config_id="cheapest", input={"prompt_text": "waves", "duration": 8})
    assert "price" in refused.value.body["error"]
    sound = client.generate.audio.create(
        config_id="cheapest",
        input={"prompt_text": "rain on a tin roof", "type": "audio", "duration": 2, "loop": True},
    )
    assert sound.routing.model == "eleven_text_to_sound_v2"
    assert sound.routing.resolved_input.model_dump() == {"type": "audio", "voice": "none"}
    speech = client.generate.audio.create(
        config_id="cheapest",
        input={
            "prompt_text": "Hello there.",
            "type": "speech",
            "voice": {"type": "preset", "preset_id": "Maya"},
        },
    )
    assert (speech.routing.model, speech.routing.resolved_input.voice) == ("eleven_multilingual_v2", "preset")
    for task in (clip, sound, speech):
        client.tasks.delete(task.id)
    VideoGenerated.model_validate(clip.to_dict())  # as /openapi.json documents them, and no more
    for answer in (sound, speech):
        AudioGenerated.model_validate(answer.to_dict())


def test_usage_and_audit_log_of_a_revoked_key(operator_server: Server) -> None:
    name, key = new_org(operator_server)
    client = sdk(operator_server, key)
    spare = operator(operator_server, "POST", f"/organizations/{name}/keys", json={"name": "spare"}).json()
    operator(operator_server, "DELETE", f"/keys/{spare['id']}")
    operator(
        operator_server, "POST", f"/organizations/{name}/credits", json={"amount": 250, "note": "top-up"}
    )
    operator(operator_server, "PUT", f"/organizations/{name}/tier", json={"tier": 2})
    held = client.text_to_image.with_raw_response.create(
        model="gen4_image", prompt_text="a kite", ratio="720:720", extra_headers=HELD
    ).parse()
    client.tasks.delete(held.id)

    entries = client.organization.webapp.audit_logs.list(limit=100).data
    actions = [entry.action for entry in entries]
    assert actions == [
        "SubscriptionPlanSwitched",
        "CreditsTransferred",
        "PermissionRevoked",
        "PermissionGranted",
        "PermissionGranted",
        "WorkspaceCreated",
    ]
    (revoked,) = client.organization.webapp.audit_logs.list(limit=10, actions="PermissionRevoked").data
    assert (revoked.actor_username, revoked.actor_deleted) == ("operator", False)
    detail = client.organization.webapp.audit_logs.retrieve(revoked.event_id)
    assert (detail.resource_type, detail.resource_id) == ("api_key", spare["id"])
    assert detail.metadata.api_account == f"{spare['prefix']} (spare)"
    assert detail.client_ip_address == "127.0.0.1" and detail.metadata.application == "taxiway operator API"
    credits = client.organization.webapp.audit_logs.list(limit=10, actions="CreditsTransferred").data[0]
    assert client.organization.webapp.audit_logs.retrieve(credits.event_id).metadata.amount == 250
    tier = client.organization.webapp.audit_logs.retrieve(entries[0].event_id).metadata
    assert (tier.plan, tier.previous_value, tier.new_value) == ("tier 2", 1, 2)
    first_page = client.organization.webapp.audit_logs.list(limit=2)
    assert len(first_page.data) == 2 and first_page.next_cursor
    assert [e.event_id for p in first_page.iter_pages() for e in p.data] == [e.event_id for e in entries]
    later = datetime.now(UTC) + timedelta(hours=1)
    assert client.organization.webapp.audit_logs.list(limit=10, from_=later).data == []
    assert client.organization.webapp.audit_logs.list(limit=10, actor_emails="ops@example.com").data == []
    with pytest.raises(runwayml.BadRequestError) as bad:
        client.organization.webapp.audit_logs.list(limit=10, actions="KeyEaten")
    assert bad.value.body["issues"][0]["path"] == ["actions"]

    today = datetime.now(UTC).date()
    usage = client.organization.webapp.list_usage(from_=today, to=today + timedelta(days=1), limit=10).data
    assert [(row.type, row.credits, row.tool) for row in usage] == [
        ("refund", -5, "gen4_image"),
        ("charge", 5, "gen4_image"),
    ]
    assert {row.email for row in usage} == {display_prefix(key)}
    assert {(row.workspace_id, row.workspace_name) for row in usage} == {(entries[0].workspace_id, name)}
    assert (
        client.organization.webapp.list_usage(
            from_=today,
            to=today + timedelta(days=1),
            limit=10,
            workspace_ids=str(entries[0].workspace_id + 1),
        ).data
        == []
    )
    with pytest.raises(runwayml.BadRequestError):
        client.organization.webapp.list_usage(from_=today, to=today, limit=10)
    with pytest.raises(runwayml.NotFoundError):
        client.organization.webapp.audit_logs.retrieve(entries[0].event_id, organization_id=str(uuid.uuid4()))
    stranger = sdk(operator_server, new_org(operator_server)[1])
    with pytest.raises(runwayml.NotFoundError):
        stranger.organization.webapp.audit_logs.retrieve(revoked.event_id)
    assert (
        stranger.organization.webapp.list_usage(from_=today, to=today + timedelta(days=1), limit=10).data
        == []
    )


@pytest.mark.skipif(
    shutil.which("node") is None or not (NODE_DIR / "node_modules" / "@runwayml" / "sdk").exists(),
    reason="the Node SDK is installed by `make test` (npm ci in tests/conformance/node)",
)
def test_node_sdk_routes_generates_and_reads_the_audit_log(operator_server: Server) -> None:
    name, key = new_org(operator_server)
    spare = operator(operator_server, "POST", f"/organizations/{name}/keys", json={"name": "spare"}).json()
    operator(operator_server, "DELETE", f"/keys/{spare['id']}")
    spec = {
        "baseURL": operator_server.base_url,
        "apiKey": key,
        "held": HELD,
        "stills": {
            "optimizeFor": "quality",
            "fallback": {"onCapacity": True},
            "models": {"ids": ["gen4_image", "gemini_2.5_flash"], "mode": "allowlist_only"},
        },
    }
    result = subprocess.run(
        ["node", "routing.mjs"],
        cwd=NODE_DIR,
        input=json.dumps(spec),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    assert found["created"]["version"] == 1 and found["updated"]["version"] == 2
    assert found["retrieved"]["settings"]["optimizeFor"] == "quality"
    assert [r["slug"] for r in found["listed"]] == ["node-stills"]
    assert found["image"]["routing"]["model"] == "gen4_image"
    assert found["fallback"]["routing"]["model"] == "gemini_2.5_flash"
    assert found["fallback"]["routing"]["capacityFallback"] == {
        "allExhausted": False,
        "skipped": ["gen4_image"],
    }
    assert found["video"]["routing"]["resolvedInput"]["ratio"] == "1280:720"
    assert found["audio"]["routing"]["model"] == "eleven_text_to_sound_v2"
    assert [d["status"] for d in found["requests"]] == ["routed"] * 4
    assert found["requests"][0]["pipeline"][5] == {
        "type": "capacity",
        "allExhausted": False,
        "skipped": ["gen4_image"],
    }
    assert found["deleted"] == 404
    assert {row["type"] for row in found["usage"]} == {"charge", "refund"}
    revoked = found["revoked"]
    assert (revoked["action"], revoked["resourceType"], revoked["resourceId"]) == (
        "PermissionRevoked",
        "api_key",
        spare["id"],
    )
    assert revoked["metadata"]["API account"] == f"{spare['prefix']} (spare)"
