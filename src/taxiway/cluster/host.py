"""The engine host: what a Ray actor runs. It builds engines with the server's own registry (so weights
stay resident in the actor between tasks, under the diffusers runtime's LRU budget) and runs each task
in a thread of its own, streaming progress back and stopping when the API's cancel reaches it.

Plain Python: `cluster.ray_executor` wraps it with `ray.remote`, and a test can drive it directly.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
import traceback
from collections import deque
from collections.abc import Iterator
from typing import Any

from taxiway.config import Settings
from taxiway.engines.base import EngineRequest, RunContext, TaskCancelled
from taxiway.engines.registry import EngineRegistry
from taxiway.errors import Failure

log = logging.getLogger("taxiway.cluster")

# Progress goes back at most this often: engines report per frame, the API writes 4 times a second.
PROGRESS_EVERY_SECONDS = 0.1
# Cancels that arrived before their run started (it waited for a free slot), kept this many.
EARLY_CANCELS = 1024

# What `run` yields, as tuples (Ray streams plain data): progress while the engine works, then one end.
PROGRESS, DONE, CANCELLED, FAILED, ERROR = "progress", "done", "cancelled", "failed", "error"
Event = tuple[Any, ...]


class EngineHost:
    def __init__(self, settings: Settings, pool: str) -> None:
        self.pool = pool
        self.engines = EngineRegistry(settings)
        self._cancels: dict[str, threading.Event] = {}
        self._early: deque[str] = deque(maxlen=EARLY_CANCELS)
        self._lock = threading.Lock()
        self.completed = 0

    def run(self, request: EngineRequest) -> Iterator[Event]:
        """(PROGRESS, fraction)…, then (DONE, artifacts), (CANCELLED,), (FAILED, code, message) or
        (ERROR, traceback)."""
        cancel = threading.Event()
        with self._lock:
            self._cancels[request.task_id] = cancel
            if request.task_id in self._early:
                self._early.remove(request.task_id)
                cancel.set()
        events: queue.Queue[Event] = queue.Queue()
        context = RunContext(
            cancel_event=cancel, on_progress=lambda fraction: events.put((PROGRESS, fraction))
        )

        def work() -> None:
            try:
                engine = self.engines.get(request.endpoint, request.model)
                events.put((DONE, engine.run(request, context)))
            except TaskCancelled:
                events.put((CANCELLED,))
            except Failure as failure:
                events.put((FAILED, failure.code, failure.message))
            except Exception:
                log.exception("engine failed on task %s", request.task_id)
                events.put((ERROR, traceback.format_exc()))

        threading.Thread(target=work, name=f"taxiway-engine-{request.task_id}", daemon=True).start()
        sent, latest, last = 0.0, 0.0, 0.0
        try:
            while True:
                try:
                    event = events.get(timeout=PROGRESS_EVERY_SECONDS)
                except queue.Empty:
                    event = None
                if event is not None and event[0] != PROGRESS:
                    if event[0] == DONE:
                        self.completed += 1
                    self._forget(request.task_id, cancel)  # before the caller hears the end, not after
                    yield event
                    return
                if event is not None:
                    latest = max(latest, float(event[1]))
                if latest > sent and time.monotonic() - last >= PROGRESS_EVERY_SECONDS:
                    sent, last = latest, time.monotonic()
                    yield (PROGRESS, latest)
        finally:
            cancel.set()  # a caller that went away stops the engine too; a finished one never looks
            self._forget(request.task_id, cancel)

    def _forget(self, task_id: str, cancel: threading.Event) -> None:
        """Drop this run's cancel event, not a retry's that reached the actor since."""
        with self._lock:
            if self._cancels.get(task_id) is cancel:
                del self._cancels[task_id]

    def cancel(self, task_id: str) -> bool:
        """Stop the task's engine; True if it was running here, else it stops as soon as it starts."""
        with self._lock:
            event = self._cancels.get(task_id)
            if event is None:
                self._early.append(task_id)
                return False
        event.set()
        return True

    def describe(self) -> dict[str, Any]:
        """This actor for the status view: where it runs, what it has loaded, what it runs now."""
        import ray  # present wherever this runs as an actor

        context = ray.get_runtime_context()
        with self._lock:
            running = sorted(self._cancels)
        return {
            "pool": self.pool,
            "node": context.get_node_id(),
            "pid": os.getpid(),
            "gpus": [str(gpu) for gpu in ray.get_gpu_ids()],
            "running": running,
            "completed": self.completed,
            **self.engines.describe(),
        }

    def warm_up(self) -> None:
        """Load what `diffusers_warmup` asks for here, where the tasks will run."""
        import asyncio

        asyncio.run(self.engines.start())
