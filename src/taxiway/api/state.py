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


def started_services(app: object) -> Services | None:
    """The app's services once its lifespan has built them; None before then (for middleware, which
    is made before the services exist)."""
    state = getattr(app, "state", None)
    services: Services | None = getattr(state, "taxiway", None)
    return services
