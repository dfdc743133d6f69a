"""API overhead on the hot polling path: `GET /v1/tasks/{id}` on taxiway against a bare ASGI floor.

SDK clients poll a task every few seconds until it finishes, so this is the request a busy server
answers most. The script measures throughput and latency of that request on taxiway (FastAPI, auth,
database read, rendering) and, in the same run and under the same uvicorn settings as `taxiway
serve`, on a raw ASGI app that returns the very same JSON bytes. The ratio between the two is the
cost of the application itself, separated from uvicorn, the HTTP parser, the kernel and the client.

The load comes from N keep-alive connections, each polling in a closed loop, spread over one or more
client processes. Client and server share the machine's cores, so the CPU time of both is measured:
a client process near 100% of a core means the load generator, not the server, is the limit. That is
why the default client speaks just enough HTTP/1.1 itself (~15 us of CPU a request): httpx.AsyncClient
(`--client httpx`) spends ~1.5 ms a request and saturates its core before even taxiway does.

    .venv/bin/python bench/api_overhead.py [--clients N] [--seconds S] [--url URL --key KEY] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

REPO = Path(__file__).resolve().parent.parent
API_VERSION = "2024-11-06"
WARMUP_SECONDS = 2.0
TASK_REQUEST = {"model": "gen4_image", "promptText": "benchmark", "ratio": "1280:720"}

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


# --- the baseline: a raw ASGI app under uvicorn, in a process of its own ---------------------------


def serve_baseline(port: int, body_file: Path) -> None:
    """Answer `GET /v1/tasks/{id}` with fixed bytes, with `taxiway serve`'s uvicorn settings."""
    import uvicorn

    body = body_file.read_bytes()
    found = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    missing = [(b"content-length", b"0")]

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        if scope["method"] == "GET" and scope["path"].startswith("/v1/tasks/"):
            await send({"type": "http.response.start", "status": 200, "headers": found})
            await send({"type": "http.response.body", "body": body})
        else:
            await send({"type": "http.response.start", "status": 404, "headers": missing})
            await send({"type": "http.response.body", "body": b""})

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_ready(url: str, proc: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"baseline server exited with {proc.returncode}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise TimeoutError("baseline server did not start")


def stop_process(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextmanager
def baseline_server(body: bytes, workdir: Path) -> Iterator[tuple[str, int]]:
    """Yield (base URL, pid) of a baseline server answering with `body`."""
    body_file = workdir / "baseline-body.json"
    body_file.write_bytes(body)
    port = free_port()
    with open(workdir / "baseline.log", "ab") as log:
        proc = subprocess.Popen(
            [sys.executable, __file__, "--serve-baseline", str(port), str(body_file)], stdout=log, stderr=log
        )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_ready(f"{base}/v1/tasks/ready", proc)
        yield base, proc.pid
    finally:
        stop_process(proc)


# --- the target: a running taxiway, or one started here ----------------------------------------------


def api_headers(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}", "X-Runway-Version": API_VERSION}


def finished_task(base: str, key: str, timeout: float = 120.0) -> tuple[str, bytes]:
    """Create a text_to_image task, wait for it to succeed, and return its id and exact JSON."""
    with httpx.Client(base_url=base, headers=api_headers(key), timeout=10) as client:
        created = client.post("/v1/text_to_image", json=TASK_REQUEST)
        created.raise_for_status()
        task_id = str(created.json()["id"])
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            polled = client.get(f"/v1/tasks/{task_id}")
            polled.raise_for_status()
            status = polled.json()["status"]
            if status == "SUCCEEDED":
                return task_id, polled.content
            if status in ("FAILED", "CANCELLED"):
                raise RuntimeError(f"benchmark task ended {status}: {polled.text}")
            time.sleep(0.2)
    raise TimeoutError(f"task {task_id} did not succeed within {timeout:.0f} s")


# --- the load: closed-loop keep-alive connections in client processes --------------------------------


@dataclass
class Window:
    start_at: float  # time.monotonic(), which is one clock for all processes on Linux
    measure_from: float
    stop_at: float


@dataclass
class WorkerResult:
    latencies: list[float]  # seconds, of requests that completed inside the measured window
    errors: dict[str, int]  # over the whole run, warm-up included
    cpu_seconds: float  # this process's CPU time inside the measured window


def parse_head(head: bytes) -> tuple[int, int]:
    """Status and Content-Length of a response head (both servers always send a length)."""
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return status, int(value)
    raise ValueError("response without Content-Length")


async def raw_poller(url: str, headers: dict[str, str], window: Window, record: Callable[..., None]) -> None:
    """One keep-alive connection speaking just enough HTTP/1.1 for this; far cheaper than httpx."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    lines = [f"GET {parts.path} HTTP/1.1", f"Host: {host}:{port}"] + [f"{k}: {v}" for k, v in headers.items()]
    request = ("\r\n".join(lines) + "\r\n\r\n").encode()
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while (started := time.monotonic()) < window.stop_at:
            writer.write(request)
            status, length = parse_head(await reader.readuntil(b"\r\n\r\n"))
            body = await reader.readexactly(length)
            record(started, status, body)
    finally:
        writer.close()


async def httpx_poller(
    client: httpx.AsyncClient, url: str, window: Window, record: Callable[..., None]
) -> None:
    while (started := time.monotonic()) < window.stop_at:
        response = await client.get(url)
        record(started, response.status_code, response.content)


async def run_load(
    url: str, headers: dict[str, str], clients: int, kind: str, window: Window
) -> WorkerResult:
    latencies: list[float] = []
    errors: Counter[str] = Counter()

    def record(started: float, status: int, body: bytes) -> None:
        done = time.monotonic()
        if status != 200:
            errors[f"HTTP {status}: {body[:120].decode(errors='replace')}"] += 1
        elif window.measure_from <= done < window.stop_at:
            latencies.append(done - started)

    async def guarded(poller: Awaitable[None]) -> None:
        try:
            await poller
        except Exception as exc:  # a dropped connection counts as an error and ends that client
            errors[f"{type(exc).__name__}: {exc}"] += 1

    cpu: list[float] = []

    async def sample_cpu() -> None:
        for moment in (window.measure_from, window.stop_at):
            await asyncio.sleep(max(0.0, moment - time.monotonic()))
            cpu.append(time.process_time())

    await asyncio.sleep(max(0.0, window.start_at - time.monotonic()))
    if kind == "raw":
        await asyncio.gather(
            sample_cpu(), *(guarded(raw_poller(url, headers, window, record)) for _ in range(clients))
        )
    else:
        limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
        async with httpx.AsyncClient(headers=headers, limits=limits, timeout=10) as client:
            await asyncio.gather(
                sample_cpu(), *(guarded(httpx_poller(client, url, window, record)) for _ in range(clients))
            )
    return WorkerResult(latencies, dict(errors), cpu[1] - cpu[0])


def load_worker(
    url: str, headers: dict[str, str], clients: int, kind: str, conn: Connection
) -> None:  # pragma: no cover - runs in a client process
    try:
        import uvloop

        loop_factory: Callable[[], asyncio.AbstractEventLoop] | None = uvloop.new_event_loop
    except ImportError:
        loop_factory = None
    conn.send("ready")
    window: Window = conn.recv()
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        conn.send(runner.run(run_load(url, headers, clients, kind, window)))


# --- measuring one target ----------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process, all its threads included (Linux /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy() -> tuple[float, float] | None:
    """(busy, total) CPU seconds of all cores since boot (Linux /proc/stat)."""
    try:
        values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:8]]
    except OSError:
        return None
    tick = os.sysconf("SC_CLK_TCK")
    return (sum(values) - values[3] - values[4]) / tick, sum(values) / tick  # less idle and iowait


@dataclass
class Figures:
    requests: int
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    errors: int
    error_samples: dict[str, int]
    server_cpu_pct: float | None  # of one core
    client_cpu_pct: list[float]  # of one core, per client process
    machine_busy_pct: float | None  # of all cores
    other_cpu_pct: float | None  # of one core: busy time neither server nor clients account for


def percentile(ordered: list[float], q: float) -> float:
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def measure(
    url: str,
    headers: dict[str, str],
    server_pid: int | None,
    clients: int,
    procs: int,
    kind: str,
    seconds: float,
) -> Figures:
    ctx = mp.get_context("spawn")
    workers: list[tuple[mp.process.BaseProcess, Connection]] = []
    try:
        for i in range(procs):
            parent, child = ctx.Pipe()
            share = clients // procs + (1 if i < clients % procs else 0)
            worker = ctx.Process(target=load_worker, args=(url, headers, share, kind, child), daemon=True)
            worker.start()
            workers.append((worker, parent))
        for _, conn in workers:
            if not conn.poll(60) or conn.recv() != "ready":
                raise RuntimeError("a client process did not start")
        now = time.monotonic() + 0.2
        window = Window(now, now + WARMUP_SECONDS, now + WARMUP_SECONDS + seconds)
        for _, conn in workers:
            conn.send(window)
        time.sleep(max(0.0, window.measure_from - time.monotonic()))
        server0, busy0 = cpu_seconds(server_pid) if server_pid else None, machine_busy()
        time.sleep(max(0.0, window.stop_at - time.monotonic()))
        server1, busy1 = cpu_seconds(server_pid) if server_pid else None, machine_busy()
        results: list[WorkerResult] = []
        for _, conn in workers:
            if not conn.poll(seconds + 30):
                raise RuntimeError("a client process did not report")
            results.append(conn.recv())
    finally:
        for proc, _ in workers:
            proc.join(timeout=5)
            if proc.is_alive():
                proc.kill()
                proc.join()
    latencies = sorted(lat for r in results for lat in r.latencies)
    errors: Counter[str] = Counter()
    for r in results:
        errors.update(r.errors)
    server_pct = None
    if server0 is not None and server1 is not None:
        server_pct = 100 * (server1 - server0) / seconds
    client_pct = [100 * r.cpu_seconds / seconds for r in results]
    busy_pct = other_pct = None
    if busy0 and busy1 and busy1[1] > busy0[1]:
        busy_pct = 100 * (busy1[0] - busy0[0]) / (busy1[1] - busy0[1])
        if server_pct is not None:
            other_pct = max(0.0, 100 * (busy1[0] - busy0[0]) / seconds - server_pct - sum(client_pct))
    return Figures(
        requests=len(latencies),
        requests_per_s=len(latencies) / seconds,
        p50_ms=1000 * percentile(latencies, 0.50),
        p99_ms=1000 * percentile(latencies, 0.99),
        errors=sum(errors.values()),
        error_samples=dict(errors.most_common(5)),
        server_cpu_pct=server_pct,
        client_cpu_pct=client_pct,
        machine_busy_pct=busy_pct,
        other_cpu_pct=other_pct,
    )


# --- the run -----------------------------------------------------------------------------------------


@contextmanager
def taxiway_target(args: argparse.Namespace, workdir: Path) -> Iterator[tuple[str, str, int | None]]:
    """Yield (base URL, key, server pid or None) of the taxiway under test."""
    if args.url:
        yield args.url.rstrip("/"), args.key, None
        return
    sys.path.insert(0, str(REPO / "tests"))
    from support.server import Server  # type: ignore[import-not-found, unused-ignore]

    server = Server(workdir / "taxiway")
    try:
        server.start()
        assert server.process is not None
        yield server.base_url, server.key, server.process.pid
    finally:
        server.stop()


def fmt(value: float | None, spec: str = ".1f") -> str:
    return "n/a" if value is None else format(value, spec)


def report(result: dict[str, Any]) -> str:
    facts, targets, ratio = result["machine"], result["targets"], result["ratio"]
    lines = [
        f"machine: {facts['cpu_count']} CPUs, Python {facts['python']} ({facts['platform']})",
        f"load: {result['clients']} keep-alive connections ({result['client']} client) in "
        f"{result['procs']} client process(es), {result['seconds']:g} s per target after "
        f"{WARMUP_SECONDS:g} s warm-up;",
        f"      client and server share the {facts['cpu_count']} cores; CPU% is of one core, busy% of all;",
        "      other CPU% is the kernel and any other processes (the machine is not isolated)",
        f"task: {result['task_id']} ({result['body_bytes']} bytes of JSON)",
        "",
        f"{'target':<10}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}"
        f"{'server CPU%':>12}{'client CPU%':>12}{'other CPU%':>11}{'busy%':>7}",
    ]
    for name, f in targets.items():
        client = "+".join(fmt(c, ".0f") for c in f["client_cpu_pct"])
        lines.append(
            f"{name:<10}{f['requests_per_s']:>10.0f}{f['p50_ms']:>9.2f}{f['p99_ms']:>9.2f}{f['errors']:>8}"
            f"{fmt(f['server_cpu_pct'], '.0f'):>12}{client:>12}{fmt(f['other_cpu_pct'], '.0f'):>11}"
            f"{fmt(f['machine_busy_pct'], '.0f'):>7}"
        )
    lines += [
        "",
        f"taxiway/baseline: throughput x{ratio['throughput']:.3f}, p50 x{ratio['p50']:.2f}, "
        f"p99 x{ratio['p99']:.2f}",
    ]
    for name, f in targets.items():
        for message, count in f["error_samples"].items():
            lines.append(f"error on {name} ({count}x): {message}")
    if any(c >= 90 for f in targets.values() for c in f["client_cpu_pct"]):
        lines.append("note: a client process used >= 90% of a core: the load generator may be the limit")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=32, help="concurrent keep-alive connections")
    parser.add_argument("--seconds", type=float, default=20.0, help="measured seconds per target")
    parser.add_argument("--procs", type=int, default=1, help="client processes sharing the connections")
    parser.add_argument(
        "--client", choices=["raw", "httpx"], default="raw", help="raw HTTP/1.1 (cheap) or httpx.AsyncClient"
    )
    parser.add_argument("--url", help="a running taxiway (default: start one)")
    parser.add_argument("--key", help="an API key for --url")
    parser.add_argument("--json", action="store_true", help="print the figures as a JSON object")
    parser.add_argument("--serve-baseline", nargs=2, metavar=("PORT", "BODY_FILE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_baseline:
        serve_baseline(int(args.serve_baseline[0]), Path(args.serve_baseline[1]))
        return 0
    if bool(args.url) != bool(args.key):
        parser.error("--url and --key go together")
    if not 1 <= args.procs <= args.clients:
        parser.error("need 1 <= --procs <= --clients")

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    def load(base: str, task_id: str, headers: dict[str, str], pid: int | None) -> Figures:
        log(f"polling {base} for {WARMUP_SECONDS:g} + {args.seconds:g} s")
        url = f"{base}/v1/tasks/{task_id}"
        return measure(url, headers, pid, args.clients, args.procs, args.client, args.seconds)

    with tempfile.TemporaryDirectory(prefix="taxiway-bench-") as tmp:
        workdir = Path(tmp)
        targets: dict[str, Figures] = {}
        with taxiway_target(args, workdir) as (base, key, pid):
            log(f"taxiway at {base}: creating the benchmark task")
            task_id, body = finished_task(base, key)
            headers = api_headers(key)
            targets["taxiway"] = load(base, task_id, headers, pid)
        with baseline_server(body, workdir) as (base, pid):
            targets["baseline"] = load(base, task_id, headers, pid)

    tx, bl = targets["taxiway"], targets["baseline"]
    result: dict[str, Any] = {
        "machine": {
            "cpu_count": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "clients": args.clients,
        "procs": args.procs,
        "client": args.client,
        "seconds": args.seconds,
        "warmup_seconds": WARMUP_SECONDS,
        "task_id": task_id,
        "body_bytes": len(body),
        "targets": {name: asdict(f) for name, f in targets.items()},
        "ratio": {
            "throughput": tx.requests_per_s / bl.requests_per_s if bl.requests_per_s else float("nan"),
            "p50": tx.p50_ms / bl.p50_ms,
            "p99": tx.p99_ms / bl.p99_ms,
        },
    }
    print(json.dumps(result, indent=2) if args.json else report(result))
    return 1 if tx.errors or bl.errors else 0


if __name__ == "__main__":
    sys.exit(main())
