"""The async SQLAlchemy engine, tuned per backend, and schema upgrades at start-up."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, event, make_url
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.pool import AsyncAdaptedQueuePool

from taxiway.db import inline_sqlite, sessions

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
# How long a write waits for another process (the CLI, a second server) holding SQLite's write lock.
SQLITE_BUSY_TIMEOUT_S = 30


def create_engine(url: str) -> AsyncEngine:
    if url.startswith("sqlite"):
        # One connection, run inline on the event loop (see `inline_sqlite`): transactions queue for it.
        engine = create_async_engine(
            url,
            async_creator=inline_sqlite.connector(
                make_url(url).database or ":memory:", SQLITE_BUSY_TIMEOUT_S
            ),
            poolclass=AsyncAdaptedQueuePool,
            pool_size=1,
            max_overflow=0,
        )

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_S * 1000}")
            cursor.close()

        return engine
    return create_async_engine(url, pool_size=20, max_overflow=20, pool_pre_ping=True)


def upsert_insert(dialect: str) -> Any:
    """The dialect's INSERT, which knows ON CONFLICT (SQLite when not PostgreSQL, as `create_engine`)."""
    return postgresql.insert if dialect == "postgresql" else sqlite.insert


def session_factory(engine: AsyncEngine) -> async_sessionmaker[Any]:
    return sessions.session_factory(engine)


def alembic_config(url: str | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url:
        config.set_main_option("sqlalchemy.url", url)
    return config


def _upgrade(connection: Connection) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


async def upgrade_schema(engine: AsyncEngine) -> None:
    """Bring the database to the newest migration; safe to run at every start."""
    async with engine.begin() as connection:
        await connection.run_sync(_upgrade)
