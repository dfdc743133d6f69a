"""What the `taxiway` commands that open the database share: options, the database run, tables."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Column, Table
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from taxiway import clock
from taxiway.accounts.repository import NotFound
from taxiway.config import Settings
from taxiway.db.engine import create_engine, session_factory, upgrade_schema

T = TypeVar("T")

DataDir = Annotated[
    Path | None, typer.Option("--data-dir", help="Where the database and outputs live [env TAXIWAY_DATA_DIR]")
]
DatabaseUrl = Annotated[
    str | None, typer.Option("--database-url", help="SQLAlchemy async URL [env TAXIWAY_DATABASE_URL]")
]


def settings_from(**given: Any) -> Settings:
    """Options given on the command line win; the rest come from TAXIWAY_* variables or defaults."""
    return Settings(**{key: value for key, value in given.items() if value is not None})


def on_database(settings: Settings, work: Callable[[async_sessionmaker[AsyncSession]], Awaitable[T]]) -> T:
    """Run `work` on the settings' database, brought to the newest schema; a missing name or a bad
    value ends the command with the message and exit status 1."""

    async def run() -> T:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        engine = create_engine(settings.resolved_database_url)
        try:
            await upgrade_schema(engine)
            sessions = session_factory(engine)
            if settings.test_mode:  # the time `taxiway clock` set, as the servers see it
                await clock.load_offset(sessions)
            return await work(sessions)
        finally:
            await engine.dispose()

    try:
        return asyncio.run(run())
    except (NotFound, ValueError) as exc:
        Console().print(f"[red]error:[/red] {escape(str(exc))}", soft_wrap=True)
        raise typer.Exit(1) from None


def table(*columns: str | Column, show_header: bool = True) -> Table:
    """A table that fits the terminal: text columns wrap, then fold, never cut with an ellipsis;
    `id_column`s keep their full width. No column has a minimum width: rich narrows columns below their
    minimum and then widens them back, past the terminal's edge, where the line is cut."""
    made = [column if isinstance(column, Column) else Column(column, overflow="fold") for column in columns]
    return Table(
        *made,
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        collapse_padding=True,
        show_header=show_header,
    )


def moment(when: datetime | None) -> str:
    return when.strftime("%Y-%m-%d %H:%M:%S") if when else ""


def id_column(header: str = "id") -> Column:
    return Column(header, no_wrap=True)


def time_column(header: str) -> Column:
    """A UTC timestamp column: the time wraps below the date when narrow."""
    return Column(header, overflow="fold")
