"""The in-process scheduler: runs engines in worker threads and keeps the queue moving.

Each round is one transaction: it records the runs that finished, promotes THROTTLED tasks into the
slots that freed, and claims PENDING tasks up to the free workers (`repository.claim`). Engines run
outside of it, so a round is a few statements whatever the load.

Several replicas may share one database: each claims tasks under a lease and renews it with heartbeats
(`tasks.leases`); only the holder settles a run. Takeover rule: a RUNNING task whose lease lapsed (its
replica died, or stopped and handed it back) was interrupted. It is queued again (engines are
deterministic, so the rerun yields the same output) unless it already used `max_task_attempts` runs,
in which case it fails with `INTERNAL` and its credits are refunded. A replica takes its own previous
life's tasks back as it starts.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
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
from taxiway.tasks import admission, fairness, inputs, leases, repository, run_times
from taxiway.tasks.events import NoObserver, TaskEventKind, TaskObserver, TaskRow, task_event
from taxiway.tasks.repository import Claimed
from taxiway.tasks.service import output_prefix
from taxiway.tasks.state import refundable
from taxiway.testmode import runtime as testmode

log = logging.getLogger("taxiway.scheduler")

UNEXPECTED_FAILURE = "An unexpected error occurred."
INTERRUPTED_TOO_OFTEN = "The task was interrupted too many times."
PROGRESS_WRITE_INTERVAL = 0.25
# Rounds run when there is work; at the least this often, which also looks for THROTTLED tasks that
# slots freed elsewhere (a cancellation, another server, a higher tier, a simulated hold ending).
IDLE_POLL_SECONDS = 1.0

Group = tuple[str, str]  # (organization id, model)
Reporter = Callable[[TaskEventKind, TaskRow, int, "datetime | None", "str | None"], None]


@dataclass(frozen=True)
class Outcome:
    """How a run ended, to be recorded by the next round: outputs and cost, or a failure."""

    task: Claimed
    finished: datetime
    files: list[dict[str, str]] | None = None
    cost: int = 0
    seconds: float | None = None  # the longest output's, for the model's run times
    outputs: int = 0
    failure_code: str | None = None
    failure: str | None = None


@dataclass
class Settled:
    """What recording runs did: tasks that succeeded, and the refunds their outcomes call for."""

    succeeded: set[str] = field(default_factory=set)
    refunds: list[ledger.Refund] = field(default_factory=list)
    events: list[Callable[[], None]] = field(default_factory=list)

    def report(
        self, report: Reporter, kind: TaskEventKind, task: Claimed, credits: int, code: str | None = None
    ) -> None:
        """Report the event once the round has committed: a rolled-back round reports nothing."""
        self.events.append(functools.partial(report, kind, task, credits, task.started_at, code))


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
        replica: str = "local",
        lease_seconds: float = 30.0,
    ) -> None:
        self._sessions = sessions
        self._observer = observer or NoObserver()
        self._engines = engines
        self._store = store
        self._assets = assets
        self._test_mode = test_mode
        self._workers = workers
        self._max_attempts = max_attempts
        self._replica = replica
        self._lease_seconds = lease_seconds
        self._heartbeat = Periodic(
            "taxiway-heartbeat", self.heartbeat, lease_seconds / 3, log, "heartbeat failed; retrying"
        )
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="taxiway-engine")
        self._dispatch = Periodic(
            "taxiway-dispatch", self.dispatch_once, IDLE_POLL_SECONDS, log, "dispatch failed; retrying"
        )
        self._running: dict[str, threading.Event] = {}
        self._finished: list[Outcome] = []
        self._freed: set[Group] = set()
        self._rescan_at = 0.0  # time.monotonic() of the next look at every THROTTLED group
        self._jobs: set[asyncio.Task[None]] = set()
        self._starting = 0  # jobs launched that have not taken their first step
        self._progress_written: dict[str, float] = {}

    async def start(self) -> None:
        await self.recover()
        await self._dispatch.start()
        await self._heartbeat.start()

    async def stop(self) -> None:
        """Stop dispatching, ask running engines to stop and hand their leases back: another replica
        (or this one's next start) queues those tasks again."""
        await self._heartbeat.stop()
        await self._dispatch.stop()
        interrupted = list(self._running)
        for event in self._running.values():
            event.set()
        for job in list(self._jobs):
            job.cancel()
        await asyncio.gather(*self._jobs, return_exceptions=True)
        self._executor.shutdown(wait=True, cancel_futures=True)
        try:
            async with self._sessions.begin() as session:
                await leases.release(session, self._replica, interrupted, utcnow())
        except Exception:  # the database is gone: the leases lapse on their own
            log.warning("could not hand back the leases of %d tasks", len(interrupted), exc_info=True)

    @property
    def _held(self) -> set[str]:
        """The tasks whose leases this replica keeps: running here, or finished and not yet recorded."""
        return {*self._running, *(outcome.task.id for outcome in self._finished)}

    async def heartbeat(self) -> None:
        """Renew the leases of the tasks running here (and of runs finished but not yet recorded), stop
        the engines of those this replica no longer holds (cancelled elsewhere, or taken over after a
        lapse), take over lapsed ones."""
        running = list(self._running)
        async with self._sessions.begin() as session:
            kept = await leases.renew(session, self._replica, self._held, utcnow(), self._lease_seconds)
        for task_id in set(running) - kept:
            self.cancel(task_id)
        await self.take_over()

    def wake(self, rescan: bool = False) -> None:
        """Run a round soon: new PENDING tasks, or with `rescan` slots freed outside this scheduler."""
        if rescan:
            self._rescan_at = 0.0
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
        self.wake(rescan=True)  # its slot may be free for a THROTTLED task

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
        task: TaskRow,
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
        """At start-up: take over lapsed leases, and this replica's own from before it restarted."""
        await self.take_over(own=True)

    async def take_over(self, own: bool = False) -> None:
        events: list[Callable[[], None]] = []
        async with self._sessions.begin() as session:
            lapsed = leases.lapsed(utcnow(), self._replica if own else None)
            held = self._held  # its lease is renewed by the heartbeat
            interrupted = [task for task in await repository.running(session, lapsed) if task.id not in held]
            given_up = [task for task in interrupted if task.attempts >= self._max_attempts]
            for task in interrupted:
                if task.attempts < self._max_attempts and await repository.move(
                    session,
                    task.id,
                    TaskStatus.PENDING,
                    only_from=(TaskStatus.RUNNING,),
                    lease_owner=None,
                    lease_expires_at=None,
                ):
                    events.append(functools.partial(self._report, TaskEventKind.REQUEUED, task, 0, None))
            now = utcnow()
            failed = [
                Outcome(task, now, failure_code="INTERNAL", failure=INTERRUPTED_TOO_OFTEN)
                for task in given_up
            ]
            settled = await self._settle(session, failed, leased_to=None)  # the lease lapsed: ours now
            await self._refund(session, settled, now)
        for report in [*events, *settled.events]:
            report()

    async def dispatch_once(self) -> None:
        """One round in one transaction: record finished runs, promote, claim; then start the claims.

        Locks come in the order every transaction takes them (`billing.ledger`): task rows of the
        finished runs, admission locks for the promotions, then the ledger's rows for refunds.
        """
        finished, self._finished = self._finished, []
        freed, self._freed = self._freed, set()
        rescan = time.monotonic() >= self._rescan_at
        now = utcnow()
        try:
            async with self._sessions.begin() as session:
                settled = await self._settle(session, finished, leased_to=self._replica)
                freed |= {(outcome.task.organization_id, outcome.task.model) for outcome in finished}
                if rescan:
                    groups = set(await repository.throttled_groups(session))
                else:  # only the freed groups where tasks wait: most rounds promote nothing
                    organizations = {organization for organization, _model in freed}
                    groups = freed & set(await repository.throttled_groups(session, organizations))
                await self._promote(session, groups, now)
                await self._refund(session, settled, now)
                free = self._workers - len(self._running)
                lease = leases.held(self._replica, now, self._lease_seconds)
                claimed = await repository.claim(session, free, now, lease)
        except BaseException:
            self._finished[:0] = finished  # recorded by the next round
            self._freed |= freed
            raise
        if rescan:
            self._rescan_at = time.monotonic() + IDLE_POLL_SECONDS
        for report in settled.events:
            report()
        for outcome in finished:
            unsettled = outcome.files is not None and outcome.task.id not in settled.succeeded
            if unsettled and not await self._owned_elsewhere(outcome.task.id):  # cancelled meanwhile
                await self._store.delete_prefix(output_prefix(outcome.task.id))
        for task in claimed:
            self._report(TaskEventKind.STARTED, task, 0, task.created_at)
            self._launch(task)

    async def _promote(self, session: AsyncSession, groups: Iterable[Group], now: datetime) -> None:
        """Move THROTTLED tasks to PENDING where their organization has free slots: oldest first,
        taking turns across the organization's API keys (see `tasks.fairness`)."""
        ordered = sorted(groups)
        if not ordered:
            return
        levels = dict(
            (
                await session.execute(
                    select(Organization.id, Organization.tier).where(
                        Organization.id.in_({organization for organization, _model in ordered})
                    )
                )
            ).all()
        )
        for organization_id, model in ordered:
            if organization_id not in levels:
                continue
            await admission.lock(session, organization_id, model)
            chosen = await fairness.next_to_promote(session, organization_id, model, levels[organization_id])
            if self._test_mode:
                chosen = [task_id for task_id in chosen if not await testmode.held(session, task_id)]
            await repository.promote(session, chosen, now)

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

    def _launch(self, task: Claimed) -> None:
        """Start a claimed task's run. One with no inputs to fetch goes to an engine thread at once, from
        the round that claimed it: its job, a turn of the event loop later, usually finds it done."""
        cancel_event = threading.Event()
        self._running[task.id] = cancel_event
        context = RunContext(cancel_event=cancel_event, on_progress=self._progress_reporter(task.id))
        run = (
            None if inputs.needed(task.endpoint, task.model, task.params) else self._start(task, context, {})
        )
        job = asyncio.create_task(self._execute(task, context, run), name=f"taxiway-task-{task.id}")
        self._starting += 1
        self._jobs.add(job)
        job.add_done_callback(self._jobs.discard)

    def _start(self, task: Claimed, context: RunContext, assets: dict[str, bytes]) -> Future[list[Artifact]]:
        """The engine's run in a worker thread; what keeps it from starting is that future's error."""
        try:
            spec = model_spec(task.endpoint, task.model)
            request = EngineRequest(
                task_id=task.id,
                endpoint=task.endpoint,
                model=task.model,
                params=spec.effective(task.params),
                seed=task.seed,
                assets=assets,
            )
            context.check_cancelled()
            return self._executor.submit(
                testmode.wrap(testmode.of_task(task), self._engines.run), request, context
            )
        except Exception as exc:
            failed: Future[list[Artifact]] = Future()
            failed.set_exception(exc)
            return failed

    async def _execute(self, task: Claimed, context: RunContext, run: Future[list[Artifact]] | None) -> None:
        """Wait for the run (started here once the inputs are loaded, unless `_launch` started it), store
        its outputs, then record it: in a round of this job's own when no round is under way, so a slot
        frees without waiting for the dispatch loop's turn."""
        self._starting -= 1
        outcome: Outcome | None = None
        try:
            if run is None:
                spec = model_spec(task.endpoint, task.model)
                assets = await inputs.load(self._assets, spec, task.params, task.organization_id)
                run = self._start(task, context, assets)
            if not run.done():
                await asyncio.wrap_future(run)
            outcome = await self._store_outputs(task, run.result())
        except TaskCancelled:
            log.info(
                "task %s stopped: deleted while its engine ran",
                task.id,
                extra={"event": "task.stopped", "task_id": task.id},
            )
        except Failure as failure:
            outcome = Outcome(task, utcnow(), failure_code=failure.code, failure=failure.message)
        except asyncio.CancelledError:
            context.cancel_event.set()  # server shutdown: `stop` hands the task's lease back
            raise
        except Exception:
            log.exception("engine failed on task %s", task.id)
            outcome = Outcome(task, utcnow(), failure_code="INTERNAL", failure=UNEXPECTED_FAILURE)
        finally:
            if outcome is not None:
                self._finished.append(outcome)
            self._running.pop(task.id, None)
            self._progress_written.pop(task.id, None)
        if self._starting:  # a job launched with this one records them both, or else the loop does
            self.wake()
        else:
            await self._dispatch.run_now()

    async def _store_outputs(self, task: Claimed, artifacts: list[Artifact]) -> Outcome:
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
        return Outcome(task, utcnow(), files=files, cost=cost, seconds=seconds, outputs=len(artifacts))

    async def _settle(self, session: AsyncSession, outcomes: list[Outcome], leased_to: str | None) -> Settled:
        """Move finished runs out of RUNNING; a task cancelled meanwhile keeps its cancellation. With
        `leased_to`, only runs that replica still holds the lease of (one taken over after a lapse is
        another run's now). The settled runs' events are reported once the session has committed."""
        settled = Settled()
        for outcome in outcomes:
            task, finished = outcome.task, outcome.finished
            if outcome.files is not None:
                if await repository.move(
                    session,
                    task.id,
                    TaskStatus.SUCCEEDED,
                    only_from=(TaskStatus.RUNNING,),
                    leased_to=leased_to,
                    outputs={"files": outcome.files},
                    progress=1.0,
                    cost_credits=outcome.cost,
                    finished_at=finished,
                ):
                    settled.succeeded.add(task.id)
                    if task.simulation is None:  # a simulated delay is not the engine's speed
                        await run_times.record(
                            session, task.endpoint, task.model, task.started_at, finished,
                            outcome.seconds, outcome.outputs,
                        )  # fmt: skip
                    if outcome.cost < task.estimated_credits:
                        # Held at the maximum (e.g. `duration: "auto"`), billed on what was produced.
                        amount = task.estimated_credits - outcome.cost
                        settled.refunds.append(
                            ledger.Refund(task.organization_id, task.id, task.model, amount)
                        )
                    settled.report(self._report, TaskEventKind.SUCCEEDED, task, outcome.cost)
                continue
            refund = refundable(outcome.failure_code)
            if await repository.move(
                session,
                task.id,
                TaskStatus.FAILED,
                only_from=(TaskStatus.RUNNING,),
                leased_to=leased_to,
                failure=outcome.failure,
                failure_code=outcome.failure_code,
                cost_credits=0 if refund else task.estimated_credits,
                finished_at=finished,
            ):
                if refund:
                    settled.refunds.append(ledger.Refund(task.organization_id, task.id, task.model))
                charged = 0 if refund else task.estimated_credits
                settled.report(self._report, TaskEventKind.FAILED, task, charged, outcome.failure_code)
        return settled

    async def _owned_elsewhere(self, task_id: str) -> bool:
        """Whether another run has the task now (taken over after this replica's lease lapsed, or
        already succeeded there): then its outputs are that run's, same keys and same bytes."""
        async with self._sessions() as session:
            status = await session.scalar(select(Task.status).where(Task.id == task_id))
        return status in (TaskStatus.RUNNING.value, TaskStatus.SUCCEEDED.value, TaskStatus.PENDING.value)

    async def _refund(self, session: AsyncSession, settled: Settled, now: datetime) -> None:
        await ledger.refund_many(session, settled.refunds, now)
