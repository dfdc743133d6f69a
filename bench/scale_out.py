"""Scale-out: how completed tasks/s grow with Ray worker nodes, and what the Ray hop costs one task.

An engine with a fixed 0.5 s run time (a stand-in for a GPU step: it waits, it does not compute, so
the nodes of a local cluster on a small machine behave as separate GPUs would) serves one model.
Each node offers one slot (`num_cpus=1`) and the model's pool has one actor per node, so N nodes can
run N tasks at once. For 1, 2 and 4 nodes the script keeps twice as many runs in flight as there are
actors, through the same `RayExecutor` the server's scheduler calls, and reports completed tasks/s and
the efficiency of each size against linear scaling from one node (goal: >= 0.9).

In the same run it measures one task's latency, run after run, on the local executor (the engine in
this process) and on the Ray executor (the engine in a warm actor): the difference is the hop's cost.

    .venv/bin/python bench/scale_out.py [--nodes 1,2,4] [--tasks-per-node 16] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
os.environ.setdefault("RAY_DISABLE_FAILURE_SIGNAL_HANDLER", "1")

from taxiway.config import Settings  # noqa: E402
from taxiway.engines.base import Artifact, EngineRequest, RunContext  # noqa: E402
from taxiway.engines.executor import LocalExecutor  # noqa: E402
from taxiway.engines.registry import EngineRegistry  # noqa: E402

STEP_SECONDS = 0.5
ENGINE = "scale_out:FixedStepEngine"
# A 1x1 PNG: the output matters to no one here, only that it travels back like a real one.
PIXEL = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000001e221bc330000000049454e44ae426082"
)


class FixedStepEngine:
    """Half a second of waiting with progress reports, as a GPU step would take, then a tiny PNG."""

    name = "bench-fixed-step"

    def run(self, request: EngineRequest, context: RunContext) -> list[Artifact]:
        for tick in range(5):
            context.progress(tick / 5)
            if context.cancel_event.wait(STEP_SECONDS / 5):
                context.check_cancelled()
        return [Artifact("output.png", PIXEL, "image/png")]


def request() -> EngineRequest:
    return EngineRequest(
        task_id=str(uuid.uuid4()),
        endpoint="text_to_image",
        model="gen4_image",
        params={"promptText": "benchmark", "ratio": "1024:1024", "model": "gen4_image"},
        seed=1,
    )


def settings_for(root: Path, address: str | None, actors: int) -> Settings:
    return Settings(
        data_dir=root,
        executor="ray" if address else "local",
        ray_address=address,
        ray_namespace=f"bench-{uuid.uuid4().hex[:8]}",
        engines={"gen4_image": ENGINE},
        ray_placement={"gen4_image": {"num_cpus": 1, "actors": actors}},
    )


def latencies(run: Any, count: int) -> list[float]:
    taken = []
    for _ in range(count):
        started = time.perf_counter()
        run(request(), RunContext())
        taken.append(time.perf_counter() - started)
    return taken


def throughput(executor: Any, actors: int, tasks: int) -> float:
    """Completed runs per second with 2 x actors in flight, after every actor has run once."""
    with ThreadPoolExecutor(max_workers=2 * actors) as pool:
        list(pool.map(lambda _: executor.run(request(), RunContext()), range(2 * actors)))  # warm
        started = time.perf_counter()
        list(pool.map(lambda _: executor.run(request(), RunContext()), range(tasks)))
        return tasks / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--nodes", default="1,2,4", help="cluster sizes to measure, comma-separated")
    parser.add_argument("--tasks-per-node", type=int, default=16)
    parser.add_argument("--latency-runs", type=int, default=20)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    sizes = sorted({int(size) for size in args.nodes.split(",")})

    import ray
    from ray.cluster_utils import Cluster

    from taxiway.cluster.ray_executor import RayExecutor

    root = Path(tempfile.mkdtemp(prefix="twbench-", dir="/tmp"))
    # The cluster writes its address to $RAY_TMPDIR/ray/ (/tmp/ray/ by default, missing on a fresh
    # machine): into this run's dir instead.
    (root / "ray").mkdir()
    os.environ["RAY_TMPDIR"] = str(root)
    env = {"PYTHONPATH": os.pathsep.join([str(BENCH), os.environ.get("PYTHONPATH", "")])}
    node_args = {"object_store_memory": 80 * 1024 * 1024, "env_vars": env}
    cluster = Cluster(
        initialize_head=True,
        head_node_args={"num_cpus": 0, "include_dashboard": False, "temp_dir": str(root), **node_args},
    )
    results: dict[str, Any] = {"step_seconds": STEP_SECONDS, "sizes": []}
    try:
        local = LocalExecutor(EngineRegistry(settings_for(root / "local", None, 1)))
        local_runs = latencies(local.run, args.latency_runs)
        nodes = 0
        for size in sizes:
            while nodes < size:
                cluster.add_node(num_cpus=1, **node_args)
                nodes += 1
            cluster.wait_for_nodes()
            ray_settings = settings_for(root / f"ray{size}", cluster.address, size)
            executor = RayExecutor(ray_settings, EngineRegistry(ray_settings))
            asyncio.run(executor.start())
            rate = throughput(executor, size, args.tasks_per_node * size)
            entry: dict[str, Any] = {"nodes": size, "tasks_per_second": round(rate, 3)}
            if size == sizes[0]:
                ray_runs = latencies(executor.run, args.latency_runs)
                results["latency"] = {
                    "local_p50_ms": round(statistics.median(local_runs) * 1000, 1),
                    "ray_p50_ms": round(statistics.median(ray_runs) * 1000, 1),
                    "hop_ms": round((statistics.median(ray_runs) - statistics.median(local_runs)) * 1000, 1),
                }
            results["sizes"].append(entry)
            executor.retire()  # free the nodes' slots for the next size's actors
            ray.shutdown()
        base = results["sizes"][0]
        for entry in results["sizes"]:
            ideal = base["tasks_per_second"] * entry["nodes"] / base["nodes"]
            entry["efficiency"] = round(entry["tasks_per_second"] / ideal, 3)
    finally:
        cluster.shutdown()
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print(f"engine: fixed {STEP_SECONDS} s per task, one slot per node, 2 runs in flight per slot")
    for entry in results["sizes"]:
        print(
            f"{entry['nodes']} node(s): {entry['tasks_per_second']:.2f} tasks/s, "
            f"efficiency {entry['efficiency']:.2f} of linear (goal >= 0.9)"
        )
    latency = results["latency"]
    print(
        f"one task: local executor p50 {latency['local_p50_ms']} ms, "
        f"Ray executor p50 {latency['ray_p50_ms']} ms "
        f"(the hop adds {latency['hop_ms']} ms, {latency['hop_ms'] / (STEP_SECONDS * 10):.1f}% of the step)"
    )


if __name__ == "__main__":
    main()
