"""Reads of one row by key, the polling path's only query, at the cost of the database's own lookup.

Through SQLAlchemy's async engine a SQLite point read costs about 350 µs of CPU around SQLite's 40:
pool checkout and reset, events, greenlet switches, the result machinery. On SQLite these reads go to
a connection of their own, called inline like the engine's (`inline_sqlite`), with the statement
compiled once and its columns converted by the same SQLAlchemy types. SQLite in WAL mode lets a reader
run beside the writer and see every committed write, so the answers are the engine's. PostgreSQL, or
an in-memory database (which a second connection would not share), reads through the engine.
"""

from __future__ import annotations

import functools
import logging
import sqlite3
from collections import namedtuple
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from sqlalchemy import Select, make_url
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncEngine

from taxiway.db.sessions import closes_inline, connected

log = logging.getLogger("taxiway.db")

# A reader meets a lock only while SQLite recovers a WAL file; it then reads through the engine rather
# than stall the event loop.
READER_BUSY_TIMEOUT_S = 0.05


class PointReads(Protocol):
    async def first(self, statement: Select[Any], params: Mapping[str, Any]) -> Any | None:
        """The statement's first row (attributes named as its columns), or None."""
        ...

    async def close(self) -> None: ...


class EngineReads:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def first(self, statement: Select[Any], params: Mapping[str, Any]) -> Any | None:
        async with connected(self._engine) as connection:
            return (await connection.execute(statement, dict(params))).first()

    async def close(self) -> None:
        return None


class _Compiled:
    """A statement as SQLite's API takes it: SQL text, bind converters in order, column converters."""

    def __init__(self, statement: Select[Any], dialect: Dialect) -> None:
        compiled = statement.compile(dialect=dialect)
        self.sql = str(compiled)
        self.names = list(compiled.positiontup or ())
        self.binds = [
            compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect) for name in self.names
        ]
        columns = list(statement.selected_columns)
        self.results: list[Callable[[Any], Any] | None] = [
            column.type.dialect_impl(dialect).result_processor(dialect, None) for column in columns
        ]
        self.row = namedtuple("Row", [column.key for column in columns])  # type: ignore[misc]

    def parameters(self, params: Mapping[str, Any]) -> list[Any]:
        return [
            bind(params[name]) if bind else params[name]
            for name, bind in zip(self.names, self.binds, strict=True)
        ]

    def convert(self, raw: tuple[Any, ...]) -> Any:
        return self.row(
            *(convert(value) if convert else value for convert, value in zip(self.results, raw, strict=True))
        )


class SqliteReads:
    def __init__(self, engine: AsyncEngine, path: str) -> None:
        self._engine = engine
        self._fallback = EngineReads(engine)
        self._path = path
        self._connection: sqlite3.Connection | None = None
        self._compiled = functools.lru_cache(maxsize=64)(self._compile)

    def _compile(self, statement: Select[Any]) -> _Compiled:
        return _Compiled(statement, self._engine.dialect)

    async def first(self, statement: Select[Any], params: Mapping[str, Any]) -> Any | None:
        compiled = self._compiled(statement)
        try:
            if self._connection is None:
                self._connection = sqlite3.connect(
                    self._path, timeout=READER_BUSY_TIMEOUT_S, check_same_thread=False
                )
            rows = self._connection.execute(compiled.sql, compiled.parameters(params)).fetchall()
        except sqlite3.OperationalError:
            log.debug("point read went through the engine", exc_info=True)
            return await self._fallback.first(statement, params)
        return compiled.convert(rows[0]) if rows else None

    async def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


def point_reads(engine: AsyncEngine) -> PointReads:
    database = make_url(str(engine.url)).database
    if closes_inline(engine) and database and database != ":memory:" and not database.startswith("file:"):
        return SqliteReads(engine, database)
    return EngineReads(engine.execution_options(isolation_level="AUTOCOMMIT"))
