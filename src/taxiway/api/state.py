"""What the running app holds, reachable from any request: the services built from its settings."""

from __future__ import annotations

from fastapi import Request

from taxiway.services import Services

# The routers' name for the services container.
AppState = Services


async def app_state(request: Request) -> Services:
    """Async on purpose: FastAPI runs plain `def` dependencies in a thread pool."""
    state: Services = request.app.state.taxiway
    return state
