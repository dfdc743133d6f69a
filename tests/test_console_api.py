"""The console's pages and its JSON API, the operator API, and the offline API reference."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic.alias_generators import to_camel
from runwayml import RunwayML

from support.clients import sdk
from support.server import OPERATOR_TOKEN, Server

NODE_SDK = Path(__file__).parent / "conformance" / "node" / "node_modules" / "@runwayml" / "sdk"


@pytest.fixture
def served(operator_server: Server) -> Server:
    return operator_server


def operator(server: Server, method: str, path: str, **kwargs: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {OPERATOR_TOKEN}", **kwargs.pop("headers", {})}
    return httpx.request(method, f"{server.base_url}/operator{path}", headers=headers, timeout=30, **kwargs)


def runway(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}", "X-Runway-Version": "2024-11-06"}


def tasks_page(server: Server, key: str, **params: Any) -> httpx.Response:
    return httpx.get(f"{server.base_url}/console/api/tasks", params=params, headers=runway(key), timeout=30)


def test_landing_page_links_the_console_and_the_docs(served: Server) -> None:
    page = httpx.get(served.base_url + "/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    for link in ('href="/console"', 'href="/docs"', 'href="/redoc"', 'href="/openapi.json"'):
        assert link in page.text
    assert f"RUNWAYML_BASE_URL={served.base_url}" in page.text
    console = httpx.get(served.base_url + "/console")
    assert console.status_code == 200 and "/console/static/js/app.js" in console.text


def local_assets(html: str) -> list[str]:
    return re.findall(r'(?:src|href)="([^"]+)"', html)


@pytest.mark.parametrize("page", ["/", "/console", "/docs", "/redoc"])
def test_pages_load_only_local_assets(served: Server, page: str) -> None:
    """Nothing from a CDN: every script, stylesheet and icon is served by taxiway itself."""
    html = httpx.get(served.base_url + page).text
    assets = [a for a in local_assets(html) if a.endswith((".js", ".css", ".svg", ".png"))]
    assert assets, html
    for asset in assets:
        assert asset.startswith("/"), f"{page} loads {asset} from elsewhere"
        response = httpx.get(served.base_url + asset)
        assert response.status_code == 200 and len(response.content) > 100, asset
    assert "fonts.googleapis" not in html and "cdn." not in html


def test_console_scripts_are_all_served(served: Server) -> None:
    """Every module the console imports exists (a missing one would break the page silently)."""
    seen: set[str] = set()
    pending = ["app.js"]
    while pending:
        name = pending.pop()
        seen.add(name)
        source = httpx.get(f"{served.base_url}/console/static/js/{name}")
        assert source.status_code == 200, name
        assert "javascript" in source.headers["content-type"]
        pending += [m for m in re.findall(r"from '\./([\w.]+)'", source.text) if m not in seen]
    assert {"tasks.js", "playground.js", "schemaform.js", "operator.js", "preview.js"} <= seen


def test_catalog_lists_every_model_with_its_schema_and_sdk_names(served: Server) -> None:
    from taxiway.catalog import ENDPOINTS

    document = httpx.get(served.base_url + "/console/api/catalog").json()
    listed = {(e["name"], m["id"]) for e in document["endpoints"] for m in e["models"]}
    assert listed == {(e.name, m.id) for e in ENDPOINTS.values() for m in e.models}
    client = RunwayML(base_url=served.base_url, api_key=served.key)
    node_client = (NODE_SDK / "client.d.ts").read_text() if NODE_SDK.exists() else None
    for endpoint in document["endpoints"]:
        assert callable(getattr(client, endpoint["sdk"]["python"]).create), endpoint["name"]
        if node_client is not None:
            node_name = endpoint["sdk"]["node"]
            if node_name is None:  # no Node resource: the console's snippet posts to the path
                assert f" {to_camel(endpoint['name'])}: API." not in node_client, endpoint["name"]
            else:
                assert f" {node_name}: API." in node_client, endpoint["name"]
        for model in endpoint["models"]:
            schema = model["schema"]
            assert schema["properties"]["model"]["const"] == model["id"]
            assert "model" in schema["required"]
            for media in model["media"]:
                assert media["path"].split(".")[0].removesuffix("[]") in schema["properties"], media
    i2v = next(e for e in document["endpoints"] if e["name"] == "image_to_video")
    assert {"path": "promptImage", "kind": "image"} in i2v["models"][0]["media"]


def new_key(server: Server, organization: str, credits: int = 1000) -> str:
    """A key of a new organization of its own, so other tests' tasks stay out of the way."""
    assert operator(
        server, "POST", "/organizations", json={"name": organization, "credits": credits}
    ).is_success
    return str(operator(server, "POST", f"/organizations/{organization}/keys", json={}).json()["key"])


def test_task_list_filters_pages_and_stays_in_its_organization(served: Server) -> None:
    key = new_key(served, "console-list")
    client = sdk(served, key)
    image = client.text_to_image.create(model="gen4_image", prompt_text="console list", ratio="1024:1024")
    failed = client.with_options(
        default_headers={"X-Taxiway-Simulate": "failure=INTERNAL"}
    ).text_to_image.create(model="gen4_image", prompt_text="console failure", ratio="1024:1024")
    speech = client.sound_effect.create(
        model="eleven_text_to_sound_v2", prompt_text="console beep", duration=1
    )
    image.wait_for_task_output(timeout=120)
    speech.wait_for_task_output(timeout=120)

    listed = tasks_page(served, key, limit=100).json()["data"]
    ids = [task["id"] for task in listed]
    assert ids.index(speech.id) < ids.index(failed.id) < ids.index(image.id), "newest first"
    shown = next(task for task in listed if task["id"] == image.id)
    assert shown["status"] == "SUCCEEDED" and shown["endpoint"] == "text_to_image"
    assert shown["request"] == {"model": "gen4_image", "promptText": "console list", "ratio": "1024:1024"}
    assert shown["outputs"][0]["contentType"] == "image/png"
    assert httpx.get(shown["outputs"][0]["url"]).content.startswith(b"\x89PNG")
    assert shown["output"] == [shown["outputs"][0]["url"]]

    def wait_failed() -> list[dict[str, Any]]:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            found = tasks_page(served, key, status="FAILED").json()["data"]
            if found:
                return found
            time.sleep(0.2)
        raise AssertionError("the simulated failure never showed")

    assert [t["id"] for t in wait_failed()] == [failed.id]
    assert [t["id"] for t in tasks_page(served, key, model="eleven_text_to_sound_v2").json()["data"]] == [
        speech.id
    ]
    assert {t["endpoint"] for t in tasks_page(served, key, endpoint="text_to_image").json()["data"]} == {
        "text_to_image"
    }

    first = tasks_page(served, key, limit=1).json()
    second = tasks_page(served, key, limit=1, cursor=first["nextCursor"]).json()
    assert first["data"][0]["id"] == ids[0] and second["data"][0]["id"] == ids[1]

    for params, field in [
        ({"status": "DONE"}, "status"),
        ({"model": "nope"}, "model"),
        ({"endpoint": "x"}, "endpoint"),
    ]:
        response = tasks_page(served, key, **params)
        assert response.status_code == 400 and field in response.json()["error"], params
    assert tasks_page(served, key, cursor="garbage").status_code == 400
    assert tasks_page(served, key, limit=0).status_code == 400
    assert httpx.get(f"{served.base_url}/console/api/tasks").status_code == 401

    assert tasks_page(served, new_key(served, "console-other")).json() == {"data": [], "nextCursor": None}


def test_operator_api_needs_the_token(served: Server, server: Server) -> None:
    assert httpx.get(f"{server.base_url}/operator/organizations").status_code == 404, "no token: no API"
    assert httpx.get(f"{server.base_url}/console/api/config").json()["operator"] is False
    assert httpx.get(f"{served.base_url}/operator/organizations").status_code == 401
    wrong = httpx.get(f"{served.base_url}/operator/organizations", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    assert (
        httpx.get(f"{served.base_url}/operator/organizations", headers=runway(served.key)).status_code == 401
    )
    assert httpx.get(f"{served.base_url}/console/api/config").json()["operator"] is True


def test_operator_manages_organizations_keys_credits_and_tiers(served: Server) -> None:
    created = operator(served, "POST", "/organizations", json={"name": "acme", "tier": 2, "credits": 500})
    assert created.status_code == 201
    assert created.json()["creditBalance"] == 500 and created.json()["tier"] == 2
    assert operator(served, "POST", "/organizations", json={"name": "acme"}).status_code == 409
    bad = operator(served, "POST", "/organizations", json={"name": "", "tier": 9})
    assert bad.status_code == 400 and {tuple(i["path"]) for i in bad.json()["issues"]} >= {
        ("name",),
        ("tier",),
    }
    assert operator(served, "GET", "/organizations/nobody").status_code == 404

    key = operator(served, "POST", "/organizations/acme/keys", json={"name": "ci"}).json()
    assert key["key"].startswith("key_") and key["prefix"] == key["key"][:12]
    assert sdk(served, key["key"]).organization.retrieve().credit_balance == 500

    top_up = {"json": {"amount": 250, "note": "top-up"}, "headers": {"Idempotency-Key": "top-up-1"}}
    first = operator(served, "POST", "/organizations/acme/credits", **top_up)
    assert first.json() == {"creditBalance": 750} and "idempotent-replayed" not in first.headers
    again = operator(served, "POST", "/organizations/acme/credits", **top_up)  # its answer was lost
    assert again.json() == {"creditBalance": 750} and again.headers["idempotent-replayed"] == "true"
    other = {**top_up, "json": {"amount": 1}}
    assert operator(served, "POST", "/organizations/acme/credits", **other).status_code == 422
    too_much = operator(served, "POST", "/organizations/acme/credits", json={"amount": -1000})
    assert too_much.status_code == 400 and too_much.json()["issues"][0]["path"] == ["amount"]
    assert operator(served, "PUT", "/organizations/acme/tier", json={"tier": 4}).json() == {"tier": 4}
    assert operator(served, "PUT", "/organizations/acme/tier", json={"tier": 0}).status_code == 400

    detail = operator(served, "GET", "/organizations/acme").json()
    assert detail["tier"] == 4 and detail["creditBalance"] == 750 and detail["activeKeys"] == 1
    assert [k["name"] for k in detail["keys"]] == ["ci"] and "key" not in detail["keys"][0]
    listed = operator(served, "GET", "/organizations").json()["data"]
    assert {"default", "acme"} <= {org["name"] for org in listed}

    revoked = operator(served, "DELETE", f"/keys/{key['id']}")
    assert revoked.status_code == 200 and revoked.json()["revokedAt"]
    deadline = time.monotonic() + 30
    while httpx.get(f"{served.base_url}/v1/organization", headers=runway(key["key"])).status_code != 401:
        assert time.monotonic() < deadline, "a revoked key kept working"
        time.sleep(0.2)
    assert operator(served, "DELETE", "/keys/unknown").status_code == 404


def test_operator_sets_and_clears_test_mode_simulations(served: Server) -> None:
    new_key(served, "flaky", credits=100)
    key = operator(served, "POST", "/organizations/flaky/keys", json={}).json()
    bad = operator(served, "PUT", "/organizations/flaky/simulation", json={"settings": ["failure-rate=2"]})
    assert bad.status_code == 400 and bad.json()["issues"][0]["path"] == ["settings"]
    assert operator(
        served, "PUT", "/organizations/flaky/simulation", json={"settings": ["x=1"], "keyId": "nope"}
    ).status_code in (400, 404)
    chosen = operator(
        served,
        "PUT",
        "/organizations/flaky/simulation",
        json={"settings": ["failure-rate=1", "code=SAFETY.INPUT.TEXT"], "keyId": key["prefix"]},
    )
    assert chosen.json() == {"keyId": key["id"], "settings": "failure-rate=1 code=SAFETY.INPUT.TEXT"}
    assert operator(served, "GET", "/organizations/flaky").json()["simulations"] == [
        {"keyId": key["id"], "settings": "failure-rate=1 code=SAFETY.INPUT.TEXT"}
    ]
    client = sdk(served, key["key"])
    task = client.text_to_image.create(model="gen4_image", prompt_text="flaky", ratio="1024:1024")
    deadline = time.monotonic() + 60
    while (current := client.tasks.retrieve(task.id)).status != "FAILED":
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert current.failure_code == "SAFETY.INPUT.TEXT"

    cleared = operator(served, "DELETE", "/organizations/flaky/simulation", params={"keyId": key["id"]})
    assert cleared.status_code == 204
    assert operator(served, "GET", "/organizations/flaky").json()["simulations"] == []
