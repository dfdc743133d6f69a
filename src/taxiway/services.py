"""The composition root: every service of a running server, built from its settings by one function.

`build_services` makes them (the database brought to the newest schema, nothing running yet); `running`
starts the background ones in order and stops them in reverse on the way out, through one exit stack.
A new service is built here and, if it runs in the background, listed in `Services.background`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from functools import partial
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from taxiway import clock
from taxiway.assets.intake import AssetIntake, AssetPolicy
from taxiway.assets.sweeper import UploadSweeper
from taxiway.avatars.processing import AvatarProcessor
from taxiway.bootstrap import ensure_default_account, signing_secret
from taxiway.config import Settings
from taxiway.db.engine import create_engine, session_factory, upgrade_schema
from taxiway.db.point_reads import PointReads, point_reads
from taxiway.engines.executor import Executor, LocalExecutor
from taxiway.engines.registry import EngineRegistry
from taxiway.greeting import key_banner
from taxiway.observability.telemetry import Telemetry
from taxiway.periodic import Periodic
from taxiway.realtime.launcher import OfflineWorkerLauncher
from taxiway.realtime.sessions import SessionService
from taxiway.routing.decide import RoutingPolicy
from taxiway.storage.blobs import BlobStore
from taxiway.storage.signing import UrlSigner
from taxiway.storage.stores import open_store
from taxiway.tasks.admission import AdmissionQueue
from taxiway.tasks.finished import FinishedTasks
from taxiway.tasks.scheduler import Scheduler
from taxiway.voices.processing import VoiceProcessor
from taxiway.workflows import repository as workflow_repository
from taxiway.workflows.runner import WorkflowRunner

log = logging.getLogger("taxiway")


class Background(Protocol):
    """A service that works between requests: started once the server is built, stopped before it ends."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


@dataclass(frozen=True)
class Services:
    settings: Settings
    database: AsyncEngine
    # Reads of one row by key (task polls), at the cost of the database's own lookup.
    reads: PointReads
    sessions: async_sessionmaker[AsyncSession]
    store: BlobStore
    signer: UrlSigner
    assets: AssetIntake
    engines: EngineRegistry
    # Where engines run: this process (the registry above), or a Ray cluster's actors.
    executor: Executor
    scheduler: Scheduler
    # Creates of one organization and model wait for their turn here, holding no connection.
    admission_queue: AdmissionQueue
    # Views of finished tasks, which polls read without the database.
    finished: FinishedTasks
    workflows: WorkflowRunner
    avatars: AvatarProcessor
    voices: VoiceProcessor
    realtime: SessionService
    sweeper: UploadSweeper
    # Task lifecycle lines and the Prometheus registry behind /metrics and the access log's timings.
    telemetry: Telemetry
    routing: RoutingPolicy
    # Test mode: the server's time follows the offset `taxiway clock` stores.
    clock: Periodic | None = None

    @property
    def background(self) -> tuple[Background, ...]:
        """In start order: the clock before anything reads the time, tasks before the rest."""
        follow = (self.clock,) if self.clock is not None else ()
        return (
            *follow,
            self.executor,
            self.scheduler,
            self.workflows,
            self.avatars,
            self.voices,
            self.realtime,
            self.sweeper,
        )


def make_executor(settings: Settings, engines: EngineRegistry) -> Executor:
    if settings.executor == "local":
        return LocalExecutor(engines)
    # The server drains on SIGTERM itself; Ray's crash handler on that signal would abort the process
    # three seconds into the drain. Read by Ray when it is first imported, hence set before that.
    os.environ.setdefault("RAY_DISABLE_FAILURE_SIGNAL_HANDLER", "1")
    try:
        from taxiway.cluster.ray_executor import RayExecutor
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise RuntimeError(
            "TAXIWAY_EXECUTOR=ray needs the cluster extra (pip install 'taxiway[cluster]')"
        ) from exc
    return RayExecutor(settings, engines)


async def build_services(settings: Settings) -> Services:
    """Every service, made from the settings alone; nothing runs until `running` starts it."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    # Checked before anything opens: a bad definition stops the server with the file's problems.
    folder_workflows = (
        workflow_repository.load_directory(settings.workflows_dir) if settings.workflows_dir else []
    )
    # What opens here is closed again if a later step fails; once built, `running` owns it.
    async with AsyncExitStack() as opened:
        database = create_engine(settings.resolved_database_url)
        opened.push_async_callback(database.dispose)
        await upgrade_schema(database)
        sessions = session_factory(database)
        async with sessions.begin() as session:
            await workflow_repository.publish_all(session, folder_workflows)
        follow = None
        if settings.test_mode:  # time set by `taxiway clock`, read before anything is timestamped
            await clock.load_offset(sessions)
            follow = Periodic(
                "taxiway-clock", partial(clock.load_offset, sessions), clock.FOLLOW_INTERVAL_SECONDS, log
            )
        store = await open_store(settings)
        opened.push_async_callback(store.close)
        telemetry = Telemetry()
        signer = UrlSigner(await signing_secret(sessions, settings))
        assets = AssetIntake.create(store, signer, AssetPolicy.from_settings(settings))
        engines = EngineRegistry(settings)
        executor = make_executor(settings, engines)
        scheduler = Scheduler(
            sessions,
            executor,
            store,
            assets,
            workers=settings.workers,
            max_attempts=settings.max_task_attempts,
            test_mode=settings.test_mode,
            observer=telemetry,
            replica=settings.replica,
            lease_seconds=settings.task_lease_seconds,
        )
        services = Services(
            settings=settings,
            database=database,
            reads=point_reads(database),
            sessions=sessions,
            store=store,
            signer=signer,
            assets=assets,
            engines=engines,
            executor=executor,
            scheduler=scheduler,
            admission_queue=AdmissionQueue(),
            finished=FinishedTasks(),
            workflows=WorkflowRunner(sessions, assets, scheduler.accepted),
            avatars=AvatarProcessor(sessions, store, assets),
            voices=VoiceProcessor(sessions, store, assets, cache=settings.engine_cache_dir),
            realtime=SessionService(
                sessions, settings, signer, partial(OfflineWorkerLauncher, store=store, settings=settings)
            ),
            sweeper=UploadSweeper(
                sessions, store, assets.tokens, interval_seconds=settings.upload_sweep_interval_seconds
            ),
            telemetry=telemetry,
            routing=RoutingPolicy(
                settings.router_quality_ranking, settings.router_queue_limits, executor.engine_name
            ),
            clock=follow,
        )
        opened.pop_all()
    return services


@asynccontextmanager
async def running(
    settings: Settings, *, on_new_key: Callable[[str], None] | None = None
) -> AsyncIterator[Services]:
    """The services built and their background started, in order; stopped in reverse on exit, the
    database closed last. A first start's generated key goes to `on_new_key` (default: shown at once;
    `taxiway serve` shows it once the server listens)."""
    services = await build_services(settings)
    async with AsyncExitStack() as stack:
        stack.push_async_callback(services.database.dispose)
        stack.push_async_callback(services.reads.close)
        stack.push_async_callback(services.store.close)
        new_key = await ensure_default_account(services.sessions, settings)
        if new_key and settings.bootstrap_api_key is not None:
            log.info("organization 'default' has the key from TAXIWAY_BOOTSTRAP_API_KEY")
        elif new_key:
            (on_new_key or partial(key_banner, settings))(new_key)
        for component in services.background:
            await component.start()
            stack.push_async_callback(component.stop)
        yield services
