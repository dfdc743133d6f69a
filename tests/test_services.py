"""The composition root: services built from settings alone, started in order and stopped in reverse; the
periodic loop shape the background services share."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from taxiway import services as composition
from taxiway.config import Settings
from taxiway.engines.base import Artifact, EngineRequest, EngineSetup, RunContext
from taxiway.engines.executor import LocalExecutor
from taxiway.engines.registry import EngineRegistry
from taxiway.periodic import Periodic
from taxiway.services import Services, build_services, running
from taxiway.storage.blobs import BlobStore

LOG = logging.getLogger("test-periodic")


async def next_run(runs: asyncio.Queue[int]) -> int:
    """The next step's number, waited for generously: the machine may be busy."""
    async with asyncio.timeout(60):
        return await runs.get()


def counting(runs: asyncio.Queue[int], fail_first: bool = False) -> Callable[[], Awaitable[None]]:
    count = 0

    async def step() -> None:
        nonlocal count
        count += 1
        runs.put_nowait(count)
        if fail_first and count == 1:
            raise RuntimeError("database hiccup")

    return step


async def test_a_periodic_step_runs_at_once_and_again_when_woken() -> None:
    runs: asyncio.Queue[int] = asyncio.Queue()
    loop = Periodic("test-loop", counting(runs), interval=3600, log=LOG)
    await loop.start()
    assert await next_run(runs) == 1
    loop.wake()
    assert await next_run(runs) == 2
    await loop.stop()
    loop.wake()
    await asyncio.sleep(0.05)
    assert runs.empty()  # stopped: wake-ups do nothing


async def in_a_first_step() -> tuple[Periodic, asyncio.Queue[int], asyncio.Event]:
    """A started loop whose first step waits for the returned event; each step counts itself."""
    entered, release = asyncio.Event(), asyncio.Event()
    runs: asyncio.Queue[int] = asyncio.Queue()

    async def step() -> None:
        runs.put_nowait(runs.qsize())
        if not entered.is_set():
            entered.set()
            await release.wait()

    loop = Periodic("test-loop", step, interval=3600, log=LOG)
    await loop.start()
    await entered.wait()
    return loop, runs, release


async def test_a_wake_up_during_the_step_is_not_lost() -> None:
    loop, runs, release = await in_a_first_step()
    loop.wake()  # work arrived while the first step ran
    release.set()
    await next_run(runs)
    await next_run(runs)
    await loop.stop()


async def test_run_now_runs_the_step_in_the_callers_task_and_absorbs_earlier_wake_ups() -> None:
    runs: asyncio.Queue[int] = asyncio.Queue()
    loop = Periodic("test-loop", counting(runs), interval=3600, log=LOG)
    await loop.start()
    assert await next_run(runs) == 1
    turns: list[str] = []
    asyncio.get_running_loop().call_soon(turns.append, "turn")
    loop.wake()  # work arrived, and its step is run at once by the one who has it
    await loop.run_now()
    assert turns == [] and runs.get_nowait() == 2  # ran here, without a turn of the event loop
    await asyncio.sleep(0.05)
    assert runs.empty()  # that wake-up's step already ran: the loop does not run it again
    await loop.stop()


async def test_run_now_during_a_step_leaves_a_second_step_to_the_loop() -> None:
    loop, runs, release = await in_a_first_step()
    await loop.run_now()  # a step is under way: not two at once, the loop runs it again after
    assert runs.qsize() == 1
    release.set()
    await next_run(runs)
    await next_run(runs)
    await loop.stop()


async def test_a_failing_step_is_logged_and_tried_again(caplog: pytest.LogCaptureFixture) -> None:
    runs: asyncio.Queue[int] = asyncio.Queue()
    loop = Periodic("test-loop", counting(runs, fail_first=True), interval=0.01, log=LOG, failure="it failed")
    with caplog.at_level(logging.ERROR, LOG.name):
        await loop.start()
        assert await next_run(runs) == 1
        assert await next_run(runs) == 2
        await loop.stop()
    assert [record.getMessage() for record in caplog.records] == ["it failed"]


async def test_services_are_built_from_the_settings_alone(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", test_mode=True, workers=3)
    services = await build_services(settings)
    try:
        assert services.settings is settings
        await services.store.put("x", b"blob")
        assert (settings.blob_dir / "x").read_bytes() == b"blob"  # the default store: a local directory
        assert services.realtime.launcher is not None  # made by the session service, not wired after
        assert services.clock is not None and services.background[0] is services.clock
        assert (tmp_path / "data" / "taxiway.db").exists()
    finally:
        await services.database.dispose()
    production = await build_services(Settings(data_dir=tmp_path / "prod"))
    try:
        assert production.clock is None
        assert (
            isinstance(production.executor, LocalExecutor)
            and production.executor.engines is production.engines
        )
        assert production.background == (
            production.executor,  # engines before the scheduler hands them work
            production.scheduler,
            production.workflows,
            production.avatars,
            production.voices,
            production.realtime,
            production.sweeper,
        )
    finally:
        await production.database.dispose()


async def test_a_failed_build_closes_what_it_opened(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A step failing after the database and the store are open (here the signing secret) closes both: a
    server that cannot start leaves no connection or client behind."""
    closed: list[str] = []
    real_dispose, real_open_store = AsyncEngine.dispose, composition.open_store

    async def dispose(engine: AsyncEngine, close: bool = True) -> None:
        closed.append("database")
        await real_dispose(engine, close)

    async def open_store(settings: Settings) -> BlobStore:
        store = await real_open_store(settings)
        real_close = store.close

        async def close() -> None:
            closed.append("store")
            await real_close()

        monkeypatch.setattr(store, "close", close)
        return store

    async def no_secret(*_args: object) -> bytes:
        raise OSError("secret file unreadable")

    monkeypatch.setattr(AsyncEngine, "dispose", dispose)
    monkeypatch.setattr(composition, "open_store", open_store)
    monkeypatch.setattr(composition, "signing_secret", no_secret)
    with pytest.raises(OSError, match="secret file unreadable"):
        await build_services(Settings(data_dir=tmp_path))
    assert closed == ["store", "database"]  # in reverse of opening


async def test_background_services_start_in_order_and_stop_in_reverse(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    built: list[Services] = []

    async def recording_build(settings: Settings) -> Services:
        services = await real_build(settings)
        for component in services.background:
            name = type(component).__name__
            start, stop = component.start, component.stop

            async def started(name: str = name, start: Callable[[], Awaitable[None]] = start) -> None:
                calls.append(f"start {name}")
                await start()

            async def stopped(name: str = name, stop: Callable[[], Awaitable[None]] = stop) -> None:
                calls.append(f"stop {name}")
                await stop()

            monkeypatch.setattr(component, "start", started)
            monkeypatch.setattr(component, "stop", stopped)
        built.append(services)
        return services

    real_build = composition.build_services
    monkeypatch.setattr(composition, "build_services", recording_build)
    async with running(Settings(data_dir=tmp_path, test_mode=True)) as services:
        assert services is built[0]
        order = [f"start {type(component).__name__}" for component in services.background]
        assert calls == order
        async with services.sessions() as session:  # the database is open while they run
            assert session is not None
    assert calls[len(order) :] == [call.replace("start", "stop") for call in reversed(order)]
    assert calls[0] == "start Periodic"  # the test clock first, before anything reads the time


class EngineWithSetup:
    """A configured engine whose constructor takes the server's engine setup."""

    name = "test-with-setup"

    def __init__(self, setup: EngineSetup) -> None:
        self.setup = setup

    def run(self, request: EngineRequest, context: RunContext) -> list[Artifact]:
        return []


def test_engines_are_made_from_the_server_settings(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path,
        cache_dir=tmp_path / "derived",
        engines={
            "gen4_image": "test_services:EngineWithSetup",
            "gen4_image_turbo": "support.engines:SlowImageEngine",  # takes no argument: made with none
        },
    )
    registry = EngineRegistry(settings)
    made = registry.get("text_to_image", "gen4_image")
    assert isinstance(made, EngineWithSetup) and made.setup.settings is settings
    assert registry.get("text_to_image", "gen4_image") is made  # built once
    assert registry.get("text_to_image", "gen4_image_turbo").name == "test-slow-image"
    speech = registry.get("text_to_speech", "eleven_multilingual_v2")
    assert getattr(speech, "cache") == tmp_path / "derived"  # noqa: B009 - not every engine has one
    assert Settings(data_dir=tmp_path, cache_dir=None).engine_cache_dir == tmp_path / "cache"
    with pytest.raises(ValueError, match="unknown engine"):
        EngineRegistry(Settings(data_dir=tmp_path, engines={"gen4_image": "no-such-engine"})).get(
            "text_to_image", "gen4_image"
        )
