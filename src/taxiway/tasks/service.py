"""Submitting, viewing and deleting tasks: what the API routes ask of the task domain."""

from __future__ import annotations

import logging
import secrets
import uuid
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from taxiway.accounts.repository import Principal
from taxiway.billing import ledger, quotas
from taxiway.billing.tiers import limits_for
from taxiway.catalog import ModelSpec
from taxiway.clock import utcnow
from taxiway.db.tables import TASKS, Task
from taxiway.status import TaskStatus
from taxiway.tasks import admission, repository
from taxiway.testmode import Simulation
from taxiway.testmode import runtime as testmode

log = logging.getLogger("taxiway.tasks")


@dataclass(frozen=True)
class Deletion:
    """What a DELETE did, so the caller can stop an engine or purge outputs after the commit."""

    previous: TaskStatus
    output_prefix: str | None


_INSERT = sa.insert(TASKS)  # built once: the values are bound per create


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

    The admission lock of (organization, model) comes first: the daily count and the choice between
    PENDING and THROTTLED are exact under racing submissions. The credits are taken last, by the
    guarded update of the organization's row (`billing.ledger`), held only until the commit. A
    refusal (QuotaExceeded, InsufficientCredits) leaves nothing written, so the caller's transaction
    may go on. A test-mode `simulation` is stored with the task, and may hold it THROTTLED.
    """
    organization_id, model = principal.organization_id, spec.id
    limits = limits_for(principal.tier, model)
    credits = spec.estimated_credits(params, input_seconds, input_pixels)
    now = utcnow()
    await admission.lock(session, organization_id, model)
    slots, (balance, spent) = await admission.read(
        session, organization_id, model, now, limits, ledger.FUNDS, ledger.funds_params(organization_id, now)
    )
    quotas.check_daily(model, slots.daily, limits.max_daily)
    quotas.check_funds(principal.tier, credits, int(balance), int(spent))  # before writing anything
    held = simulation.throttle if simulation is not None else None
    throttled = held is not None or slots.must_wait(limits.max_concurrent)
    status = TaskStatus.THROTTLED if throttled else TaskStatus.PENDING
    task_id = str(uuid.uuid4())
    values: dict[str, Any] = {
        "id": task_id,
        "organization_id": organization_id,
        "api_key_id": principal.api_key_id,
        "endpoint": spec.endpoint,
        "model": model,
        "status": status.value,
        "params": params,
        "simulation": testmode.stored(simulation),
        "seed": params["seed"] if params.get("seed") is not None else secrets.randbelow(2**32),
        "estimated_credits": credits,
        "progress": 0.0,
        "attempts": 0,
        "created_at": now,
        "updated_at": now,
    }
    await session.execute(_INSERT, values)
    try:
        await quotas.reserve(session, organization_id, principal.tier, task_id, model, credits, now)
    except (quotas.QuotaExceeded, ledger.InsufficientCredits):
        # Another request took the credits since they were read: the reservation undid itself.
        await session.execute(sa.delete(TASKS).where(TASKS.c.id == task_id))
        raise
    if held is not None:
        log.warning("simulated THROTTLED for %gs on task %s", held, task_id)
    return Task(**values)  # as written, outside the session: the row was inserted without the ORM


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
            await ledger.refund(session, task.organization_id, task.id, task.model, now)
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
