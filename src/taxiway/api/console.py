"""What the web console needs beyond the Runway API: its configuration, the catalog as JSON, and an
organization's task list. Everything else the console does goes through /v1 with the user's key."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from taxiway import API_VERSION, __version__
from taxiway.api.auth import CurrentPrincipal, State
from taxiway.api.avatars import cursor_after
from taxiway.api.errors import ApiError
from taxiway.api.schemas import render_task
from taxiway.api.tasks import output_urls
from taxiway.avatars.cursors import MAX_LIMIT, Cursor
from taxiway.catalog import CATALOG, ENDPOINTS
from taxiway.catalog.export import catalog_document
from taxiway.clock import iso_millis
from taxiway.status import TaskStatus
from taxiway.tasks import repository

router = APIRouter(prefix="/console/api", include_in_schema=False)
_ORDER = "createdAt:desc"


@router.get("/config")
async def config(state: State) -> JSONResponse:
    operator = state.settings.operator_token
    return JSONResponse(
        {
            "version": __version__,
            "apiVersion": API_VERSION,
            "operator": bool(operator and operator.get_secret_value()),
            "testMode": state.settings.test_mode,
        }
    )


@router.get("/catalog")
async def catalog() -> JSONResponse:
    return JSONResponse(catalog_document())


def _statuses(text: str | None) -> tuple[TaskStatus, ...]:
    if not text:
        return ()
    try:
        return tuple(TaskStatus(part.strip().upper()) for part in text.split(",") if part.strip())
    except ValueError:
        allowed = ", ".join(s.value for s in TaskStatus)
        raise ApiError(400, f"status: expected a comma-separated list of {allowed}") from None


def _when(moment: datetime | None) -> str | None:
    return iso_millis(moment) if moment else None


@router.get("/tasks")
async def list_tasks(
    request: Request,
    principal: CurrentPrincipal,
    state: State,
    status: str | None = None,
    endpoint: str | None = None,
    model: str | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 25,
    cursor: str | None = None,
) -> JSONResponse:
    """The organization's tasks, newest first: each as `GET /v1/tasks/{id}` shows it, plus what it
    asked for (endpoint, model, request body) and its outputs' types."""
    if endpoint is not None and endpoint not in ENDPOINTS:
        raise ApiError(400, f"endpoint: unknown endpoint {endpoint!r}")
    if model is not None and not any(known == model for _endpoint, known in CATALOG):
        raise ApiError(400, f"model: unknown model {model!r}")
    where = repository.TaskFilter(statuses=_statuses(status), endpoint=endpoint, model=model)
    after = cursor_after(cursor, _ORDER)
    async with state.database.connect() as connection:
        rows = await repository.list_page(
            connection,
            principal.organization_id,
            where,
            limit + 1,
            (after.moment, after.id) if after else None,
        )
    page, more = rows[:limit], len(rows) > limit
    data: list[dict[str, Any]] = []
    for row in page:
        urls = output_urls(request, state, row)
        files = row.outputs["files"] if row.outputs else []
        data.append(
            {
                **render_task(row, urls),
                "endpoint": row.endpoint,
                "model": row.model,
                "request": row.params,
                "startedAt": _when(row.started_at),
                "finishedAt": _when(row.finished_at),
                "outputs": [
                    {
                        "url": url,
                        "name": file["key"].rsplit("/", 1)[-1],
                        "contentType": file.get("contentType"),
                    }
                    for url, file in zip(urls, files, strict=True)
                ],
            }
        )
    next_cursor = Cursor(_ORDER, page[-1].created_at, page[-1].id).encode() if more else None
    return JSONResponse({"data": data, "nextCursor": next_cursor})
