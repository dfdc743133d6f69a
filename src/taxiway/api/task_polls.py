"""`GET /v1/tasks/{id}`, the call clients make most (the SDKs poll each task until it ends), answered
ahead of FastAPI's routing and dependency solving, which cost more than the rest of the call together.

Only a plain success is answered here: a key authenticated moments ago (`auth.known_principal`), a
supported version header, no query string, and a task the organization can see. Anything else (no
key, a new or revoked key, a bad header, an unknown task, a NUL) goes on to the app, so every error,
and every first call of a key, is the app's own answer. Access log and metrics see both alike.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from taxiway.api.auth import known_principal
from taxiway.api.input_limits import NUL
from taxiway.api.state import started_services
from taxiway.api.tasks import get_task, router, task_response, visible_task

PREFIX = f"{router.prefix}/"
# The route the app would have matched, for the access log and the metrics' route label.
ROUTE = next(route for route in router.routes if getattr(route, "name", None) == get_task.__name__)


class TaskPolls:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not (
            scope["type"] == "http"
            and scope["method"] == "GET"
            and scope["path"].startswith(PREFIX)
            and await self._answered(scope, receive, send)
        ):
            await self.app(scope, receive, send)

    async def _answered(self, scope: Scope, receive: Receive, send: Send) -> bool:
        task_id = scope["path"][len(PREFIX) :]
        if not task_id or "/" in task_id or NUL in task_id or scope.get("query_string"):
            return False
        request = Request(scope, receive)
        principal = known_principal(request)
        services = started_services(scope.get("app"))
        if principal is None or services is None:
            return False
        task = await visible_task(services, principal.organization_id, task_id)
        if task is None:
            return False
        scope["route"] = ROUTE
        await task_response(request, services, task)(scope, receive, send)
        return True
