"""Ephemeral uploads: signed tokens, `POST /v1/uploads`, the storage endpoint, and the official SDK's helper.

Most tests run the uploads router in a small app of their own (uvicorn on a thread), so they run
before the router is mounted in the real server; the last one drives the real server, and skips
with a clear message until `/v1/uploads` is mounted there.
"""

from __future__ import annotations

import asyncio
import base64
import json
import socket
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any, TypeVar

import httpx
import pytest
import uvicorn
from fastapi import FastAPI, Request
from runwayml import APIStatusError, RunwayML
from starlette.requests import Request as StarletteRequest

import taxiway.api.uploads as uploads_api
from support.clients import sdk
from support.https_assets import audio_bytes, image_bytes, video_bytes
from support.server import READY_TIMEOUT, Server, free_port
from taxiway.accounts.repository import Principal
from taxiway.api import errors
from taxiway.api.auth import require_principal
from taxiway.api.errors import ApiError
from taxiway.assets.intake import AssetIntake, AssetRejected
from taxiway.assets.kinds import AssetKind
from taxiway.assets.uploads import (
    MAX_UPLOAD_BYTES,
    UploadTokenError,
    UploadTokens,
    upload_kind,
)
from taxiway.config import Settings
from taxiway.storage.blobs import LocalBlobStore
from taxiway.storage.signing import UrlSigner

T = TypeVar("T")
PNG = image_bytes("PNG", (128, 128))
MP4 = video_bytes()
WAV = audio_bytes()
KEY = "key_" + "0" * 128
VERSION = {"X-Runway-Version": "2024-11-06"}


def run(make: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(make)


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


# --- tokens ----------------------------------------------------------------------------------------


def tokens(clock: Clock | None = None) -> UploadTokens:
    return UploadTokens.from_signer(UrlSigner(b"s" * 32), clock=clock or Clock())


def test_a_grant_names_a_fresh_blob_and_round_trips() -> None:
    issued = tokens().grant("org-a", "holiday photo.JPG")
    claims = issued.claims
    assert claims.kind is AssetKind.IMAGE and claims.media_type == "image/jpeg"
    assert claims.key.startswith("uploads/org-a/") and claims.key.endswith("/file.jpg")
    assert claims.expires_at - claims.issued_at == 24 * 3600
    assert issued.runway_uri.startswith("runway://") and issued.runway_uri.count(".") == 2
    assert set(issued.fields) == {"key", "policy"} and issued.fields["key"] == claims.key
    assert tokens().verify_uri(issued.runway_uri, "org-a") == claims
    assert tokens().grant("org-a", "a.jpg").claims.key != claims.key


def test_runway_uri_payload_looks_like_the_real_one() -> None:
    uri = tokens().grant("org-a", "clip.mp4").runway_uri
    header, payload, _ = uri.removeprefix("runway://").split(".")
    decode = lambda part: json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))  # noqa: E731
    assert decode(header) == {"alg": "HS256", "typ": "JWT"}
    body = decode(payload)
    assert body["type"] == "ephemeral" and body["contentType"] == "video/mp4"
    assert body["exp"] - body["iat"] == 86400 and body["uploadKey"].startswith("uploads/org-a/")


def test_another_organization_is_refused_like_a_forgery() -> None:
    issued = tokens().grant("org-a", "a.png")
    with pytest.raises(UploadTokenError) as other:
        tokens().verify_uri(issued.runway_uri, "org-b")
    forged = issued.runway_uri[:-4] + ("AAAA" if not issued.runway_uri.endswith("AAAA") else "BBBB")
    with pytest.raises(UploadTokenError) as bad:
        tokens().verify_uri(forged, "org-a")
    assert other.value.reason == bad.value.reason == "Invalid runway:// URI."


def test_expiry_follows_the_clock() -> None:
    clock = Clock()
    issued = tokens(clock).grant("org-a", "a.wav")
    clock.now += 24 * 3600 - 1
    assert tokens(clock).verify_uri(issued.runway_uri, "org-a")
    clock.now += 1
    with pytest.raises(UploadTokenError) as caught:
        tokens(clock).verify_uri(issued.runway_uri, "org-a")
    assert caught.value.reason == "The runway:// URI has expired. Upload the file again."
    assert tokens(clock).verify_uri(issued.runway_uri, "org-a", leeway_seconds=60)


@pytest.mark.parametrize(
    "mangle",
    [
        lambda uri, fields: "runway://" + fields["policy"],  # a policy is not a runway:// URI
        lambda uri, fields: uri + "x" * 5000,
        lambda uri, fields: "runway://a.b",
        lambda uri, fields: "runway://" + "a.b.c",
        lambda uri, fields: "https://" + uri.removeprefix("runway://"),
        lambda uri, fields: uri.replace(uri.split(".")[0], "runway://eyJhbGciOiJub25lIn0"),  # alg none
        lambda uri, fields: uri.replace(uri.split(".")[2], ""),
    ],
)
def test_malformed_runway_uris(mangle: Callable[[str, dict[str, str]], str]) -> None:
    issued = tokens().grant("org-a", "a.png")
    with pytest.raises(UploadTokenError):
        tokens().verify_uri(mangle(issued.runway_uri, issued.fields), "org-a")


def test_tokens_are_bound_to_the_secret() -> None:
    issued = tokens().grant("org-a", "a.png")
    other = UploadTokens.from_signer(UrlSigner(b"t" * 32))
    with pytest.raises(UploadTokenError):
        other.verify_uri(issued.runway_uri, "org-a")
    with pytest.raises(ValueError):
        UploadTokens(b"short")


def test_upload_policy_checks() -> None:
    clock = Clock()
    issued = tokens(clock).grant("org-a", "a.png")
    assert tokens(clock).verify_fields(issued.fields).key == issued.claims.key
    for fields in (
        {**issued.fields, "key": issued.claims.key.replace("file.png", "file.mp4")},
        {"key": issued.claims.key, "policy": issued.runway_uri.removeprefix("runway://")},
        {"key": issued.claims.key},
    ):
        with pytest.raises(UploadTokenError):
            tokens(clock).verify_fields(fields)
    clock.now += 3600
    with pytest.raises(UploadTokenError) as caught:
        tokens(clock).verify_fields(issued.fields)
    assert caught.value.reason == "The upload policy has expired. Request a new upload."


def test_organization_ids_become_safe_path_segments() -> None:
    key = tokens().grant("../../etc", "a.png").claims.key
    assert key.startswith("uploads/") and ".." not in key and key.count("/") == 3


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("a.png", (AssetKind.IMAGE, "image/png", "png")),
        ("dir/A.JPEG", (AssetKind.IMAGE, "image/jpeg", "jpeg")),
        ("c:\\x\\clip.MOV", (AssetKind.VIDEO, "video/quicktime", "mov")),
        ("song.mp3", (AssetKind.AUDIO, "audio/mpeg", "mp3")),
        ("a.gif", None),
        ("a.txt", None),
        ("png", None),
        (".png", None),
    ],
)
def test_upload_kind_by_extension(name: str, expected: object) -> None:
    assert upload_kind(name) == expected


# --- the router in an app of its own ---------------------------------------------------------------


class MiniServer:
    """The uploads router with the real error handlers, a blob store and a principal per header."""

    def __init__(self, root: Path) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.store = LocalBlobStore(root / "blobs")
        self.signer = UrlSigner(b"mini-server-secret-0123456789")
        app = FastAPI()
        errors.install(app)
        app.include_router(uploads_api.router)
        settings = Settings(data_dir=root, public_url=self.base_url)
        # Only what the uploads router reads from AppState.
        app.state.taxiway = SimpleNamespace(settings=settings, store=self.store, signer=self.signer)

        async def principal(request: Request) -> Principal:
            return Principal(
                organization_id=request.headers.get("x-test-org", "org-a"), api_key_id="k", tier=1
            )

        app.dependency_overrides[require_principal] = principal
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="mini-uploads", daemon=True)

    def start(self) -> MiniServer:
        self.thread.start()
        deadline = time.monotonic() + READY_TIMEOUT
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("mini server did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)

    def client(self, org: str = "org-a") -> RunwayML:
        return RunwayML(
            base_url=self.base_url,
            api_key=KEY,
            _strict_response_validation=True,
            max_retries=0,
            default_headers={"x-test-org": org},
        )

    def intake(self) -> AssetIntake:
        return AssetIntake.create(self.store, self.signer)

    def start_upload(self, filename: str, org: str = "org-a") -> dict[str, Any]:
        response = httpx.post(
            f"{self.base_url}/v1/uploads",
            json={"filename": filename, "type": "ephemeral"},
            headers={"x-test-org": org},
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def send(self, started: dict[str, Any], files: dict[str, Any], **data: str) -> httpx.Response:
        return httpx.post(started["uploadUrl"], data={**started["fields"], **data}, files=files)


@pytest.fixture(scope="module")
def mini(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MiniServer]:
    srv = MiniServer(tmp_path_factory.mktemp("mini-uploads")).start()
    yield srv
    srv.stop()


def test_sdk_upload_then_use_in_the_same_organization_only(mini: MiniServer) -> None:
    uri = mini.client().uploads.create_ephemeral(file=("photo.png", PNG)).uri
    assert uri.startswith("runway://")
    intake = mini.intake()
    run(intake.check_at_submission(uri, AssetKind.IMAGE, ["promptImage"], "org-a"))
    loaded = run(intake.resolve(uri, AssetKind.IMAGE, ["promptImage"], "org-a"))
    assert loaded.data == PNG and loaded.media_type == "image/png" and loaded.info.width == 128
    with pytest.raises(AssetRejected) as other:
        run(intake.check_at_submission(uri, AssetKind.IMAGE, ["promptImage"], "org-b"))
    assert other.value.issue == {
        "code": "custom",
        "path": ["promptImage"],
        "message": "promptImage: Invalid runway:// URI.",
    }
    with pytest.raises(AssetRejected) as kind:
        run(intake.check_at_submission(uri, AssetKind.VIDEO, ["videoUri"], "org-a"))
    assert kind.value.message == "videoUri: Unsupported asset type. The upload is image, not video."


def test_sdk_upload_from_a_path_with_metadata(mini: MiniServer, tmp_path: Path) -> None:
    path = tmp_path / "clip.mp4"
    path.write_bytes(MP4)
    uri = mini.client("org-v").uploads.create_ephemeral(file=path, file_metadata='{"a": 1}').uri
    loaded = run(mini.intake().resolve(uri, AssetKind.VIDEO, ["videoUri"], "org-v"))
    assert loaded.data == MP4 and loaded.info.codec == "h264"


def test_sdk_upload_of_content_not_matching_its_name_fails(mini: MiniServer) -> None:
    with pytest.raises(APIStatusError) as caught:
        mini.client().uploads.create_ephemeral(file=("clip.mp4", PNG))
    assert caught.value.status_code == 400
    assert caught.value.message == "Upload failed with status 400"


def test_a_uri_whose_file_never_arrived_is_refused(mini: MiniServer) -> None:
    started = mini.start_upload("never.png")
    with pytest.raises(AssetRejected) as caught:
        run(
            mini.intake().check_at_submission(started["runwayUri"], AssetKind.IMAGE, ["promptImage"], "org-a")
        )
    assert caught.value.message == "promptImage: Invalid runway:// URI. No file was uploaded for it."


def test_create_upload_answers_what_the_sdk_expects(mini: MiniServer) -> None:
    started = mini.start_upload("voice.wav")
    assert set(started) == {"uploadUrl", "fields", "runwayUri"}
    assert started["uploadUrl"] == f"{mini.base_url}/uploads/storage"
    assert all(isinstance(v, str) for v in started["fields"].values())


@pytest.mark.parametrize(
    ("body", "issue"),
    [
        ({"type": "ephemeral"}, {"code": "invalid_type", "path": ["filename"]}),
        ({"filename": "a.png"}, {"code": "invalid_type", "path": ["type"]}),
        ({"filename": "a.png", "type": "permanent"}, {"code": "invalid_value", "path": ["type"]}),
        ({"filename": 7, "type": "ephemeral"}, {"code": "invalid_type", "path": ["filename"]}),
        ({"filename": "", "type": "ephemeral"}, {"code": "too_small", "path": ["filename"]}),
        ({"filename": "a.png", "type": "ephemeral", "x": 1}, {"code": "unrecognized_keys", "path": []}),
        ({"filename": "anim.gif", "type": "ephemeral"}, {"code": "custom", "path": ["filename"]}),
        ({"filename": "notes.txt", "type": "ephemeral"}, {"code": "custom", "path": ["filename"]}),
        ({"filename": "noextension", "type": "ephemeral"}, {"code": "custom", "path": ["filename"]}),
    ],
)
def test_create_upload_validation(mini: MiniServer, body: dict[str, Any], issue: dict[str, Any]) -> None:
    response = httpx.post(f"{mini.base_url}/v1/uploads", json=body)
    assert response.status_code == 400
    answer = response.json()
    assert answer["error"] == "Validation of body failed"
    assert any(issue.items() <= found.items() for found in answer["issues"]), answer
    assert all(
        found["message"].startswith(".".join(map(str, found["path"])) or "body") for found in answer["issues"]
    )


def test_create_upload_needs_a_json_object(mini: MiniServer) -> None:
    response = httpx.post(f"{mini.base_url}/v1/uploads", content=b"filename=a.png")
    assert response.status_code == 400 and set(response.json()) == {"error"}


def test_storage_refuses_files_under_512_bytes(mini: MiniServer) -> None:
    small = image_bytes("PNG", (4, 4))
    assert len(small) < 512
    response = mini.send(mini.start_upload("tiny.png"), {"file": ("tiny.png", small)})
    assert response.status_code == 400
    assert response.json() == {
        "error": "Your proposed upload is smaller than the minimum allowed size (512 bytes)."
    }


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("anim.png", image_bytes("GIF", (64, 64)), "GIF images are not supported"),
        ("clip.mp4", WAV, "The file is audio, but its name declares video."),
        ("song.mp3", b"\0" * 4096, "Unsupported asset type."),
    ],
)
def test_storage_probes_the_bytes(mini: MiniServer, name: str, content: bytes, expected: str) -> None:
    response = mini.send(mini.start_upload(name), {"file": (name, content)})
    assert response.status_code == 400
    assert expected in response.json()["error"]


def test_storage_refuses_forged_and_reused_forms(mini: MiniServer) -> None:
    started = mini.start_upload("a.png")
    forged = {**started, "fields": {**started["fields"], "policy": started["fields"]["policy"][:-2] + "xx"}}
    assert mini.send(forged, {"file": ("a.png", PNG)}).status_code == 403
    other_key = {**started, "fields": {**started["fields"], "key": started["fields"]["key"] + "x"}}
    assert mini.send(other_key, {"file": ("a.png", PNG)}).status_code == 403
    assert mini.send(started, {"file": ("a.png", PNG)}).status_code == 204
    second = mini.send(started, {"file": ("a.png", PNG)})
    assert second.status_code == 409 and "already" in second.json()["error"]


def test_storage_refuses_malformed_forms(mini: MiniServer) -> None:
    started = mini.start_upload("a.png")
    url = started["uploadUrl"]
    assert httpx.post(url, json=started["fields"]).status_code == 400
    assert mini.send(started, {}).status_code == 400  # no file part
    assert mini.send(started, {"file": ("a.png", PNG)}, extra="1").status_code == 400
    two = [("file", ("a.png", PNG)), ("file", ("b.png", PNG))]
    assert httpx.post(url, data=started["fields"], files=two).status_code == 400
    assert (
        httpx.post(url, data={"key": started["fields"]["key"]}, files={"file": ("a", PNG)}).status_code == 403
    )


def test_storage_refuses_a_declared_length_over_200_mb(mini: MiniServer) -> None:
    """Refused from the header alone: the client has sent one byte of its claimed 200 MB."""
    started = mini.start_upload("big.mp4")
    head = (
        "POST /uploads/storage HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        "Content-Type: multipart/form-data; boundary=x\r\n"
        f"Content-Length: {MAX_UPLOAD_BYTES + 65 * 1024}\r\nConnection: close\r\n\r\n-"
    )
    assert started["uploadUrl"].endswith("/uploads/storage")
    with socket.create_connection(("127.0.0.1", mini.port), timeout=5) as sock:
        sock.sendall(head.encode())
        answer = b""
        while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
            data = sock.recv(4096)
            if not data:
                break
            answer += data
    assert answer.startswith(b"HTTP/1.1 413")
    body = json.loads(answer.split(b"\r\n\r\n", 1)[1])
    assert body["error"].startswith("Your proposed upload exceeds the maximum allowed size")


def test_storage_stops_reading_once_the_body_passes_the_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a Content-Length the body is counted as it streams: reading stops just past the limit."""
    monkeypatch.setattr(uploads_api, "MAX_UPLOAD_BYTES", 100_000)
    first = b'--x\r\nContent-Disposition: form-data; name="file"; filename="a.mp4"\r\n\r\n'
    chunk = b"y" * 65536
    received: list[int] = []

    async def receive() -> dict[str, Any]:
        body = first if not received else chunk
        received.append(len(body))
        return {"type": "http.request", "body": body, "more_body": len(received) < 10_000}

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/uploads/storage",
        "headers": [(b"content-type", b"multipart/form-data; boundary=x")],
    }
    with pytest.raises(ApiError) as caught:
        run(uploads_api._read_form(StarletteRequest(scope, receive)))
    assert caught.value.status == 413
    assert sum(received) <= 100_000 + 64 * 1024 + len(chunk)


# --- the real server, once the router is mounted ---------------------------------------------------


def test_sdk_upload_against_the_real_server(server: Server) -> None:
    probe = httpx.post(
        f"{server.base_url}/v1/uploads",
        json={"filename": "a.png", "type": "ephemeral"},
        headers={"Authorization": f"Bearer {server.key}", **VERSION},
    )
    if probe.status_code == 404:
        pytest.skip("POST /v1/uploads is not mounted in taxiway.app yet (include taxiway.api.uploads.router)")
    assert probe.status_code == 200, probe.text
    client = sdk(server)
    for name, content in (("photo.png", PNG), ("clip.mp4", MP4), ("voice.wav", WAV)):
        uri = client.uploads.create_ephemeral(file=(name, content)).uri
        assert uri.startswith("runway://") and len(uri) <= 5000
    with pytest.raises(APIStatusError) as caught:
        client.uploads.create_ephemeral(file=("clip.mp4", PNG))
    assert caught.value.status_code == 400
