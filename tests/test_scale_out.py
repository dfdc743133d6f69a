"""Scale-out on real parts started here: engines in Ray actors on a local cluster (placed by declared
GPUs and custom resources, progress and cancel reaching them, a lost node's task finished elsewhere),
and two API replicas on one PostgreSQL and one S3 bucket (SeaweedFS): each serves the other's outputs
and uploads, and when one is killed mid-run the survivor takes its tasks over once their leases lapse,
charging each exactly once. The survivor runs its engines on the Ray cluster."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from support.clients import sdk
from support.https_assets import image_bytes
from support.postgres import postgres_cluster, run_in_thread
from support.ray_cluster import RayCluster
from support.seaweed import S3Server, credentials
from support.server import OPERATOR_TOKEN, Server
from taxiway.config import RayPlacement, Settings
from taxiway.engines.base import EngineRequest, RunContext, TaskCancelled
from taxiway.engines.registry import EngineRegistry
from taxiway.errors import Failure

pytest.importorskip("ray")

from taxiway.cluster import ray_executor
from taxiway.cluster.placement import Placements
from taxiway.cluster.ray_executor import RayExecutor
from taxiway.cluster.status import render
from taxiway.storage.s3 import S3BlobStore

TIMED = "support.engines:PromptTimedImageEngine"
INSTANT = "support.engines:InstantImageEngine"


@pytest.fixture(scope="module")
def executor(ray_nodes: RayCluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RayExecutor]:
    """This process joins the cluster as an API replica does, in a namespace of its own."""
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


def test_an_engine_no_node_can_take_fails_its_task_with_what_it_reserves(
    executor: RayExecutor, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ray_executor, "PLACEMENT_GRACE_SECONDS", 3.0)
    monkeypatch.setattr(ray_executor, "DESCRIBE_SECONDS", 1.0)
    settings = executor.settings.model_copy(
        update={
            "data_dir": tmp_path,
            "engines": {"gen4_image": INSTANT},
            "ray_placement": {"gen4_image": RayPlacement(num_cpus=1, resources={"TPU": 1})},
        }
    )
    stranded = RayExecutor(settings, EngineRegistry(settings))
    try:
        with pytest.raises(Failure, match=r"pool 'gen4_image' \(CPU 1, TPU 1\) within 3 seconds"):
            stranded.run(request("gen4_image", 0), Recorder().context)
        waiting = [actor for actor in stranded._describe()["actors"] if actor["pool"] == "gen4_image"]
        assert [actor["state"] for actor in waiting] == ["waiting for a node with CPU 1, TPU 1"]
        cancelled = Recorder()
        cancelled.context.cancel_event.set()
        with pytest.raises(TaskCancelled):  # cancel reaches a task whose engine waits for a node
            stranded.run(request("gen4_image", 0), cancelled.context)
    finally:
        stranded.retire()  # the actor would wait for a TPU for as long as the cluster runs


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


# --- two API replicas on one PostgreSQL and one bucket -----------------------------------------------

SECRET = "a-signing-secret-shared-by-every-replica"
LEASE_SECONDS = "6"  # a dead replica's tasks are taken over within seconds, a busy one keeps its own
# Enough to race the claims of two replicas; 500 and more take minutes on two cores.
CONCURRENT_CREATES = 120


def png(size: tuple[int, int]) -> bytes:
    return image_bytes("PNG", size)


def data_uri(data: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(data).decode()


@pytest.fixture(scope="module")
def database() -> Iterator[str]:
    with postgres_cluster() as cluster:
        yield cluster.url("taxiway")


def replica_env(database: str, s3: S3Server) -> dict[str, str]:
    """What every replica of the deployment is started with: one database, bucket, secret and key."""
    return {
        **s3.env("deployment"),
        "TAXIWAY_SIGNING_SECRET": SECRET,
        "TAXIWAY_DATABASE_URL": database,
        "TAXIWAY_TASK_LEASE_SECONDS": LEASE_SECONDS,
        "TAXIWAY_BOOTSTRAP_TIER": "5",
        "TAXIWAY_WORKERS": "2",
        "TAXIWAY_ENGINES": f'{{"gen4_image": "{TIMED}", "gemini_2.5_flash": "{INSTANT}"}}',
        "TAXIWAY_BOOTSTRAP_CREDITS": "100000",
        "TAXIWAY_OPERATOR_TOKEN": OPERATOR_TOKEN,
    }


@pytest.fixture(scope="module")
def replicas(
    database: str, s3: S3Server, ray_nodes: RayCluster, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Server, Server]]:
    """Two replicas with the same database, bucket, signing secret and key. The first runs engines in
    its own threads, the second in an actor on the Ray cluster: one pool for every model, on a node of
    its own (the `replica` resource), as the other tests' actors keep the first node's CPUs."""
    ray_nodes.add_node(num_cpus=2, resources={"replica": 1})
    placement = {"pool": "replica", "num_cpus": 1, "resources": {"replica": 1}, "concurrency": 2}
    on_ray = {
        "TAXIWAY_EXECUTOR": "ray",
        "TAXIWAY_RAY_ADDRESS": ray_nodes.address,
        "TAXIWAY_RAY_NAMESPACE": f"replica-{uuid.uuid4().hex[:8]}",
        "TAXIWAY_RAY_PLACEMENT": json.dumps({"*": placement}),
    }
    common = replica_env(database, s3)
    first = Server(tmp_path_factory.mktemp("first"), env=common).start()
    second = Server(tmp_path_factory.mktemp("second"), env={**common, **on_ray}, key=first.key)
    try:
        second.start()
        yield first, second
    finally:
        second.stop()
        first.stop()


def bucket_keys(s3: S3Server, prefix: str) -> set[str]:
    with credentials():
        store = S3BlobStore(f"s3://{s3.bucket}/deployment", s3.endpoint)
        return set(run_in_thread(lambda: store.list_prefix(prefix)))


def blobs_on_disk(server: Server) -> list[Path]:
    return [path for path in (server.data_dir / "blobs").rglob("*") if path.is_file()]


def sql(database: str, query: str) -> list[Any]:
    async def fetch() -> list[Any]:
        import asyncpg

        connection = await asyncpg.connect(database.replace("postgresql+asyncpg", "postgresql"))
        try:
            return list(await connection.fetch(query))
        finally:
            await connection.close()

    return run_in_thread(fetch)


def test_outputs_live_in_the_bucket_and_any_replica_serves_them(
    s3: S3Server, replicas: tuple[Server, Server]
) -> None:
    first, second = replicas
    client = sdk(first)
    upload = client.uploads.create_ephemeral(file=("reference.png", png((128, 128))))
    task = client.text_to_image.create(
        model="gen4_image",
        prompt_text="a harbour at dawn",
        ratio="1280:720",
        reference_images=[{"uri": upload.uri, "tag": "harbour"}],
    ).wait_for_task_output(timeout=300)
    assert task.status == "SUCCEEDED"
    url = task.output[0]
    whole = httpx.get(url, timeout=30)
    assert whole.status_code == 200 and whole.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(whole.content)).size == (1280, 720)
    # The other replica, on the same path and signature, serves the same bytes, ranges too.
    on_second = url.replace(first.base_url, second.base_url)
    assert httpx.get(on_second, timeout=30).content == whole.content
    part = httpx.get(on_second, headers={"Range": "bytes=8-23"}, timeout=30)
    assert part.status_code == 206 and part.content == whole.content[8:24]
    assert part.headers["content-range"] == f"bytes 8-23/{len(whole.content)}"
    assert httpx.get(url, headers={"Range": f"bytes={len(whole.content)}-"}, timeout=30).status_code == 416
    assert httpx.get(url.replace("sig=", "sig=0"), timeout=30).status_code == 403
    # Everything is in the bucket; neither replica wrote a blob to its disk.
    assert any(key.startswith("uploads/") for key in bucket_keys(s3, "uploads"))
    assert bucket_keys(s3, f"tasks/{task.id}")
    # The upload made on the first replica is an input on the second (whose engines run on Ray).
    again = (
        sdk(second)
        .text_to_image.create(
            model="gen4_image_turbo",
            prompt_text="a harbour at dusk",
            ratio="720:1280",
            reference_images=[{"uri": upload.uri, "tag": "harbour"}],
        )
        .wait_for_task_output(timeout=300)
    )
    assert again.status == "SUCCEEDED"
    assert httpx.get(again.output[0], timeout=30).status_code == 200
    # Deleting on one replica removes the outputs from the bucket for both.
    sdk(second).tasks.delete(task.id)
    assert bucket_keys(s3, f"tasks/{task.id}") == set()
    assert httpx.get(url, timeout=30).status_code == 404
    # Avatar files too: made on the first, served by the second.
    created = client.avatars.create(
        name="Harbour guide",
        reference_image=data_uri(png((400, 300))),
        personality="A calm guide to the harbour.",
        voice={"type": "runway-live-preset", "preset_id": "vincent"},
    )
    deadline = time.monotonic() + 300
    avatar = sdk(second).avatars.retrieve(created.id)
    while avatar.status == "PROCESSING" and time.monotonic() < deadline:
        time.sleep(0.5)
        avatar = sdk(second).avatars.retrieve(created.id)
    assert avatar.status == "READY", avatar
    assert bucket_keys(s3, f"avatars/{created.id}")
    image = httpx.get(avatar.processed_image_uri or "", timeout=30)
    assert image.status_code == 200 and image.headers["content-type"].startswith("image/")
    assert blobs_on_disk(first) == [] and blobs_on_disk(second) == []


def test_no_task_is_claimed_twice_across_replicas(database: str, replicas: tuple[Server, Server]) -> None:
    """Creates at once, half on each replica: each task runs once, on one replica, charged once."""

    async def create_all() -> list[str]:
        body = {"model": "gemini_2.5_flash", "promptText": "a buoy", "ratio": "1024:1024"}
        headers = {"Authorization": f"Bearer {replicas[0].key}", "X-Runway-Version": "2024-11-06"}
        limits = httpx.Limits(max_connections=64)
        async with httpx.AsyncClient(headers=headers, timeout=300, limits=limits) as client:
            answers = await asyncio.gather(
                *(
                    client.post(f"{replicas[n % 2].base_url}/v1/text_to_image", json=body)
                    for n in range(CONCURRENT_CREATES)
                )
            )
        assert {answer.status_code for answer in answers} == {200}
        return [answer.json()["id"] for answer in answers]

    ids = asyncio.run(create_all())
    listed = ", ".join(f"'{task_id}'" for task_id in ids)
    deadline = time.monotonic() + 600
    rows: list[Any] = []
    while time.monotonic() < deadline:
        rows = sql(database, f"SELECT status, attempts, lease_owner FROM tasks WHERE id IN ({listed})")
        if all(row["status"] == "SUCCEEDED" for row in rows):
            break
        time.sleep(0.5)
    assert len(rows) == CONCURRENT_CREATES and {row["status"] for row in rows} == {"SUCCEEDED"}
    assert {row["attempts"] for row in rows} == {1}  # claimed once each
    owners = {str(row["lease_owner"]).rsplit(":", 1)[-1] for row in rows}
    assert owners == {str(replicas[0].port), str(replicas[1].port)}  # both replicas took a share
    charged = sql(database, f"SELECT count(*) AS n FROM ledger_entries WHERE task_id IN ({listed})")
    assert charged[0]["n"] == CONCURRENT_CREATES


def test_a_starting_replica_leaves_the_running_tasks_of_others_alone(
    database: str, s3: S3Server, replicas: tuple[Server, Server], tmp_path_factory: pytest.TempPathFactory
) -> None:
    first = replicas[0]
    task = sdk(first).text_to_image.create(model="gen4_image", prompt_text="a jetty 120s", ratio="1024:1024")
    query = f"SELECT status, attempts, lease_owner FROM tasks WHERE id = '{task.id}'"
    deadline = time.monotonic() + 300
    while (running := sql(database, query)[0])["status"] != "RUNNING" and time.monotonic() < deadline:
        time.sleep(0.1)
    assert running["status"] == "RUNNING" and running["attempts"] == 1
    third = Server(tmp_path_factory.mktemp("third"), env=replica_env(database, s3), key=first.key)
    try:
        third.start()  # its start-up recovery runs before it reports ready
        assert sql(database, query)[0] == running  # not queued again, nor taken: still where it ran
    finally:
        third.stop()
    sdk(first).tasks.delete(task.id)  # cancelled where it runs: the 120 s are not waited for
    assert sql(database, query)[0]["status"] == "CANCELLED"


def test_a_killed_replica_s_tasks_are_taken_over(database: str, replicas: tuple[Server, Server]) -> None:
    first, second = replicas
    created = [
        sdk(server).text_to_image.create(
            model="gen4_image", prompt_text=f"a quay {seconds}s", ratio="1024:1024"
        )
        for server, seconds in [(first, 4), (first, 4), (second, 1), (second, 1), (first, 1), (second, 1)]
    ]
    ids = [task.id for task in created]
    deadline = time.monotonic() + 300
    on_first: list[Any] = []
    while not on_first and time.monotonic() < deadline:
        on_first = sql(
            database, f"SELECT id FROM tasks WHERE status = 'RUNNING' AND lease_owner LIKE '%:{first.port}'"
        )
        time.sleep(0.1)
    assert on_first, "the first replica never ran a task"
    first.kill()  # mid-run: no shutdown code, its leases simply stop being renewed
    client = sdk(second)
    finished = [client.tasks.retrieve(task_id).wait_for_task_output(timeout=300) for task_id in ids]
    assert [task.status for task in finished] == ["SUCCEEDED"] * len(ids)
    for task in finished:  # every output served by the survivor
        assert httpx.get(task.output[0], timeout=30).status_code == 200
    taken = {row["id"]: row for row in sql(database, "SELECT id, attempts, lease_owner FROM tasks")}
    assert all(taken[row["id"]]["attempts"] == 2 for row in on_first)  # run again, once
    assert all(str(taken[task_id]["lease_owner"]).endswith(f":{second.port}") for task_id in ids)
    # Charged exactly once: one reservation per task, no refund, and the balance is what they cost.
    entries = sql(database, "SELECT task_id, kind, amount FROM ledger_entries WHERE task_id IS NOT NULL")
    assert sorted(row["task_id"] for row in entries if row["task_id"] in ids) == sorted(ids)
    assert {row["kind"] for row in entries if row["task_id"] in ids} == {"reserve"}
    total = sql(database, "SELECT sum(amount) AS total FROM ledger_entries")[0]["total"]
    assert sdk(second).organization.retrieve().credit_balance == total
    # Nothing left queued or running anywhere.
    cluster = httpx.get(
        f"{second.base_url}/operator/cluster",
        headers={"Authorization": f"Bearer {OPERATOR_TOKEN}"},
        timeout=60,
    ).json()
    assert cluster["queue"] == {"THROTTLED": 0, "PENDING": 0, "RUNNING": 0}
    # The survivor ran them in its engine actor on the Ray cluster.
    actors = cluster["engines"]["actors"]
    assert cluster["engines"]["executor"] == "ray" and [actor["pool"] for actor in actors] == ["replica"]
    assert actors[0]["completed"] >= len(ids) and actors[0]["running"] == []
