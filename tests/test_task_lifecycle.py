"""Queueing, throttling, cancellation and crash recovery, observed through the official SDK."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from runwayml import NotFoundError, RunwayML
from runwayml.lib.polling import TaskFailedError

from support.clients import balance, sdk
from support.server import Server

SLOW = json.dumps({"gen4_image": "support.engines:SlowImageEngine"})
PRICE = 8  # gen4_image at 1920:1080


def slow_server(make_server: Callable[..., Server], tmp_path: Path, seconds: float, **env: str) -> Server:
    log_dir = tmp_path / "engine-log"
    log_dir.mkdir(exist_ok=True)
    return make_server(
        TAXIWAY_ENGINES=SLOW,
        TAXIWAY_TEST_ENGINE_SECONDS=str(seconds),
        TAXIWAY_TEST_ENGINE_LOG=str(log_dir),
        **env,
    )


def submit(client: RunwayML, prompt: str = "slow") -> str:
    return client.text_to_image.create(model="gen4_image", prompt_text=prompt, ratio="1920:1080").id


def wait_status(client: RunwayML, task_id: str, *statuses: str, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = client.tasks.retrieve(task_id).status
        if status in statuses:
            return status
        time.sleep(0.05)
    raise AssertionError(f"task {task_id} never reached {statuses}; last {status}")


def engine_events(tmp_path: Path, task_id: str) -> set[str]:
    return {p.suffix.lstrip(".") for p in (tmp_path / "engine-log").glob(f"{task_id}.*")}


def test_running_reports_progress(make_server: Callable[..., Server], tmp_path: Path) -> None:
    client = sdk(slow_server(make_server, tmp_path, seconds=3))
    task_id = submit(client)
    wait_status(client, task_id, "RUNNING")
    progress = []
    for _ in range(40):
        task = client.tasks.retrieve(task_id)
        if task.status != "RUNNING":
            break
        assert task.estimated_cost.credits == PRICE
        progress.append(task.progress)
        time.sleep(0.1)
    assert progress == sorted(progress)
    assert progress[-1] > progress[0]
    assert all(0 <= p <= 1 for p in progress)


def test_throttled_beyond_tier_concurrency_then_runs_in_order(
    make_server: Callable[..., Server], tmp_path: Path
) -> None:
    server = slow_server(make_server, tmp_path, seconds=1.5)
    client = sdk(server)
    ids = [submit(client, f"task {i}") for i in range(4)]  # tier 1 runs 2 at once per model
    statuses = [client.tasks.retrieve(i).status for i in ids]
    assert statuses[2:] == ["THROTTLED", "THROTTLED"]
    assert all(s in ("PENDING", "RUNNING") for s in statuses[:2])
    for task_id in ids:
        assert wait_status(client, task_id, "SUCCEEDED", timeout=30) == "SUCCEEDED"
    started = [float((tmp_path / "engine-log" / f"{i}.started").read_text()) for i in ids]
    assert started[2] <= started[3]
    assert max(started[:2]) < started[2]


def test_cancel_queued_task_refunds(make_server: Callable[..., Server], tmp_path: Path) -> None:
    server = slow_server(make_server, tmp_path, seconds=3)
    client = sdk(server)
    before = balance(server)
    running = [submit(client), submit(client)]
    queued = submit(client)
    assert client.tasks.retrieve(queued).status == "THROTTLED"
    assert balance(server) == before - 3 * PRICE
    client.tasks.delete(queued)
    with pytest.raises(NotFoundError):
        client.tasks.retrieve(queued)
    assert balance(server) == before - 2 * PRICE
    for task_id in running:
        wait_status(client, task_id, "SUCCEEDED")
    assert "started" not in engine_events(tmp_path, queued)
    assert balance(server) == before - 2 * PRICE


def test_cancel_running_task_stops_the_engine(make_server: Callable[..., Server], tmp_path: Path) -> None:
    server = slow_server(make_server, tmp_path, seconds=20, TAXIWAY_WORKERS="1")
    client = sdk(server)
    before = balance(server)
    task_id = submit(client)
    wait_status(client, task_id, "RUNNING")
    client.tasks.delete(task_id)
    with pytest.raises(NotFoundError):
        client.tasks.retrieve(task_id)
    deadline = time.monotonic() + 5
    while "stopped" not in engine_events(tmp_path, task_id) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert engine_events(tmp_path, task_id) == {"started", "stopped"}
    # The real API keeps the charge of a task cancelled while running.
    assert balance(server) == before - PRICE
    # The only worker is free again: the next task runs.
    next_id = submit(client, "after cancel")
    wait_status(client, next_id, "RUNNING", timeout=10)
    assert not list((server.data_dir / "blobs").glob(f"tasks/{task_id}/*"))


def test_engine_crash_fails_task_and_refunds(make_server: Callable[..., Server]) -> None:
    server = make_server(TAXIWAY_ENGINES=json.dumps({"gemini_2.5_flash": "support.engines:BrokenEngine"}))
    client = sdk(server)
    before = balance(server)
    created = client.text_to_image.create(model="gemini_2.5_flash", prompt_text="boom", ratio="1024:1024")
    with pytest.raises(TaskFailedError) as info:
        created.wait_for_task_output(timeout=30)
    failed = info.value.task_details
    assert failed.status == "FAILED"
    assert failed.failure_code == "INTERNAL"
    assert failed.cost.credits == 0
    assert balance(server) == before
    assert "model exploded" in server.log()


def test_restart_reruns_interrupted_task(make_server: Callable[..., Server], tmp_path: Path) -> None:
    server = slow_server(make_server, tmp_path, seconds=2)
    client = sdk(server)
    before = balance(server)
    task_id = submit(client, "survives a crash")
    queued = [submit(client, "queued 1"), submit(client, "queued 2")]
    wait_status(client, task_id, "RUNNING")
    server.kill()
    server.start()
    for tid in (task_id, *queued):
        assert wait_status(client, tid, "SUCCEEDED", timeout=30) == "SUCCEEDED"
    task = client.tasks.retrieve(task_id)
    assert task.status == "SUCCEEDED"
    assert httpx.get(task.output[0]).status_code == 200
    assert balance(server) == before - 3 * PRICE


def test_restart_gives_up_after_max_attempts(make_server: Callable[..., Server], tmp_path: Path) -> None:
    server = slow_server(make_server, tmp_path, seconds=30, TAXIWAY_MAX_TASK_ATTEMPTS="1")
    client = sdk(server)
    before = balance(server)
    task_id = submit(client, "doomed")
    wait_status(client, task_id, "RUNNING")
    server.kill()
    server.start()
    task = client.tasks.retrieve(task_id)
    assert task.status == "FAILED"
    assert task.failure_code == "INTERNAL"
    assert task.cost.credits == 0
    assert balance(server) == before


def test_graceful_stop_requeues_running_task(make_server: Callable[..., Server], tmp_path: Path) -> None:
    server = slow_server(make_server, tmp_path, seconds=1.5)
    client = sdk(server)
    task_id = submit(client, "interrupted politely")
    wait_status(client, task_id, "RUNNING")
    server.stop()
    assert "stopped" in engine_events(tmp_path, task_id)
    server.start()
    assert wait_status(client, task_id, "SUCCEEDED", timeout=30) == "SUCCEEDED"
