"""Scale-out on real parts started here: engines in Ray actors on a local cluster (placed by declared
GPUs and custom resources, progress and cancel reaching them, a lost node's task finished elsewhere)."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.ray_cluster import RayCluster
from taxiway.config import Settings
from taxiway.engines.base import EngineRequest, RunContext, TaskCancelled
from taxiway.engines.registry import EngineRegistry

pytest.importorskip("ray")

from taxiway.cluster.placement import Placements
from taxiway.cluster.ray_executor import RayExecutor
from taxiway.cluster.status import render

TIMED = "support.engines:PromptTimedImageEngine"


@pytest.fixture(scope="module")
def executor(ray_nodes: RayCluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RayExecutor]:
    """This process joins the cluster as an API replica does, in a namespace of its own."""
    import asyncio

    settings = Settings(
        data_dir=tmp_path_factory.mktemp("ray-replica"),
        executor="ray",
        ray_address=ray_nodes.address,
        ray_namespace=f"tests-{uuid.uuid4().hex[:8]}",
        engines={"gen4_image": TIMED, "gen4_image_turbo": TIMED},
        ray_placement={
            "gen4_image": {"num_cpus": 1, "num_gpus": 1, "pool": "gpu"},
            "gen4_image_turbo": {"num_cpus": 1, "resources": {"A100": 1}},
        },
    )
    made = RayExecutor(settings, EngineRegistry(settings))
    asyncio.run(made.start())
    yield made
    asyncio.run(made.stop())


def request(model: str, seconds: float) -> EngineRequest:
    return EngineRequest(
        task_id=str(uuid.uuid4()),
        endpoint="text_to_image",
        model=model,
        params={"promptText": f"a lighthouse {seconds}s", "ratio": "1024:1024", "model": model},
        seed=7,
    )


class Recorder:
    def __init__(self) -> None:
        self.progress: list[float] = []
        self.context = RunContext(on_progress=self.progress.append)


def actor_of(executor: RayExecutor, task_id: str) -> dict[str, object]:
    """The actor running `task_id` now, as the status view shows it."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        for actor in executor._describe()["actors"]:
            if task_id in actor.get("running", []):
                return actor
        time.sleep(0.1)
    raise TimeoutError(f"no actor runs {task_id}")


def test_engines_run_in_actors_placed_by_declared_resources(executor: RayExecutor) -> None:
    recorder = Recorder()
    artifacts = executor.run(request("gen4_image", 1.0), recorder.context)
    assert artifacts[0].content_type == "image/png" and artifacts[0].data.startswith(b"\x89PNG")
    assert recorder.progress and recorder.progress == sorted(recorder.progress)  # streamed, in order
    turbo = executor.run(request("gen4_image_turbo", 0), Recorder().context)
    assert turbo[0].data.startswith(b"\x89PNG")
    status = executor._describe()
    actors = {actor["pool"]: actor for actor in status["actors"]}
    gpu, a100 = actors["gpu"], actors["gen4_image_turbo"]
    assert gpu["gpus"] == ["0"] and a100["gpus"] == []  # a GPU reserved for the one that declared it
    assert gpu["engines"] == [TIMED] and gpu["completed"] == 1  # the model stays loaded in its actor
    nodes = {node["id"]: node for node in status["nodes"]}
    assert "A100" in nodes[str(a100["node"])]["resources"]
    # The same model again: routed to the actor that has it warm.
    executor.run(request("gen4_image", 0), Recorder().context)
    status = executor._describe()
    assert {a["pool"]: a["completed"] for a in status["actors"]}["gpu"] == 2
    # The status view's tables: the queue, the nodes with their resources, the actors.
    tables = {title: rows for title, _columns, rows in render({"queue": {"PENDING": 3}, "engines": status})}
    assert tables["Queue"] == [["PENDING", "3"]]
    assert any(
        "A100 1" in row[3] and "GPU 1" in row[3]
        for row in tables[f"Ray nodes (namespace {status['namespace']})"]
    )
    assert sorted(row[0] for row in tables["Engine actors"]) == sorted(a["name"] for a in status["actors"])


def test_cancel_reaches_the_actor(executor: RayExecutor) -> None:
    recorder = Recorder()
    task = request("gen4_image", 60)
    outcome: list[object] = []

    def run() -> None:
        try:
            outcome.append(executor.run(task, recorder.context))
        except TaskCancelled as stopped:
            outcome.append(stopped)

    worker = threading.Thread(target=run)
    worker.start()
    actor_of(executor, task.task_id)
    started = time.monotonic()
    recorder.context.cancel_event.set()
    worker.join(timeout=120)
    assert isinstance(outcome[0], TaskCancelled) and time.monotonic() - started < 30  # not the 60 s
    assert all(task.task_id not in a.get("running", []) for a in executor._describe()["actors"])


def test_a_lost_node_s_task_finishes_elsewhere(executor: RayExecutor, ray_nodes: RayCluster) -> None:
    ray_nodes.add_node(num_cpus=4, num_gpus=1, resources={"A100": 1})
    recorder = Recorder()
    task = request("gen4_image", 4)
    result: list[object] = []
    worker = threading.Thread(target=lambda: result.append(executor.run(task, recorder.context)))
    worker.start()
    first = actor_of(executor, task.task_id)
    ray_nodes.remove(str(first["node"]))
    worker.join(timeout=600)
    assert result and result[0][0].data.startswith(b"\x89PNG")  # type: ignore[index]
    moved = {a["pool"]: a for a in executor._describe()["actors"]}["gpu"]
    assert moved["node"] != first["node"]


def test_placements_are_checked(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown models: nope"):
        Placements(Settings(data_dir=tmp_path, ray_placement={"nope": {}}))
    with pytest.raises(ValueError, match="pool 'gpu'"):
        Placements(
            Settings(
                data_dir=tmp_path,
                ray_placement={"gen4.5": {"num_gpus": 1, "pool": "gpu"}, "gen4_image": {"pool": "gpu"}},
            )
        )
    placements = Placements(Settings(data_dir=tmp_path, ray_placement={"*": {"num_cpus": 2}}))
    assert placements.placement("text_to_image", "gen4_image").num_cpus == 2
    assert placements.pool("text_to_image", "gen4_image").name == "gen4_image"
