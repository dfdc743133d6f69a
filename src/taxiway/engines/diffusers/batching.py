"""Same-model image requests run as one pipeline call: a batch of 4 FLUX images costs less than 4 calls.

No leader thread: a request waits up to `window` for company (or until a batch is full), then whichever
waiting thread gets the pipeline lock first runs its own request plus the oldest others with the same key
(model, size, sampler settings), and hands each its result. Requests that queue behind a busy pipeline
therefore batch too, which is when batching pays most. Each request keeps its own generator, so its image
is the one it would get alone (up to float rounding of batched kernels).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from taxiway.engines.base import RunContext, TaskCancelled
from taxiway.errors import Failure

Item = TypeVar("Item")
Result = TypeVar("Result")

POLL_SECONDS = 0.05


@dataclass(eq=False)
class Job(Generic[Item, Result]):
    item: Item
    context: RunContext
    done: threading.Event = field(default_factory=threading.Event)
    taken: bool = False
    result: Result | None = None
    error: BaseException | None = None
    ran_here: bool = False

    def outcome(self) -> Result:
        self.context.check_cancelled()
        if self.error is not None:
            if self.ran_here or isinstance(self.error, Failure | TaskCancelled):
                raise self.error
            raise RuntimeError("the batched generation failed") from self.error
        assert self.result is not None
        return self.result


Execute = Callable[[Sequence[Job[Item, Result]]], Sequence[Result]]


class Batcher:
    def __init__(self, window_seconds: float, max_batch: int) -> None:
        self.window = window_seconds
        self.max_batch = max_batch
        self._pending: dict[Hashable, list[Job[Any, Any]]] = {}
        self._cond = threading.Condition()
        self.batch_sizes: list[int] = []  # observable, for tests and logs

    def run(
        self,
        key: Hashable,
        item: Item,
        context: RunContext,
        lock: threading.Lock,
        execute: Execute[Item, Result],
    ) -> Result:
        """Blocking, from the task's worker thread; `execute` runs with `lock` held and returns one result
        per job, in order. It may raise TaskCancelled when every job in the batch was cancelled."""
        job: Job[Item, Result] = Job(item, context)
        if self.window <= 0 or self.max_batch <= 1:
            return self._alone(job, lock, execute)
        pending = self._pending
        with self._cond:
            pending.setdefault(key, []).append(job)
            self._cond.notify_all()
        deadline = time.monotonic() + self.window
        try:
            while True:
                if job.done.is_set():
                    return job.outcome()
                context.check_cancelled()
                with self._cond:
                    remaining = deadline - time.monotonic()
                    waiting = len(pending.get(key, ()))
                    if not job.taken and remaining > 0 and waiting < self.max_batch:
                        self._cond.wait(min(remaining, POLL_SECONDS))
                        continue
                if job.taken:
                    job.done.wait(POLL_SECONDS)
                    continue
                if not lock.acquire(timeout=POLL_SECONDS):
                    continue
                try:
                    with self._cond:
                        if job.taken:
                            continue
                        queue = pending[key]
                        batch: list[Job[Item, Result]] = [
                            job,
                            *(other for other in queue if other is not job),
                        ][: self.max_batch]
                        for member in batch:
                            member.taken = True
                            queue.remove(member)
                        if not queue:
                            del pending[key]
                    job.ran_here = True
                    self._execute(batch, execute)
                finally:
                    lock.release()
        except TaskCancelled:
            with self._cond:
                left = pending.get(key)
                if left is not None and not job.taken:
                    left.remove(job)
                    if not left:
                        del pending[key]
            raise

    def _alone(self, job: Job[Item, Result], lock: threading.Lock, execute: Execute[Item, Result]) -> Result:
        while not lock.acquire(timeout=POLL_SECONDS):
            job.context.check_cancelled()
        try:
            job.ran_here = True
            self._execute([job], execute)
        finally:
            lock.release()
        return job.outcome()

    def _execute(self, batch: Sequence[Job[Item, Result]], execute: Execute[Item, Result]) -> None:
        self.batch_sizes.append(len(batch))
        try:
            results = execute(batch)
            for member, result in zip(batch, results, strict=True):
                member.result = result
        except BaseException as error:
            for member in batch:
                member.error = error
        finally:
            for member in batch:
                member.done.set()
