"""Routes for the pages: `/` (a landing page), `/console` (the console's single page, whose views
are hash routes) and its static files, and the API reference pages `/docs` and `/redoc`, whose
Swagger UI and ReDoc bundles come from the `fastapi-offline` package instead of a CDN."""

from __future__ import annotations

import html
from importlib.resources import files
from pathlib import Path
from string import Template

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

from taxiway import API_VERSION, __version__
from taxiway.config import Settings

STATIC = Path(str(files("taxiway.console") / "static"))
DOCS_ASSETS = Path(str(files("fastapi_offline") / "static"))
_NO_CACHE = {"Cache-Control": "no-cache"}


def install(app: FastAPI, settings: Settings) -> None:
    """Add the pages to an app created with `docs_url=None, redoc_url=None`."""
    landing = Template((STATIC / "landing.html").read_text())
    openapi_url = app.openapi_url or "/openapi.json"
    app.mount("/console/static", StaticFiles(directory=STATIC), name="console-static")
    app.mount("/docs/static", StaticFiles(directory=DOCS_ASSETS), name="docs-static")

    @app.get("/", include_in_schema=False)
    async def home(request: Request) -> HTMLResponse:
        base = settings.public_url.rstrip("/") if settings.public_url else str(request.base_url).rstrip("/")
        page = landing.substitute(
            version=html.escape(__version__), api_version=API_VERSION, base_url=html.escape(base)
        )
        return HTMLResponse(page, headers=_NO_CACHE)

    @app.get("/console", include_in_schema=False)
    async def console() -> FileResponse:
        return FileResponse(STATIC / "console.html", headers=_NO_CACHE)

    @app.get("/console/", include_in_schema=False)
    async def console_slash() -> RedirectResponse:
        return RedirectResponse("/console")

    @app.get("/docs", include_in_schema=False)
    async def swagger() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{app.title} API reference",
            swagger_js_url="/docs/static/swagger-ui-bundle.js",
            swagger_css_url="/docs/static/swagger-ui.css",
            swagger_favicon_url="/console/static/favicon.svg",
        )

    @app.get("/redoc", include_in_schema=False)
    async def redoc() -> HTMLResponse:
        page = get_redoc_html(
            openapi_url=openapi_url,
            title=f"{app.title} API reference",
            redoc_js_url="/docs/static/redoc.standalone.js",
            redoc_favicon_url="/console/static/favicon.svg",
            with_google_fonts=False,
        )
        # ReDoc's bundle shows a logo from its vendor's CDN: images from elsewhere are not fetched.
        page.headers["Content-Security-Policy"] = "img-src 'self' data: blob:"
        return page
