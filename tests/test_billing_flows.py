"""Credits, limits and usage through the official SDK: what the account side of the API promises."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from runwayml import BadRequestError, RateLimitError, RunwayML
from runwayml.lib.polling import TaskFailedError

from support.clients import balance, sdk
from support.server import Server
from taxiway import API_VERSION
from taxiway.billing.ledger import INSUFFICIENT_CREDITS
from taxiway.catalog import CATALOG

SCRIPTED = "support.billing_engines:ScriptedEngine"
PRICE = 5  # gen4_image at 1280:720, gemini_2.5_flash
TERMINAL = ("SUCCEEDED", "FAILED", "CANCELLED")


def scripted_server(make_server: Callable[..., Server], tmp_path: Path, seconds: float, **env: str) -> Server:
    """gen4_image, gemini_2.5_flash and veo3.1 run the prompt-driven engine of `support.billing_engines`."""
    log_dir = tmp_path / "engine-log"
    log_dir.mkdir(exist_ok=True)
    engines = dict.fromkeys(("gen4_image", "gemini_2.5_flash", "veo3.1"), SCRIPTED)
    return make_server(
        TAXIWAY_ENGINES=json.dumps(engines),
        TAXIWAY_TEST_ENGINE_SECONDS=str(seconds),
        TAXIWAY_TEST_ENGINE_LOG=str(log_dir),
        **env,
    )


def submit(client: RunwayML, prompt: str = "ok", model: str = "gen4_image") -> str:
    ratio = "1024:1024" if model == "gemini_2.5_flash" else "1280:720"
    created = client.text_to_image.create(model=model, prompt_text=prompt, ratio=ratio)
    assert created.estimated_cost.credits == PRICE
    return created.id


def wait_status(client: RunwayML, task_id: str, *statuses: str, timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        task = client.tasks.retrieve(task_id)
        if task.status in statuses:
            return task
        time.sleep(0.05)
    raise AssertionError(f"task {task_id} never reached {statuses}; last {task.status}")


def net_usage(client: RunwayML) -> dict[str, int]:
    """Net credits per model from yesterday to today, as the usage endpoint reports them."""
    today = datetime.now(UTC).date()
    report = client.organization.retrieve_usage(
        start_date=today - timedelta(days=1), before_date=today + timedelta(days=1)
    )
    totals: Counter[str] = Counter()
    for day in report.results:
        for used in day.used_credits:
            totals[used.model] += used.amount
    assert report.models == sorted(totals)
    return dict(totals)


def books(server: Server) -> tuple[dict[str, tuple[str, int | None]], dict[str, int], int]:
    """Straight from the database: each task's (status, cost), each task's net ledger charge, the balance."""
    with sqlite3.connect(server.data_dir / "taxiway.db") as db:
        tasks = {row[0]: (row[1], row[2]) for row in db.execute("SELECT id, status, cost_credits FROM tasks")}
        charges = dict(
            db.execute(
                "SELECT task_id, -SUM(amount) FROM ledger_entries WHERE task_id IS NOT NULL GROUP BY task_id"
            ).fetchall()
        )
    return tasks, charges, balance(server)


def test_balance_after_success_failures_and_cancels(
    make_server: Callable[..., Server], tmp_path: Path
) -> None:
    server = scripted_server(make_server, tmp_path, seconds=20)
    client = sdk(server)
    start = client.organization.retrieve()
    before = start.credit_balance
    assert before == balance(server)
    assert start.usage.models == {}

    done = client.tasks.retrieve(submit(client))
    assert done.wait_for_task_output(timeout=30).cost.credits == PRICE
    for prompt, model, code, cost in [
        ("crash", "gemini_2.5_flash", "INTERNAL", 0),  # refunded
        ("fail:SAFETY.INPUT.TEXT", "gen4_image", "SAFETY.INPUT.TEXT", PRICE),  # the real API keeps it
    ]:
        task = client.tasks.retrieve(submit(client, prompt, model))
        with pytest.raises(TaskFailedError) as info:
            task.wait_for_task_output(timeout=30)
        assert (info.value.task_details.failure_code, info.value.task_details.cost.credits) == (code, cost)
    assert balance(server) == before - 2 * PRICE

    running = [submit(client, "slow 1"), submit(client, "slow 2")]
    queued = submit(client, "slow 3")
    assert client.tasks.retrieve(queued).status == "THROTTLED"
    wait_status(client, running[0], "RUNNING")
    client.tasks.delete(queued)  # refunded: it never ran
    client.tasks.delete(running[0])  # charged: it was running
    assert wait_status(client, running[1], "RUNNING").estimated_cost.credits == PRICE

    view = client.organization.retrieve()
    # Charged: the success, the input-moderation failure, the task cancelled while running and the
    # one still running (held at its estimate until it ends).
    assert view.credit_balance == balance(server) == before - 4 * PRICE
    daily = {model: used.daily_generations for model, used in view.usage.models.items()}
    assert daily == {"gen4_image": 5, "gemini_2.5_flash": 1}
    assert set(view.tier.models) == {model for _endpoint, model in CATALOG}
    assert view.tier.models["gen4_image"].max_concurrent_generations == 2
    assert net_usage(client) == {"gen4_image": 4 * PRICE, "gemini_2.5_flash": 0}

    tasks, charges, _ = books(server)
    for task_id, (status, cost) in tasks.items():
        assert charges[task_id] == (PRICE if status in ("PENDING", "RUNNING", "THROTTLED") else cost)


def test_usage_request_is_validated(server: Server) -> None:
    client = sdk(server)
    report = client.organization.retrieve_usage()  # defaults: the 30 days before today
    assert all(day.date < datetime.now(UTC).date() for day in report.results)
    headers = {"Authorization": f"Bearer {server.key}", "X-Runway-Version": API_VERSION}
    url = f"{server.base_url}/v1/organization/usage"
    assert httpx.post(url, headers=headers).status_code == 200  # no body at all: every default
    for body, path in [
        ({"startDate": "2026-01-01", "extra": 1}, []),
        ({"startDate": "2026-1-1"}, ["startDate"]),
        ({"beforeDate": "2026-01-01T00:00:00Z"}, ["beforeDate"]),
        ({"startDate": 20260101}, ["startDate"]),
        ({"startDate": "2026-01-01", "beforeDate": "2026-04-02"}, ["beforeDate"]),  # 91 days
        ({"startDate": "2026-01-01", "beforeDate": "2026-01-01"}, ["beforeDate"]),
    ]:
        response = httpx.post(url, headers=headers, json=body)
        assert response.status_code == 400, body
        [issue] = response.json()["issues"]
        assert issue["path"] == path
        if not path:
            assert issue["keys"] == ["extra"]
    ninety = client.organization.retrieve_usage(start_date="2026-01-01", before_date="2026-04-01")
    assert ninety.results == []


def test_throttled_tasks_start_in_turns_across_keys(
    make_server: Callable[..., Server], tmp_path: Path
) -> None:
    server = scripted_server(make_server, tmp_path, seconds=1)
    first = sdk(server)
    second = sdk(server, key=server.cli("keys", "create", "--org", "default").strip())
    a = [submit(first, f"slow a{i}") for i in range(4)]
    b = [submit(second, f"slow b{i}") for i in range(2)]
    assert [first.tasks.retrieve(t).status for t in a[2:] + b] == ["THROTTLED"] * 4
    for task_id in a + b:
        wait_status(first, task_id, "SUCCEEDED")
    started = {t: float((tmp_path / "engine-log" / f"{t}.started").read_text()) for t in a + b}
    # Tier 1 runs two at a time: a0 and a1 first, then the keys take turns, oldest first in each.
    assert max(started[t] for t in a[:2]) < min(started[t] for t in a[2:] + b)
    assert started[a[2]] < started[a[3]] and started[b[0]] < started[b[1]]
    assert started[b[0]] < started[a[3]]


def test_daily_limit_is_a_rolling_24_hours(make_server: Callable[..., Server], tmp_path: Path) -> None:
    server = scripted_server(make_server, tmp_path, seconds=60, TAXIWAY_TEST_MODE="1")
    client = sdk(server)
    first = [submit(client, "slow") for _ in range(100)]
    server.cli("clock", "advance", "12h")

    # The server reads the clock offset once a second (later on a busy machine): wait until a task of
    # another model is created 12 h on. The limit is per model, so it leaves gen4_image's count alone.
    def later() -> timedelta:
        probe = client.tasks.retrieve(submit(client, "slow", "gemini_2.5_flash"))
        return probe.created_at - client.tasks.retrieve(first[-1]).created_at

    deadline = time.monotonic() + 120
    while later() < timedelta(hours=12):
        assert time.monotonic() < deadline, "the server never picked up the new clock"
        time.sleep(0.5)
    second = [submit(client, "slow") for _ in range(100)]
    gap = client.tasks.retrieve(second[0]).created_at - client.tasks.retrieve(first[-1]).created_at
    assert gap >= timedelta(hours=12)
    with pytest.raises(RateLimitError) as info:
        submit(client, "slow")
    assert info.value.status_code == 429
    assert set(info.value.body) == {"error"}
    assert "daily" in info.value.body["error"]
    submit(client, "slow", model="gemini_2.5_flash")  # the limit is per model

    # 24 h after the first hundred they leave the window; the second hundred still count.
    server.cli("clock", "advance", "12h1m")
    deadline = time.monotonic() + 120
    while client.organization.retrieve().usage.models["gen4_image"].daily_generations != 100:
        assert time.monotonic() < deadline, "the server never picked up the new clock"
        time.sleep(0.1)
    submit(client, "slow")
    assert client.organization.retrieve().usage.models["gen4_image"].daily_generations == 101


def test_monthly_spend_cap(make_server: Callable[..., Server], tmp_path: Path) -> None:
    server = scripted_server(make_server, tmp_path, seconds=60, TAXIWAY_BOOTSTRAP_CREDITS="20000")
    client = sdk(server)
    cap = client.organization.retrieve().tier.max_monthly_credit_spend
    accepted = 0
    with pytest.raises(RateLimitError) as info:
        while True:  # veo3.1: 8 s with audio, 320 credits
            created = client.text_to_video.create(model="veo3.1", prompt_text="slow", ratio="1280:720")
            assert created.estimated_cost.credits == 320
            accepted += 1
    assert accepted == cap // 320
    assert "monthly" in info.value.body["error"]
    assert balance(server) == 20_000 - accepted * 320


def test_racing_submissions_never_overdraw(make_server: Callable[..., Server]) -> None:
    server = make_server(TAXIWAY_BOOTSTRAP_CREDITS="40")
    clients = [sdk(server) for _ in range(30)]
    gate = threading.Barrier(len(clients))
    outcomes: list[str] = []

    def race(client: RunwayML) -> None:
        gate.wait()
        try:
            outcomes.append(submit(client))
        except BadRequestError as exc:
            assert exc.body == {"error": INSUFFICIENT_CREDITS}
            outcomes.append("refused")

    threads = [threading.Thread(target=race, args=(client,)) for client in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    accepted = [o for o in outcomes if o != "refused"]
    assert len(accepted) == 40 // PRICE and len(outcomes) == 30
    for task_id in accepted:
        assert wait_status(clients[0], task_id, *TERMINAL).status == "SUCCEEDED"
    tasks, charges, left = books(server)
    assert left == 0 == clients[0].organization.retrieve().credit_balance
    assert charges == {task_id: PRICE for task_id in accepted} and set(tasks) == set(accepted)


def test_books_balance_after_a_crash(make_server: Callable[..., Server], tmp_path: Path) -> None:
    server = scripted_server(make_server, tmp_path, seconds=2)
    client = sdk(server)
    before = balance(server)
    slow = [submit(client, "slow") for _ in range(2)]
    failed = [submit(client, "crash", "gemini_2.5_flash"), submit(client, "fail:SAFETY.INPUT.TEXT")]
    slow += [submit(client, "slow") for _ in range(3)]
    wait_status(client, slow[0], "RUNNING")
    client.tasks.delete(slow[0])  # cancelled while running: charged
    client.tasks.delete(slow[-1])  # cancelled while queued: refunded

    stop, sent = threading.Event(), []

    def keep_submitting() -> None:
        """Requests in flight when the server dies: accepted or not, the books must agree."""
        with sdk(server) as own:
            while not stop.is_set():
                try:
                    sent.append(submit(own, "ok", "gemini_2.5_flash"))
                except Exception:
                    return

    background = threading.Thread(target=keep_submitting)
    background.start()
    while len(sent) < 5 and background.is_alive():
        time.sleep(0.01)
    assert client.tasks.retrieve(slow[1]).status == "RUNNING"
    server.kill()
    stop.set()
    background.join()
    server.start()

    deadline = time.monotonic() + 60
    while any(status not in TERMINAL for status, _cost in books(server)[0].values()):
        assert time.monotonic() < deadline, "tasks never finished after the restart"
        time.sleep(0.2)
    tasks, charges, after = books(server)
    assert len(tasks) >= len(slow) + len(failed) + len(sent)
    for task_id, (_status, cost) in tasks.items():
        assert charges[task_id] == cost, task_id
    assert after == before - sum(cost or 0 for _status, cost in tasks.values())
    costs = [client.tasks.retrieve(t).cost.credits for t in [*failed, *slow[1:4]]]
    assert costs == [0, PRICE, PRICE, PRICE, PRICE]
    assert [tasks[t] for t in (slow[0], slow[-1])] == [("CANCELLED", PRICE), ("CANCELLED", 0)]
    # The balance, month spend and daily usage kept on the side agree with the ledger too.
    assert "books agree" in server.cli("orgs", "check")


def test_operator_cli(make_server: Callable[..., Server]) -> None:
    server = make_server()
    client = sdk(server)
    before = balance(server)
    assert "balance" in server.cli("orgs", "credit", "default", "+500", "--note", "top-up")
    server.cli("orgs", "credit", "default", "-200")
    assert balance(server) == before + 300
    with pytest.raises(subprocess.CalledProcessError) as refused:
        server.cli("orgs", "credit", "default", f"-{before + 301}")
    assert "cannot remove" in refused.value.stdout
    assert balance(server) == before + 300

    server.cli("orgs", "tier", "default", "3")
    deadline = time.monotonic() + 10  # keys are cached for a moment
    while client.organization.retrieve().tier.max_monthly_credit_spend != 200_000:
        assert time.monotonic() < deadline
        time.sleep(0.2)

    client.tasks.retrieve(submit(client)).wait_for_task_output(timeout=30)
    table = server.cli("orgs", "usage", "default", "--days", "2")
    assert "gen4_image" in table and str(PRICE) in table
    with pytest.raises(subprocess.CalledProcessError) as no_test_mode:
        server.cli("clock", "advance", "1h")
    assert "test mode" in no_test_mode.value.stdout
