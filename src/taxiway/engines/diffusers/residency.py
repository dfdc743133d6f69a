"""Pipelines kept loaded on the device, least recently used evicted when a memory budget is exceeded.

One GPU serves several models: reloading a 10 GB pipeline costs seconds to minutes, so pipelines stay
resident while they fit. A pipeline in use is never evicted; one that cannot fit even after every idle one
is gone is loaded anyway (with a warning), since refusing would fail the task for sure and loading only
might. Each pipeline has a lock: diffusers pipelines keep per-call state and cannot run two jobs at once.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from taxiway.engines.base import RunContext
from taxiway.engines.diffusers.weights import FolderInfo

log = logging.getLogger("taxiway.diffusers")

LOCK_POLL_SECONDS = 0.05


@dataclass
class Resident:
    info: FolderInfo
    pipe: Any
    bytes: int
    lock: threading.Lock = field(default_factory=threading.Lock)
    users: int = 0
    # Has run once: compiled graphs (if any) are built, later jobs run at full speed.
    warm: bool = False
    warming: bool = False  # the start-up warm-up is running it
    compiled: bool = False


def acquire(lock: threading.Lock, context: RunContext) -> None:
    """Wait for the lock, but stop waiting as soon as the task is cancelled."""
    while not lock.acquire(timeout=LOCK_POLL_SECONDS):
        context.check_cancelled()


def free_device_memory(collect: bool = False) -> None:
    """Hand cached blocks back to the device, so another model (or process) can use them. `collect` also
    runs the garbage collector: needed after evicting a pipeline, too slow (~0.2 s) after every task.

    Not called after a successful task: the next one would allocate its activations from the driver
    again (milliseconds per GB, a few percent of a half-second image), and torch's allocator already
    frees its cache and retries before it reports running out of memory."""
    if collect:
        gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


class PipelineCache:
    """Resident pipelines by weights folder, in least- to most-recently used order."""

    def __init__(
        self,
        loader: Callable[[FolderInfo], Resident],
        estimate: Callable[[FolderInfo], int],
        budget_bytes: int | None,
        on_change: Callable[[], None] = lambda: None,
    ) -> None:
        self._loader = loader
        self._estimate = estimate
        self.budget_bytes = budget_bytes
        self._on_change = on_change
        self._resident: OrderedDict[Path, Resident] = OrderedDict()
        self._lock = threading.Lock()
        self._loading: dict[Path, threading.Lock] = {}
        self.loads = 0  # pipelines loaded so far, evictions included: what the cache exists to keep low

    def snapshot(self) -> list[Resident]:
        with self._lock:
            return list(self._resident.values())

    def _take(self, path: Path) -> Resident | None:
        with self._lock:
            resident = self._resident.get(path)
            if resident is not None:
                self._resident.move_to_end(path)
                resident.users += 1
            return resident

    @contextlib.contextmanager
    def use(self, info: FolderInfo) -> Iterator[Resident]:
        """The folder's pipeline, loaded if needed and marked most recently used while held."""
        resident = self._take(info.path)
        if resident is None:
            with self._lock:
                loading = self._loading.setdefault(info.path, threading.Lock())
            with loading:  # one load per folder, however many tasks ask at once
                resident = self._take(info.path) or self._load(info)
        try:
            yield resident
        finally:
            with self._lock:
                resident.users -= 1

    def _load(self, info: FolderInfo) -> Resident:
        self._make_room(self._estimate(info))
        resident = self._loader(info)
        resident.users = 1
        with self._lock:
            self._resident[info.path] = resident
            self.loads += 1
        log.info("loaded %s (%s, %.2f GB)", info.path, info.class_name, resident.bytes / 1e9)
        self._make_room(0)  # the estimate may have been low
        self._on_change()
        return resident

    def _make_room(self, incoming: int) -> None:
        if self.budget_bytes is None:
            return
        evicted = []
        with self._lock:
            used = sum(resident.bytes for resident in self._resident.values())
            for path, resident in list(self._resident.items()):
                if used + incoming <= self.budget_bytes:
                    break
                if resident.users == 0:
                    del self._resident[path]
                    used -= resident.bytes
                    evicted.append(resident)
            over = used + incoming > self.budget_bytes
        for resident in evicted:
            log.info("evicted %s to make room (least recently used)", resident.info.path)
            resident.pipe = None
        if evicted:
            free_device_memory(collect=True)
            self._on_change()
        if over:
            log.warning(
                "pipelines in use need more than the %.2f GB budget; loading anyway", self.budget_bytes / 1e9
            )
