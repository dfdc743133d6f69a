"""LiveKit access tokens for a session's room, minted with the operator's LiveKit API key.

Three participants share the room `session-<sessionId>`: the user (token from `/consume`), the
avatar worker (`worker:<sessionId>`) and, for `backend_rpc` tools, the customer's backend
(`backend:<sessionId>`, hidden, so browser SDKs that take the first remote participant as the avatar
never mistake it for one). Identity prefixes are the ones `@runwayml/avatars-node-rpc` checks.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from livekit.api import AccessToken, VideoGrants

from taxiway.config import Settings

ROOM_PREFIX = "session-"
USER_PREFIX = "user:"
WORKER_PREFIX = "worker:"
BACKEND_PREFIX = "backend:"
MIN_TTL = timedelta(seconds=30)


def room_name(session_id: str) -> str:
    return ROOM_PREFIX + session_id


def user_identity(session_id: str) -> str:
    return USER_PREFIX + session_id


def worker_identity(session_id: str) -> str:
    return WORKER_PREFIX + session_id


def backend_identity(session_id: str) -> str:
    return BACKEND_PREFIX + session_id


@dataclass(frozen=True)
class RoomGrant:
    """What a participant needs to join: the answer of `/consume` and `/connect_backend`."""

    url: str
    token: str
    room_name: str

    def as_json(self) -> dict[str, str]:
        return {"url": self.url, "token": self.token, "roomName": self.room_name}


@dataclass(frozen=True)
class LiveKitServer:
    url: str
    api_key: str
    api_secret: str

    @classmethod
    def from_settings(cls, settings: Settings) -> LiveKitServer | None:
        """The configured server, or None unless URL, key and secret are all set."""
        secret = settings.livekit_api_secret.get_secret_value() if settings.livekit_api_secret else ""
        if not (settings.livekit_url and settings.livekit_api_key and secret):
            return None
        return cls(settings.livekit_url, settings.livekit_api_key, secret)

    def _grant(self, session_id: str, token: AccessToken) -> RoomGrant:
        return RoomGrant(self.url, token.to_jwt(), room_name(session_id))

    def _token(self, identity: str, ttl: timedelta) -> AccessToken:
        return AccessToken(self.api_key, self.api_secret).with_identity(identity).with_ttl(max(ttl, MIN_TTL))

    def user(self, session_id: str, ttl: timedelta) -> RoomGrant:
        """The end user: publishes mic, camera and screen share, subscribes to the avatar, sends data."""
        grants = VideoGrants(
            room_join=True,
            room=room_name(session_id),
            can_publish=True,
            can_subscribe=True,
            can_publish_data=True,
        )
        return self._grant(
            session_id, self._token(user_identity(session_id), ttl).with_name("user").with_grants(grants)
        )

    def worker(self, session_id: str, ttl: timedelta) -> RoomGrant:
        """The avatar: an agent participant that publishes its voice and video."""
        grants = VideoGrants(
            room_join=True,
            room=room_name(session_id),
            can_publish=True,
            can_subscribe=True,
            can_publish_data=True,
            agent=True,
        )
        token = self._token(worker_identity(session_id), ttl).with_kind("agent").with_name("avatar")
        return self._grant(session_id, token.with_grants(grants))

    def backend(self, session_id: str, ttl: timedelta) -> RoomGrant:
        """The customer's backend serving `backend_rpc` tools: hidden, data (RPC) only, no media."""
        grants = VideoGrants(
            room_join=True,
            room=room_name(session_id),
            can_publish=False,
            can_subscribe=False,
            can_publish_data=True,
            hidden=True,
        )
        token = self._token(backend_identity(session_id), ttl).with_name("backend")
        return self._grant(session_id, token.with_grants(grants))
