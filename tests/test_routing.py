"""Model routing in process: each model's request for a generic input, the filters, ranking, capacity
fallback and measured run times, router settings merges and the audit log of account changes."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from runwayml.types.organization.webapp import AuditLogRetrieveResponse
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from taxiway.accounts.repository import Principal, create_key, create_organization, revoke_key
from taxiway.api import webapp
from taxiway.audit import log as audit
from taxiway.billing import operator
from taxiway.catalog import CATALOG
from taxiway.clock import utcnow
from taxiway.db.engine import create_engine, session_factory, upgrade_schema
from taxiway.db.tables import AuditEvent, Task
from taxiway.routing import routers
from taxiway.routing.candidates import Candidate, Filter, Rejection, choose_ratio, map_input
from taxiway.routing.data import Modality
from taxiway.routing.decide import RoutingPolicy
from taxiway.routing.inputs import AudioInput, ImageInput, VideoInput
from taxiway.routing.settings import RouterCreate, RouterUpdate, SettingsProblem, merged, snapshot
from taxiway.status import TaskStatus
from taxiway.tasks import run_times


def image(**fields: Any) -> ImageInput:
    return ImageInput.model_validate({"promptText": "a lighthouse at dusk", **fields})


def video(**fields: Any) -> VideoInput:
    return VideoInput.model_validate({"promptText": "waves on a shore", **fields})


def rejected(mapped: Candidate | list[Rejection]) -> list[Rejection]:
    assert isinstance(mapped, list), mapped
    return mapped


def accepted(mapped: Candidate | list[Rejection]) -> Candidate:
    assert isinstance(mapped, Candidate), mapped
    return mapped


@pytest.mark.parametrize(
    ("endpoint", "model", "aspect", "tier", "ratio"),
    [
        ("text_to_image", "gen4_image", None, None, "1280:720"),
        ("text_to_image", "gen4_image", "16:9", "2k", "1920:1080"),
        ("text_to_image", "gen4_image", "1:1", None, "1024:1024"),
        ("text_to_image", "gemini_2.5_flash", "4:3", None, "1184:864"),
        ("text_to_image", "gemini_2.5_flash", "21:9", None, "1536:672"),
        ("text_to_video", "seedance2", "9:16", "1080p", "1080:1920"),
        ("text_to_video", "seedance2", "1:1", "480p", "640:640"),
        ("text_to_video", "veo3.1", None, "1080p", "1920:1080"),
    ],
)
def test_a_model_ratio_is_chosen_by_aspect_and_tier(
    endpoint: str, model: str, aspect: str | None, tier: str | None, ratio: str
) -> None:
    modality = Modality.IMAGE if endpoint == "text_to_image" else Modality.VIDEO
    assert choose_ratio(CATALOG[(endpoint, model)], modality, aspect, tier) == ratio


def test_models_without_the_aspect_or_tier_are_excluded_naming_the_field() -> None:
    found = choose_ratio(CATALOG[("text_to_video", "veo3.1")], Modality.VIDEO, "1:1", None)
    assert found == Rejection(Filter.CAPABILITY, ("input", "aspectRatio"), "veo3.1 has no 1:1 ratio")
    found = choose_ratio(CATALOG[("text_to_image", "gen4_image")], Modality.IMAGE, "16:9", "4k")
    assert isinstance(found, Rejection)
    assert found.path == ("input", "resolution")


def test_each_model_gets_the_request_a_direct_call_would_send() -> None:
    chosen = accepted(map_input(Modality.IMAGE, "gen4_image", image(aspectRatio="1:1", seed=7)))
    assert chosen.params == {
        "model": "gen4_image",
        "promptText": "a lighthouse at dusk",
        "ratio": "1024:1024",
        "seed": 7,
    }
    assert chosen.credits == 8
    assert chosen.resolved == {"aspectRatio": "1:1", "ratio": "1024:1024", "resolution": "1k"}
    clip = accepted(map_input(Modality.VIDEO, "gen4.5", video()))
    assert clip.params["duration"] == 5  # the router default where the model needs one
    assert clip.resolved == {"duration": 5.0, "ratio": "1280:720", "resolution": "720p"}
    veo = accepted(map_input(Modality.VIDEO, "veo3.1", video()))
    assert "duration" not in veo.params  # veo's own default (8 s) stands
    assert veo.resolved["duration"] == 8.0


def test_filters_name_what_excludes_a_model() -> None:
    [problem] = rejected(map_input(Modality.VIDEO, "veo3.1", video(duration=7)))
    assert (problem.filter, problem.path) == (Filter.CAPABILITY, ("input", "duration"))
    assert accepted(map_input(Modality.VIDEO, "seedance2", video(duration=7))).params["duration"] == 7
    [problem] = rejected(map_input(Modality.VIDEO, "gen4.5", video(promptText="x" * 1200)))
    assert (problem.filter, problem.path) == (Filter.PROMPT_LENGTH, ("input", "promptText"))
    [problem] = rejected(map_input(Modality.IMAGE, "gen4_image_turbo", image()))
    assert (problem.filter, problem.path) == (Filter.INPUT_SUPPORT, ("input", "referenceImages"))
    [problem] = rejected(map_input(Modality.VIDEO, "gen4.5", video(audio=True)))
    assert (problem.filter, problem.path) == (Filter.CAPABILITY, ("input", "audio"))
    assert accepted(map_input(Modality.VIDEO, "veo3.1_fast", video(audio=False))).params["audio"] is False
    [problem] = rejected(map_input(Modality.IMAGE, "gen4_image", image(outputCount=3)))
    assert problem.path == ("input", "outputCount")


def test_frames_and_sources_choose_the_endpoint_and_keep_their_origin() -> None:
    frames = [
        {"role": "first", "uri": "https://example.com/a.png"},
        {"role": "last", "uri": "https://example.com/b.png"},
    ]
    veo = accepted(map_input(Modality.VIDEO, "veo3.1", video(referenceImages=frames)))
    assert veo.endpoint == "image_to_video"
    assert veo.params["promptImage"] == [
        {"uri": "https://example.com/a.png", "position": "first"},
        {"uri": "https://example.com/b.png", "position": "last"},
    ]
    assert veo.input_path(["promptImage", 1, "uri"]) == ("input", "referenceImages", 1, "uri")
    [problem] = rejected(map_input(Modality.VIDEO, "gen4.5", video(referenceImages=frames)))
    assert (problem.filter, problem.path[:2]) == (Filter.INPUT_SUPPORT, ("input", "referenceImages"))
    source = [{"role": "source", "uri": "https://example.com/in.mp4"}]
    restyle = accepted(map_input(Modality.VIDEO, "seedance2", video(referenceVideos=source)))
    assert restyle.endpoint == "video_to_video"
    assert restyle.params["promptVideo"] == "https://example.com/in.mp4"
    assert "ratio" not in restyle.params and restyle.resolved["ratio"] == "auto"
    assert restyle.input_path(["promptVideo"]) == ("input", "referenceVideos", 0, "uri")
    [problem] = rejected(map_input(Modality.VIDEO, "veo3.1", video(referenceVideos=source)))
    assert problem.path == ("input", "referenceVideos")


def test_audio_maps_voices_and_effects() -> None:
    speech = AudioInput.model_validate({"promptText": "hello", "type": "speech"})
    [problem] = rejected(map_input(Modality.AUDIO, "eleven_multilingual_v2", speech))
    assert (problem.filter, problem.path) == (Filter.INPUT_SUPPORT, ("input", "voice"))
    voiced = speech.model_copy(
        update={
            "voice": AudioInput.model_validate(
                {"promptText": "x", "type": "speech", "voice": {"type": "preset", "presetId": "Maya"}}
            ).voice
        }
    )
    tts = accepted(map_input(Modality.AUDIO, "eleven_multilingual_v2", voiced))
    assert tts.params["voice"] == {"type": "runway-preset", "presetId": "Maya"}
    assert tts.resolved == {"type": "speech", "voice": "preset"}
    effect = AudioInput.model_validate({"promptText": "rain", "type": "audio", "loop": True, "duration": 4})
    sfx = accepted(map_input(Modality.AUDIO, "eleven_text_to_sound_v2", effect))
    assert (sfx.params["loop"], sfx.params["duration"], sfx.resolved["voice"]) == (True, 4, "none")
    [problem] = rejected(map_input(Modality.AUDIO, "eleven_multilingual_v2", effect))
    assert problem.path == ("input", "type")


def test_settings_snapshot_and_nested_merge() -> None:
    created = snapshot(
        RouterCreate.model_validate(
            {
                "slug": "s",
                "settings": {
                    "models": {"ids": ["gen4.5"], "mode": "allowlist_only"},
                    "maxCreditsPerGeneration": {"video": 50, "image": 9},
                },
            }
        ).settings
    )
    assert created == {
        "schemaVersion": 1,
        "optimizeFor": "cost",
        "fallback": {"onCapacity": False},
        "maxCreditsPerGeneration": {"image": 9, "video": 50},
        "models": {"ids": ["gen4.5"], "mode": "allowlist_only"},
    }
    patch = RouterUpdate.model_validate(
        {
            "settings": {
                "optimizeFor": "latency",
                "maxCreditsPerGeneration": {"video": None},
                "models": {"mode": "allow_new_except"},
            }
        }
    ).settings
    assert patch is not None
    after = merged(created, patch)
    assert after["optimizeFor"] == "latency"
    assert after["maxCreditsPerGeneration"] == {"image": 9}
    assert after["models"] == {"ids": ["gen4.5"], "mode": "allow_new_except"}
    cleared = RouterUpdate.model_validate({"settings": {"maxCreditsPerGeneration": None}}).settings
    assert cleared is not None and "maxCreditsPerGeneration" not in merged(after, cleared)
    with pytest.raises(SettingsProblem) as problem:
        snapshot(
            RouterCreate.model_validate(
                {"slug": "s", "settings": {"models": {"ids": ["gen9"], "mode": "allowlist_only"}}}
            ).settings
        )
    assert problem.value.path == ["settings", "models", "ids", 0]


@pytest.fixture(scope="module")
async def sessions(
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('routing') / 'taxiway.db'}")
    await upgrade_schema(engine)
    yield session_factory(engine)
    await engine.dispose()


async def principal(sessions: async_sessionmaker[AsyncSession]) -> Principal:
    async with sessions.begin() as session:
        org = await create_organization(session, f"org-{uuid.uuid4()}", 1, 10_000)
        key, _plain = await create_key(session, org.id)
    return Principal(org.id, key.id, 1)


async def decide(
    sessions: async_sessionmaker[AsyncSession],
    caller: Principal,
    settings: dict[str, Any],
    modality: Modality,
    given: Any,
    policy: RoutingPolicy | None = None,
) -> Any:
    async with sessions() as session:
        full = snapshot(RouterCreate.model_validate({"slug": "x", "settings": settings}).settings)
        return await (policy or RoutingPolicy()).decide(session, caller, full, modality, given)


async def test_cost_allow_lists_and_price_ceilings(sessions: async_sessionmaker[AsyncSession]) -> None:
    caller = await principal(sessions)
    # 4 s without sound: Grok Imagine 1.5 Lite 20 credits, HappyHorse and Grok Imagine 1.5 32 each.
    silent = video(duration=4, audio=False)
    found = await decide(sessions, caller, {}, Modality.VIDEO, silent)
    assert (found.chosen.model, found.reason_code) == ("grok_imagine_1_5_lite", "lowest_cost")
    assert found.chosen.credits == 20
    assert found.pipeline[-1] == {"type": "rank", "outcome": "cost"}
    # Among Runway's four: Veo 3.1 Fast 40 credits, Gen-4.5 48, Veo 3.1 80, Seedance 2 144.
    runway = {"models": {"ids": ["gen4.5", "veo3.1", "veo3.1_fast", "seedance2"], "mode": "allowlist_only"}}
    listed = await decide(sessions, caller, runway, Modality.VIDEO, silent)
    assert (listed.chosen.model, listed.chosen.credits) == ("veo3.1_fast", 40)
    assert next(step["models"] for step in listed.pipeline if step.get("filter") == "allow_deny") == [
        "gen4.5",
        "veo3.1",
        "veo3.1_fast",
        "seedance2",
    ]
    denied = await decide(
        sessions,
        caller,
        {"models": {"ids": ["grok_imagine_1_5_lite"], "mode": "allow_new_except"}},
        Modality.VIDEO,
        silent,
    )
    assert denied.chosen.model == "happyhorse_1_0"  # 32 credits, before Grok Imagine 1.5 in the catalog
    capped = await decide(
        sessions, caller, {"maxCreditsPerGeneration": {"video": 10}}, Modality.VIDEO, video(duration=4)
    )
    assert capped.status == "no_eligible_model" and capped.emptied_by == ["price"]
    assert {r.path for r in capped.blocking()} == {("configId",)}
    alone = await decide(
        sessions,
        caller,
        {"models": {"ids": ["seedance2"], "mode": "allowlist_only"}},
        Modality.VIDEO,
        video(duration=4),
    )
    assert (alone.chosen.model, alone.reason_code, alone.pipeline[-1]["outcome"]) == (
        "seedance2",
        "only_eligible_model",
        "single_candidate",
    )


async def test_quality_ranking_and_its_fallback(sessions: async_sessionmaker[AsyncSession]) -> None:
    caller = await principal(sessions)
    ranked = await decide(sessions, caller, {"optimizeFor": "quality"}, Modality.IMAGE, image())
    assert (ranked.chosen.model, ranked.reason_code) == ("gen4_image", "best_quality")
    operator_ranked = RoutingPolicy(quality_ranking=["gemini_2.5_flash"])
    mine = await decide(
        sessions, caller, {"optimizeFor": "quality"}, Modality.IMAGE, image(), operator_ranked
    )
    assert mine.chosen.model == "gemini_2.5_flash"
    unranked = RoutingPolicy(quality_ranking=["gen4.5"])
    fallback = await decide(sessions, caller, {"optimizeFor": "quality"}, Modality.IMAGE, image(), unranked)
    assert (fallback.chosen.model, fallback.reason_code, fallback.pipeline[-1]["outcome"]) == (
        "gen4_image",
        "filter_order_fallback",
        "fallback",
    )
    with pytest.raises(ValueError, match="gen9"):
        RoutingPolicy(quality_ranking=["gen9"])


async def test_latency_ranks_by_measured_run_times(sessions: async_sessionmaker[AsyncSession]) -> None:
    caller = await principal(sessions)
    settings = {
        "optimizeFor": "latency",
        "models": {"ids": ["gen4.5", "seedance2"], "mode": "allowlist_only"},
    }
    now = utcnow()
    async with sessions.begin() as session:
        # gen4.5 took 3 s per second of video, seedance2 1 s, then 2 s (averaged towards 2).
        await run_times.record(session, "text_to_video", "gen4.5", now - timedelta(seconds=15), now, 5.0, 1)
        await run_times.record(session, "text_to_video", "seedance2", now - timedelta(seconds=5), now, 5.0, 1)
        await run_times.record(
            session, "text_to_video", "seedance2", now - timedelta(seconds=10), now, 5.0, 1
        )
    async with sessions() as session:
        measured = await run_times.known(
            session, [("text_to_video", "seedance2"), ("text_to_video", "gen4.5")]
        )
    assert measured[("text_to_video", "seedance2")].runs == 2
    assert measured[("text_to_video", "seedance2")].seconds_per_unit == pytest.approx(1.3)
    found = await decide(sessions, caller, settings, Modality.VIDEO, video(duration=5))
    assert (found.chosen.model, found.reason_code) == ("seedance2", "best_latency")
    images = await decide(sessions, caller, {"optimizeFor": "latency"}, Modality.IMAGE, image())
    assert images.reason_code in ("filter_order_fallback", "best_latency")


async def test_capacity_fallback_skips_full_models(sessions: async_sessionmaker[AsyncSession]) -> None:
    caller = await principal(sessions)
    two = {"ids": ["gen4_image", "gemini_2.5_flash"], "mode": "allowlist_only"}
    settings = {"optimizeFor": "quality", "fallback": {"onCapacity": True}, "models": two}
    first = await decide(sessions, caller, settings, Modality.IMAGE, image())
    assert first.chosen.model == "gen4_image" and first.capacity is None
    async with sessions.begin() as session:  # tier 1 runs two tasks of a model at once
        for _ in range(2):
            session.add(running_task(caller, "gen4_image"))
    found = await decide(sessions, caller, settings, Modality.IMAGE, image())
    assert found.chosen.model == "gemini_2.5_flash"
    assert found.capacity == {"type": "capacity", "allExhausted": False, "skipped": ["gen4_image"]}
    assert [step["type"] for step in found.pipeline[-2:]] == ["capacity", "rank"]
    async with sessions.begin() as session:
        for _ in range(2):
            session.add(running_task(caller, "gemini_2.5_flash"))
    exhausted = await decide(sessions, caller, settings, Modality.IMAGE, image())
    assert exhausted.chosen.model == "gen4_image"
    assert exhausted.capacity == {"type": "capacity", "allExhausted": True, "skipped": []}
    off = await decide(sessions, caller, {"optimizeFor": "quality", "models": two}, Modality.IMAGE, image())
    assert off.chosen.model == "gen4_image" and off.capacity is None
    other = await principal(sessions)  # another organization's slots are its own
    assert (await decide(sessions, other, settings, Modality.IMAGE, image())).capacity is None
    queued = RoutingPolicy(queue_limits={"gen4_image": 2})  # the server's queue for the model is full
    assert (
        await decide(sessions, other, settings, Modality.IMAGE, image(), queued)
    ).chosen.model == "gemini_2.5_flash"


def running_task(caller: Principal, model: str) -> Task:
    now = utcnow()
    return Task(
        id=str(uuid.uuid4()),
        organization_id=caller.organization_id,
        api_key_id=caller.api_key_id,
        endpoint="text_to_image",
        model=model,
        status=TaskStatus.RUNNING.value,
        params={},
        seed=1,
        estimated_credits=5,
        progress=0.0,
        attempts=1,
        created_at=now,
        updated_at=now,
        started_at=now,
    )


async def test_account_changes_are_audited_with_their_actor(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    caller = await principal(sessions)
    cli = audit.Actor("cli", "ops")
    async with sessions.begin() as session:
        key, _plain = await create_key(session, caller.organization_id, name="ci", actor=cli)
        await revoke_key(session, key.prefix, actor=cli)
        await revoke_key(session, key.id, actor=cli)  # already revoked: nothing new to record
        await operator.adjust_credits(session, caller.organization_id, -250, "refund", actor=cli)
        await operator.set_tier(session, caller.organization_id, 3, actor=cli)
        await operator.set_tier(session, caller.organization_id, 3, actor=cli)
        router = await routers.create(session, caller.organization_id, RouterCreate(slug="drafts"), cli)
        await routers.update(session, router, RouterUpdate(name="Drafts"), cli)
        await routers.update(session, router, RouterUpdate(name="Drafts"), cli)  # no change, no event
        await routers.remove(session, router, cli)
    async with sessions() as session:
        events = (
            await session.scalars(
                select(AuditEvent)
                .where(AuditEvent.organization_id == caller.organization_id)
                .order_by(AuditEvent.created_at)
            )
        ).all()
    actions = [event.action for event in events]
    assert actions == [
        "WorkspaceCreated",
        "PermissionGranted",
        "PermissionGranted",
        "PermissionRevoked",
        "CreditsTransferred",
        "SubscriptionPlanSwitched",
        "OrganizationSettingsUpdated",
        "OrganizationSettingsUpdated",
        "OrganizationSettingsUpdated",
    ]
    revoked = events[3]
    assert (revoked.resource_type, revoked.resource_id, revoked.actor_name) == ("api_key", key.id, "ops")
    assert revoked.details["API account"] == f"{key.prefix} (ci)"
    assert events[4].details["Amount"] == -250 and events[4].details["Direction"] == "out"
    assert [e.details["Operation"] for e in events[-3:]] == ["created", "updated", "deleted"]
    # As the web-app audit log shows it: the command line's user, no client address.
    view = webapp.event_view((revoked, None, None), (7, "ops-workspace"), detailed=True)
    shown = AuditLogRetrieveResponse.model_validate(view)
    assert (shown.actor_username, shown.client_ip_address, shown.metadata.application) == (
        "ops",
        "",
        "taxiway command line",
    )
    assert audit.command_line().kind == "cli"
    for event in events:  # every view is what /openapi.json documents, and no more
        for detailed, documented in ((False, webapp.AuditEntry), (True, webapp.AuditDetail)):
            documented.model_validate(webapp.event_view((event, "key_1", None), (7, "w"), detailed=detailed))
