"""Bounds on slow and idle clients, at the HTTP protocol level where uvicorn's own options stop.

uvicorn closes idle keep-alive connections (`timeout_keep_alive`) and can answer 503 past a number of
connections (`limit_concurrency`), but it waits forever for a request that never completes: a silent
new connection, a request line or headers sent a byte at a time, a body trickling in. Each holds a
socket, and enough of them exhaust the process's file descriptors (slowloris). This protocol is
uvicorn's httptools protocol with deadlines: the head of each request must arrive within
`header_timeout` of its first byte (or of the connection, for a silent one); a body may not pause
longer than `body_idle_timeout`, and after that long it must have averaged `body_min_rate`. A
request that misses one gets a 408 and its connection is closed. Past `max_connections` open
connections, new ones are closed at once, so file descriptors stay bounded and the rest are served.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

TIMEOUT_BODY = json.dumps({"error": "The request was not received in time."}).encode()


@dataclass(frozen=True)
class ConnectionLimits:
    header_timeout: float = 10.0
    body_idle_timeout: float = 10.0
    body_min_rate: float = 8192.0  # bytes per second, averaged once body_idle_timeout has passed
    max_connections: int = 1000

    @classmethod
    def from_settings(cls, settings: Any) -> ConnectionLimits:
        return cls(
            header_timeout=settings.request_header_timeout_seconds,
            body_idle_timeout=settings.request_body_timeout_seconds,
            body_min_rate=settings.request_body_min_bytes_per_second,
            max_connections=settings.max_connections,
        )


class GuardedHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, with the deadlines of `limits` (set on a subclass by `protocol`)."""

    limits = ConnectionLimits()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline: asyncio.TimerHandle | None = None
        self._body_started = 0.0
        self._body_bytes = 0
        self._in_body = False

    # -- the request's head

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.limits.max_connections:
            self.logger.warning("Too many open connections (%d); closing a new one.", len(self.connections))
            transport.abort()
            return
        self._arm(self.limits.header_timeout)  # a connection that never says anything

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_body = False
        self._arm(self.limits.header_timeout)

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        self._in_body = True
        self._body_started = self.loop.time()
        self._body_bytes = 0
        self._arm(self.limits.body_idle_timeout)

    # -- the body

    def on_body(self, body: bytes) -> None:
        super().on_body(body)
        self._body_bytes += len(body)
        elapsed = self.loop.time() - self._body_started
        if elapsed > self.limits.body_idle_timeout and self._body_bytes < self.limits.body_min_rate * elapsed:
            self._timed_out()
            return
        self._arm(self.limits.body_idle_timeout)

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._in_body = False
        self._disarm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    # -- deadlines

    def _arm(self, seconds: float) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(seconds, self._timed_out)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _timed_out(self) -> None:
        self._disarm()
        if self.transport.is_closing():
            return
        cycle = self.cycle
        if cycle is None or not cycle.response_started:  # else the client has its answer already
            self.transport.write(
                b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\nconnection: close\r\n"
                + f"content-length: {len(TIMEOUT_BODY)}\r\n\r\n".encode()
                + TIMEOUT_BODY
            )
        if cycle is not None:  # the app sees the client gone; whatever it answers is dropped
            cycle.disconnected = True
            cycle.message_event.set()
        self.transport.close()


def protocol(limits: ConnectionLimits) -> type[GuardedHttpProtocol]:
    """The protocol class to give uvicorn (`http=`), with these limits."""
    return type("GuardedHttpProtocol", (GuardedHttpProtocol,), {"limits": limits})
