"""The `taxiway` command: serve the API, and manage organizations, keys and the model catalog."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Column
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from taxiway import cli_tasks, clock
from taxiway.accounts import repository
from taxiway.audit import log as audit
from taxiway.billing import books, operator, usage
from taxiway.billing.tiers import TIERS
from taxiway.catalog import ENDPOINTS
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
from taxiway.engines.diffusers.weights import STATE_FILE as WEIGHTS_STATE
from taxiway.engines.diffusers.weights import describe as describe_weights
from taxiway.observability.logs import LogFormat
from taxiway.testmode import policy
from taxiway.workflows import repository as workflows

app = typer.Typer(help="taxiway: a self-hosted Runway developer API.", no_args_is_help=True)
keys_app = typer.Typer(help="API keys (shown once at creation, stored hashed).", no_args_is_help=True)
orgs_app = typer.Typer(help="Organizations, their tier and credit balance.", no_args_is_help=True)
clock_app = typer.Typer(
    help="Test mode only (TAXIWAY_TEST_MODE=1): move the servers' clock, e.g. past a quota window.",
    no_args_is_help=True,
)
app.add_typer(keys_app, name="keys")
app.add_typer(orgs_app, name="orgs")
app.add_typer(clock_app, name="clock")
simulate_app = typer.Typer(
    help="Test mode only (TAXIWAY_TEST_MODE=1): standing failures and latency for an organization or key.",
    no_args_is_help=True,
)
app.add_typer(simulate_app, name="simulate")
workflows_app = typer.Typer(
    help="Workflows: node graphs of catalog endpoints, published in versions for the API's /v1/workflows.",
    no_args_is_help=True,
)
app.add_typer(workflows_app, name="workflows")
app.add_typer(cli_tasks.app, name="tasks")
cluster_app = typer.Typer(
    help="A deployment's state: the task queue and where engines run (Ray nodes, actors, loaded models).",
    no_args_is_help=True,
)
app.add_typer(cluster_app, name="cluster")
console = Console()
T = TypeVar("T")


def _with_session(settings: Settings, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """`work` in one transaction on the settings' database."""

    async def in_transaction(sessions: async_sessionmaker[AsyncSession]) -> T:
        async with sessions.begin() as session:
            return await work(session)

    return on_database(settings, in_transaction)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Interface to bind [env TAXIWAY_HOST]")] = None,
    port: Annotated[int | None, typer.Option(help="Port to bind [env TAXIWAY_PORT]")] = None,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    workers: Annotated[int | None, typer.Option(help="Engine worker threads [env TAXIWAY_WORKERS]")] = None,
    log_level: Annotated[str | None, typer.Option(help="Log level [env TAXIWAY_LOG_LEVEL]")] = None,
    log_format: Annotated[
        LogFormat | None, typer.Option(help="text or json (one object per line) [env TAXIWAY_LOG_FORMAT]")
    ] = None,
) -> None:
    """Serve the API (SQLite and files under the data dir unless a database URL is given)."""
    from taxiway import serving

    settings = settings_from(
        host=host,
        port=port,
        data_dir=data_dir,
        database_url=database_url,
        workers=workers,
        log_level=log_level,
        log_format=log_format,
    )
    try:
        serving.serve(settings)
    except serving.PortBusy as exc:
        console.print(f"[red]error:[/red] {exc}", soft_wrap=True)
        raise typer.Exit(1) from None


@orgs_app.command("create")
def orgs_create(
    name: str,
    tier: Annotated[int, typer.Option(min=1, max=5, help="Usage tier 1-5")] = 1,
    credits: Annotated[int, typer.Option(min=0, help="Initial credit balance")] = 0,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Create an organization."""

    async def work(session: AsyncSession) -> None:
        org = await repository.create_organization(session, name, tier, credits, actor=audit.command_line())
        console.print(
            f"created organization [bold]{org.name}[/bold] ({org.id}), tier {tier}, {credits} credits"
        )

    _with_session(settings_from(data_dir=data_dir, database_url=database_url), work)


@orgs_app.command("list")
def orgs_list(data_dir: DataDir = None, database_url: DatabaseUrl = None) -> None:
    """List organizations with their tier, balance and active keys."""

    async def work(session: AsyncSession) -> None:
        table = cli_table("name", id_column(), "tier", "credits", "keys", time_column("created (UTC)"))
        for org, balance, keys in await repository.list_organizations(session):
            table.add_row(org.name, org.id, str(org.tier), str(balance), str(keys), moment(org.created_at))
        console.print(table)

    _with_session(settings_from(data_dir=data_dir, database_url=database_url), work)


@orgs_app.command("credit", context_settings={"ignore_unknown_options": True})
def orgs_credit(
    org: Annotated[str, typer.Argument(help="Organization name or id")],
    amount: Annotated[str, typer.Argument(help="+N adds N credits, -N removes them")],
    note: Annotated[str, typer.Option(help="Why, kept in the ledger")] = "",
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Add or remove credits: one ledger entry; the balance may not go below zero."""
    try:
        delta = int(amount)
    except ValueError:
        console.print(f"[red]error:[/red] the amount must be a whole number like +500 or -20, not {amount!r}")
        raise typer.Exit(1) from None

    async def work(session: AsyncSession) -> int:
        organization = await repository.find_organization(session, org)
        actor = audit.command_line()
        return await operator.adjust_credits(session, organization.id, delta, note, actor=actor)

    balance = _with_session(settings_from(data_dir=data_dir, database_url=database_url), work)
    console.print(f"{org}: {delta:+d} credits, balance {balance}")


@orgs_app.command("tier")
def orgs_tier(
    org: Annotated[str, typer.Argument(help="Organization name or id")],
    level: Annotated[int, typer.Argument(min=1, max=5, help="Usage tier 1-5")],
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Move an organization to another usage tier (its limits apply to new submissions)."""

    async def work(session: AsyncSession) -> None:
        organization = await repository.find_organization(session, org)
        await operator.set_tier(session, organization.id, level, actor=audit.command_line())

    _with_session(settings_from(data_dir=data_dir, database_url=database_url), work)
    console.print(f"{org}: tier {level}")


@orgs_app.command("usage")
def orgs_usage(
    org: Annotated[str, typer.Argument(help="Organization name or id")],
    days: Annotated[int, typer.Option(min=1, max=usage.MAX_DAYS, help="Days back, today included")] = 30,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Net credits used per UTC day and model, as POST /v1/organization/usage reports them."""

    async def work(session: AsyncSession) -> dict[str, Any]:
        organization = await repository.find_organization(session, org)
        today = clock.utcnow().date()
        start = today - timedelta(days=days - 1)
        return await usage.usage_report(session, organization.id, start, today + timedelta(days=1))

    report = _with_session(settings_from(data_dir=data_dir, database_url=database_url), work)
    table = cli_table("date", "model", "credits")
    for day in report["results"]:
        for used in day["usedCredits"]:
            table.add_row(day["date"], used["model"], str(used["amount"]))
    total = sum(used["amount"] for day in report["results"] for used in day["usedCredits"])
    table.add_section()
    table.add_row("total", "", str(total))
    console.print(table)


@orgs_app.command("check")
def orgs_check(
    repair: Annotated[
        bool, typer.Option("--repair", help="Recompute the kept totals from the ledger first")
    ] = False,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Prove that every balance, month spend and day of usage agrees with the ledger (exit 1 if not)."""

    async def work(session: AsyncSession) -> books.Report:
        if repair:
            await books.rebuild(session)
        return await books.check(session, clock.utcnow())

    report = _with_session(settings_from(data_dir=data_dir, database_url=database_url), work)
    if report.disagreements:
        table = cli_table("organization", "total", "kept", "ledger")
        for found in report.disagreements:
            table.add_row(found.organization, found.total, str(found.kept), str(found.ledger))
        console.print(table)
        console.print(
            f"[red]{len(report.disagreements)} totals disagree with the ledger[/red]; --repair rebuilds them"
        )
        raise typer.Exit(1)
    console.print(
        f"books agree: {report.organizations} organizations, {report.entries} ledger entries"
        + (" (rebuilt from the ledger)" if repair else "")
    )


def _clock_settings(data_dir: Path | None, database_url: str | None, command: str = "clock") -> Settings:
    settings = settings_from(data_dir=data_dir, database_url=database_url)
    if not settings.test_mode:
        console.print(f"[red]error:[/red] `taxiway {command}` needs test mode (TAXIWAY_TEST_MODE=1)")
        raise typer.Exit(1)
    return settings


KeyOption = Annotated[str | None, typer.Option("--key", help="Only this API key (id or displayed prefix)")]


async def _scope(session: AsyncSession, org: str, key: str | None) -> tuple[str, str | None]:
    organization = await repository.find_organization(session, org)
    if key is None:
        return organization.id, None
    return organization.id, (await repository.find_key(session, organization.id, key)).id


@simulate_app.command("set")
def simulate_set(
    org: Annotated[str, typer.Argument(help="Organization name or id")],
    settings_: Annotated[
        list[str], typer.Argument(metavar="SETTING...", help="failure-rate=0.1 code=INTERNAL latency=2s..6s")
    ],
    key: KeyOption = None,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Make an organization's (or one key's) tasks fail or lag at random, deterministically per request."""
    config = _clock_settings(data_dir, database_url, "simulate")
    try:
        chosen = policy.parse_policy(settings_)
    except ValueError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from None

    async def work(session: AsyncSession) -> None:
        organization_id, key_id = await _scope(session, org, key)
        await policy.store(session, organization_id, key_id, chosen, actor=audit.command_line())

    _with_session(config, work)
    console.print(f"{org}{' key ' + key if key else ''}: {chosen.describe()}")


@simulate_app.command("clear")
def simulate_clear(
    org: Annotated[str, typer.Argument(help="Organization name or id")],
    key: KeyOption = None,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """End a standing simulation: tasks behave normally again."""

    async def work(session: AsyncSession) -> None:
        organization_id, key_id = await _scope(session, org, key)
        await policy.store(session, organization_id, key_id, None, actor=audit.command_line())

    _with_session(_clock_settings(data_dir, database_url, "simulate"), work)
    console.print(f"{org}{' key ' + key if key else ''}: simulation cleared")


@clock_app.command("advance")
def clock_advance(
    by: Annotated[str, typer.Argument(help="How far, e.g. 25h, 1d2h, 90m, 30s")],
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Move time forward for every test-mode server on this database (within a second)."""
    settings = _clock_settings(data_dir, database_url)
    try:
        seconds = clock.parse_duration(by)
    except ValueError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from None

    async def work(session: AsyncSession) -> float:
        total = await clock.stored_offset(session) + seconds
        await clock.store_offset(session, total)
        return total

    console.print(f"clock offset: {timedelta(seconds=_with_session(settings, work))}")


@clock_app.command("reset")
def clock_reset(data_dir: DataDir = None, database_url: DatabaseUrl = None) -> None:
    """Back to real time."""

    async def work(session: AsyncSession) -> None:
        await clock.store_offset(session, 0.0)

    _with_session(_clock_settings(data_dir, database_url), work)
    console.print("clock offset: 0:00:00")


@keys_app.command("create")
def keys_create(
    org: Annotated[str, typer.Option(help="Organization name or id")] = "default",
    name: Annotated[str, typer.Option(help="A label for the key")] = "",
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Create an API key for an organization and print it (it is shown only this once)."""

    async def work(session: AsyncSession) -> str:
        organization = await repository.find_organization(session, org)
        _record, plain = await repository.create_key(
            session, organization.id, name=name, actor=audit.command_line()
        )
        return plain

    plain = _with_session(settings_from(data_dir=data_dir, database_url=database_url), work)
    typer.echo(plain)


@keys_app.command("list")
def keys_list(
    org: Annotated[str, typer.Option(help="Organization name or id")] = "default",
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """List an organization's keys (prefixes only: the keys themselves are not stored)."""

    async def work(session: AsyncSession) -> None:
        organization = await repository.find_organization(session, org)
        table = cli_table(
            id_column(),
            Column("prefix", no_wrap=True),
            "name",
            time_column("created (UTC)"),
            time_column("revoked (UTC)"),
        )
        for key in await repository.list_keys(session, organization.id):
            table.add_row(key.id, key.prefix + "…", key.name, moment(key.created_at), moment(key.revoked_at))
        console.print(table)

    _with_session(settings_from(data_dir=data_dir, database_url=database_url), work)


@keys_app.command("revoke")
def keys_revoke(
    key: Annotated[str, typer.Argument(help="Key id or its displayed prefix")],
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Revoke a key; requests with it get 401 from then on."""

    async def work(session: AsyncSession) -> None:
        record = await repository.revoke_key(session, key, actor=audit.command_line())
        console.print(f"revoked {record.prefix}… ({record.id})")

    _with_session(settings_from(data_dir=data_dir, database_url=database_url), work)


OrgOption = Annotated[
    str | None, typer.Option("--org", help="Only for this organization (name or id); default: every one")
]


async def _org_id(session: AsyncSession, org: str | None) -> str | None:
    return None if org is None else (await repository.find_organization(session, org)).id


@workflows_app.command("add")
def workflows_add(
    file: Annotated[Path, typer.Argument(help="A workflow definition: {name, description?, graph}")],
    org: OrgOption = None,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Check a definition against the catalog and publish it as the next version of its name."""

    async def work(session: AsyncSession) -> workflows.Added:
        definition = workflows.load_file(file)
        return await workflows.add_version(session, definition, await _org_id(session, org))

    added = _with_session(settings_from(data_dir=data_dir, database_url=database_url), work)
    row = added.workflow
    state = "published" if added.created else "unchanged, already"
    console.print(f"{row.name!r} {state} version {row.version}: [bold]{row.id}[/bold]")


@workflows_app.command("list")
def workflows_list(data_dir: DataDir = None, database_url: DatabaseUrl = None) -> None:
    """Every published version, newest first per name."""

    async def work(session: AsyncSession) -> None:
        table = cli_table(
            "name", "version", id_column(), "organization", "nodes", time_column("created (UTC)")
        )
        for row in await workflows.all_versions(session):
            nodes = str(len(row.graph.get("nodes", [])))
            org = row.organization_id or "every"
            table.add_row(row.name, str(row.version), row.id, org, nodes, moment(row.created_at))
        console.print(table)

    _with_session(settings_from(data_dir=data_dir, database_url=database_url), work)


VersionOption = Annotated[int | None, typer.Option("--version", min=1, help="One version of the name")]


@workflows_app.command("show")
def workflows_show(
    workflow: Annotated[str, typer.Argument(help="Version id, or a name (its newest version)")],
    version: VersionOption = None,
    org: OrgOption = None,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Print a version's definition as JSON, as `add` takes it."""

    async def work(session: AsyncSession) -> dict[str, Any]:
        found = await workflows.find(session, workflow, await _org_id(session, org), version)
        if not found:
            raise repository.NotFound(f"no workflow {workflow!r}")
        row = found[0]
        return {"name": row.name, "description": row.description, "version": row.version, "graph": row.graph}

    shown = _with_session(settings_from(data_dir=data_dir, database_url=database_url), work)
    typer.echo(json.dumps(shown, indent=2))


@workflows_app.command("remove")
def workflows_remove(
    workflow: Annotated[str, typer.Argument(help="Version id, or a name (all its versions)")],
    version: VersionOption = None,
    org: OrgOption = None,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Unpublish versions; runs already started finish on their own copy of the graph."""

    async def work(session: AsyncSession) -> int:
        found = await workflows.find(session, workflow, await _org_id(session, org), version)
        if not found:
            raise repository.NotFound(f"no workflow {workflow!r}")
        return await workflows.remove(session, found)

    removed = _with_session(settings_from(data_dir=data_dir, database_url=database_url), work)
    console.print(f"removed {removed} version{'s' if removed != 1 else ''} of {workflow!r}")


@cluster_app.command("status")
def cluster_status(
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the document as JSON")] = False,
) -> None:
    """The queue across every replica, and the engines: this process's, or the Ray cluster's nodes and
    engine actors with the models they keep loaded (TAXIWAY_EXECUTOR=ray joins TAXIWAY_RAY_ADDRESS)."""
    from taxiway.cluster import status
    from taxiway.engines.registry import EngineRegistry
    from taxiway.services import make_executor

    settings = settings_from(data_dir=data_dir, database_url=database_url)

    async def collect(session: AsyncSession) -> dict[str, Any]:
        executor = make_executor(settings, EngineRegistry(settings))
        if settings.executor == "local":
            return await status.collect(session, executor)
        await executor.start()
        try:
            return await status.collect(session, executor)
        finally:
            await executor.stop()

    document = _with_session(settings, collect)
    if as_json:
        console.print_json(json.dumps(document))
        return
    for title, columns, rows in status.render(document):
        console.print(f"[bold]{title}[/bold]")
        table = cli_table(*columns)
        for row in rows:
            table.add_row(*map(escape, row))
        console.print(table)


@app.command()
def models() -> None:
    """List the model catalog: endpoints, models, ratios, prices and engines."""
    settings = Settings()
    table = cli_table(
        "endpoint", Column("model", no_wrap=True), "output", "ratios", "price", "engine", "weights"
    )
    for endpoint in ENDPOINTS.values():
        for model in endpoint.models:
            engine = settings.engines.get(model.id, model.engine)
            table.add_row(
                endpoint.path,
                model.id,
                model.output.value,
                str(len(model.ratios)),
                model.price.describe(),
                engine,
                describe_weights(
                    settings.weights, endpoint.name, model.id, engine, settings.data_dir / WEIGHTS_STATE
                ),
            )
    console.print(table)


@app.command()
def tiers() -> None:
    """Show the usage tiers and their limits."""
    table = cli_table("tier", "max concurrent / model", "max daily / model", "max monthly credits")
    for level, spec in TIERS.items():
        table.add_row(
            str(level),
            str(spec.max_concurrent_generations),
            str(spec.max_daily_generations),
            str(spec.max_monthly_credit_spend),
        )
    console.print(table)
