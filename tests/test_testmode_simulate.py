"""The `X-Taxiway-Simulate` parser and the pure helpers around it."""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from hypothesis import given
from hypothesis import strategies as st

from taxiway.db.engine import alembic_config
from taxiway.db.tables import Task
from taxiway.engines.base import Artifact, EngineRequest, RunContext, TaskCancelled
from taxiway.errors import Failure
from taxiway.testmode import Simulation, SimulationError, parse, parse_duration, runtime

CODES = st.from_regex(r"[A-Z][A-Z0-9_]{0,8}(\.[A-Z0-9_]{1,8}){0,3}", fullmatch=True)
MILLIS = st.integers(min_value=1, max_value=3_600_000)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("", Simulation()),
        ("failure=SAFETY.INPUT.TEXT", Simulation(failure="SAFETY.INPUT.TEXT")),
        ("delay=8s", Simulation(delay=8.0)),
        ("delay=500ms", Simulation(delay=0.5)),
        ("delay=1m30s", Simulation(delay=90.0)),
        ("progress=stall", Simulation(stall=True)),
        ("status=THROTTLED:2s", Simulation(throttle=2.0)),
        ("http=503:2", Simulation(http_status=503, http_times=2)),
        ("http=429", Simulation(http_status=429)),
        (
            " delay=1s ; failure=INTERNAL, http=500:1;",
            Simulation(failure="INTERNAL", delay=1.0, http_status=500, http_times=1),
        ),
    ],
)
def test_parse(header: str, expected: Simulation) -> None:
    assert parse(header) == expected


@pytest.mark.parametrize(
    "header",
    [
        "explode=1",
        "failure",
        "failure=safety.input",
        "failure=SAFETY..INPUT",
        "delay=8",
        "delay=0s",
        "delay=2d",
        "delay=2h",
        "progress=slow",
        "status=PENDING:2s",
        "status=THROTTLED",
        "http=200",
        "http=503:0",
        "http=abc",
        "delay=1s;delay=2s",
        "progress=stall;failure=INTERNAL",
        "progress=stall;delay=1s",
        "DELAY=1s",
    ],
)
def test_parse_rejects(header: str) -> None:
    with pytest.raises(SimulationError):
        parse(header)


@given(MILLIS)
def test_durations_round_trip(millis: int) -> None:
    assert parse_duration(f"{millis}ms") == pytest.approx(millis / 1000)
    assert parse(f"delay={millis}ms").delay == pytest.approx(millis / 1000)


@given(CODES, st.sampled_from([";", ","]), st.integers(min_value=400, max_value=599))
def test_directives_combine_in_any_separator(code: str, separator: str, status: int) -> None:
    simulation = parse(f"failure={code}{separator}http={status}")
    assert simulation == Simulation(failure=code, http_status=status)


@given(st.text(max_size=40))
def test_parse_never_fails_unexpectedly(header: str) -> None:
    with contextlib.suppress(SimulationError):
        parse(header)


@given(
    st.builds(
        Simulation,
        failure=st.none() | CODES,
        delay=st.none() | st.floats(min_value=0.001, max_value=3600),
        throttle=st.none() | st.floats(min_value=0.001, max_value=3600),
    )
)
def test_stored_form_round_trips(simulation: Simulation) -> None:
    task = Task(params={"model": "gen4_image"}, simulation=runtime.stored(simulation))
    assert runtime.of_task(task) == (simulation if simulation.affects_task else None)
    assert task.params == {"model": "gen4_image"}  # beside the params, never inside them


def test_header_ignored_outside_test_mode() -> None:
    assert runtime.from_headers({"X-Taxiway-Simulate": "explode=1"}, test_mode=False) is None
    assert runtime.from_headers({}, test_mode=True) is None


def test_failure_messages_fit_codes() -> None:
    assert "moderation" in runtime.failure_message("SAFETY.INPUT.IMAGE")
    assert runtime.failure_message("INTERNAL") == "An unexpected error occurred."
    assert "ODD.CODE" in runtime.failure_message("ODD.CODE")


def _request() -> EngineRequest:
    return EngineRequest(
        task_id="t", endpoint="text_to_image", model="gen4_image", params={}, seed=1, assets={}
    )


def _engine(request: EngineRequest, context: RunContext) -> list[Artifact]:
    return [Artifact(filename="out.png", content_type="image/png", data=b"x")]


def test_wrap_delays_with_rising_progress_then_runs_engine() -> None:
    progress: list[float] = []
    context = RunContext(on_progress=progress.append)
    artifacts = runtime.wrap(Simulation(delay=0.3), _engine)(_request(), context)
    assert artifacts[0].filename == "out.png"
    assert progress == sorted(progress) and 0 < progress[-1] < 1


def test_wrap_fails_with_code() -> None:
    with pytest.raises(Failure) as info:
        runtime.wrap(Simulation(failure="SAFETY.INPUT.TEXT"), _engine)(_request(), RunContext())
    assert info.value.code == "SAFETY.INPUT.TEXT"


def test_wrap_stall_ends_only_when_cancelled() -> None:
    event = threading.Event()
    threading.Timer(0.2, event.set).start()
    with pytest.raises(TaskCancelled):
        runtime.wrap(Simulation(stall=True), _engine)(_request(), RunContext(cancel_event=event))


def test_wrap_without_simulation_is_the_engine() -> None:
    assert runtime.wrap(None, _engine) is _engine
    assert runtime.wrap(Simulation(throttle=1.0), _engine) is _engine


def test_upgrade_moves_a_stored_simulation_beside_the_params(tmp_path: Path) -> None:
    """Tasks accepted before the `simulation` column kept it in their params; migration 0014 moves it."""
    path = tmp_path / "taxiway.db"
    config = alembic_config(f"sqlite+aiosqlite:///{path}")
    command.upgrade(config, "0006")
    now = "2026-12-01 10:00:00.000000"
    with sqlite3.connect(path) as db:
        for task_id, params in (
            ("held", {"model": "gen4_image", "__simulate": {"throttle": 2.0}}),
            ("plain", {"model": "gen4_image", "promptText": "__simulate"}),
        ):
            db.execute(
                "INSERT INTO tasks (id, organization_id, endpoint, model, status, params, seed,"
                " estimated_credits, progress, attempts, created_at, updated_at)"
                " VALUES (?, 'org', 'text_to_image', 'gen4_image', 'PENDING', ?, 1, 5, 0, 0, ?, ?)",
                (task_id, json.dumps(params), now, now),
            )

    def rows() -> dict[str, tuple[Any, Any]]:
        with sqlite3.connect(path) as db:
            found = db.execute("SELECT id, params, simulation FROM tasks").fetchall()
        return {row[0]: (json.loads(row[1]), row[2] and json.loads(row[2])) for row in found}

    command.upgrade(config, "head")
    assert rows() == {
        "held": ({"model": "gen4_image"}, {"throttle": 2.0}),
        "plain": ({"model": "gen4_image", "promptText": "__simulate"}, None),
    }
    command.downgrade(config, "0006")
    with sqlite3.connect(path) as db:
        held = json.loads(db.execute("SELECT params FROM tasks WHERE id = 'held'").fetchone()[0])
    assert held == {"model": "gen4_image", "__simulate": {"throttle": 2.0}}
