"""SQLite run on the event loop's own thread, through aiosqlite's interface.

aiosqlite gives each connection a thread and hands every call to it: a statement is three or four
hops (cursor, execute, fetch, close), and each hop back waits for the GIL, which a busy event loop
holds for up to its switch interval. Under load a request's few index lookups, microseconds of work
for SQLite, took milliseconds, and a write transaction held SQLite's single write lock across all
of those hops. Here the same calls run inline: an awaited statement completes without the event loop
switching tasks, so a transaction of short statements runs start to end at once.

Inline calls must never wait for a lock held by another connection of this process (the wait would
stop the loop that could release it), so the engine keeps exactly one connection: transactions take
it in turn from the pool's queue, which is the order SQLite's one writer imposed anyway. Other
processes (the CLI, a second server) still meet SQLite's own locking and its busy timeout.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Generator
from functools import partial
from typing import Any

import aiosqlite


def _settle(future: asyncio.Future[Any] | None, function: Callable[[], Any]) -> None:
    try:
        result = function()
    except BaseException as exc:  # handed to the awaiting caller, as aiosqlite's thread does
        if future is not None and not future.done():
            future.set_exception(exc)
        return
    if future is not None and not future.done():
        future.set_result(result)


class _InlineQueue:
    """Stands in for aiosqlite's queue to its thread; SQLAlchemy's adapter also queues onto it."""

    def put_nowait(self, item: tuple[asyncio.Future[Any] | None, Callable[[], Any]]) -> None:
        _settle(*item)


class InlineConnection(aiosqlite.Connection):
    def __init__(self, connector: Callable[[], sqlite3.Connection]) -> None:
        super().__init__(connector, iter_chunk_size=64)
        self._tx = _InlineQueue()  # type: ignore[assignment]

    async def _execute(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return fn(*args, **kwargs)

    async def _connect(self) -> InlineConnection:
        if self._connection is None:
            self._connection = self._connector()
        return self

    def __await__(self) -> Generator[Any, None, InlineConnection]:
        return self._connect().__await__()

    def stop(self) -> None:
        self._running = False
        if self._connection is not None:
            self._connection.close()
            self._connection = None


def connector(path: str, busy_timeout_s: float) -> Callable[[], Any]:
    """An `async_creator` for SQLAlchemy: a new inline connection to the database file at `path`."""

    async def connect() -> InlineConnection:
        return await InlineConnection(
            partial(sqlite3.connect, path, timeout=busy_timeout_s, check_same_thread=False)
        )

    return connect
