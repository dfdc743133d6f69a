"""The in-process scheduler: promotes throttled tasks, runs engines in worker threads, records results.

Restart rule: a task found RUNNING at start-up was interrupted. It is queued again (engines are
deterministic, so the rerun yields the same output) unless it already used `max_task_attempts`
runs, in which case it fails with `INTERNAL` and its credits are refunded.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from taxiway.assets.intake import AssetIntake
from taxiway.billing import ledger
from taxiway.catalog import model_spec
from taxiway.clock import utcnow
from taxiway.db.tables import Organization, Task
from taxiway.engines.base import Artifact, EngineRequest, RunContext, TaskCancelled
from taxiway.engines.executor import Executor
from taxiway.errors import Failure
from taxiway.periodic import Periodic
from taxiway.status import TaskStatus
from taxiway.storage.blobs import BlobStore
from taxiway.tasks import fairness, inputs, repository, run_times
from taxiway.tasks.events import NoObserver, TaskEventKind, TaskObserver, task_event
from taxiway.tasks.service import output_prefix
from taxiway.tasks.state import refundable
from taxiway.testmode import runtime as testmode

log = logging.getLogger("taxiway.scheduler")

UNEXPECTED_FAILURE = "An unexpected error occurred."
PROGRESS_WRITE_INTERVAL = 0.25
IDLE_POLL_SECONDS = 1.0


class Scheduler:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        engines: Executor,
        store: BlobStore,
        assets: AssetIntake,
        *,
        workers: int,
        max_attempts: int,
        test_mode: bool = False,
        observer: TaskObserver | None = None,
    ) -> None:
        self._sessions = sessions
        self._observer = observer or NoObserver()
        self._engines = engines
        self._store = store
        self._assets = assets
        self._test_mode = test_mode
        self._workers = workers
        self._max_attempts = max_attempts
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="taxiway-engine")
        self._dispatch = Periodic(
            "taxiway-dispatch", self.dispatch_once, IDLE_POLL_SECONDS, log, "dispatch failed; retrying"
        )
        self._running: dict[str, threading.Event] = {}
        self._jobs: set[asyncio.Task[None]] = set()
        self._progress_written: dict[str, float] = {}

    async def start(self) -> None:
        await self.recover()
        await self._dispatch.start()

    async def stop(self) -> None:
        """Stop dispatching and ask running engines to stop; their tasks are requeued at next start."""
        await self._dispatch.stop()
        for event in self._running.values():
            event.set()
        for job in list(self._jobs):
            job.cancel()
        await asyncio.gather(*self._jobs, return_exceptions=True)
        self._executor.shutdown(wait=True, cancel_futures=True)

    def wake(self) -> None:
        self._dispatch.wake()

    def accepted(self, task: Task) -> None:
        """A new task was committed (queued or throttled): reported as created, dispatch woken."""
        self._report(TaskEventKind.CREATED, task, task.estimated_credits, None)
        self.wake()

    def withdrawn(self, task: Task, previous: TaskStatus) -> None:
        """A task left the API (DELETE) from `previous`, committed: an unfinished one is reported as
        cancelled (still charged if it had started) and its engine, if it runs here, asked to stop."""
        if not previous.terminal:
            charged = task.estimated_credits if previous is TaskStatus.RUNNING else 0
            self._report(TaskEventKind.CANCELLED, task, charged, task.started_at)
        if previous is TaskStatus.RUNNING:
            self.cancel(task.id)
        self.wake()

    def cancel(self, task_id: str) -> bool:
        """Signal a running engine to stop at its next progress report. True if it runs here."""
        event = self._running.get(task_id)
        if event is None:
            return False
        event.set()
        return True

    @property
    def running(self) -> int:
        return len(self._running)

    @property
    def workers(self) -> int:
        return self._workers

    def _report(
        self,
        kind: TaskEventKind,
        task: Task,
        credits: int,
        since: datetime | None,
        failure_code: str | None = None,
    ) -> None:
        try:
            engine: str | None = self._engines.engine_name(task.endpoint, task.model)
        except KeyError:  # a model no longer in the catalog: still reported, without its engine
            engine = None
        self._observer.record(task_event(kind, task, engine, credits, since=since, failure_code=failure_code))

    async def recover(self) -> None:
        events: list[Callable[[], None]] = []
        async with self._sessions.begin() as session:
            interrupted = (
                await session.scalars(select(Task).where(Task.status == TaskStatus.RUNNING.value))
            ).all()
            for task in interrupted:
                if task.attempts >= self._max_attempts:
                    message = "The task was interrupted too many times."
                    events.append(await self._fail(session, task, "INTERNAL", message))
                elif await repository.move(
                    session, task.id, TaskStatus.PENDING, only_from=(TaskStatus.RUNNING,)
                ):
                    events.append(functools.partial(self._report, TaskEventKind.REQUEUED, task, 0, None))
        for report in events:
            report()

    async def dispatch_once(self) -> None:
        await self._promote_throttled()
        await self._claim_pending()

    async def _promote_throttled(self) -> None:
        """Move THROTTLED tasks to PENDING where their organization has free slots: oldest first,
        taking turns across the organization's API keys (see `tasks.fairness`)."""
        async with self._sessions.begin() as session:
            groups = (
                await session.execute(
                    select(Task.organization_id, Task.model, Organization.tier)
                    .join(Organization, Organization.id == Task.organization_id)
                    .where(Task.status == TaskStatus.THROTTLED.value)
                    .distinct()
                )
            ).all()
        for organization_id, model, level in groups:
            async with self._sessions.begin() as session:
                await ledger.lock_books(session, organization_id)
                for task_id in await fairness.next_to_promote(session, organization_id, model, level):
                    if self._test_mode and await testmode.held(session, task_id):
                        continue
                    await repository.move(
                        session, task_id, TaskStatus.PENDING, only_from=(TaskStatus.THROTTLED,)
                    )

    async def _claim_pending(self) -> None:
        free = self._workers - len(self._running)
        if free <= 0:
            return
        async with self._sessions.begin() as session:
            candidates = (
                await session.scalars(
                    select(Task)
                    .where(Task.status == TaskStatus.PENDING.value)
                    .order_by(Task.created_at, Task.id)
                    .limit(free)
                )
            ).all()
            claimed = []
            for task in candidates:
                started = utcnow()
                if await repository.move(
                    session,
                    task.id,
                    TaskStatus.RUNNING,
                    only_from=(TaskStatus.PENDING,),
                    attempts=task.attempts + 1,
                    progress=0.0,
                    started_at=started,
                ):
                    claimed.append((task, started))
        for task, started in claimed:
            task.attempts, task.started_at = task.attempts + 1, started  # as committed, for the events
            self._report(TaskEventKind.STARTED, task, 0, task.created_at)
            self._running[task.id] = threading.Event()
            job = asyncio.create_task(self._execute(task), name=f"taxiway-task-{task.id}")
            self._jobs.add(job)
            job.add_done_callback(self._jobs.discard)

    def _progress_reporter(self, task_id: str) -> Callable[[float], None]:
        loop = asyncio.get_running_loop()

        def report(fraction: float) -> None:
            now = time.monotonic()
            if now - self._progress_written.get(task_id, 0.0) < PROGRESS_WRITE_INTERVAL:
                return
            self._progress_written[task_id] = now
            loop.call_soon_threadsafe(self._spawn, self._write_progress(task_id, fraction))

        return report

    def _spawn(self, coroutine: Any) -> None:
        job = asyncio.ensure_future(coroutine)
        self._jobs.add(job)
        job.add_done_callback(self._jobs.discard)

    async def _write_progress(self, task_id: str, fraction: float) -> None:
        """Writes may land out of order, so the guard keeps progress from ever going back."""
        value = round(fraction, 4)
        async with self._sessions.begin() as session:
            await session.execute(
                update(Task)
                .where(Task.id == task_id, Task.status == TaskStatus.RUNNING.value, Task.progress < value)
                .values(progress=value)
            )

    def _run_engine(self, request: EngineRequest, context: RunContext) -> list[Artifact]:
        return self._engines.run(request, context)

    async def _execute(self, task: Task) -> None:
        cancel_event = self._running[task.id]
        context = RunContext(cancel_event=cancel_event, on_progress=self._progress_reporter(task.id))
        loop = asyncio.get_running_loop()
        try:
            spec = model_spec(task.endpoint, task.model)
            params, simulation = task.params, testmode.of_task(task)
            request = EngineRequest(
                task_id=task.id,
                endpoint=task.endpoint,
                model=task.model,
                params=spec.effective(params),
                seed=task.seed,
                assets=await inputs.load(self._assets, spec, params, task.organization_id),
            )
            context.check_cancelled()
            run = testmode.wrap(simulation, self._run_engine)
            artifacts = await loop.run_in_executor(self._executor, run, request, context)
            await self._succeed(task, artifacts)
        except TaskCancelled:
            log.info(
                "task %s stopped: deleted while its engine ran",
                task.id,
                extra={"event": "task.stopped", "task_id": task.id},
            )
        except Failure as failure:
            async with self._sessions.begin() as session:
                report = await self._fail(session, task, failure.code, failure.message)
            report()
        except asyncio.CancelledError:
            cancel_event.set()  # server shutdown: the task stays RUNNING and is requeued at next start
            raise
        except Exception:
            log.exception("engine failed on task %s", task.id)
            async with self._sessions.begin() as session:
                report = await self._fail(session, task, "INTERNAL", UNEXPECTED_FAILURE)
            report()
        finally:
            self._running.pop(task.id, None)
            self._progress_written.pop(task.id, None)
            self.wake()

    async def _succeed(self, task: Task, artifacts: list[Artifact]) -> None:
        if not artifacts:
            raise RuntimeError(f"engine for {task.model} produced no output")
        prefix = output_prefix(task.id)
        files = []
        for artifact in artifacts:
            key = f"{prefix}/{artifact.filename}"
            await self._store.put(key, artifact.data)
            files.append({"key": key, "contentType": artifact.content_type})
        seconds = max((a.seconds for a in artifacts if a.seconds is not None), default=None)
        pixels = max((a.pixels for a in artifacts if a.pixels is not None), default=None)
        params = task.params
        # Never more than was reserved: the estimate may already be the measured input's price.
        final = model_spec(task.endpoint, task.model).final_credits(params, seconds, pixels)
        cost = min(task.estimated_credits, final)
        finished = utcnow()
        async with self._sessions.begin() as session:
            done = await repository.move(
                session,
                task.id,
                TaskStatus.SUCCEEDED,
                only_from=(TaskStatus.RUNNING,),
                outputs={"files": files},
                progress=1.0,
                cost_credits=cost,
                finished_at=finished,
            )
            if done and task.simulation is None:  # a simulated delay is not the engine's speed
                await run_times.record(
                    session, task.endpoint, task.model, task.started_at, finished, seconds, len(artifacts)
                )
            if done and cost < task.estimated_credits:
                # Held at the maximum (e.g. `duration: "auto"`), billed on what was produced.
                await ledger.refund(
                    session, task.organization_id, task.id, task.model, task.estimated_credits - cost
                )
        if not done:  # cancelled while its outputs were being written
            await self._store.delete_prefix(prefix)
        else:
            self._report(TaskEventKind.SUCCEEDED, task, cost, task.started_at)

    async def _fail(self, session: AsyncSession, task: Task, code: str, message: str) -> Callable[[], None]:
        """RUNNING → FAILED, refunded unless the code is one the real API keeps the charge for.
        Returns the event's report, to call once the session has committed."""
        refund = refundable(code)
        moved = await repository.move(
            session,
            task.id,
            TaskStatus.FAILED,
            only_from=(TaskStatus.RUNNING,),
            failure=message,
            failure_code=code,
            cost_credits=0 if refund else task.estimated_credits,
            finished_at=utcnow(),
        )
        if moved and refund:
            await ledger.refund(session, task.organization_id, task.id, task.model)
        if not moved:
            return lambda: None
        charged = 0 if refund else task.estimated_credits
        return functools.partial(self._report, TaskEventKind.FAILED, task, charged, task.started_at, code)
