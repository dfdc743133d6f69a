"""What serving adds to a task's latency: submit -> SUCCEEDED against the engine's own run time.

The engine (`FixedTimeEngine` below, loaded by the server as `task_latency:FixedTimeEngine`) sleeps a fixed
time, as a GPU pipeline would keep the CPU idle, and returns a PNG-sized artifact. Everything else is
taxiway's: the create call (validation, credits, the task row), the scheduler's pickup, storing the file,
settling credits, and the client's polling. Baseline: the engine's sleep, timed in the same process. The
defaults are the FLUX target (0.5 s, a 1024x1024 PNG); at 3 % the budget is 15 ms.

    python bench/task_latency.py [--seconds 0.5] [--bytes 2000000] [--tasks 20] [--poll-ms 20] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent


class FixedTimeEngine:
    """Sleeps `BENCH_ENGINE_SECONDS` and returns `BENCH_ENGINE_BYTES` bytes, recording its own run time."""

    name = "fixed-time"

    def run(self, request: Any, context: Any) -> list[Any]:
        from taxiway.engines.base import Artifact

        seconds = float(os.environ["BENCH_ENGINE_SECONDS"])
        start = time.perf_counter()
        context.progress(0.0)
        time.sleep(seconds)
        context.progress(1.0)
        data = b"\x89PNG\r\n\x1a\n" + bytes(int(os.environ["BENCH_ENGINE_BYTES"]))
        with open(os.environ["BENCH_ENGINE_LOG"], "a", encoding="ascii") as log:
            log.write(f"{time.perf_counter() - start}\n")
        return [Artifact(filename="output.png", data=data, content_type="image/png")]


def run(seconds: float, size: int, tasks: int, poll: float) -> dict[str, Any]:
    from runwayml import RunwayML

    sys.path.insert(0, str(BENCH))
    from gpu_generation import serve

    with tempfile.TemporaryDirectory(prefix="taxiway-latency-") as directory:
        workdir = Path(directory)
        engine_log = workdir / "engine.log"
        settings = {
            "TAXIWAY_ENGINES": json.dumps({"gen4_image": "task_latency:FixedTimeEngine"}),
            "PYTHONPATH": os.pathsep.join(filter(None, [str(BENCH), os.environ.get("PYTHONPATH")])),
            "BENCH_ENGINE_SECONDS": str(seconds),
            "BENCH_ENGINE_BYTES": str(size),
            "BENCH_ENGINE_LOG": str(engine_log),
        }
        with serve(workdir, settings) as (base, key):
            client = RunwayML(base_url=base, api_key=key, max_retries=0)
            totals, submits = [], []
            for index in range(tasks + 1):  # the first warms connections and code paths up
                start = time.perf_counter()
                created = client.text_to_image.create(
                    model="gen4_image", prompt_text="a city at night", ratio="1024:1024", seed=index
                )
                submitted = time.perf_counter() - start
                while client.tasks.retrieve(created.id).status not in ("SUCCEEDED", "FAILED", "CANCELLED"):
                    time.sleep(poll)
                if index:
                    totals.append(time.perf_counter() - start)
                    submits.append(submitted)
        engine = [float(line) for line in engine_log.read_text().split()][1:]
    total, baseline = statistics.median(totals), statistics.median(engine)
    return {
        "tasks": tasks,
        "engine_s": baseline,
        "total_s": total,
        "submit_ms": statistics.median(submits) * 1000,
        "overhead_ms": (total - baseline) * 1000,
        "ratio": total / baseline,
        "poll_ms": poll * 1000,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=0.5, help="the engine's run time")
    parser.add_argument("--bytes", type=int, default=2_000_000, help="the size of its output")
    parser.add_argument("--tasks", type=int, default=20)
    parser.add_argument("--poll-ms", type=float, default=20.0, help="the client's polling interval")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    result = run(args.seconds, args.bytes, args.tasks, args.poll_ms / 1000)
    print(
        f"engine {result['engine_s']:.3f} s, submit -> SUCCEEDED {result['total_s']:.3f} s (median of "
        f"{args.tasks}); serving adds {result['overhead_ms']:.1f} ms = ratio {result['ratio']:.3f}, of which "
        f"the create call {result['submit_ms']:.1f} ms and polling every {result['poll_ms']:.0f} ms about "
        f"{result['poll_ms'] / 2:.0f} ms"
    )
    if args.json:
        print("RESULT " + json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
