"""Submitting, viewing and deleting tasks: what the API routes ask of the task domain."""

from __future__ import annotations

import logging
import secrets
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from taxiway.accounts.repository import Principal
from taxiway.billing import ledger, quotas
from taxiway.catalog import ModelSpec
from taxiway.clock import utcnow
from taxiway.db.tables import Task
from taxiway.status import TaskStatus
from taxiway.tasks import fairness, repository
from taxiway.testmode import Simulation
from taxiway.testmode import runtime as testmode

log = logging.getLogger("taxiway.tasks")


@dataclass(frozen=True)
class Deletion:
    """What a DELETE did, so the caller can stop an engine or purge outputs after the commit."""

    previous: TaskStatus
    output_prefix: str | None


def output_prefix(task_id: str) -> str:
    return f"tasks/{task_id}"


async def submit(
    session: AsyncSession,
    principal: Principal,
    spec: ModelSpec,
    params: dict[str, Any],
    input_seconds: float | None = None,
    input_pixels: int | None = None,
    simulation: Simulation | None = None,
) -> Task:
    """Create a task and reserve its credits in one transaction, so an accepted task is never lost.

    The organization's books lock is taken first: it also serializes the quota counts and the
    concurrency count, so limits and the choice between PENDING and THROTTLED are exact under
    racing submissions. A test-mode `simulation` is stored with the task, and may hold it THROTTLED.
    """
    await ledger.lock_books(session, principal.organization_id)
    credits = spec.estimated_credits(params, input_seconds, input_pixels)
    now = utcnow()
    await quotas.enforce(session, principal.organization_id, principal.tier, spec.id, credits, now)
    throttled = await fairness.must_wait(session, principal.organization_id, spec.id, principal.tier)
    held = simulation.throttle if simulation is not None else None
    task = Task(
        id=str(uuid.uuid4()),
        organization_id=principal.organization_id,
        api_key_id=principal.api_key_id,
        endpoint=spec.endpoint,
        model=spec.id,
        status=(TaskStatus.THROTTLED if throttled or held is not None else TaskStatus.PENDING).value,
        params=params,
        simulation=testmode.stored(simulation),
        seed=params["seed"] if params.get("seed") is not None else secrets.randbelow(2**32),
        estimated_credits=credits,
        progress=0.0,
        attempts=0,
        created_at=now,
        updated_at=now,
    )
    if held is not None:
        log.warning("simulated THROTTLED for %gs on task %s", held, task.id)
    session.add(task)
    await ledger.reserve(session, principal.organization_id, task.id, spec.id, credits)
    await session.flush()
    return task


async def delete(session: AsyncSession, task: Task) -> Deletion:
    """The real API's DELETE: queued → cancelled and refunded; running → cancelled, still charged;
    finished → deleted with its outputs. Afterwards the task is invisible either way."""
    previous = TaskStatus(task.status)
    now = utcnow()
    if previous.queued:
        moved = await repository.move(
            session, task.id, TaskStatus.CANCELLED, only_from=(previous,), cost_credits=0, finished_at=now
        )
        if moved:
            await ledger.refund(session, task.organization_id, task.id, task.model)
    elif previous is TaskStatus.RUNNING:
        moved = await repository.move(
            session,
            task.id,
            TaskStatus.CANCELLED,
            only_from=(previous,),
            cost_credits=task.estimated_credits,
            finished_at=now,
        )
    else:
        moved = True
    if not moved:
        # The task changed status under us (e.g. it just finished): delete what it is now.
        await session.refresh(task)
        return await delete(session, task)
    task.deleted_at = now
    await session.flush()
    return Deletion(previous=previous, output_prefix=output_prefix(task.id) if task.outputs else None)
