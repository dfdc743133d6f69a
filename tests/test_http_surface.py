"""Auth, version header, error bodies, routing and body limits, as the real API answers them."""

from __future__ import annotations

import importlib
import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
import runwayml.resources
from pydantic import TypeAdapter
from runwayml import AuthenticationError, BadRequestError, NotFoundError, RunwayML

from conformance.media import png
from support.clients import sdk
from support.server import Server
from taxiway.app import create_app
from taxiway.config import Settings

VERSION = {"X-Runway-Version": "2024-11-06"}


def headers(server: Server, **extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {server.key}", **VERSION, **extra}


def test_missing_key_is_401(server: Server) -> None:
    response = httpx.get(f"{server.base_url}/v1/tasks/anything", headers=VERSION)
    assert response.status_code == 401
    assert set(response.json()) == {"error"}


def test_unknown_key_is_401_through_sdk(server: Server) -> None:
    client = sdk(server, key="key_" + "0" * 128)
    with pytest.raises(AuthenticationError):
        client.text_to_image.create(model="gen4_image", prompt_text="x", ratio="1024:1024")
    with pytest.raises(AuthenticationError):
        sdk(server, key="not-a-key").tasks.retrieve("x")


def test_revoked_key_is_401(server: Server) -> None:
    plain = server.cli("keys", "create", "--org", "default", "--name", "short-lived").strip()
    client = sdk(server, key=plain)
    with pytest.raises(NotFoundError):
        client.tasks.retrieve("no-such-task")
    listing = server.cli("keys", "list", "--org", "default")
    assert plain[:12] in listing and plain not in listing
    server.cli("keys", "revoke", plain[:12])
    import time

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            client.tasks.retrieve("no-such-task")
        except AuthenticationError:
            break
        except NotFoundError:
            time.sleep(0.2)
    else:
        pytest.fail("revoked key still accepted")


@pytest.mark.parametrize("version", [None, "2023-01-01", ""])
def test_missing_or_unknown_version_is_400(server: Server, version: str | None) -> None:
    sent = {"Authorization": f"Bearer {server.key}"}
    if version is not None:
        sent["X-Runway-Version"] = version
    response = httpx.get(f"{server.base_url}/v1/tasks/x", headers=sent)
    assert response.status_code == 400
    assert "X-Runway-Version" in response.json()["error"] or "version" in response.json()["error"]


def test_sdk_with_unsupported_version_gets_bad_request(server: Server) -> None:
    client = RunwayML(
        base_url=server.base_url, api_key=server.key, runway_version="2020-01-01", max_retries=0
    )
    with pytest.raises(BadRequestError):
        client.tasks.retrieve("x")


def test_unknown_task_is_404_with_real_body(client: RunwayML) -> None:
    with pytest.raises(NotFoundError) as info:
        client.tasks.retrieve("3086d332-1963-4c9d-8103-0f90efa72e20")
    assert info.value.body == {"error": "Could not find Task"}


def test_unknown_route_is_404_json(server: Server) -> None:
    response = httpx.post(f"{server.base_url}/v1/make_coffee", headers=headers(server), json={})
    assert response.status_code == 404
    assert response.json() == {"error": "Not found"}


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("PUT", "/v1/tasks/x", "DELETE, GET"),
        ("POST", "/v1/avatars/x", "DELETE, GET, PATCH"),
        ("PUT", "/v1/voices", "GET, POST"),
        ("GET", "/v1/realtime_sessions/x/consume", "OPTIONS, POST"),
        ("DELETE", "/v1/text_to_image", "POST"),
        ("GET", "/v1/voices/preview", "POST"),  # a concrete path, never the voice named "preview"
    ],
)
def test_wrong_method_is_405_json_allowing_every_method(
    server: Server, method: str, path: str, allowed: str
) -> None:
    response = httpx.request(method, f"{server.base_url}{path}", headers=headers(server))
    assert response.status_code == 405
    assert response.headers["allow"] == allowed
    assert response.json() == {"error": "Method not allowed"}


@pytest.mark.parametrize(
    ("body", "path", "code"),
    [
        ({"model": "gen4_image", "ratio": "1920:1080"}, ["promptText"], "invalid_type"),
        ({"model": "gen4_image", "promptText": "x", "ratio": "1:1"}, ["ratio"], "invalid_value"),
        ({"model": "gen4_image", "promptText": "", "ratio": "1920:1080"}, ["promptText"], "too_small"),
        ({"model": "gen4_image", "promptText": "é" * 1001, "ratio": "1920:1080"}, ["promptText"], "custom"),
        ({"model": "gen4_image", "promptText": "x", "ratio": "1920:1080", "seed": -1}, ["seed"], "too_small"),
        (
            {"model": "gen4_image", "promptText": "x", "ratio": "1920:1080", "seed": "7"},
            ["seed"],
            "invalid_type",
        ),
        (
            {"model": "gen4_image", "promptText": "x", "ratio": "1920:1080", "colour": 1},
            [],
            "unrecognized_keys",
        ),
        (
            {"model": "gen4_image_turbo", "promptText": "x", "ratio": "1920:1080"},
            ["referenceImages"],
            "invalid_type",
        ),
        (
            {
                "model": "gen4_image",
                "promptText": "x",
                "ratio": "1920:1080",
                "referenceImages": [{"uri": "a"}] * 4,
            },
            ["referenceImages"],
            "too_big",
        ),
        (
            {
                "model": "gen4_image",
                "promptText": "x",
                "ratio": "1920:1080",
                "referenceImages": [{"uri": "a", "tag": "1x"}],
            },
            ["referenceImages", 0, "tag"],
            "invalid_format",
        ),
        ({"model": "gen5_dream", "promptText": "x", "ratio": "1920:1080"}, ["model"], "invalid_union"),
        ({"promptText": "x"}, ["model"], "invalid_union"),
    ],
)
def test_bad_fields_are_400_naming_the_field(
    client: RunwayML, body: dict[str, object], path: list[object], code: str
) -> None:
    with pytest.raises(BadRequestError) as info:
        client.post("/v1/text_to_image", body=body, cast_to=object)
    error = info.value.body
    assert isinstance(error, dict)
    assert error["error"] == "Validation of body failed"
    assert any(issue["path"] == path and issue["code"] == code for issue in error["issues"]), error


def test_unknown_model_lists_the_endpoint_models(client: RunwayML) -> None:
    with pytest.raises(BadRequestError) as info:
        client.post("/v1/text_to_image", body={"model": "nope"}, cast_to=object)
    message = str(info.value.body)
    for model in ("gen4_image", "gen4_image_turbo", "gemini_2.5_flash"):
        assert model in message


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (b"not json", "application/json"),
        (b"", "application/json"),
        (b"[1, 2]", "application/json"),
        (b'"text"', "application/json"),
        (b"\xff\xfe\x00", "application/json"),
        (b"a=1&b=2", "application/x-www-form-urlencoded"),
        (b'{"model": ', "application/json"),
    ],
)
def test_malformed_bodies_are_400_never_500(server: Server, content: bytes, content_type: str) -> None:
    response = httpx.post(
        f"{server.base_url}/v1/text_to_image",
        headers=headers(server, **{"Content-Type": content_type}),
        content=content,
    )
    assert response.status_code == 400
    assert "error" in response.json()


def test_json_without_content_type_is_accepted(server: Server) -> None:
    response = httpx.post(
        f"{server.base_url}/v1/text_to_image",
        headers=headers(server, **{"Content-Type": "text/plain"}),
        content=b'{"model": "gen4_image", "promptText": "curl forgot the header", "ratio": "1024:1024"}',
    )
    assert response.status_code == 200
    assert set(response.json()) == {"id", "estimatedCost"}


def test_oversized_body_is_413(server: Server) -> None:
    big = b'{"model": "gen4_image", "promptText": "' + b"x" * (33 * 1024 * 1024) + b'"}'
    response = httpx.post(f"{server.base_url}/v1/text_to_image", headers=headers(server), content=big)
    assert response.status_code == 413
    assert "error" in response.json()


def test_oversized_chunked_body_is_413(server: Server) -> None:
    def chunks():  # type: ignore[no-untyped-def]
        yield b'{"model": "gen4_image", "promptText": "'
        for _ in range(40):
            yield b"x" * (1024 * 1024)
        yield b'"}'

    response = httpx.post(f"{server.base_url}/v1/text_to_image", headers=headers(server), content=chunks())
    assert response.status_code == 413


SDK_CALL = re.compile(
    r'self\._(get_api_list|get|post|patch|put|delete)\(\s*(?:path_template\(\s*)?f?"(/v1/[^"]*)"'
)


def sdk_operations() -> set[tuple[str, str]]:
    """Every (method, path) the official Python SDK can send, path parameters as `{}`."""
    found = set()
    for source in Path(runwayml.resources.__file__).parent.rglob("*.py"):
        for call, path in SDK_CALL.findall(source.read_text()):
            method = "GET" if call == "get_api_list" else call.upper()
            found.add((method, re.sub(r"\{[^}]*\}", "{}", path)))
    return found


def test_the_sdk_surface_is_read_from_its_resources() -> None:
    operations = sdk_operations()
    assert len(operations) == 66  # runwayml 5.24.0
    assert {
        ("GET", "/v1/tasks/{}"),
        ("GET", "/v1/routers/{}/requests"),
        ("GET", "/v1/workflow_invocations/{}"),
    } <= operations


def test_openapi_and_docs(server: Server) -> None:
    schema = httpx.get(f"{server.base_url}/openapi.json", timeout=120).json()  # built on first request
    body = schema["paths"]["/v1/text_to_image"]["post"]["requestBody"]["content"]["application/json"][
        "schema"
    ]
    assert body["discriminator"]["propertyName"] == "model"
    assert {"gen4_image", "gen4_image_turbo", "gemini_2.5_flash"} <= set(body["discriminator"]["mapping"])
    assert "/v1/tasks/{task_id}" in schema["paths"]
    assert httpx.get(f"{server.base_url}/docs").status_code == 200
    served = {
        (method.upper(), re.sub(r"\{[^}]*\}", "{}", path))
        for path, operations in schema["paths"].items()
        for method in operations
    }
    assert sdk_operations() - served == set()

    # Bodies parsed by hand are described too, and every reference resolves.
    for path, method, name in [
        ("/v1/avatars", "post", "AvatarCreate"),
        ("/v1/avatars/{avatar_id}", "patch", "AvatarUpdate"),
        ("/v1/documents", "post", "DocumentCreate"),
        ("/v1/documents/{document_id}", "patch", "DocumentUpdate"),
        ("/v1/realtime_sessions", "post", "SessionCreate"),
    ]:
        content = schema["paths"][path][method]["requestBody"]["content"]["application/json"]
        assert content["schema"] == {"$ref": f"#/components/schemas/{name}"}
    components = schema["components"]["schemas"]
    assert {"model", "avatar"} <= set(components["SessionCreate"]["required"])
    # What the server refuses, the schema does not offer: no null where null is a 400, no empty update.
    assert "anyOf" not in components["AvatarUpdate"]["properties"]["voice"]
    assert components["AvatarUpdate"]["properties"]["startScript"]["anyOf"][1] == {"type": "null"}
    assert components["DocumentUpdate"]["minProperties"] == 1
    assert "NUL" in schema["info"]["description"]
    references = set(re.findall(r'"\$ref": "#/components/schemas/([^"]+)"', json.dumps(schema)))
    assert references <= set(components), references - set(components)


def _open_objects(schema: object, components: dict[str, Any], seen: set[str]) -> list[str]:
    """The object schemas reachable from `schema` that allow properties they do not list."""
    if isinstance(schema, list):
        return [found for item in schema for found in _open_objects(item, components, seen)]
    if not isinstance(schema, dict):
        return []
    open_ = []
    if (ref := schema.get("$ref")) is not None:
        name = ref.rsplit("/", 1)[1]
        if name not in seen:
            seen.add(name)
            open_ += _open_objects(components[name], components, seen)
    if "properties" in schema and schema.get("additionalProperties") is not False:
        open_.append(str(schema.get("title", schema["properties"].keys())))
    return open_ + [
        found
        for key, value in schema.items()
        if key not in ("$ref", "default", "examples")
        for found in _open_objects(value, components, seen)
    ]


def _fields(schema: Any, components: dict[str, Any], required: bool = False, prefix: str = "") -> set[str]:
    """Every field a JSON Schema allows (or with `required`, requires), as dotted paths
    (`data[].voice.name`, `output{}`): union branches merged, so two schemas of one answer compare."""
    if not isinstance(schema, dict):
        return set()
    if (ref := schema.get("$ref")) is not None:
        return _fields(components[ref.rsplit("/", 1)[1]], components, required, prefix)
    found = set()
    for branch in [b for key in ("anyOf", "oneOf", "allOf") for b in schema.get(key, [])]:
        found |= _fields(branch, components, required, prefix)
    for name, field in schema.get("properties", {}).items():
        if not required or name in schema.get("required", ()):
            found |= {prefix + name} | _fields(field, components, required, f"{prefix}{name}.")
    for key, mark in (("items", "[]."), ("additionalProperties", "{}.")):
        found |= _fields(schema.get(key), components, required, prefix.removesuffix(".") + mark)
    return found


SDK_ANSWER = re.compile(
    r'self\._(get_api_list|get|post|patch|put|delete)\(\s*(?:path_template\(\s*)?f?"(/v1/[^"]*)"[\s\S]*?'
    r"(?:cast_to=(?:cast\(\s*(?:Any|Type\[\w+\]),\s*)?(?:create_(?:async_)?waitable_resource\(\s*)?(\w+)"
    r"|page=(?:Sync|Async)CursorPage\[(\w+)\])"
)
# Fields served beyond what runwayml 5.24.0 declares, each for a reason.
BEYOND_THE_SDK = {
    ("GET", "/v1/voices"): {"hasMore"},  # the real API's voice pages carry it
    ("POST", "/v1/avatar_videos"): {"estimatedCost", "estimatedCost.credits"},  # as every other create
}


Fields = tuple[set[str], set[str]]  # every field, the required ones


def sdk_answers() -> dict[tuple[str, str], Fields | None]:
    """(method, path) -> the fields of the answer the official Python SDK parses; None for no body."""
    root = Path(runwayml.resources.__file__).parent
    found: dict[tuple[str, str], Fields | None] = {}
    for source in root.rglob("*.py"):
        parts = source.relative_to(root).with_suffix("").parts
        module = importlib.import_module(".".join(("runwayml", "resources", *parts)))
        for call, path, cast_to, item in SDK_ANSWER.findall(source.read_text()):
            key = ("GET" if call == "get_api_list" else call.upper(), re.sub(r"\{[^}]*\}", "{}", path))
            if cast_to == "NoneType":
                found[key] = None
                continue
            schema = TypeAdapter(getattr(module, cast_to or item)).json_schema(by_alias=True)
            every, needed = (_fields(schema, schema.get("$defs", {}), required) for required in (False, True))
            if item:  # a page of them
                every, needed = ({"data", "nextCursor"} | {f"data[].{f}" for f in s} for s in (every, needed))
            found[key] = every, needed
    return found


def test_every_api_operation_documents_its_answer(tmp_path: Path) -> None:
    """Schema-driven clients and fuzzers read /openapi.json: every 2xx of /v1 is a body schema that lists
    its fields and no others, or a bodiless 204; where the SDK parses the answer, the fields are its own."""
    schema = create_app(Settings(data_dir=tmp_path)).openapi()
    components = schema["components"]["schemas"]
    sdk = sdk_answers()
    assert len(sdk) == 66 and sdk[("DELETE", "/v1/tasks/{}")] is None
    every, needed = sdk[("GET", "/v1/avatars")] or (set(), set())
    assert "data[].voice.deleted" in needed and "data[].processedImageUri" in every - needed
    undocumented, open_, unlike_the_sdk = [], [], []
    for path, methods in schema["paths"].items():
        if not path.startswith("/v1/"):
            continue
        for method, operation in methods.items():
            key = (method.upper(), re.sub(r"\{[^}]*\}", "{}", path))
            answers = {code: a for code, a in operation["responses"].items() if code.startswith("2")}
            if set(answers) == {"204"}:
                assert "content" not in answers["204"] and sdk.get(key, None) is None, key
                continue
            body = [a.get("content", {}).get("application/json", {}).get("schema") for a in answers.values()]
            if not any(body):
                undocumented.append(key)
            open_ += [(*key, name) for name in _open_objects(body, components, set())]
            if (theirs := sdk.get(key)) is not None:
                documented = _fields(body[0], components), _fields(body[0], components, required=True)
                extra = documented[0] - theirs[0] - BEYOND_THE_SDK.get(key, set())
                missing = theirs[1] - documented[1]
                if extra or missing:
                    unlike_the_sdk.append((key, sorted(extra), sorted(missing)))
    assert not undocumented, undocumented
    assert not open_, open_
    assert not unlike_the_sdk, unlike_the_sdk


def test_output_urls_are_signed(client: RunwayML) -> None:
    task = client.text_to_image.create(
        model="gen4_image", prompt_text="signed", ratio="1024:1024"
    ).wait_for_task_output(timeout=60)
    url = task.output[0]
    assert httpx.get(url).status_code == 200
    forged = url[:-4] + ("0000" if not url.endswith("0000") else "1111")
    assert httpx.get(forged).status_code == 403
    other_key = url.replace("output.png", "other.png")
    assert httpx.get(other_key).status_code == 403
    extended = url.replace("exp=", "exp=9")
    assert httpx.get(extended).status_code == 403
    assert httpx.get(url.split("?")[0]).status_code == 400


def test_output_urls_expire(make_server) -> None:  # type: ignore[no-untyped-def]
    server = make_server(TAXIWAY_OUTPUT_URL_TTL_SECONDS="2")
    task = (
        sdk(server)
        .text_to_image.create(model="gen4_image", prompt_text="ephemeral", ratio="1024:1024")
        .wait_for_task_output(timeout=60)
    )
    import time

    time.sleep(3.1)
    assert httpx.get(task.output[0]).status_code == 403
    fresh = sdk(server).tasks.retrieve(task.id)
    assert fresh.status == "SUCCEEDED"
    assert httpx.get(fresh.output[0]).status_code == 200


def test_other_organization_sees_404(server: Server, client: RunwayML) -> None:
    rival_key = server.new_org("rival", "--tier", "2", "--credits", "100")
    rival = sdk(server, key=rival_key)
    task = client.text_to_image.create(model="gen4_image", prompt_text="mine", ratio="1024:1024")
    with pytest.raises(NotFoundError):
        rival.tasks.retrieve(task.id)
    with pytest.raises(NotFoundError):
        rival.tasks.delete(task.id)
    assert client.tasks.retrieve(task.id).id == task.id
    listing = server.cli("orgs", "list")
    assert "rival" in listing and "default" in listing


def test_insufficient_credits_is_400_and_creates_nothing(server: Server) -> None:
    broke = sdk(server, key=server.new_org("broke", "--credits", "3"))
    with pytest.raises(BadRequestError) as info:
        broke.text_to_image.create(model="gen4_image", prompt_text="x", ratio="1920:1080")
    assert info.value.body == {"error": "You do not have enough credits to run this task."}
    task = broke.text_to_image.create(
        model="gen4_image_turbo", prompt_text="x", ratio="1024:1024", reference_images=[{"uri": png()}]
    )
    assert task.estimated_cost.credits == 2
