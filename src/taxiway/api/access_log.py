"""The access log and HTTP metrics: one line and one observation per request, as a plain ASGI wrapper.

Query strings are left out of the line: output URLs carry their signature there. The middleware is made
with the app, before its services: it finds their telemetry through the app at each request.
"""

from __future__ import annotations

import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from taxiway.api.state import started_services

log = logging.getLogger("taxiway.access")


class AccessLog:
    def __init__(self, app: ASGIApp, *, log_requests: bool = True) -> None:
        self.app = app
        self.log_requests = log_requests

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # unless a response starts: an exception escaping the app is answered with 500

        async def send_and_watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_watch)
        finally:
            seconds = time.perf_counter() - started
            method = scope["method"]
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            services = started_services(scope.get("app"))
            if services is not None:
                services.telemetry.observe_request(method, route, status, seconds)
            if self.log_requests and log.isEnabledFor(logging.INFO):
                client = scope.get("client")
                peer = f"{client[0]}:{client[1]}" if client else "-"
                path = scope.get("root_path", "") + scope["path"]
                log.info(
                    '%s "%s %s HTTP/%s" %d %.1f ms',
                    peer, method, path, scope.get("http_version", "1.1"), status, seconds * 1000,
                    extra={
                        "event": "http.request", "client": peer, "method": method, "path": path,
                        "route": route, "status": status, "duration_ms": round(seconds * 1000, 2),
                    },
                )  # fmt: skip
