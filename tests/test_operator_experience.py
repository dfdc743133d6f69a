"""What an operator sees: logs, /metrics, the CLI's task views, the first start, a lean install."""

from __future__ import annotations

import asyncio
import json
import re
import socket
import time
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from rich.console import Console
from runwayml import RunwayML
from typer.testing import CliRunner

from support.clients import sdk
from support.lean_serve import NOT_INSTALLED
from support.server import READY_TIMEOUT, TESTS_DIR, Server
from taxiway import cli, cli_tasks, serving
from taxiway.accounts.keys import generate_key
from taxiway.bootstrap import ensure_default_account
from taxiway.catalog import CATALOG
from taxiway.config import Settings
from taxiway.db.engine import create_engine, session_factory
from taxiway.engines.audio.warmup import WARMERS

SIMULATE = "X-Taxiway-Simulate"
TOKEN = "metrics-secret"
WARMED = "deepfilternet-isolation"
OTHER_AUDIO_MODELS = [
    model for (_endpoint, model), spec in CATALOG.items() if spec.engine in WARMERS and spec.engine != WARMED
]


def wait_for(predicate: Callable[[], bool], what: str, timeout: float = READY_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(0.1)


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def json_lines(server: Server) -> list[dict[str, object]]:
    lines = []
    for line in server.log().splitlines():
        if line.startswith("{"):
            lines.append(json.loads(line))
    return lines


def first_key(server: Server) -> dict[str, object] | None:
    return next((r for r in json_lines(server) if r.get("event") == "first_run.key"), None)


@pytest.fixture(scope="module")
def observed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A first start (no bootstrap key) of `taxiway serve` as `make run` installs it (no gpu extra, no
    dev tools): test mode, JSON logs at INFO, a metrics token and the audio warm-up."""
    srv = Server(
        tmp_path_factory.mktemp("observed"),
        command=("-m", "support.lean_serve", "serve"),
        bootstrap=False,
        env={
            "TAXIWAY_LOG_LEVEL": "info",
            "TAXIWAY_LOG_FORMAT": "json",
            "TAXIWAY_TEST_MODE": "1",
            "TAXIWAY_METRICS_TOKEN": TOKEN,
            # Warm-up covers the audio engines in use: here only voice isolation's (the other audio
            # models are mapped elsewhere, which keeps the test light).
            "TAXIWAY_AUDIO_WARMUP": "1",
            "TAXIWAY_ENGINES": json.dumps(dict.fromkeys(OTHER_AUDIO_MODELS, "procedural-sound-effects")),
        },
    ).start()
    try:
        process = srv.process
        assert process is not None
        wait_for(lambda: first_key(srv) is not None or process.poll() is not None, "the first start's key")
        shown = first_key(srv)
        assert shown is not None, srv.log()
        srv.key = str(shown["RUNWAYML_API_SECRET"])
        yield srv
    finally:
        srv.stop()


def test_first_start_shows_the_key_once_listening_without_the_gpu_extra(observed: Server) -> None:
    """The fixture's server runs without torch and the dev tools; its key came after it listened."""
    records = json_lines(observed)
    listening = next(i for i, r in enumerate(records) if r["message"] == "Application startup complete.")
    shown = next(i for i, r in enumerate(records) if r.get("event") == "first_run.key")
    assert listening < shown
    assert records[shown]["RUNWAYML_BASE_URL"] == observed.base_url and "time" in records[shown]
    assert sum(r.get("event") == "first_run.key" for r in records) == 1
    assert sdk(observed).organization.retrieve().credit_balance == 10_000

    # A later start finds the organization: no key, and the greeting says how to make one.
    settings = Settings(data_dir=observed.data_dir, port=observed.port)

    async def later_start() -> str | None:
        database = create_engine(settings.resolved_database_url)
        try:
            return await ensure_default_account(session_factory(database), settings)
        finally:
            await database.dispose()

    assert asyncio.run(later_start()) is None


def test_greetings_a_key_box_or_how_to_make_a_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    settings = Settings(data_dir=tmp_path, port=8123)
    key = generate_key()
    lines = ("export RUNWAYML_BASE_URL=http://127.0.0.1:8123", f"export RUNWAYML_API_SECRET={key}")
    monkeypatch.setenv("COLUMNS", "200")
    with caplog.at_level("INFO", logger="taxiway"):
        serving.greet(settings, [key])
    assert caplog.messages == ["taxiway listening on http://127.0.0.1:8123"]
    caplog.clear()
    boxed = capsys.readouterr().err.splitlines()
    assert boxed[0].startswith("╭") and boxed[-1].startswith("╰")
    for line in lines:
        assert any(row.startswith("│") and line in row for row in boxed), boxed
    monkeypatch.setenv("COLUMNS", "80")  # too narrow for a box: the lines stay whole, to copy
    serving.greet(settings, [key])
    narrow = capsys.readouterr().err.splitlines()
    assert all(line in narrow for line in lines) and "taxiway keys create" in "\n".join(narrow)

    with caplog.at_level("INFO", logger="taxiway"):
        serving.greet(settings, [])
    assert capsys.readouterr().err == ""
    assert caplog.messages == [
        "taxiway listening on http://127.0.0.1:8123; make an API key with `taxiway keys create` "
        "(--org NAME for another organization; keys are shown once)"
    ]


def test_a_busy_port_stops_serve_before_anything_is_created(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        args = ["serve", "--host", "127.0.0.1", "--port", str(port), "--data-dir", str(data)]
        result = CliRunner().invoke(cli.app, args)
    assert result.exit_code == 1, result.output
    assert f"cannot listen on 127.0.0.1:{port}" in result.output and "TAXIWAY_PORT" in result.output
    assert not data.exists()  # no database, no key made and never shown


def test_make_run_installs_neither_the_gpu_extra_nor_the_dev_tools() -> None:
    project = tomllib.loads((TESTS_DIR.parent / "pyproject.toml").read_text())["project"]
    served = {re.split(r"[\[<>=!~ ;]", requirement)[0].lower() for requirement in project["dependencies"]}
    assert not served & {*NOT_INSTALLED, "mypy", "ruff"}
    assert {"torch", "diffusers"} <= {
        re.split(r"[\[<>=!~ ;]", r)[0] for r in project["optional-dependencies"]["gpu"]
    }


def image(client: RunwayML, simulate: str | None = None) -> str:
    headers = {SIMULATE: simulate} if simulate else None
    created = client.text_to_image.create(
        model="gen4_image", prompt_text="a red lighthouse", ratio="720:720", extra_headers=headers
    )
    return created.id


def test_lifecycle_lines_access_log_and_metrics(observed: Server) -> None:
    client = sdk(observed)
    succeeded = image(client)
    failed = image(client, "failure=SAFETY.INPUT.TEXT")
    stalled = image(client, "progress=stall")
    for task_id, status in ((succeeded, "SUCCEEDED"), (failed, "FAILED"), (stalled, "RUNNING")):
        wait_for(lambda t=task_id, s=status: client.tasks.retrieve(t).status == s, f"{task_id} {status}")
    client.tasks.delete(stalled)

    assert httpx.get(f"{observed.base_url}/metrics").status_code == 401
    scrape = httpx.get(f"{observed.base_url}/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert scrape.status_code == 200
    assert scrape.headers["content-type"].startswith("text/plain")
    found = samples(scrape.text)

    def value(name: str, **labels: str) -> float:
        return found.get((name, frozenset(labels.items())), 0.0)

    model = {"endpoint": "text_to_image", "model": "gen4_image"}
    assert value("taxiway_tasks_created_total", **model) == 3
    assert value("taxiway_tasks_finished_total", **model, status="SUCCEEDED") == 1
    assert value("taxiway_tasks_finished_total", **model, status="FAILED") == 1
    assert value("taxiway_tasks_finished_total", **model, status="CANCELLED") == 1
    assert value("taxiway_task_failures_total", model="gen4_image", code="SAFETY.INPUT.TEXT") == 1
    # 5 credits each: the success, the moderation failure (kept) and the cancelled run (kept).
    assert value("taxiway_credits_spent_total", model="gen4_image") == 15
    run = {"model": "gen4_image", "engine": "procedural-image", "status": "SUCCEEDED"}
    assert value("taxiway_task_run_seconds_count", **run) == 1
    assert value("taxiway_task_queue_seconds_count", model="gen4_image") == 3
    assert value("taxiway_queue_depth") == 0
    route = {"method": "GET", "route": "/v1/tasks/{task_id}", "status": "200"}
    assert value("taxiway_http_requests_total", **route) >= 3
    assert value("taxiway_http_requests_total", method="GET", route="/metrics", status="401") == 1
    assert ("process_resident_memory_bytes", frozenset()) in found

    records = json_lines(observed)
    events = {(r.get("event"), r.get("task_id")): r for r in records if str(r.get("event"))[:5] == "task."}
    for task_id, kinds in (
        (succeeded, ("created", "started", "succeeded")),
        (failed, ("created", "started", "failed")),
        (stalled, ("created", "started", "cancelled")),
    ):
        for kind in kinds:
            assert (f"task.{kind}", task_id) in events, f"no task.{kind} line for {task_id}"
    done = events[("task.succeeded", succeeded)]
    assert done["model"] == "gen4_image" and done["engine"] == "procedural-image"
    assert done["credits"] == 5 and isinstance(done["seconds"], float) and done["level"] == "INFO"
    assert str(done["message"]).startswith(f"task {succeeded} succeeded: gen4_image on procedural-image in")
    assert events[("task.failed", failed)]["failure_code"] == "SAFETY.INPUT.TEXT"
    assert events[("task.created", succeeded)]["credits"] == 5

    access = [r for r in records if r.get("event") == "http.request"]
    posts = [r for r in access if r["method"] == "POST" and r["path"] == "/v1/text_to_image"]
    assert len(posts) == 3 and all(r["status"] == 200 for r in posts)
    assert any(r["path"] == f"/v1/tasks/{stalled}" and r["status"] == 204 for r in access)
    assert all(isinstance(r["duration_ms"], float) for r in access)
    assert "sig=" not in observed.log()  # signed output URLs never reach the logs


def test_tasks_cli_lists_shows_and_watches(observed: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    client = sdk(observed)
    failed = image(client, "failure=INTERNAL")
    slow = image(client, "delay=1s")
    for module in (cli, cli_tasks):  # an 80-column terminal
        monkeypatch.setattr(module, "console", Console(width=80))
    runner = CliRunner()
    env = observed.full_env()

    def run(*args: str, status: int = 0) -> str:
        result = runner.invoke(cli.app, list(args), env=env)
        assert result.exit_code == status, result.output
        return result.output

    watched = run("tasks", "watch", slow, "--interval", "0.1")
    assert f"{slow} SUCCEEDED, 5 credits" in watched
    assert f"{observed.base_url}/outputs/tasks/{slow}/" in watched
    assert f"{failed} FAILED: INTERNAL" in run("tasks", "watch", failed, status=1)

    listing = run("tasks", "list", "--limit", "50")
    assert max(len(line) for line in listing.splitlines()) <= 80
    ids = re.findall(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", listing)
    assert slow in ids and failed in ids
    failed_only = run("tasks", "list", "--status", "failed")
    assert failed in failed_only and "SUCCEEDED" not in failed_only and slow not in failed_only
    assert "--status" in run("tasks", "list", "--status", "DONE", status=2)

    shown = run("tasks", "show", slow)
    assert slow in shown and "SUCCEEDED" in shown and '"promptText": "a red lighthouse"' in shown
    url = next(line for line in shown.splitlines() if line.startswith(observed.base_url))
    assert httpx.get(url).status_code == 200
    assert "no task" in run("tasks", "show", "0" * 8, status=1)

    organizations = run("orgs", "list")
    assert max(len(line) for line in organizations.splitlines()) <= 80
    assert re.search(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", organizations)
    for table in (listing, organizations):  # dates whole, each above its time: nothing cut at the edge
        assert re.search(r"\b20\d\d-\d\d-\d\d\s*\n.*\b\d\d:\d\d:\d\d\b", table), table


def test_audio_warm_up_at_start(observed: Server) -> None:
    wait_for(lambda: "audio warm-up done" in observed.log(), "the audio warm-up", timeout=300)
    warmed = [r for r in json_lines(observed) if str(r["message"]).startswith("audio engine ")]
    assert [r["engine"] for r in warmed] == [WARMED]
    done = next(r for r in json_lines(observed) if r.get("event") == "audio.warm")
    assert done["engines"] == [WARMED] and done["level"] == "INFO"


def test_access_log_can_be_turned_off(caplog: pytest.LogCaptureFixture) -> None:
    from types import SimpleNamespace

    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from taxiway.api.access_log import AccessLog
    from taxiway.observability.telemetry import Telemetry

    for enabled in (True, False):
        app = FastAPI()
        app.get("/items/{item}")(lambda item: {"item": item})
        telemetry = Telemetry()
        app.state.taxiway = SimpleNamespace(telemetry=telemetry)  # what the lifespan sets in the server
        app.add_middleware(AccessLog, log_requests=enabled)
        caplog.clear()
        with caplog.at_level("INFO", logger="taxiway.access"), TestClient(app) as client:
            assert client.get("/items/7?sig=secret").status_code == 200
        lines = [r.getMessage() for r in caplog.records if r.name == "taxiway.access"]
        if enabled:
            assert len(lines) == 1 and re.search(r'"GET /items/7 HTTP/1.1" 200 [0-9.]+ ms$', lines[0]), lines
        else:
            assert lines == []
        counted = telemetry.http_requests.labels("GET", "/items/{item}", "200")._value.get()
        assert counted == 1  # metrics are kept either way
