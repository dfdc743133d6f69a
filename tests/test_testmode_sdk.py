"""Simulated outcomes chosen with `X-Taxiway-Simulate`, driven through the official Python SDK."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from runwayml import BadRequestError, NotFoundError, RateLimitError, RunwayML
from runwayml.lib.polling import TaskFailedError

from support.clients import balance, sdk
from support.server import Server

HEADER = "X-Taxiway-Simulate"
PRICE = 8  # gen4_image at 1920:1080


@pytest.fixture(scope="module")
def test_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = Server(tmp_path_factory.mktemp("testmode"), env={"TAXIWAY_TEST_MODE": "1"}).start()
    yield srv
    srv.stop()


def simulating(server: Server, header: str) -> RunwayML:
    return sdk(server, default_headers={HEADER: header})


def create(client: RunwayML, prompt: str) -> str:
    return client.text_to_image.create(model="gen4_image", prompt_text=prompt, ratio="1920:1080").id


def wait_status(client: RunwayML, task_id: str, *statuses: str, timeout: float = 20) -> str:
    deadline = time.monotonic() + timeout
    status = "?"
    while time.monotonic() < deadline:
        status = client.tasks.retrieve(task_id).status
        if status in statuses:
            return status
        time.sleep(0.05)
    raise AssertionError(f"task {task_id} never reached {statuses}; last {status}")


def test_failure_kept_charge_for_input_moderation(test_server: Server) -> None:
    client = simulating(test_server, "failure=SAFETY.INPUT.TEXT")
    before = balance(test_server)
    created = client.text_to_image.create(model="gen4_image", prompt_text="flagged", ratio="1920:1080")
    with pytest.raises(TaskFailedError) as info:
        created.wait_for_task_output(timeout=20)
    failed = info.value.task_details
    assert failed.status == "FAILED"
    assert failed.failure_code == "SAFETY.INPUT.TEXT"
    assert "moderation" in failed.failure
    assert failed.cost.credits == PRICE
    assert balance(test_server) == before - PRICE
    assert "simulated failure SAFETY.INPUT.TEXT" in test_server.log()


def test_internal_failure_refunded_via_sdk_custom_headers_env(
    test_server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RUNWAYML_CUSTOM_HEADERS", f"{HEADER}: failure=INTERNAL")
    client = sdk(test_server)
    before = balance(test_server)
    created = client.text_to_image.create(model="gen4_image", prompt_text="oops", ratio="1920:1080")
    with pytest.raises(TaskFailedError) as info:
        created.wait_for_task_output(timeout=20)
    failed = info.value.task_details
    assert failed.status == "FAILED"
    assert failed.failure_code == "INTERNAL"
    assert failed.cost.credits == 0
    assert balance(test_server) == before


def test_delay_keeps_task_running_with_progress(test_server: Server) -> None:
    client = simulating(test_server, "delay=2s")
    task_id = create(client, "slow on purpose")
    progress = []
    while (task := client.tasks.retrieve(task_id)).status in ("PENDING", "RUNNING"):
        if task.status == "RUNNING":
            progress.append(task.progress)
        time.sleep(0.1)
    assert task.status == "SUCCEEDED"
    assert (datetime.now(UTC) - task.created_at).total_seconds() >= 1.9
    assert len(progress) >= 10
    assert progress == sorted(progress) and progress[-1] > progress[0]


def test_stall_runs_until_deleted(test_server: Server) -> None:
    client = simulating(test_server, "progress=stall")
    task_id = create(client, "stuck")
    wait_status(client, task_id, "RUNNING")
    time.sleep(1.5)
    task = client.tasks.retrieve(task_id)
    assert task.status == "RUNNING"
    assert task.progress == pytest.approx(0.5)
    client.tasks.delete(task_id)
    with pytest.raises(NotFoundError):
        client.tasks.retrieve(task_id)


def test_throttled_for_a_while_then_succeeds(test_server: Server) -> None:
    client = simulating(test_server, "status=THROTTLED:2s")
    task_id = create(client, "held back")
    assert client.tasks.retrieve(task_id).status == "THROTTLED"
    time.sleep(1.0)
    assert client.tasks.retrieve(task_id).status == "THROTTLED"
    assert wait_status(client, task_id, "SUCCEEDED") == "SUCCEEDED"
    task = client.tasks.retrieve(task_id)
    assert (datetime.now(UTC) - task.created_at).total_seconds() >= 1.9


def test_http_503_twice_then_sdk_retry_succeeds(test_server: Server) -> None:
    marker = "simulated HTTP 503 on attempt"
    seen = test_server.log().count(marker)
    client = simulating(test_server, "http=503:2").with_options(max_retries=2)
    task_id = create(client, "flaky gateway")
    assert test_server.log().count(marker) == seen + 2
    assert wait_status(client, task_id, "SUCCEEDED") == "SUCCEEDED"


def test_http_429_without_retries_raises_rate_limit(test_server: Server) -> None:
    client = simulating(test_server, "http=429")
    before = balance(test_server)
    with pytest.raises(RateLimitError) as info:
        create(client, "too eager")
    assert info.value.response.headers["retry-after"]
    assert isinstance(info.value.body, dict) and info.value.body["error"]
    assert balance(test_server) == before


def test_unknown_directive_is_rejected_naming_the_header(test_server: Server) -> None:
    with pytest.raises(BadRequestError) as info:
        create(simulating(test_server, "explode=now"), "bad header")
    assert HEADER in str(info.value)


def test_production_ignores_the_header(server: Server) -> None:
    for header in ("failure=INTERNAL", "http=503", "explode=now"):
        created = simulating(server, header).text_to_image.create(
            model="gen4_image", prompt_text="real work", ratio="1920:1080"
        )
        assert created.wait_for_task_output(timeout=30).status == "SUCCEEDED"
    assert "simulated" not in server.log()
