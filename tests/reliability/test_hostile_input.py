"""Hostile request data gets a 400 naming the field, the same on SQLite and PostgreSQL, never a 500.

Found by an attack run: JSON nested ~990 levels made Python's parser recurse until it failed; a far
`startDate` overflowed date arithmetic; NUL characters, which PostgreSQL text cannot hold, failed deep
in the database driver.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from support.server import Server

NUL = "\u0000"
DEEP = 990
AVATAR = {
    "name": "Ada",
    "personality": "helpful",
    "referenceImage": "https://example.com/a.png",
    "voice": {"type": "runway-live-preset", "presetId": "clara"},
}
DOCUMENT = {"name": "notes", "content": "hello"}


def nested(levels: int) -> Any:
    value: Any = 1
    for _ in range(levels):
        value = {"a": value}
    return value


# (what, method, path, raw body or None, the issue's expected path)
CASES: list[tuple[str, str, str, bytes | None, list[Any]]] = [
    ("arrays 990 deep", "POST", "/v1/text_to_image", b"[" * DEEP + b"]" * DEEP, []),
    ("objects 990 deep", "POST", "/v1/avatars", b'{"a":' * DEEP + b"1" + b"}" * DEEP, []),
    ("objects 70 deep", "POST", "/v1/documents", json.dumps({**DOCUMENT, "x": nested(69)}).encode(), ["x"]),
    (
        "NUL in a prompt",
        "POST",
        "/v1/text_to_image",
        json.dumps({"model": "gen4_image", "ratio": "1920:1080", "promptText": f"a{NUL}b"}).encode(),
        ["promptText"],
    ),
    ("NUL in a name", "POST", "/v1/avatars", json.dumps({**AVATAR, "name": f"Ada{NUL}"}).encode(), ["name"]),
    (
        "NUL deep in a body",
        "POST",
        "/v1/avatars",
        json.dumps({**AVATAR, "voice": {"type": "runway-live-preset", "presetId": NUL}}).encode(),
        ["voice", "presetId"],
    ),
    (
        "NUL in a document",
        "POST",
        "/v1/documents",
        json.dumps({**DOCUMENT, "content": f"x{NUL}"}).encode(),
        ["content"],
    ),
    (
        "NUL in a filename",
        "POST",
        "/v1/uploads",
        json.dumps({"filename": f"a{NUL}.png", "type": "ephemeral"}).encode(),
        ["filename"],
    ),
    ("NUL in a key", "POST", "/v1/voices/preview", json.dumps({f"p{NUL}": "x"}).encode(), [r"p\u0000"]),
    ("NUL in a task id", "GET", "/v1/tasks/a%00b", None, ["path", "task_id"]),
    ("NUL in a task id (DELETE)", "DELETE", "/v1/tasks/%00", None, ["path", "task_id"]),
    ("NUL in an avatar id", "GET", "/v1/avatars/%00", None, ["path", "avatar_id"]),
    ("NUL in a document id", "PATCH", "/v1/documents/x%00", None, ["path", "document_id"]),
    ("NUL in a voice id", "DELETE", "/v1/voices/x%00", None, ["path", "voice_id"]),
    ("NUL in a session id", "GET", "/v1/realtime_sessions/%00", None, ["path", "session_id"]),
    ("NUL in a conversation id", "GET", "/v1/avatar_conversations/%00", None, ["path", "conversation_id"]),
    ("NUL in a cursor", "GET", "/v1/avatars?limit=5&cursor=%00", None, ["query", "cursor"]),
    (
        "NUL in an avatar filter",
        "GET",
        "/v1/avatar_conversations?limit=5&avatar=%00",
        None,
        ["query", "avatar"],
    ),
    (
        "startDate 9999-12-31",
        "POST",
        "/v1/organization/usage",
        json.dumps({"startDate": "9999-12-31"}).encode(),
        ["startDate"],
    ),
    (
        "beforeDate 9999-12-31",
        "POST",
        "/v1/organization/usage",
        json.dumps({"startDate": "2026-01-01", "beforeDate": "9999-12-31"}).encode(),
        ["beforeDate"],
    ),
    (
        "a usage day in year 1",
        "GET",
        "/v1/avatar_usage?startDate=0001-01-01T00:00:00%2B05:00&endDate=2026-01-01",
        None,
        ["query", "startDate"],
    ),
    (
        "a conversation filter at the end of time",
        "GET",
        "/v1/avatar_conversations?limit=5&endDate=9999-12-31T23:59:59-05:00",
        None,
        ["query", "endDate"],
    ),
]


@pytest.mark.parametrize(("what", "method", "path", "raw", "field"), CASES, ids=[case[0] for case in CASES])
def test_hostile_data_is_a_400_naming_the_field(
    backend: Server, what: str, method: str, path: str, raw: bytes | None, field: list[Any]
) -> None:
    headers = {"Authorization": f"Bearer {backend.key}", "X-Runway-Version": "2024-11-06"}
    if raw is not None:
        headers["Content-Type"] = "application/json"
    response = httpx.request(method, backend.base_url + path, headers=headers, content=raw, timeout=60)
    assert response.status_code == 400, response.text
    issue = response.json()["issues"][0]
    assert issue["path"][: len(field)] == field if field else issue["path"] == []
    assert issue["message"].startswith(".".join(map(str, field)) or "body")
    assert "Traceback" not in backend.log()
