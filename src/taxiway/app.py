"""The ASGI application: wiring of storage, database, engines and scheduler behind the routers."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from rich.console import Console

from taxiway import __version__, clock
from taxiway.api import (
    avatars,
    console,
    conversations,
    documents,
    errors,
    generation,
    operator,
    organization,
    outputs,
    realtime,
    tasks,
    uploads,
    voices,
    workflows,
)
from taxiway.api.limits import BodySizeLimit
from taxiway.api.state import AppState
from taxiway.assets.intake import AssetIntake, AssetPolicy
from taxiway.assets.sweeper import UploadSweeper
from taxiway.avatars.processing import AvatarProcessor
from taxiway.bootstrap import ensure_default_account, signing_secret
from taxiway.config import Settings
from taxiway.console import pages
from taxiway.db.engine import create_engine, session_factory, upgrade_schema
from taxiway.engines import cache as engine_cache
from taxiway.engines.diffusers.weights import ENGINE_NAMES as DIFFUSERS_ENGINES
from taxiway.engines.diffusers.weights import startup_problems as weights_problems
from taxiway.engines.registry import EngineRegistry
from taxiway.realtime.launcher import OfflineWorkerLauncher
from taxiway.realtime.sessions import SessionService
from taxiway.storage.blobs import LocalBlobStore
from taxiway.storage.signing import UrlSigner
from taxiway.tasks.scheduler import Scheduler
from taxiway.voices.processing import VoiceProcessor
from taxiway.workflows import repository as workflow_repository
from taxiway.workflows.runner import WorkflowRunner

log = logging.getLogger("taxiway")


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        # Checked before anything opens: a bad definition stops the server with the file's problems.
        folder_workflows = (
            workflow_repository.load_directory(settings.workflows_dir) if settings.workflows_dir else []
        )
        engine_cache.configure(settings.data_dir)
        engine = create_engine(settings.resolved_database_url)
        await upgrade_schema(engine)
        sessions = session_factory(engine)
        follow_clock = None
        if settings.test_mode:  # time set by `taxiway clock`, read before anything is timestamped
            async with sessions() as session:
                clock.set_offset(await clock.stored_offset(session))
            follow_clock = asyncio.create_task(clock.follow_stored_offset(sessions), name="taxiway-clock")
        store = LocalBlobStore(settings.blob_dir)
        engines = EngineRegistry(settings.engines)
        for problem in weights_problems(settings.engines, settings.weights):
            log.warning("%s", problem)
        signer = UrlSigner(await signing_secret(sessions, settings))
        assets = AssetIntake.create(store, signer, AssetPolicy.from_settings(settings))
        scheduler = Scheduler(
            sessions,
            engines,
            store,
            assets,
            workers=settings.workers,
            max_attempts=settings.max_task_attempts,
            test_mode=settings.test_mode,
        )
        app.state.taxiway = AppState(
            settings=settings,
            engine=engine,
            sessions=sessions,
            store=store,
            signer=signer,
            engines=engines,
            scheduler=scheduler,
            assets=assets,
        )
        new_key = await ensure_default_account(sessions, settings)
        if new_key:
            Console(stderr=True).print(
                f"[bold]API key for organization 'default'[/bold] (shown once): [green]{new_key}[/green]",
                soft_wrap=True,
            )
        async with sessions.begin() as session:
            await workflow_repository.publish_all(session, folder_workflows)
        await scheduler.start()
        app.state.workflow_runner = workflow_runner = WorkflowRunner(sessions, assets, scheduler.wake)
        await workflow_runner.start()
        if settings.diffusers_warmup and any(name in DIFFUSERS_ENGINES for name in settings.engines.values()):
            from taxiway.engines.diffusers import runtime, warmup  # torch is imported only when needed

            warmup.start(runtime.shared_runtime(), settings.engines)
        app.state.avatar_processor = avatar_processor = AvatarProcessor(sessions, store, assets)
        app.state.voice_processor = voice_processor = VoiceProcessor(sessions, store, assets)
        app.state.realtime_sessions = realtime_sessions = SessionService(sessions, settings, signer)
        workers = OfflineWorkerLauncher(realtime_sessions, store, settings)
        realtime_sessions.launcher = workers
        await avatar_processor.start()
        await voice_processor.start()
        await realtime_sessions.start()
        app.state.upload_sweeper = upload_sweeper = UploadSweeper(
            sessions, store, assets.tokens, interval_seconds=settings.upload_sweep_interval_seconds
        )
        upload_sweeper.start()
        log.info("taxiway %s ready, data in %s", __version__, settings.data_dir.resolve())
        try:
            yield
        finally:
            await upload_sweeper.stop()
            await workers.close()
            await realtime_sessions.stop()
            await avatar_processor.stop()
            await voice_processor.stop()
            await workflow_runner.stop()
            await scheduler.stop()
            if follow_clock:
                follow_clock.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await follow_clock
            await engine.dispose()

    app = FastAPI(
        title="taxiway",
        version=__version__,
        summary="A self-hosted, drop-in implementation of the Runway developer API (version 2024-11-06).",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    errors.install(app)
    app.include_router(tasks.router)
    app.include_router(generation.router)
    app.include_router(organization.router)
    app.include_router(uploads.router)
    app.include_router(outputs.router)
    app.include_router(avatars.router)
    app.include_router(documents.router)
    app.include_router(realtime.router)
    app.include_router(conversations.router)
    app.include_router(voices.router)
    app.include_router(workflows.router)
    app.include_router(console.router)
    app.include_router(operator.router)
    pages.install(app, settings)

    def openapi() -> dict[str, Any]:
        """FastAPI's schema, plus the request bodies parsed by hand (the catalog's, avatars', documents',
        sessions'), which it cannot infer."""
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, summary=app.summary, routes=app.routes)
            bodies, components = generation.request_body_schemas()
            shared = schema.setdefault("components", {}).setdefault("schemas", {})
            for name, component in [*components.items(), *avatars.hand_parsed_components().items()]:
                if shared.setdefault(name, component) != component:
                    raise RuntimeError(f"two request schemas are both named {name}")
            for path, body in bodies.items():
                schema["paths"][path]["post"]["requestBody"] = body
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> JSONResponse:
        return JSONResponse({"status": "ok", "version": __version__})

    app.add_middleware(
        BodySizeLimit, max_bytes=settings.max_body_bytes, exempt_paths=frozenset({uploads.STORAGE_PATH})
    )
    return app
