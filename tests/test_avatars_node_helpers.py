"""`@runwayml/avatars/api` against a live server: the helpers a web app's backend runs next to the SDK.

`pollUntilReady` (API key, `X-Runway-Version`) and `consumeSession` (the session key as bearer, no
version header) both take a `baseUrl`, so the unpatched package talks to taxiway. No LiveKit server
runs here; the token `consumeSession` hands back is verified with the configured secret, as LiveKit
itself would. The package's `connect`/`streamTo` need a browser (livekit-client's Room) and are not run.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest

from support.server import Server

NODE_DIR = Path(__file__).parent / "conformance" / "node"
LIVEKIT_URL = "wss://livekit.avatars.example.test"
LIVEKIT_KEY = "APIavatarshelpers"
LIVEKIT_SECRET = "avatars-helpers-secret-" * 2

pytestmark = pytest.mark.skipif(
    shutil.which("node") is None
    or not (NODE_DIR / "node_modules" / "@runwayml" / "avatars").exists()
    or not (NODE_DIR / "node_modules" / "@runwayml" / "sdk").exists(),
    reason="needs node and `npm ci` in tests/conformance/node (@runwayml/avatars, @runwayml/sdk)",
)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    env = {
        "TAXIWAY_LIVEKIT_URL": LIVEKIT_URL,
        "TAXIWAY_LIVEKIT_API_KEY": LIVEKIT_KEY,
        "TAXIWAY_LIVEKIT_API_SECRET": LIVEKIT_SECRET,
    }
    server = Server(tmp_path_factory.mktemp("avatars-node"), env=env)
    yield server.start()
    server.stop()


@pytest.fixture(scope="module")
def report(live: Server) -> dict[str, Any]:
    """One run of avatars.mjs: create with the Node SDK, poll, consume, and the refusals."""
    done = subprocess.run(
        ["node", "avatars.mjs"],
        cwd=NODE_DIR,
        input=json.dumps({"baseUrl": live.base_url, "apiKey": live.key}),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def test_poll_until_ready_returns_the_session_key(report: dict[str, Any]) -> None:
    """The key is the right one: `consumeSession` took it, where a wrong key is a 404."""
    assert report["ready"]["ok"], report["ready"]
    assert report["ready"]["value"]["sessionId"] == report["sessionId"]
    assert report["ready"]["value"]["sessionKey"].startswith("stk_")
    assert report["consumed"]["ok"] and not report["wrongKey"]["ok"]


def test_page_action_tools_are_accepted(report: dict[str, Any]) -> None:
    assert report["toolNames"] == ["click", "scroll_to", "highlight", "show_caption"]
    assert report["ready"]["ok"]


def test_consume_session_gives_livekit_credentials(report: dict[str, Any]) -> None:
    assert report["consumed"]["ok"], report["consumed"]
    grant = report["consumed"]["value"]
    session_id = report["sessionId"]
    assert set(grant) == {"url", "token", "roomName"}
    assert grant["url"] == LIVEKIT_URL
    assert grant["roomName"] == f"session-{session_id}"
    claims = jwt.decode(
        grant["token"],
        LIVEKIT_SECRET,
        algorithms=["HS256"],
        options={"require": ["exp", "nbf", "sub", "iss"]},
    )
    assert claims["iss"] == LIVEKIT_KEY
    assert claims["sub"] == f"user:{session_id}"
    video = claims["video"]
    assert video["room"] == grant["roomName"] and video["roomJoin"] is True
    assert video["canPublish"] and video["canSubscribe"] and video["canPublishData"]
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(grant["token"], "another-secret-of-enough-length!", algorithms=["HS256"])


def test_consume_refusals_surface_as_avatar_errors(report: dict[str, Any]) -> None:
    wrong = report["wrongKey"]
    assert not wrong["ok"] and (wrong["name"], wrong["code"]) == ("AvatarError", "CONSUME_FAILED")
    assert wrong["message"].startswith("Failed to consume session: 404 ")
    again = report["again"]
    assert not again["ok"] and again["code"] == "CONSUME_FAILED"
    assert again["message"].startswith("Failed to consume session: 409 ")
    assert "already consumed" in again["message"]


def test_poll_until_ready_stops_on_failures(report: dict[str, Any]) -> None:
    cancelled = report["cancelled"]
    assert not cancelled["ok"]
    assert (cancelled["code"], cancelled["message"]) == (
        "CONNECTION_FAILED",
        "Session cancelled before becoming ready",
    )
    unknown = report["unknown"]
    assert not unknown["ok"] and unknown["code"] == "CONSUME_FAILED"
    assert unknown["message"].startswith("Failed to retrieve session: 404 ")
    bad_key = report["badApiKey"]
    assert not bad_key["ok"] and bad_key["code"] == "CONSUME_FAILED"
    assert bad_key["message"].startswith("Failed to retrieve session: 401 ")
