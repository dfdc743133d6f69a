"""The task core under load, on SQLite and on PostgreSQL, with an engine that returns at once.

Only serving counts here: the create call (validation, quotas, credits, the task row), the scheduler's
claims and promotions, settling, and the polling path. Per backend the script prints:

- completed tasks/s with 8, 32 and 128 clients, each creating a task and polling it to the end, then the
  next (one fresh organization per phase, tier 5, so each phase starts from an empty queue);
- creates/s with 32 clients that only create, and how many of those tasks were still queued when the
  burst ended;
- create and usage p50 (one client, one request at a time) on a young database and after `--history`
  finished tasks (and `--pg-history` on PostgreSQL), seeded straight into the database;
- `GET /v1/tasks/{id}` req/s on a finished task against the bare-ASGI floor of `api_overhead.py`.

Targets, as ratios within one run: tasks/s at 128 clients >= 0.8x the 8-client figure; creates/s with 32
clients >= 300 on SQLite on 2 cores; create p50 after 100k tasks <= 1.5x young, usage <= 2x; polling
>= 0.15 of the floor. The load generator runs in a process of its own on the same cores, and the machine
may be shared: the load average and the CPU split are printed with the figures.

    python bench/task_core_load.py [--backends sqlite,postgres] [--seconds 10] [--history 100000]
                                   [--pg-history 1000000] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing as mp
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path[:0] = [str(BENCH), str(REPO / "tests")]

import api_overhead  # noqa: E402  (a sibling script)

API_VERSION = "2024-11-06"
MODEL = "gen4_image"
CREATE_BODY = json.dumps({"model": MODEL, "promptText": "load", "ratio": "1280:720"}).encode()
PRICE = 5  # gen4_image at 1280:720
TIER = 5
CREDITS = 1_000_000_000
WORKERS = 8  # engine threads: the engine returns at once, so this bounds only how many run together
TERMINAL = (b'"SUCCEEDED"', b'"FAILED"', b'"CANCELLED"')
HISTORY_SPAN = (timedelta(days=28), timedelta(hours=25))  # history lies in [now - 28 d, now - 25 h]


class InstantEngine:
    """Returns a few bytes of PNG at once: nothing but serving is measured."""

    name = "instant"

    def run(self, request: Any, context: Any) -> list[Any]:
        from taxiway.engines.base import Artifact

        return [Artifact(filename="output.png", data=b"\x89PNG\r\n\x1a\n", content_type="image/png")]


# --- a minimal keep-alive HTTP/1.1 client (httpx would spend more CPU than the server) ---------------


class HttpConnection:
    def __init__(self, base: str, key: str) -> None:
        host, port = base.removeprefix("http://").split(":")
        self.host, self.port = host, int(port)
        self.head = (
            f"Host: {host}:{port}\r\nAuthorization: Bearer {key}\r\nX-Runway-Version: {API_VERSION}\r\n"
        )
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, method: str, path: str, body: bytes = b"") -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        extra = f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n" if body else ""
        self.writer.write(f"{method} {path} HTTP/1.1\r\n{self.head}{extra}\r\n".encode() + body)
        status, length = api_overhead.parse_head(await self.reader.readuntil(b"\r\n\r\n"))
        return status, await self.reader.readexactly(length)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


# --- load phases, run in a client process ------------------------------------------------------------


@dataclass
class Phase:
    base: str
    key: str
    clients: int
    warmup: float
    seconds: float
    poll: float  # seconds between polls of one task
    creates_only: bool = False


@dataclass
class PhaseResult:
    completed: int = 0  # tasks that reached a terminal status inside the measured window
    created: int = 0  # creates answered 200 inside the measured window
    errors: dict[str, int] = field(default_factory=dict)
    unfinished: list[str] = field(default_factory=list)  # task ids not seen terminal when the phase ended
    client_cpu_s: float = 0.0


async def run_phase(phase: Phase) -> PhaseResult:
    result = PhaseResult()
    start = time.monotonic()
    measure_from, stop_at = start + phase.warmup, start + phase.warmup + phase.seconds
    errors: dict[str, int] = {}

    def error(message: str) -> None:
        errors[message] = errors.get(message, 0) + 1

    async def client() -> None:
        connection = HttpConnection(phase.base, phase.key)
        try:
            while time.monotonic() < stop_at:
                status, body = await connection.request("POST", f"/v1/{'text_to_image'}", CREATE_BODY)
                if status != 200:
                    error(f"create {status}: {body[:100].decode(errors='replace')}")
                    await asyncio.sleep(0.05)
                    continue
                if time.monotonic() >= measure_from:
                    result.created += 1
                task_id = json.loads(body)["id"]
                if phase.creates_only:
                    result.unfinished.append(task_id)
                    continue
                while True:
                    await asyncio.sleep(phase.poll)
                    status, body = await connection.request("GET", f"/v1/tasks/{task_id}")
                    if status != 200:
                        error(f"poll {status}: {body[:100].decode(errors='replace')}")
                        break
                    if any(word in body for word in TERMINAL):
                        if measure_from <= time.monotonic() < stop_at:
                            result.completed += 1
                        break
                    if time.monotonic() >= stop_at:
                        result.unfinished.append(task_id)
                        break
        except Exception as exc:  # a dropped connection ends that client and counts as an error
            error(f"{type(exc).__name__}: {exc}")
        finally:
            connection.close()

    cpu = time.process_time()
    await asyncio.gather(*(client() for _ in range(phase.clients)))
    result.client_cpu_s = time.process_time() - cpu
    result.errors = errors
    return result


def phase_worker(phase: Phase, conn: Connection) -> None:  # pragma: no cover - a client process
    import uvloop

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        conn.send(runner.run(run_phase(phase)))


def run_in_client_process(phase: Phase, server_pid: int) -> tuple[PhaseResult, float, float | None]:
    """The phase's result, the server's CPU% (of one core) and the machine's busy% over the phase."""
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    worker = ctx.Process(target=phase_worker, args=(phase, child), daemon=True)
    cpu0, busy0 = api_overhead.cpu_seconds(server_pid), api_overhead.machine_busy()
    started = time.monotonic()
    worker.start()
    try:
        if not parent.poll(phase.warmup + phase.seconds + 120):
            raise RuntimeError("the client process did not report")
        result: PhaseResult = parent.recv()
    finally:
        worker.join(timeout=10)
        if worker.is_alive():
            worker.kill()
    elapsed = time.monotonic() - started
    cpu1, busy1 = api_overhead.cpu_seconds(server_pid), api_overhead.machine_busy()
    server_pct = 100 * ((cpu1 or 0) - (cpu0 or 0)) / elapsed
    busy = None
    if busy0 and busy1 and busy1[1] > busy0[1]:
        busy = 100 * (busy1[0] - busy0[0]) / (busy1[1] - busy0[1])
    return result, server_pct, busy


# --- the server, its organizations and its history ---------------------------------------------------


@dataclass
class Target:
    name: str
    workdir: Path
    database_url: str | None
    port: int = field(default_factory=api_overhead.free_port)
    key: str = ""
    process: subprocess.Popen[bytes] | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("TAXIWAY_")}
        env.update(
            TAXIWAY_DATA_DIR=str(self.workdir / "data"),
            TAXIWAY_PORT=str(self.port),
            TAXIWAY_LOG_LEVEL="warning",
            TAXIWAY_WORKERS=str(WORKERS),
            TAXIWAY_BOOTSTRAP_TIER=str(TIER),
            TAXIWAY_BOOTSTRAP_CREDITS=str(CREDITS),
            TAXIWAY_ENGINES=json.dumps({MODEL: "task_core_load:InstantEngine"}),
            PYTHONPATH=os.pathsep.join(filter(None, [str(BENCH), os.environ.get("PYTHONPATH")])),
        )
        if self.database_url:
            env["TAXIWAY_DATABASE_URL"] = self.database_url
        return env

    def start(self) -> None:
        log = open(self.workdir / "server.log", "ab")  # noqa: SIM115 - lives as long as the process
        self.process = subprocess.Popen(
            [sys.executable, "-m", "taxiway", "serve"], env=self.env(), stdout=log, stderr=log
        )
        api_overhead.wait_ready(f"{self.base}/healthz", self.process, timeout=120)

    def stop(self) -> None:
        if self.process is not None:
            api_overhead.stop_process(self.process)
            self.process = None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def cli(self, *args: str) -> str:
        return subprocess.run(
            [sys.executable, "-m", "taxiway", *args],
            env=self.env(),
            capture_output=True,
            text=True,
            check=True,
        ).stdout

    def new_organization(self, name: str) -> str:
        """A fresh tier-5 organization with plenty of credits; returns an API key of it."""
        self.cli("orgs", "create", name, "--tier", str(TIER), "--credits", str(CREDITS))
        return self.cli("keys", "create", "--org", name).strip().split()[-1]


def history_rows(
    count: int, first: int, organization_id: str, now: datetime
) -> Iterator[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """`count` finished tasks spread over HISTORY_SPAN with their ledger entries: 9 in 10 succeeded and
    were charged, 1 in 10 failed and was refunded."""
    oldest, newest = now - HISTORY_SPAN[0], now - HISTORY_SPAN[1]
    step = (newest - oldest) / max(count, 1)
    params = {"model": MODEL, "promptText": "history", "ratio": "1280:720"}
    for index in range(first, first + count):
        created = oldest + step * (index - first)
        finished = created + timedelta(seconds=2)
        task_id = str(uuid.UUID(int=index + 1))
        failed = index % 10 == 9
        files = [{"key": f"tasks/{task_id}/output.png", "contentType": "image/png"}]
        task = {
            "id": task_id, "organization_id": organization_id, "api_key_id": None,
            "endpoint": "text_to_image", "model": MODEL, "params": params, "seed": index,
            "status": "FAILED" if failed else "SUCCEEDED", "estimated_credits": PRICE,
            "cost_credits": 0 if failed else PRICE, "progress": 1.0,
            "outputs": None if failed else {"files": files},
            "failure": "An unexpected error occurred." if failed else None,
            "failure_code": "INTERNAL" if failed else None, "attempts": 1, "created_at": created,
            "updated_at": finished, "started_at": created, "finished_at": finished, "deleted_at": None,
        }  # fmt: skip
        entry = {"organization_id": organization_id, "task_id": task_id, "model": MODEL, "note": ""}
        entries = [{**entry, "kind": "reserve", "amount": -PRICE, "created_at": created}]
        if failed:
            entries.append({**entry, "kind": "refund", "amount": PRICE, "created_at": finished})
        yield task, entries


def seed_history(database_url: str, organization: str, count: int, first: int) -> float:
    """Write `count` finished tasks of history for `organization` straight into the database (the
    server is stopped); returns the seconds it took."""
    from sqlalchemy import insert, select, text

    from taxiway.billing import books
    from taxiway.db.engine import create_engine, session_factory
    from taxiway.db.tables import LedgerEntry, Organization, Task

    async def seed() -> None:
        engine = create_engine(database_url)
        try:
            async with engine.begin() as connection:
                organization_id = await connection.scalar(
                    select(Organization.id).where(Organization.name == organization)
                )
                now = datetime.now(UTC)
                tasks: list[dict[str, Any]] = []
                entries: list[dict[str, Any]] = []
                for task, ledger in history_rows(count, first, str(organization_id), now):
                    tasks.append(task)
                    entries.extend(ledger)
                    if len(tasks) == 20_000:
                        await connection.execute(insert(Task), tasks)
                        await connection.execute(insert(LedgerEntry), entries)
                        tasks, entries = [], []
                if tasks:
                    await connection.execute(insert(Task), tasks)
                    await connection.execute(insert(LedgerEntry), entries)
                if connection.dialect.name == "postgresql":
                    # History grown over a month has been analyzed by autovacuum; a bulk seed would be
                    # too, a minute later. Without it the planner keeps the young table's statistics
                    # (a create's admission counts took 54 ms at 100,000 tasks, under 5 ms once analyzed).
                    await connection.execute(text("ANALYZE"))
            async with session_factory(engine).begin() as session:
                await books.rebuild(session)  # the balance and rollups the ledger now implies
        finally:
            await engine.dispose()

    started = time.monotonic()
    asyncio.run(seed())
    return time.monotonic() - started


# --- one backend ---------------------------------------------------------------------------------------


async def sequential_p50(base: str, key: str, method: str, path: str, body: bytes, count: int) -> float:
    """The median latency in ms of `count` requests sent one at a time (after a few warm-up ones)."""
    connection = HttpConnection(base, key)
    try:
        times = []
        for index in range(count + 5):
            started = time.perf_counter()
            status, answer = await connection.request(method, path, body)
            if status != 200:
                raise RuntimeError(f"{method} {path}: {status} {answer[:200]!r}")
            if index >= 5:
                times.append(time.perf_counter() - started)
        return statistics.median(times) * 1000
    finally:
        connection.close()


def point_figures(target: Target, key: str, count: int) -> dict[str, float]:
    usage = json.dumps({"startDate": (datetime.now(UTC).date() - timedelta(days=29)).isoformat()}).encode()
    return {
        "create_p50_ms": asyncio.run(
            sequential_p50(target.base, key, "POST", "/v1/text_to_image", CREATE_BODY, count)
        ),
        "usage_p50_ms": asyncio.run(
            sequential_p50(target.base, key, "POST", "/v1/organization/usage", usage, count // 4)
        ),
        "organization_p50_ms": asyncio.run(
            sequential_p50(target.base, key, "GET", "/v1/organization", b"", count // 4)
        ),
    }


async def wait_finished(base: str, key: str, task_ids: list[str], limit_s: float = 600) -> float:
    """Seconds until every task is terminal; raises if one is lost (404) or never ends."""
    connection = HttpConnection(base, key)
    started = time.monotonic()
    try:
        for task_id in task_ids:
            while True:
                status, body = await connection.request("GET", f"/v1/tasks/{task_id}")
                if status != 200:
                    raise RuntimeError(f"task {task_id}: {status} {body[:200]!r}")
                if any(word in body for word in TERMINAL):
                    break
                if time.monotonic() - started > limit_s:
                    raise TimeoutError(f"task {task_id} never finished")
                await asyncio.sleep(0.05)
        return time.monotonic() - started
    finally:
        connection.close()


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def phase_figures(
    result: PhaseResult, server_pct: float, busy: float | None, args: argparse.Namespace
) -> dict[str, Any]:
    return {
        "errors": result.errors,
        "server_cpu_pct": server_pct,
        "client_cpu_pct": 100 * result.client_cpu_s / (args.warmup + args.seconds),
        "machine_busy_pct": busy,
    }


def run_backend(
    name: str, database_url: str | None, workdir: Path, args: argparse.Namespace
) -> dict[str, Any]:
    target = Target(name, workdir, database_url)
    url = database_url or f"sqlite+aiosqlite:///{workdir / 'data' / 'taxiway.db'}"
    figures: dict[str, Any] = {"backend": name, "load_before": os.getloadavg()}
    target.start()
    try:
        history_key = target.new_organization("history")
        figures["young"] = point_figures(target, history_key, args.samples)
        log(f"{name}: young {figures['young']}")
        phases: dict[str, Any] = {}
        for clients in args.clients:
            key = target.new_organization(f"load{clients}")
            phase = Phase(target.base, key, clients, args.warmup, args.seconds, args.poll_ms / 1000)
            result, server_pct, busy = run_in_client_process(phase, target.pid)
            drain = asyncio.run(wait_finished(target.base, key, result.unfinished))
            phases[f"tasks_{clients}"] = {
                **phase_figures(result, server_pct, busy, args),
                "tasks_per_s": result.completed / args.seconds,
                "drain_s": drain,
            }
            log(f"{name}: {clients} clients {phases[f'tasks_{clients}']}")
        key = target.new_organization("burst")
        phase = Phase(target.base, key, 32, args.warmup, args.seconds, 0.0, creates_only=True)
        result, server_pct, busy = run_in_client_process(phase, target.pid)
        queued_at_end = asyncio.run(count_unfinished(target.base, key, result.unfinished))
        drain = asyncio.run(wait_finished(target.base, key, result.unfinished))
        phases["creates_32"] = {
            **phase_figures(result, server_pct, busy, args),
            "creates_per_s": result.created / args.seconds,
            "created_total": len(result.unfinished),
            "queued_at_end": queued_at_end,
            "drain_s": drain,
        }
        log(f"{name}: creates-only {phases['creates_32']}")
        figures["load"] = phases

        histories = [args.history] + ([args.pg_history] if name == "postgres" and args.pg_history else [])
        seeded = 0
        for size in histories:
            target.stop()
            seconds = seed_history(url, "history", size - seeded, seeded)
            log(f"{name}: seeded {size - seeded} finished tasks in {seconds:.0f} s")
            seeded = size
            target.start()
            figures[f"history_{size}"] = point_figures(target, history_key, args.samples)
            log(f"{name}: after {size} {figures[f'history_{size}']}")

        poll_key = target.new_organization("poll")
        task_id, body = api_overhead.finished_task(target.base, poll_key)
        poll_url = f"{target.base}/v1/tasks/{task_id}"
        headers = api_overhead.api_headers(poll_key)
        polled = api_overhead.measure(poll_url, headers, target.pid, 32, 1, "raw", args.poll_seconds)
    finally:
        target.stop()
    with api_overhead.baseline_server(body, workdir) as (base, pid):
        floor = api_overhead.measure(
            f"{base}/v1/tasks/{task_id}", headers, pid, 32, 1, "raw", args.poll_seconds
        )
    figures["poll"] = {
        "taxiway": asdict(polled),
        "floor": asdict(floor),
        "ratio": polled.requests_per_s / floor.requests_per_s,
    }
    figures["load_after"] = os.getloadavg()
    return figures


async def count_unfinished(base: str, key: str, task_ids: list[str]) -> int:
    connection = HttpConnection(base, key)
    try:
        left = 0
        for task_id in task_ids:
            _status, body = await connection.request("GET", f"/v1/tasks/{task_id}")
            left += not any(word in body for word in TERMINAL)
        return left
    finally:
        connection.close()


@contextlib.contextmanager
def postgres(workdir: Path) -> Iterator[str]:
    """A throwaway PostgreSQL cluster, started as the tests start theirs; yields a database URL."""
    from support.postgres import start_cluster

    with start_cluster("taxiway") as cluster:
        yield cluster.url("taxiway")


# --- report ---------------------------------------------------------------------------------------------


def ratio(a: float, b: float) -> float:
    return a / b if b else float("nan")


def report(results: list[dict[str, Any]], args: argparse.Namespace) -> str:
    lines = [
        f"machine: {os.cpu_count()} CPUs; engine returns at once; {WORKERS} engine threads; tier {TIER};",
        f"polling every {args.poll_ms:g} ms; {args.warmup:g} s warm-up + {args.seconds:g} s per load phase",
    ]
    for figures in results:
        name, load = figures["backend"], figures["load"]
        before, after = figures["load_before"][0], figures["load_after"][0]
        lines += ["", f"== {name} (load average {before:.1f} before, {after:.1f} after)"]
        for clients in args.clients:
            phase = load[f"tasks_{clients}"]
            lines.append(
                f"completed tasks/s, {clients:>3} clients: {phase['tasks_per_s']:7.1f}   "
                f"server CPU {phase['server_cpu_pct']:.0f}%, client CPU {phase['client_cpu_pct']:.0f}%, "
                f"machine busy {api_overhead.fmt(phase['machine_busy_pct'], '.0f')}%, "
                f"errors {sum(phase['errors'].values())}"
            )
        low = load[f"tasks_{args.clients[0]}"]["tasks_per_s"]
        high = load[f"tasks_{args.clients[-1]}"]["tasks_per_s"]
        lines.append(
            f"  {args.clients[-1]} / {args.clients[0]} clients: x{ratio(high, low):.2f} (target >= 0.8)"
        )
        burst = load["creates_32"]
        lines.append(
            f"creates/s, 32 clients: {burst['creates_per_s']:.0f} (target >= 300 on SQLite); "
            f"{burst['queued_at_end']} of {burst['created_total']} still queued at the end, "
            f"all finished {burst['drain_s']:.1f} s later"
        )
        young = figures["young"]
        for key, value in figures.items():
            if not key.startswith("history_"):
                continue
            create = ratio(value["create_p50_ms"], young["create_p50_ms"])
            usage = ratio(value["usage_p50_ms"], young["usage_p50_ms"])
            lines.append(
                f"after {int(key.split('_')[1]):,} tasks: create p50 {young['create_p50_ms']:.1f} -> "
                f"{value['create_p50_ms']:.1f} ms (x{create:.2f}, target <= 1.5); usage p50 "
                f"{young['usage_p50_ms']:.1f} -> {value['usage_p50_ms']:.1f} ms (x{usage:.2f}, target <= 2); "
                f"GET /v1/organization {young['organization_p50_ms']:.1f} -> "
                f"{value['organization_p50_ms']:.1f} ms"
            )
        poll = figures["poll"]
        lines.append(
            f"polling: {poll['taxiway']['requests_per_s']:.0f} req/s against a floor of "
            f"{poll['floor']['requests_per_s']:.0f}: x{poll['ratio']:.3f} (target >= 0.15)"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--clients", default="8,32,128", help="client counts of the completed-tasks phases")
    parser.add_argument("--seconds", type=float, default=10.0, help="measured seconds per load phase")
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--poll-ms", type=float, default=50.0, help="a client's pause between polls")
    parser.add_argument(
        "--poll-seconds", type=float, default=8.0, help="measured seconds of the polling figure"
    )
    parser.add_argument(
        "--samples", type=int, default=200, help="sequential creates per p50 (usage: a quarter)"
    )
    parser.add_argument("--history", type=int, default=100_000)
    parser.add_argument("--pg-history", type=int, default=1_000_000, help="0 to skip")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    args.clients = [int(n) for n in args.clients.split(",")]
    results = []
    for backend in args.backends.split(","):
        with tempfile.TemporaryDirectory(prefix=f"taxiway-load-{backend}-") as directory:
            workdir = Path(directory)
            (workdir / "data").mkdir()
            if backend == "sqlite":
                results.append(run_backend(backend, None, workdir, args))
            elif backend == "postgres":
                with postgres(workdir) as url:
                    results.append(run_backend(backend, url, workdir, args))
            else:
                parser.error(f"unknown backend {backend!r}")
    print(report(results, args))
    if args.json:
        print("RESULT " + json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
