"""The ASGI application: the routers, error handlers and middleware in front of the services.

Everything the server runs is built from its settings in `services`; the lifespan starts it and stops it.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, Depends, FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse

from taxiway import __version__
from taxiway.api import (
    avatars,
    console,
    conversations,
    documents,
    errors,
    generate,
    generation,
    input_limits,
    metrics,
    operator,
    organization,
    outputs,
    realtime,
    recipes,
    routers,
    tasks,
    uploads,
    voices,
    webapp,
    workflows,
)
from taxiway.api.access_log import AccessLog
from taxiway.api.limits import BodySizeLimit
from taxiway.api.task_polls import TaskPolls
from taxiway.config import Settings
from taxiway.console import pages
from taxiway.services import running

log = logging.getLogger("taxiway")

ROUTERS: tuple[APIRouter, ...] = (
    tasks.router,
    generation.router,
    organization.router,
    uploads.router,
    outputs.router,
    avatars.router,
    documents.router,
    realtime.router,
    conversations.router,
    voices.router,
    workflows.router,
    recipes.router,
    routers.router,
    generate.router,
    webapp.router,
    console.router,
    operator.router,
)


def create_app(
    settings: Settings | None = None, *, on_new_key: Callable[[str], None] | None = None
) -> FastAPI:
    """The app; `on_new_key` receives a first start's generated key (default: shown at once)."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with running(settings, on_new_key=on_new_key) as services:
            app.state.taxiway = services  # read through `api.state.app_state`, typed
            log.info("taxiway %s ready, data in %s", __version__, settings.data_dir.resolve())
            yield

    app = FastAPI(
        title="taxiway",
        version=__version__,
        summary="A self-hosted, drop-in implementation of the Runway developer API (version 2024-11-06).",
        description=input_limits.RULES_FOR_EVERY_REQUEST,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        dependencies=[Depends(input_limits.no_nul_characters)],
    )
    errors.install(app)
    for router in ROUTERS:
        app.include_router(router)
    if settings.metrics:
        app.include_router(metrics.router)
    pages.install(app, settings)
    app.add_api_route("/healthz", healthz, include_in_schema=False)
    app.openapi = lambda: openapi(app)  # type: ignore[method-assign]
    app.add_middleware(TaskPolls)  # innermost: inside the access log and the size limit
    app.add_middleware(
        BodySizeLimit, max_bytes=settings.max_body_bytes, exempt_paths=frozenset({uploads.STORAGE_PATH})
    )
    app.add_middleware(AccessLog, log_requests=settings.access_log)
    return app


async def healthz() -> JSONResponse:
    return JSONResponse({"status": "ok", "version": __version__})


def openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's schema, plus the request bodies parsed by hand (the catalog's, avatars', documents',
    sessions'), which it cannot infer."""
    if app.openapi_schema is None:
        schema = get_openapi(
            title=app.title,
            version=app.version,
            summary=app.summary,
            description=app.description,
            routes=app.routes,
        )
        bodies, components = generation.request_body_schemas()
        recipe_bodies, recipe_components = recipes.request_body_schemas()
        bodies.update(recipe_bodies)
        shared = schema.setdefault("components", {}).setdefault("schemas", {})
        hand_parsed = avatars.hand_parsed_components()
        for name, component in [*components.items(), *recipe_components.items(), *hand_parsed.items()]:
            if shared.setdefault(name, component) != component:
                raise RuntimeError(f"two request schemas are both named {name}")
        for path, body in bodies.items():
            schema["paths"][path]["post"]["requestBody"] = body
        app.openapi_schema = schema
    return app.openapi_schema
