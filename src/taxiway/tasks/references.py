"""References in a request body to the organization's own resources (an avatar, a custom voice), resolved
at submission: a 400 naming the field where one is missing or not READY, else a snapshot stored with
the task's params (under a key no client can send), so the task runs with what was accepted even
after a restart, and its engine needs no database.

An avatar video's snapshot (`PERSONA_KEY`) holds the blob key of the avatar's processed image (loaded
as an internal input when the task runs; none for presets, which are drawn) and the voice: a live
preset id, or a custom voice's stored preset.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from taxiway.avatars import repository as avatars
from taxiway.avatars.presets import PRESET_AVATARS
from taxiway.catalog.media_models import PERSONA_KEY
from taxiway.voices import repository as voices

# A custom avatar whose own custom voice is gone speaks with this live preset, as in realtime sessions.
FALLBACK_VOICE = "clara"

Issue = dict[str, Any]
Resolver = Callable[[AsyncSession, str, Mapping[str, Any]], Awaitable[tuple[dict[str, Any], list[Issue]]]]


def _issue(path: list[str | int], problem: str) -> Issue:
    return {"code": "custom", "path": path, "message": f"{'.'.join(map(str, path))}: {problem}"}


async def _custom_voice(session: AsyncSession, organization_id: str, voice_id: str) -> tuple[Any, str | None]:
    """A READY custom voice's preset (as stored), or the problem with it."""
    found = await voices.get_voice(session, organization_id, voice_id)
    if found is None:
        return None, f"Could not find Voice {voice_id!r}"
    if found.status != voices.READY or not found.preset:
        return None, f"Voice {voice_id!r} is {found.status}; only a READY voice can be used"
    return found.preset, None


async def avatar_persona(
    session: AsyncSession, organization_id: str, params: Mapping[str, Any]
) -> tuple[dict[str, Any], list[Issue]]:
    """The avatar video's speaker: whose face, which voice."""
    choice, speech = params["avatar"], params["speech"]
    persona: dict[str, Any] = {}
    voice: dict[str, Any] = {}
    issues: list[Issue] = []
    if choice["type"] == "runway-preset":
        voice = {"preset": PRESET_AVATARS[choice["presetId"]].voice}
    else:
        avatar = await avatars.get_avatar(session, organization_id, choice["avatarId"])
        if avatar is None:
            issues.append(_issue(["avatar", "avatarId"], "Could not find Avatar"))
        elif avatar.status != "READY" or not avatar.processed_key:
            problem = f"The avatar is {avatar.status}; only a READY avatar can speak"
            issues.append(_issue(["avatar", "avatarId"], problem))
        else:
            persona["image"] = avatar.processed_key
            stored = await voices.ready_preset(session, organization_id, avatar.voice)
            if stored is not None:
                voice = {"custom": stored.to_json()}
            else:
                live = avatar.voice.get("presetId") if avatar.voice.get("type") != "custom" else None
                voice = {"preset": live or FALLBACK_VOICE}
    override = speech.get("voice") if speech.get("type") == "text" else None
    if override is not None:
        if override["type"] == "preset":
            voice = {"preset": override["presetId"]}
        else:
            preset_json, voice_problem = await _custom_voice(session, organization_id, override["id"])
            if voice_problem:
                issues.append(_issue(["speech", "voice", "id"], voice_problem))
            voice = {"custom": preset_json}
    persona["voice"] = voice
    return {PERSONA_KEY: persona}, issues


RESOLVERS: Mapping[str, Resolver] = {"avatar_videos": avatar_persona}


async def resolve(
    session: AsyncSession, organization_id: str, endpoint: str, params: Mapping[str, Any]
) -> tuple[dict[str, Any], list[Issue]]:
    """The params with their references' snapshot added, and the issues that refuse the request."""
    resolver = RESOLVERS.get(endpoint)
    if resolver is None:
        return dict(params), []
    snapshot, issues = await resolver(session, organization_id, params)
    return {**params, **snapshot}, issues


def needs_resolving(endpoint: str) -> bool:
    return endpoint in RESOLVERS
