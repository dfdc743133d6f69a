"""Realtime sessions: their lifecycle, one-time credentials, billing and timers.

    NOT_READY → READY → RUNNING → COMPLETED
         ↘        ↘        ↘ CANCELLED / FAILED
          FAILED / CANCELLED

Every transition is a compare-and-set `UPDATE … WHERE status IN (…)`, so the API, the lifecycle
timers and the avatar worker (which calls `mark_running`, `complete` and `fail`) can race without a
session ever leaving a terminal state. Times come from `taxiway.clock`, so test mode's
`taxiway clock advance` moves the timers too.

Each session has its avatar-conversation record (`records`), written with it; a cancel drops the
record's transcript, as the real service keeps none after a cancel.

Billing: a session reserves `maxDuration` worth of credits at creation (as tasks reserve their
estimate); at the end it is charged for the seconds it ran and the rest is refunded. A session that
never ran costs nothing.
"""

from __future__ import annotations

import hmac
import logging
import math
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from taxiway.accounts.repository import Principal
from taxiway.audit import log as audit
from taxiway.audit.actions import Action
from taxiway.avatars import repository as avatars
from taxiway.avatars.presets import PRESET_AVATARS
from taxiway.billing import ledger, quotas
from taxiway.clock import utcnow
from taxiway.config import Settings
from taxiway.db.tables import Avatar, RealtimeSession
from taxiway.engines.audio.voices import Preset
from taxiway.periodic import Periodic
from taxiway.realtime import records
from taxiway.realtime.livekit_tokens import LiveKitServer, RoomGrant
from taxiway.storage.signing import UrlSigner
from taxiway.voices import repository as voices

log = logging.getLogger(__name__)

MODEL = "gwm1_avatars"
# Runway sessions last at most 5 minutes; that is also the default.
MAX_DURATION_SECONDS = 300
# Credentials stay valid this long after the session is READY (reported: expiresAt ≈ createdAt + 5 min).
CREDENTIALS_TTL = timedelta(minutes=5)
# A consumed session whose user has not joined yet gets at least this long, even past expiresAt.
JOIN_GRACE = timedelta(seconds=60)
# Runway does not publish a per-minute price for gwm1_avatars; this is taxiway's, kept as data.
CREDITS_PER_MINUTE = 20
TICK_SECONDS = 0.5
SESSION_KEY_PREFIX = "stk_"

NO_PARTICIPANT_CODE = "TALKING_AVATAR.NO_PARTICIPANT"
NO_PARTICIPANT = "No participants joined the session"
INTEGRATION_UNSUPPORTED_CODE = "TALKING_AVATAR.INTEGRATION_UNSUPPORTED"
INTEGRATION_UNSUPPORTED = (
    "The ElevenLabs integration needs ElevenLabs' service, which this server cannot reach"
)
INTERRUPTED_CODE = "TALKING_AVATAR.INTERRUPTED"
INTERRUPTED = "The session was interrupted by a server restart"
ALREADY_CONSUMED = "This session's credentials were already consumed. Create a new session to connect again."
OWN_ROOM = "This session joins your own LiveKit room (integration); it has no credentials to consume."

NOT_READY, READY, RUNNING = "NOT_READY", "READY", "RUNNING"
COMPLETED, FAILED, CANCELLED = "COMPLETED", "FAILED", "CANCELLED"
LIVE = (NOT_READY, READY, RUNNING)


def credits_for(seconds: int) -> int:
    return math.ceil(seconds * CREDITS_PER_MINUTE / 60)


class SessionRefused(Exception):
    """A request the API answers with `status` and `{"error": message}` (and `issues` if any)."""

    def __init__(self, status: int, message: str, issues: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.issues = status, message, issues


class WorkerLauncher(Protocol):
    """Runs avatar workers. `start` once the session's room should get its avatar; `stop` when the
    session was ended from outside (cancelled, or out of time), without the worker reporting."""

    def start(self, session_id: str) -> None: ...

    def stop(self, session_id: str) -> None: ...

    async def close(self) -> None:
        """Stop every worker: the server is shutting down."""


@dataclass(frozen=True)
class AvatarPersona:
    name: str
    personality: str
    start_script: str | None
    voice: dict[str, str]
    image_key: str | None  # the processed reference image blob, for the worker
    document_ids: list[str]


@dataclass(frozen=True)
class SessionPlan:
    """Everything the worker needs about one session (see `SessionService.plan`)."""

    session_id: str
    organization_id: str
    access: RoomGrant  # the worker's way into the room
    integration: bool  # the customer's LiveKit room; their agent owns the conversation
    agent_identity: str | None
    persona: AvatarPersona
    documents: list[tuple[str, str]]  # (name, content)
    tools: list[dict[str, Any]]
    max_duration: int
    # The stored preset of the persona's custom voice, read when the worker starts; None for a live
    # preset, or a custom voice deleted since.
    custom_voice: Preset | None = None


@dataclass
class SessionService:
    sessions: async_sessionmaker[AsyncSession]
    settings: Settings
    signer: UrlSigner
    # Makes the launcher of this service's avatar workers, which report back to the service; None: the
    # sessions run without workers.
    workers: Callable[[SessionService], WorkerLauncher] | None = None
    launcher: WorkerLauncher | None = field(init=False, default=None)
    _timers: Periodic = field(init=False)

    def __post_init__(self) -> None:
        self.launcher = self.workers(self) if self.workers is not None else None
        self._timers = Periodic(
            "taxiway-realtime-sessions",
            self.tick,
            TICK_SECONDS,
            log,
            "realtime session timers failed; retrying",
        )

    # -- credentials

    @property
    def livekit(self) -> LiveKitServer | None:
        return LiveKitServer.from_settings(self.settings)

    def session_key(self, session_id: str) -> str:
        """Derived, not stored: an HMAC of the id under the server's signing secret."""
        return SESSION_KEY_PREFIX + self.signer.signature(f"realtime-session:{session_id}", 0)

    def key_matches(self, session_id: str, key: str) -> bool:
        return hmac.compare_digest(self.session_key(session_id), key)

    # -- API operations

    async def create(
        self, principal: Principal, params: dict[str, Any], actor: audit.Actor | None = None
    ) -> RealtimeSession:
        """`params` is the validated body (camelCase); the opening is audited as `actor`'s (by default
        the calling key's). Raises SessionRefused."""
        integration = params.get("integration")
        if integration is None and self.livekit is None:
            raise SessionRefused(
                400,
                "Realtime sessions need a LiveKit server and none is configured on this server (set "
                "TAXIWAY_LIVEKIT_URL, TAXIWAY_LIVEKIT_API_KEY and TAXIWAY_LIVEKIT_API_SECRET), unless the "
                "session brings its own room with `integration: {type: 'livekit', ...}`.",
            )
        max_duration = int(params.get("maxDuration") or MAX_DURATION_SECONDS)
        reserve = credits_for(max_duration)
        now = utcnow()
        async with self.sessions.begin() as session:
            persona = await self._persona(session, principal.organization_id, params)
            row = RealtimeSession(
                id=str(uuid.uuid4()),
                organization_id=principal.organization_id,
                api_key_id=principal.api_key_id,
                status=NOT_READY,
                params={**params, "persona": _persona_json(persona)},
                avatar_id=params["avatar"].get("avatarId"),
                max_duration=max_duration,
                reserved_credits=reserve,
                created_at=now,
                updated_at=now,
            )
            try:
                await quotas.reserve(
                    session, principal.organization_id, principal.tier, row.id, MODEL, reserve, now
                )
            except ledger.InsufficientCredits as exc:
                raise SessionRefused(400, str(exc)) from None
            except quotas.QuotaExceeded as exc:
                raise SessionRefused(exc.status, exc.message) from None
            session.add(row)
            await session.flush()  # the record refers to the session
            audit.record(
                session, principal.organization_id, Action.SESSION_OPENED,
                actor or audit.Actor("api_key", key_id=principal.api_key_id),
                resource_type="session", resource_id=row.id, details={"Model": MODEL},
            )  # fmt: skip
            tools = params.get("tools") or []
            session.add(
                records.new_record(row.id, row.organization_id, params["avatar"], persona.name, tools, now)
            )
        self._timers.wake()
        return row

    async def get(self, organization_id: str, session_id: str) -> RealtimeSession | None:
        async with self.sessions() as session:
            row = await session.get(RealtimeSession, session_id)
        return row if row is not None and row.organization_id == organization_id else None

    async def cancel(self, organization_id: str, session_id: str) -> bool:
        """DELETE: a live session becomes CANCELLED (charged for any time it ran); a finished one is
        left as it is. False if there is no such session."""
        row = await self.get(organization_id, session_id)
        if row is None:
            return False
        if await self._end(session_id, LIVE, CANCELLED) and self.launcher is not None:
            self.launcher.stop(session_id)
        return True

    async def consume(self, session_id: str, key: str) -> RoomGrant:
        """The one-time exchange of the session key for the user's LiveKit credentials."""
        server = self.livekit
        now = utcnow()
        async with self.sessions.begin() as session:
            row = await session.get(RealtimeSession, session_id)
            if row is None or not self.key_matches(session_id, key):
                raise SessionRefused(404, "Could not find a realtime session for this session key.")
            if row.params.get("integration"):
                raise SessionRefused(409, OWN_ROOM)
            if row.status != READY:
                raise SessionRefused(409, _not_consumable(row.status))
            if row.consumed_at is not None:
                raise SessionRefused(409, ALREADY_CONSUMED)
            assert row.expires_at is not None
            if now >= row.expires_at:
                raise SessionRefused(409, "This session's credentials have expired. Create a new session.")
            if server is None:
                raise SessionRefused(400, "This server no longer has a LiveKit server configured.")
            claimed = await session.execute(
                update(RealtimeSession)
                .where(
                    RealtimeSession.id == session_id,
                    RealtimeSession.status == READY,
                    RealtimeSession.consumed_at.is_(None),
                )
                .values(consumed_at=now, updated_at=now)
            )
            if not getattr(claimed, "rowcount", 0):
                raise SessionRefused(409, ALREADY_CONSUMED)
            grant = server.user(session_id, row.expires_at - now + JOIN_GRACE)
        if self.launcher is not None:
            self.launcher.start(session_id)
        return grant

    async def connect_backend(self, organization_id: str, session_id: str) -> RoomGrant:
        """A hidden participant's credentials for the customer's backend (`backend_rpc` tools)."""
        row = await self.get(organization_id, session_id)
        if row is None:
            raise SessionRefused(404, "Could not find RealtimeSession")
        if row.params.get("integration"):
            raise SessionRefused(
                409, "This session runs in your own LiveKit room; join it with your own token."
            )
        if row.status not in LIVE:
            raise SessionRefused(409, f"The session has ended ({row.status}).")
        server = self.livekit
        if server is None:
            raise SessionRefused(400, "This server has no LiveKit server configured.")
        return server.backend(session_id, CREDENTIALS_TTL + timedelta(seconds=row.max_duration) + JOIN_GRACE)

    # -- the worker's side

    async def mark_running(self, session_id: str) -> None:
        now = utcnow()
        await self._move(session_id, (READY,), RUNNING, started_at=now)

    async def complete(self, session_id: str, duration_seconds: int) -> None:
        await self._end(session_id, (RUNNING,), COMPLETED, duration=duration_seconds)

    async def fail(self, session_id: str, code: str, message: str) -> None:
        await self._end(session_id, LIVE, FAILED, failure=message, failure_code=code)

    async def plan(self, session_id: str) -> SessionPlan | None:
        """What the worker needs to hold the session; None once it is over."""
        async with self.sessions() as session:
            row = await session.get(RealtimeSession, session_id)
            if row is None or row.status not in LIVE:
                return None
            persona = _persona_from_json(row.params["persona"])
            found = await avatars.find_documents(session, row.organization_id, persona.document_ids)
            custom_voice = await voices.ready_preset(session, row.organization_id, persona.voice)
        documents = [(found[i].name, found[i].content) for i in persona.document_ids if i in found]
        integration = row.params.get("integration")
        if integration is not None:
            access = RoomGrant(integration["url"], integration["token"], integration["roomName"])
        else:
            server = self.livekit
            if server is None:
                return None
            access = server.worker(
                session_id, CREDENTIALS_TTL + timedelta(seconds=row.max_duration) + JOIN_GRACE
            )
        return SessionPlan(
            session_id=row.id,
            organization_id=row.organization_id,
            access=access,
            integration=integration is not None,
            agent_identity=(integration or {}).get("agentIdentity"),
            persona=persona,
            documents=documents,
            tools=list(row.params.get("tools") or []),
            max_duration=row.max_duration,
            custom_voice=custom_voice,
        )

    # -- timers

    async def start(self) -> None:
        """Settle what a previous run left behind, then run the timers."""
        async with self.sessions() as session:
            running = list(
                await session.scalars(select(RealtimeSession.id).where(RealtimeSession.status == RUNNING))
            )
            consumed = list(
                await session.scalars(
                    select(RealtimeSession.id).where(
                        RealtimeSession.status == READY, RealtimeSession.consumed_at.is_not(None)
                    )
                )
            )
        for session_id in running:  # the worker died with the old process; nobody knows for how long
            await self._end(
                session_id, (RUNNING,), FAILED, failure=INTERRUPTED, failure_code=INTERRUPTED_CODE
            )
        if self.launcher is not None:
            for session_id in consumed:
                self.launcher.start(session_id)
        await self._timers.start()

    async def stop(self) -> None:
        """Workers stop, and running sessions end with the process: COMPLETED for the time they ran."""
        if self.launcher is not None:
            await self.launcher.close()
        await self._timers.stop()
        now = utcnow()
        async with self.sessions() as session:
            rows = list(
                await session.execute(
                    select(
                        RealtimeSession.id, RealtimeSession.started_at, RealtimeSession.max_duration
                    ).where(RealtimeSession.status == RUNNING)
                )
            )
        for session_id, started_at, max_duration in rows:
            await self.complete(session_id, _elapsed(started_at, now, max_duration))

    def wake(self) -> None:
        self._timers.wake()

    async def tick(self) -> None:
        """Provision new sessions, fail unused ones past `expiresAt`, end running ones at `maxDuration`."""
        now = utcnow()
        async with self.sessions() as session:
            rows = list(
                await session.scalars(select(RealtimeSession).where(RealtimeSession.status.in_(LIVE)))
            )
        for row in rows:
            if row.status == NOT_READY:
                await self._provision(row, now)
            elif row.status == READY and row.expires_at is not None:
                deadline = row.expires_at
                if row.consumed_at is not None:
                    deadline = max(deadline, row.consumed_at + JOIN_GRACE)
                if now >= deadline:
                    await self.fail(row.id, NO_PARTICIPANT_CODE, NO_PARTICIPANT)
                    if self.launcher is not None and row.consumed_at is not None:
                        self.launcher.stop(row.id)
            elif row.status == RUNNING and row.started_at is not None:
                if now < row.started_at + timedelta(seconds=row.max_duration):
                    continue
                ended = await self._end(row.id, (RUNNING,), COMPLETED, duration=row.max_duration)
                if ended and self.launcher is not None:
                    self.launcher.stop(row.id)

    async def _provision(self, row: RealtimeSession, now: datetime) -> None:
        integration = row.params.get("integration")
        if integration is not None and integration.get("type") == "elevenlabs":
            await self.fail(row.id, INTEGRATION_UNSUPPORTED_CODE, INTEGRATION_UNSUPPORTED)
            return
        moved = await self._move(row.id, (NOT_READY,), READY, expires_at=now + CREDENTIALS_TTL)
        if moved and integration is not None and self.launcher is not None:
            self.launcher.start(row.id)  # the customer's room: no consume, the worker goes straight in

    # -- transitions

    async def _move(self, session_id: str, sources: Sequence[str], target: str, **values: Any) -> bool:
        async with self.sessions.begin() as session:
            result = await session.execute(
                update(RealtimeSession)
                .where(RealtimeSession.id == session_id, RealtimeSession.status.in_(list(sources)))
                .values(status=target, updated_at=utcnow(), **values)
            )
        return bool(getattr(result, "rowcount", 0))

    async def _end(self, session_id: str, sources: Sequence[str], target: str, **values: Any) -> bool:
        """A terminal move and its settlement, in one transaction: charged for the seconds it ran.

        The row is written before it is read, which takes its lock (SQLite: the database's write lock)
        so no other transition can slip between the read and the move.
        """
        now = utcnow()
        async with self.sessions.begin() as session:
            await session.execute(
                update(RealtimeSession)
                .where(RealtimeSession.id == session_id)
                .values(updated_at=RealtimeSession.updated_at)
            )
            row = await session.get(RealtimeSession, session_id)
            if row is None or row.status not in sources:
                return False
            if values.get("failure_code") == INTERRUPTED_CODE:
                ran = 0  # nobody knows how long it ran before the server stopped: not charged
            elif "duration" in values:
                ran = values["duration"] = max(0, min(int(values["duration"]), row.max_duration))
            else:
                ran = _elapsed(row.started_at, now, row.max_duration)
            cost = min(credits_for(ran), row.reserved_credits)
            result = await session.execute(
                update(RealtimeSession)
                .where(RealtimeSession.id == session_id, RealtimeSession.status == row.status)
                .values(status=target, updated_at=now, finished_at=now, cost_credits=cost, **values)
            )
            if not getattr(result, "rowcount", 0):
                return False
            if target == CANCELLED:
                await records.drop_transcript(session, session_id)
            await ledger.refund(
                session, row.organization_id, session_id, MODEL, now, row.reserved_credits - cost
            )
        return True

    async def _persona(
        self, session: AsyncSession, organization_id: str, params: dict[str, Any]
    ) -> AvatarPersona:
        choice = params["avatar"]
        if choice["type"] == "runway-preset":
            preset = PRESET_AVATARS[choice["presetId"]]
            base = AvatarPersona(
                preset.name,
                preset.personality,
                preset.start_script,
                {"type": "runway-live-preset", "presetId": preset.voice},
                None,
                [],
            )
        else:
            avatar = await avatars.get_avatar(session, organization_id, choice["avatarId"])
            if avatar is None:
                raise SessionRefused(
                    400, "Validation of body failed", [_avatar_issue("Could not find Avatar")]
                )
            if avatar.status != "READY":
                raise SessionRefused(
                    400,
                    "Validation of body failed",
                    [
                        _avatar_issue(
                            f"The avatar is {avatar.status}; only a READY avatar can start a session"
                        )
                    ],
                )
            base = _avatar_persona(avatar, (await avatars.document_ids(session, [avatar.id]))[avatar.id])
        return AvatarPersona(
            base.name,
            params.get("personality") or base.personality,
            params.get("startScript") or base.start_script,
            base.voice,
            base.image_key,
            base.document_ids,
        )


def _avatar_persona(avatar: Avatar, document_ids: list[str]) -> AvatarPersona:
    return AvatarPersona(
        avatar.name, avatar.personality, avatar.start_script, avatar.voice, avatar.processed_key, document_ids
    )


def _avatar_issue(message: str) -> dict[str, Any]:
    return {"code": "custom", "path": ["avatar", "avatarId"], "message": f"avatar.avatarId: {message}"}


def _persona_json(persona: AvatarPersona) -> dict[str, Any]:
    return {
        "name": persona.name,
        "personality": persona.personality,
        "startScript": persona.start_script,
        "voice": persona.voice,
        "imageKey": persona.image_key,
        "documentIds": persona.document_ids,
    }


def _persona_from_json(data: dict[str, Any]) -> AvatarPersona:
    return AvatarPersona(
        data["name"],
        data["personality"],
        data["startScript"],
        data["voice"],
        data["imageKey"],
        data["documentIds"],
    )


def _elapsed(started_at: datetime | None, now: datetime, max_duration: int) -> int:
    if started_at is None:
        return 0
    return max(0, min(max_duration, round((now - started_at).total_seconds())))


def _not_consumable(status: str) -> str:
    if status == NOT_READY:
        return "The session is not ready yet; poll it until its status is READY."
    return f"The session can no longer be consumed (status {status})."
