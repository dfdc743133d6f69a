"""`taxiway tasks list|show|watch`: an operator's view of tasks, read from the database.

Tables keep ids whole: the id column never wraps or shrinks; the other columns wrap to fit.
"""

from __future__ import annotations

import asyncio
import json
import math
from datetime import datetime
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Column
from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from taxiway import clock
from taxiway.accounts import repository as accounts
from taxiway.bootstrap import SIGNING_SECRET_KEY
from taxiway.cli_options import (
    DatabaseUrl,
    DataDir,
    id_column,
    moment,
    on_database,
    settings_from,
    time_column,
)
from taxiway.cli_options import table as cli_table
from taxiway.config import Settings
from taxiway.db.tables import Organization, Setting, Task
from taxiway.storage.signing import UrlSigner
from taxiway.tasks import repository
from taxiway.tasks.state import TaskStatus

app = typer.Typer(help="Tasks of every organization: list, show one, watch one run.", no_args_is_help=True)
console = Console()

STATUS_STYLE = {
    TaskStatus.PENDING: "cyan",
    TaskStatus.THROTTLED: "yellow",
    TaskStatus.RUNNING: "blue",
    TaskStatus.SUCCEEDED: "green",
    TaskStatus.FAILED: "red",
    TaskStatus.CANCELLED: "dim",
}


def _status(task: Task | Row[Any]) -> str:
    status = TaskStatus(task.status)
    text = status.value
    if status is TaskStatus.RUNNING:
        text += f" {task.progress:.0%}"
    return f"[{STATUS_STYLE[status]}]{text}[/]"


def _credits(task: Task | Row[Any]) -> str:
    if TaskStatus(task.status).terminal:
        return str(task.cost_credits or 0)
    return f"~{task.estimated_credits}"


async def _organization_names(session: AsyncSession) -> dict[str, str]:
    rows = await session.execute(Organization.__table__.select())
    return {row.id: row.name for row in rows}


def _parse_statuses(values: list[str]) -> tuple[TaskStatus, ...]:
    try:
        return tuple(TaskStatus(value.upper()) for value in values)
    except ValueError:
        known = ", ".join(status.value for status in TaskStatus)
        raise typer.BadParameter(f"--status must be one of {known}", param_hint="--status") from None


@app.command("list")
def list_tasks(
    org: Annotated[str | None, typer.Option(help="Only this organization (name or id)")] = None,
    status: Annotated[
        list[str] | None, typer.Option("--status", "-s", help="Only these statuses (repeatable)")
    ] = None,
    model: Annotated[str | None, typer.Option(help="Only this model, e.g. gen4_image")] = None,
    endpoint: Annotated[str | None, typer.Option(help="Only this endpoint, e.g. text_to_video")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="At most this many, newest first")] = 20,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """The newest tasks, with their status, progress and credits."""
    statuses = _parse_statuses(status or [])

    where = repository.TaskFilter(statuses=statuses, endpoint=endpoint, model=model)

    async def work(sessions: async_sessionmaker[AsyncSession]) -> tuple[list[Row[Any]], dict[str, str]]:
        async with sessions() as session:
            organization_id = (await accounts.find_organization(session, org)).id if org else None
            rows = await repository.list_page(await session.connection(), organization_id, where, limit)
            return rows, await _organization_names(session)

    tasks, names = on_database(settings_from(data_dir=data_dir, database_url=database_url), work)
    several = org is None and len({task.organization_id for task in tasks}) > 1
    organizations = ["org"] if several else []
    table = cli_table(id_column(), *organizations, "model", "status", "credits", time_column("created (UTC)"))
    for task in tasks:
        organization = [names.get(task.organization_id, task.organization_id)] if several else []
        table.add_row(
            task.id,
            *organization,
            task.model,
            _status(task),
            _credits(task),
            moment(task.created_at),
        )
    console.print(table)
    if not tasks:
        console.print("no tasks match")


async def _find(session: AsyncSession, task_id: str) -> Task:
    task = await session.get(Task, task_id)
    if task is None or task.deleted_at is not None:
        raise accounts.NotFound(f"no task {task_id!r}")
    return task


async def _output_urls(session: AsyncSession, settings: Settings, task: Task) -> list[str]:
    if not task.outputs:
        return []
    if settings.signing_secret is not None:
        secret = settings.signing_secret.get_secret_value().encode()
    else:
        stored = await session.get(Setting, SIGNING_SECRET_KEY)
        if stored is None:
            return []
        secret = bytes.fromhex(stored.value)
    signer = UrlSigner(secret)
    expires = math.ceil(clock.utcnow().timestamp()) + settings.output_url_ttl_seconds
    return [settings.base_url + signer.path(file["key"], expires) for file in task.outputs["files"]]


def _seconds_between(start: datetime | None, end: datetime | None) -> str:
    if start is None or end is None:
        return ""
    return f"{(end - start).total_seconds():.2f} s"


@app.command("show")
def show_task(
    task_id: Annotated[str, typer.Argument(help="The task's id")],
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Everything about one task: request, timing, credits, failure and signed output URLs."""
    settings = settings_from(data_dir=data_dir, database_url=database_url)

    async def work(sessions: async_sessionmaker[AsyncSession]) -> tuple[Task, str, list[str]]:
        async with sessions() as session:
            task = await _find(session, task_id)
            names = await _organization_names(session)
            urls = await _output_urls(session, settings, task)
            return task, names.get(task.organization_id, task.organization_id), urls

    task, organization, urls = on_database(settings, work)
    table = cli_table(Column("field", no_wrap=True, style="bold"), "value", show_header=False)
    rows = [
        ("id", task.id),
        ("organization", f"{organization} ({task.organization_id})"),
        ("endpoint", task.endpoint),
        ("model", task.model),
        ("status", _status(task)),
        ("progress", f"{task.progress:.0%}"),
        ("estimated credits", str(task.estimated_credits)),
        ("cost", "" if task.cost_credits is None else str(task.cost_credits)),
        ("failure", f"{task.failure_code or ''} {task.failure or ''}".strip()),
        ("attempts", str(task.attempts)),
        ("created (UTC)", moment(task.created_at)),
        ("started (UTC)", moment(task.started_at)),
        ("finished (UTC)", moment(task.finished_at)),
        ("queued for", _seconds_between(task.created_at, task.started_at)),
        ("ran for", _seconds_between(task.started_at, task.finished_at)),
        ("seed", str(task.seed)),
    ]
    for field, value in rows:
        if value:
            table.add_row(field, value)
    console.print(table)
    console.print("[bold]request[/bold]")
    console.print_json(json.dumps(task.params, ensure_ascii=False))
    for url in urls:
        console.print(url, soft_wrap=True, highlight=False)


@app.command("watch")
def watch_task(
    task_id: Annotated[str, typer.Argument(help="The task's id")],
    interval: Annotated[float, typer.Option(min=0.05, help="Seconds between looks")] = 0.5,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Follow a task with a progress bar until it ends; exits 0 if it succeeded, 1 otherwise."""
    settings = settings_from(data_dir=data_dir, database_url=database_url)

    async def work(sessions: async_sessionmaker[AsyncSession]) -> tuple[Task, list[str]]:
        columns = (
            TextColumn("{task.description}"),
            BarColumn(),
            TaskProgressColumn(),
            TimeElapsedColumn(),
        )
        with Progress(*columns, console=console, transient=False) as progress:
            bar = progress.add_task(task_id, total=1.0)
            while True:
                async with sessions() as session:
                    task = await _find(session, task_id)
                    status = TaskStatus(task.status)
                    progress.update(
                        bar,
                        completed=1.0 if status is TaskStatus.SUCCEEDED else task.progress,
                        description=f"{task.model} [{STATUS_STYLE[status]}]{status.value}[/]",
                    )
                    if status.terminal:
                        return task, await _output_urls(session, settings, task)
                await asyncio.sleep(interval)

    task, urls = on_database(settings, work)
    status = TaskStatus(task.status)
    if status is TaskStatus.SUCCEEDED:
        console.print(f"{task.id} [green]SUCCEEDED[/green], {task.cost_credits} credits", highlight=False)
        for url in urls:
            console.print(url, soft_wrap=True, highlight=False)
        return
    reason = f": {task.failure_code} {task.failure}" if status is TaskStatus.FAILED else ""
    console.print(f"{task.id} [{STATUS_STYLE[status]}]{status.value}[/]{reason}", highlight=False)
    raise typer.Exit(1)
