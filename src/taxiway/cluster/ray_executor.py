"""Engines on a Ray cluster (`TAXIWAY_EXECUTOR=ray`): each model's work goes to the actors of its pool.

Why bare actors and not Ray Serve: a task here is not a request to answer while a client waits. It is
durable work the scheduler has already claimed from the database (with a lease, so that another replica
takes it over if this one dies), it runs for seconds to minutes, streams progress and can be cancelled
midway. Serve's deployments would add a second queue and an HTTP proxy in front of what are, in the end,
long-lived actors placed by resources, which Ray core gives directly; its model multiplexing is what the
pools do here (a model always goes to the actors that keep it loaded), its autoscaling is the cluster's.

The actors are named, detached and shared by every API replica in the namespace, so a GPU model is
loaded once per actor on the cluster, not once per replica; Ray restarts an actor whose node was lost on
another node that has the resources, and the run is sent again (engines are deterministic).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import defaultdict
from typing import Any, cast

import ray
from ray.exceptions import ActorDiedError, ActorUnavailableError, GetTimeoutError, RayActorError

from taxiway.cluster.host import CANCELLED, DONE, ERROR, FAILED, PROGRESS, EngineHost
from taxiway.cluster.placement import Placements, Pool
from taxiway.config import Settings
from taxiway.engines.base import Artifact, EngineRequest, RunContext, TaskCancelled
from taxiway.engines.registry import EngineRegistry
from taxiway.errors import Failure

log = logging.getLogger("taxiway.cluster")

# How often a run looks at its cancel event while it waits for the actor.
POLL_SECONDS = 0.25
# Runs lost with their actor (a node gone) are sent again this many times before the task fails.
MAX_LOST_RUNS = 3
# How long an actor may take to be placed, or to come back after its node was lost (restarted elsewhere,
# or waiting for a node that fits, e.g. one the autoscaler adds) before its task fails.
PLACEMENT_GRACE_SECONDS = 600.0
# When an actor still waits for a node after this long, the log says what it reserves.
PLACEMENT_WARNING_SECONDS = 10.0
# How long the status view waits for an actor to describe itself.
DESCRIBE_SECONDS = 10.0
# Calls kept apart from runs in every actor, so cancels and status never queue behind engines.
CONTROL = "control"


def _nodes() -> list[dict[str, Any]]:
    return cast(list[dict[str, Any]], ray.nodes())  # type: ignore[no-untyped-call]


def _wants(pool: Pool) -> str:
    """What each actor of the pool reserves, as an operator declared it."""
    placement = pool.placement
    wanted = {"CPU": placement.num_cpus, "GPU": placement.num_gpus, **placement.resources}
    return ", ".join(f"{name} {amount:g}" for name, amount in wanted.items() if amount)


class RayExecutor:
    def __init__(self, settings: Settings, engines: EngineRegistry) -> None:
        self.settings = settings
        self.engines = engines  # names and checks the engines; the actors build them
        self.placements = Placements(settings)
        self._host = ray.remote(concurrency_groups={CONTROL: 2})(EngineHost)  # type: ignore[call-overload]
        self._actors: dict[str, Any] = {}
        self._load: dict[str, int] = defaultdict(int)  # runs in flight per actor, from this replica
        self._placed: set[str] = set()  # actors this replica has seen answer on a node
        self._lock = threading.Lock()

    async def start(self) -> None:
        await asyncio.to_thread(self._connect)
        if self.settings.diffusers_warmup:
            pools = self.placements.pools()
            warming = [
                self._actor(pool, index).warm_up.remote()
                for pool in pools
                for index in range(pool.placement.actors)
            ]
            log.info("warming %d engine actors", len(warming))

    def _connect(self) -> None:
        if ray.is_initialized():
            return
        ray.init(
            address=self.settings.ray_address,
            namespace=self.settings.ray_namespace,
            log_to_driver=False,
            configure_logging=False,
        )
        log.info("joined the Ray cluster (%d nodes alive)", sum(node["Alive"] for node in _nodes()))

    async def stop(self) -> None:
        """Leave the cluster; the actors stay, for the other replicas and the next start."""
        await asyncio.to_thread(ray.shutdown)

    def engine_name(self, endpoint: str, model_id: str) -> str:
        return self.engines.engine_name(endpoint, model_id)

    def retire(self) -> None:
        """Kill this configuration's engine actors, e.g. before a deployment with other placements
        takes the cluster's resources (runs in flight on them fail over as on a lost node)."""
        for pool in self.placements.pools():
            for index in range(pool.placement.actors):
                try:
                    ray.kill(ray.get_actor(pool.actor_name(index), namespace=self.settings.ray_namespace))
                except ValueError:
                    continue  # never made
                self._forget(pool, index)

    # ---- actors -------------------------------------------------------------------------------------

    def _actor(self, pool: Pool, index: int) -> Any:
        name = pool.actor_name(index)
        with self._lock:
            handle = self._actors.get(name)
        if handle is not None:
            return handle
        placement = pool.placement
        options: dict[str, Any] = {
            "name": name,
            "namespace": self.settings.ray_namespace,
            "lifetime": "detached",
            "get_if_exists": True,
            "num_cpus": placement.num_cpus,
            "num_gpus": placement.num_gpus,
            "resources": dict(placement.resources),
            "max_restarts": -1,
            "max_concurrency": placement.concurrency,
        }
        if placement.memory_gb is not None:
            options["memory"] = int(placement.memory_gb * 1024**3)
        handle = self._host.options(**options).remote(self.settings, pool.name)
        with self._lock:
            return self._actors.setdefault(name, handle)

    def _forget(self, pool: Pool, index: int) -> None:
        with self._lock:
            self._actors.pop(pool.actor_name(index), None)
            self._placed.discard(pool.actor_name(index))

    def _choose(self, pool: Pool) -> int:
        """The pool's actor with the fewest runs in flight from here (ties: the first)."""
        with self._lock:
            loads = [self._load[pool.actor_name(index)] for index in range(pool.placement.actors)]
            chosen = loads.index(min(loads))
            self._load[pool.actor_name(chosen)] += 1
            return chosen

    def _release(self, pool: Pool, index: int) -> None:
        with self._lock:
            self._load[pool.actor_name(index)] -= 1

    # ---- runs ---------------------------------------------------------------------------------------

    def run(self, request: EngineRequest, context: RunContext) -> list[Artifact]:
        pool = self.placements.pool(request.endpoint, request.model)
        lost = 0
        while True:
            index = self._choose(pool)
            try:
                actor, name = self._actor(pool, index), pool.actor_name(index)
                if name not in self._placed:
                    self._await_placed(actor, pool, context)
                    with self._lock:  # as `_forget` discards it
                        self._placed.add(name)
                return self._run_once(actor, request, context)
            except RayActorError as error:
                context.check_cancelled()
                lost += 1
                log.warning(
                    "task %s lost its engine actor (%s); run %d of %d",
                    request.task_id,
                    type(error).__name__,
                    lost + 1,
                    MAX_LOST_RUNS + 1,
                )
                if lost > MAX_LOST_RUNS:
                    raise Failure("INTERNAL", "The task's engine was lost too many times.") from None
                # The next run looks it up by name: a new actor if it died for good, else Ray's restart.
                self._forget(pool, index)
            finally:
                self._release(pool, index)

    def _run_once(self, actor: Any, request: EngineRequest, context: RunContext) -> list[Artifact]:
        stream = actor.run.options(num_returns="streaming").remote(request)
        cancel_sent = False
        while True:
            if context.cancel_event.is_set() and not cancel_sent:
                actor.cancel.options(concurrency_group=CONTROL).remote(request.task_id)
                cancel_sent = True
            ready, _ = ray.wait([stream], timeout=POLL_SECONDS)
            if not ready:
                continue
            try:
                event = ray.get(next(stream))
            except StopIteration:
                raise RuntimeError(
                    f"the engine actor ended task {request.task_id} without a result"
                ) from None
            kind = event[0]
            if kind == PROGRESS:
                context.on_progress(float(event[1]))
            elif kind == DONE:
                artifacts: list[Artifact] = event[1]
                return artifacts
            elif kind == CANCELLED:
                raise TaskCancelled()
            elif kind == FAILED:
                raise Failure(event[1], event[2])
            elif kind == ERROR:
                raise RuntimeError(f"engine failed on its actor:\n{event[1]}")

    def _await_placed(self, actor: Any, pool: Pool, context: RunContext) -> None:
        """Until the actor answers from a node (new, or restarted after its node was lost), or the task
        is cancelled. An actor no node can take waits: the task fails with what it reserves, not never."""
        started = time.monotonic()
        warned = False
        while (waited := time.monotonic() - started) < PLACEMENT_GRACE_SECONDS:
            context.check_cancelled()
            try:
                ray.get(actor.describe.options(concurrency_group=CONTROL).remote(), timeout=POLL_SECONDS * 4)
                return
            except (ActorUnavailableError, GetTimeoutError):
                if waited > PLACEMENT_WARNING_SECONDS and not warned:
                    log.warning("an actor of pool %s waits for a node with %s", pool.name, _wants(pool))
                    warned = True
            except ActorDiedError:
                return  # the run finds out and makes a new one
        raise Failure(
            "INTERNAL",
            f"No node of the cluster could take the engine of pool {pool.name!r} "
            f"({_wants(pool)}) within {PLACEMENT_GRACE_SECONDS:.0f} seconds.",
        )

    # ---- status -------------------------------------------------------------------------------------

    async def describe(self) -> dict[str, Any]:
        return await asyncio.to_thread(self._describe)

    def _describe(self) -> dict[str, Any]:
        nodes = [
            {
                "id": node["NodeID"],
                "address": node["NodeManagerAddress"],
                "alive": node["Alive"],
                "resources": node.get("Resources", {}),
            }
            for node in _nodes()
        ]
        actors = []
        for pool in self.placements.pools():
            for index in range(pool.placement.actors):
                name = pool.actor_name(index)
                try:
                    handle = ray.get_actor(name, namespace=self.settings.ray_namespace)
                except ValueError:
                    continue  # not made yet: made by the first task of its pool
                state: dict[str, Any]
                try:
                    state = cast(
                        dict[str, Any],
                        ray.get(
                            handle.describe.options(concurrency_group=CONTROL).remote(),
                            timeout=DESCRIBE_SECONDS,
                        ),
                    )
                except GetTimeoutError:  # its calls answer apart from its runs: it is not on a node yet
                    state = {"pool": pool.name, "state": f"waiting for a node with {_wants(pool)}"}
                except RayActorError as error:
                    state = {"pool": pool.name, "state": type(error).__name__}
                actors.append({"name": name, **state})
        return {"executor": "ray", "namespace": self.settings.ray_namespace, "nodes": nodes, "actors": actors}
