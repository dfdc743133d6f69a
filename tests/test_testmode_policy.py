"""Standing simulations set from the CLI: a whole organization, or one key, behaves like flaky production."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable

import pytest
from runwayml.lib.polling import TaskFailedError

from support.clients import sdk
from support.server import Server
from taxiway.testmode.policy import Policy, draw, parse_policy
from taxiway.testmode.simulate import SimulationError


def test_parse_policy() -> None:
    assert parse_policy(["failure-rate=0.1", "code=SAFETY.INPUT.TEXT", "latency=2s..6s"]) == Policy(
        0.1, "SAFETY.INPUT.TEXT", 2.0, 6.0
    )
    for bad in (["failure-rate=2"], ["code=lower.case"], ["latency=6s..2s"], ["speed=1"], []):
        with pytest.raises(SimulationError):
            parse_policy(bad)


def test_draws_are_deterministic_and_follow_the_rate() -> None:
    policy = Policy(failure_rate=0.25, code="INTERNAL", latency_min=1, latency_max=3)
    outcomes = [draw(policy, "key", f'{{"seed": {i}}}'.encode()) for i in range(400)]
    assert outcomes == [draw(policy, "key", f'{{"seed": {i}}}'.encode()) for i in range(400)]
    failures = sum(1 for o in outcomes if o is not None and o.failure == "INTERNAL")
    assert 60 < failures < 140
    assert all(o is not None and o.delay is not None and 1 <= o.delay <= 3 for o in outcomes)


def test_cli_policy_fails_tasks_until_cleared(make_server: Callable[..., Server]) -> None:
    server = make_server(TAXIWAY_TEST_MODE="1")
    client = sdk(server)
    server.cli("simulate", "set", "default", "failure-rate=1", "code=SAFETY.INPUT.TEXT")
    created = client.text_to_image.create(model="gen4_image", prompt_text="flaky", ratio="1024:1024")
    with pytest.raises(TaskFailedError) as info:
        created.wait_for_task_output(timeout=30)
    assert info.value.task_details.failure_code == "SAFETY.INPUT.TEXT"
    server.cli("simulate", "set", "default", "failure-rate=0", "latency=1s..1s")
    started = time.monotonic()
    task = client.text_to_image.create(model="gen4_image", prompt_text="slow", ratio="1024:1024")
    assert task.wait_for_task_output(timeout=30).status == "SUCCEEDED"
    assert time.monotonic() - started >= 0.9
    server.cli("simulate", "clear", "default")
    assert "simulated by policy" in server.log()


def test_cli_refuses_outside_test_mode(make_server: Callable[..., Server]) -> None:
    server = make_server()
    with pytest.raises(subprocess.CalledProcessError):
        server.cli("simulate", "set", "default", "failure-rate=1")


def test_output_urls_expire_when_the_test_clock_moves(make_server: Callable[..., Server]) -> None:
    import httpx

    server = make_server(TAXIWAY_TEST_MODE="1")
    client = sdk(server)
    task = client.text_to_image.create(model="gen4_image", prompt_text="ages", ratio="1024:1024")
    url = task.wait_for_task_output(timeout=30).output[0]
    assert httpx.get(url).status_code == 200
    server.cli("clock", "advance", "25h")
    deadline = time.monotonic() + 120
    while httpx.get(url).status_code == 200 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert httpx.get(url).status_code == 403
    fresh = client.tasks.retrieve(task.id)
    assert fresh.status == "SUCCEEDED"
    assert httpx.get(fresh.output[0]).status_code == 200
