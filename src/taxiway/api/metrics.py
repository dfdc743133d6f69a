"""`GET /metrics`: Prometheus' text format, for operators (not part of the Runway API)."""

from __future__ import annotations

import secrets

from fastapi import APIRouter, Request, Response

from taxiway.api.auth import State
from taxiway.api.errors import ApiError
from taxiway.observability.telemetry import CONTENT_TYPE
from taxiway.tasks import repository

router = APIRouter()


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request, state: State) -> Response:
    token = state.settings.metrics_token
    if token is not None:
        given = request.headers.get("authorization", "")
        if not secrets.compare_digest(given.encode(), f"Bearer {token.get_secret_value()}".encode()):
            raise ApiError(401, "Metrics need the bearer token set in TAXIWAY_METRICS_TOKEN")
    async with state.sessions() as session:
        active = await repository.count_active_by_model(session)
    body = state.telemetry.exposition(active, state.scheduler.running, state.scheduler.workers)
    return Response(body, media_type=CONTENT_TYPE)
