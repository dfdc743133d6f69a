"""The reliability suite's long form: an attack run against a live server, on loopback.

    .venv/bin/python bench/attack.py [--examples 50] [--slow 300] [--tasks 100] [--json]

1. Schemathesis over /openapi.json (every operation, `--examples` each): 5xx answers, answers that
   do not match the documented responses, and where schema and validation disagree (valid requests
   refused: rules no schema states, such as a media input that must decode or a known cursor;
   invalid requests served: a schema stricter than the server).
2. Latency of `GET /v1/organization` (p50, p99 over 200 calls) idle, then while `--slow` slowloris
   connections (silent, half a request line, half the headers, a trickling body) are open, and the
   ratio between the two; how many slow connections the server closed, and how long that took.
3. kill -9 with `--tasks` tasks in flight, then a restart: tasks lost (not terminal or gone) and ledger
   drift (credits charged minus the tasks' costs).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

VERSION = "2024-11-06"


class Server:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.key = "key_" + secrets.token_hex(64)
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = int(sock.getsockname()[1])
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}", "X-Runway-Version": VERSION}

    def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("TAXIWAY_")}
        env.update(
            TAXIWAY_DATA_DIR=str(self.data_dir),
            TAXIWAY_PORT=str(self.port),
            TAXIWAY_BOOTSTRAP_API_KEY=self.key,
            TAXIWAY_BOOTSTRAP_CREDITS="1000000",
            TAXIWAY_LOG_LEVEL="warning",
        )
        log = open(self.data_dir / "server.log", "ab")  # noqa: SIM115 - lives as long as the process
        self.process = subprocess.Popen(
            [sys.executable, "-m", "taxiway", "serve"], env=env, stdout=log, stderr=log
        )
        while True:
            if self.process.poll() is not None:
                raise RuntimeError("the server exited; see " + str(self.data_dir / "server.log"))
            try:
                if httpx.get(self.url + "/healthz", timeout=5).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.2)

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(sig)
            self.process.wait(timeout=60)
        self.process = None

    def charged(self, task_ids: list[str]) -> int:
        """Credits the ledger holds as charged for these tasks (charges less refunds); tasks of the
        earlier phases, still settling, are not counted."""
        with sqlite3.connect(self.data_dir / "taxiway.db") as db:
            marks = ",".join("?" * len(task_ids))
            query = f"SELECT COALESCE(SUM(amount), 0) FROM ledger_entries WHERE task_id IN ({marks})"
            return -int(db.execute(query, task_ids).fetchone()[0])


# 5xx and answers the schema does not document; then requests the schema calls valid that the server
# refused, and invalid ones it served (where the schema and validation disagree).
ANSWER_CHECKS = ("not_a_server_error", "status_code_conformance", "content_type_conformance",
                 "response_schema_conformance")  # fmt: skip
AGREEMENT_CHECKS = ("positive_data_acceptance", "negative_data_rejection")


def fuzz(server: Server, examples: int) -> dict[str, Any]:
    """Schemathesis' exit code is 1 on any failed check and on any error (a request that timed out);
    both are read from its report, so the figures say which. NUL characters are not generated: every
    string refuses them (400), a rule /openapi.json states once rather than on each string."""
    report = server.data_dir / "schemathesis.ndjson"
    started = time.monotonic()
    done = subprocess.run(
        [
            sys.executable, "-m", "schemathesis.cli", "run", f"{server.url}/openapi.json",
            "-H", f"Authorization: Bearer {server.key}", "-H", f"X-Runway-Version: {VERSION}",
            "-n", str(examples), "--phases", "examples,coverage,fuzzing", "--generation-allow-x00", "false",
            "--checks", ",".join(ANSWER_CHECKS + AGREEMENT_CHECKS), "--request-timeout", "300",
            "--report", "ndjson", "--report-ndjson-path", str(report),
        ],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    requests = 0
    failed: dict[str, set[str]] = {check: set() for check in ANSWER_CHECKS + AGREEMENT_CHECKS}
    errors: list[str] = []
    for line in report.read_text().splitlines() if report.exists() else []:
        event = json.loads(line)
        if "NonFatalError" in event:
            error = event["NonFatalError"]
            errors.append(f"{error.get('label')}: {error['value']['type']} {error['value']['message']}")
        recorder = (event.get("ScenarioFinished") or {}).get("recorder") or {}
        requests += sum(1 for case in recorder.get("interactions", {}).values() if case.get("response"))
        for results in recorder.get("checks", {}).values():
            for result in results:
                if result.get("status") == "failure" and result["name"] in failed:
                    failed[result["name"]].add(recorder["label"])
    return {
        "exit_code": done.returncode,
        "requests": requests,
        "seconds": round(time.monotonic() - started, 1),
        "operations_failing": {check: sorted(labels) for check, labels in failed.items() if labels},
        "errors": errors,
    }


def latencies(server: Server, calls: int = 200) -> list[float]:
    times = []
    with httpx.Client(headers=server.headers, timeout=120) as client:
        for _ in range(calls):
            started = time.perf_counter()
            client.get(server.url + "/v1/organization").raise_for_status()
            times.append(time.perf_counter() - started)
    return times


def slowloris(server: Server, count: int) -> dict[str, Any]:
    openers = [
        b"",
        b"GET /v1/organization HT",
        b"GET /v1/organization HTTP/1.1\r\nHost: x\r\nX-Slow: 1",
        b"POST /v1/uploads HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        + f"Authorization: Bearer {server.key}\r\nX-Runway-Version: {VERSION}\r\n".encode()
        + b"Content-Length: 100000\r\n\r\n{",
    ]
    sockets = []
    for index in range(count):
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=600)
        sock.sendall(openers[index % len(openers)])
        sockets.append(sock)
    opened = time.monotonic()
    closed_at: list[float] = []
    lock = threading.Lock()

    def wait_closed(sock: socket.socket) -> None:
        try:
            while sock.recv(4096):
                pass
        except OSError:
            pass
        with lock:
            closed_at.append(time.monotonic() - opened)

    watchers = [threading.Thread(target=wait_closed, args=(sock,), daemon=True) for sock in sockets]
    for watcher in watchers:
        watcher.start()
    under_attack = latencies(server)
    for watcher in watchers:
        watcher.join(timeout=600)
    for sock in sockets:
        sock.close()
    return {
        "slow_connections": count,
        "closed_by_server": len(closed_at),
        "last_closed_after_s": round(max(closed_at), 1) if closed_at else None,
        "latencies": under_attack,
    }


def kill9(server: Server, tasks: int) -> dict[str, Any]:
    ids: list[str] = []
    with httpx.Client(headers=server.headers, timeout=120) as client:
        for n in range(tasks):
            body = {"model": "gen4_image", "promptText": f"a lighthouse {n}", "ratio": "1920:1080"}
            ids.append(client.post(server.url + "/v1/text_to_image", json=body).json()["id"])
    server.stop(signal.SIGKILL)
    server.start()
    costs = lost = 0
    with httpx.Client(headers=server.headers, timeout=120) as client:
        for task_id in ids:
            deadline = time.monotonic() + 600
            while True:
                answer = client.get(f"{server.url}/v1/tasks/{task_id}")
                task = answer.json() if answer.status_code == 200 else {}
                if task.get("status") in ("SUCCEEDED", "FAILED", "CANCELLED"):
                    costs += int(task["cost"]["credits"])
                    break
                if answer.status_code != 200 or time.monotonic() > deadline:
                    lost += 1
                    break
                time.sleep(0.2)
    return {"tasks": tasks, "lost": lost, "ledger_drift": server.charged(ids) - costs}


def quantiles(times: list[float]) -> dict[str, float]:
    ordered = sorted(times)
    return {
        "p50_ms": round(statistics.median(ordered) * 1000, 2),
        "p99_ms": round(ordered[int(len(ordered) * 0.99) - 1] * 1000, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--examples", type=int, default=50)
    parser.add_argument("--slow", type=int, default=300)
    parser.add_argument("--tasks", type=int, default=100)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="taxiway-attack-") as folder:
        server = Server(Path(folder))
        server.start()
        try:
            results: dict[str, Any] = {"schemathesis": fuzz(server, args.examples)}
            idle = quantiles(latencies(server))
            attack = slowloris(server, args.slow)
            loaded = quantiles(attack.pop("latencies"))
            results["slowloris"] = {
                **attack,
                "idle": idle,
                "under_attack": loaded,
                "p50_ratio": round(loaded["p50_ms"] / idle["p50_ms"], 2),
            }
            results["kill9"] = kill9(server, args.tasks)
        finally:
            server.stop()
    if args.json:
        print(json.dumps(results, indent=2))
        return
    fuzzed, slow, killed = results["schemathesis"], results["slowloris"], results["kill9"]
    failing = fuzzed["operations_failing"]
    answers = sorted({label for check in ANSWER_CHECKS for label in failing.get(check, [])})
    print(
        f"schemathesis: {fuzzed['requests']} requests in {fuzzed['seconds']} s, exit {fuzzed['exit_code']}; "
        f"operations with a 5xx or an undocumented answer: {len(answers)} {answers}"
    )
    print(f"  errors (requests that got no answer): {fuzzed['errors']}")
    for check in AGREEMENT_CHECKS:
        print(f"  {check} failed on {len(failing.get(check, []))} operations: {failing.get(check, [])}")
    print(
        f"slowloris: {slow['closed_by_server']}/{slow['slow_connections']} slow connections closed by the "
        f"server, the last after {slow['last_closed_after_s']} s"
    )
    print(
        f"  GET /v1/organization idle p50 {slow['idle']['p50_ms']} ms p99 {slow['idle']['p99_ms']} ms; "
        f"under attack p50 {slow['under_attack']['p50_ms']} ms p99 {slow['under_attack']['p99_ms']} ms; "
        f"ratio {slow['p50_ratio']}"
    )
    print(f"kill -9 with {killed['tasks']} tasks submitted: {killed['lost']} lost, "
          f"ledger drift {killed['ledger_drift']} credits")  # fmt: skip


if __name__ == "__main__":
    main()
