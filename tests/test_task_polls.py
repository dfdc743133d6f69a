"""`GET /v1/tasks/{id}` answered ahead of the app (`api.task_polls`): the same answers, and every case
it does not know for sure left to the app, errors and other organizations included."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from taxiway import API_VERSION
from taxiway.accounts.keys import generate_key
from taxiway.accounts.repository import create_key, create_organization
from taxiway.api.state import started_services
from taxiway.api.tasks import visible_task
from taxiway.app import create_app
from taxiway.config import Settings

ENGINES = {"gen4_image": "support.engines:InstantImageEngine"}
BODY = {"model": "gen4_image", "promptText": "poll", "ratio": "1280:720"}
ROUTE = "/v1/tasks/{task_id}"


def headers(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}", "X-Runway-Version": API_VERSION}


def unsigned(task: dict[str, Any]) -> dict[str, Any]:
    """A task view with its output URLs' signatures left out (they carry a time)."""
    return {**task, "output": [url.split("?")[0] for url in task["output"]]}


def test_polls_answer_as_the_app_does_and_leave_the_rest_to_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    answered: list[str] = []

    async def counted(services: Any, organization_id: str, task_id: str) -> Any:
        task = await visible_task(services, organization_id, task_id)
        if task is not None:
            answered.append(task_id)
        return task

    monkeypatch.setattr("taxiway.api.task_polls.visible_task", counted)
    # Keys stay known for the whole test, however slow the machine (else a poll after the usual 2 s
    # goes to the app, which checks the key again, and is rightly not counted).
    monkeypatch.setattr("taxiway.api.auth.AUTH_CACHE_SECONDS", 600.0)
    key = generate_key()
    app = create_app(Settings(data_dir=tmp_path, bootstrap_api_key=key, engines=ENGINES, workers=1))
    with TestClient(app) as client:
        services = started_services(app)
        assert services is not None
        task_id = client.post("/v1/text_to_image", json=BODY, headers=headers(key)).json()["id"]
        deadline = time.monotonic() + 120  # a busy machine may take a while; never a fixed pause
        poll = f"/v1/tasks/{task_id}"
        while (polled := client.get(poll, headers=headers(key)).json())["status"] != "SUCCEEDED":
            assert time.monotonic() < deadline, polled
            time.sleep(0.05)
        assert answered and set(answered) == {task_id}  # the key was known after the create

        # The same answer as the app's (a query string takes a poll to the app).
        count = len(answered)
        via_app = client.get(f"{poll}?via=app", headers=headers(key))
        assert len(answered) == count
        fast = client.get(poll, headers=headers(key))
        assert len(answered) == count + 1
        assert fast.status_code == via_app.status_code == 200
        assert fast.headers["content-type"] == via_app.headers["content-type"]
        assert unsigned(fast.json()) == unsigned(via_app.json())
        assert client.get(fast.json()["output"][0]).content.startswith(b"\x89PNG")  # signed, served

        # Every error is the app's own.
        count = len(answered)
        assert client.get(poll, headers={"Authorization": f"Bearer {key}"}).status_code == 400
        assert client.get(poll, headers=headers(generate_key())).status_code == 401
        missing = client.get(f"/v1/tasks/{uuid.uuid4()}", headers=headers(key))
        assert missing.status_code == 404 and missing.json() == {"error": "Could not find Task"}
        assert client.get(f"{poll}%00", headers=headers(key)).status_code == 400

        # Another organization's key, known to the server, never sees the task.
        async def other_key() -> str:
            async with services.sessions.begin() as session:
                organization = await create_organization(session, "other", 1, 0)
                return (await create_key(session, organization.id))[1]

        assert client.portal is not None
        other = client.portal.call(other_key)
        assert client.get("/v1/organization", headers=headers(other)).status_code == 200  # now known
        assert client.get(poll, headers=headers(other)).status_code == 404
        assert len(answered) == count  # none of these was answered ahead of the app

        # The access log and the metrics name the route either way.
        served = services.telemetry.http_requests.labels("GET", ROUTE, "200")._value.get()
        assert served >= count + 1
