"""Every routing decision of a router, kept for `GET /v1/routers/{id}/requests`: the pipeline of
filter, capacity and rank steps, what came of it (the task, or why there is none) and its reason."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from taxiway.clock import iso_millis, utcnow
from taxiway.db.paging import After, newest_first
from taxiway.db.tables import ModelRouter, RouterRequest
from taxiway.routing.data import Modality, provider
from taxiway.routing.decide import Decision


def record(
    session: AsyncSession,
    router: ModelRouter,
    request_id: str,
    modality: Modality,
    status: str,
    decision: Decision | None = None,
    *,
    task_id: str | None = None,
    credits: float | None = None,
    reason: str | None = None,
) -> RouterRequest:
    """Add the decision to the session. `status` is the outcome: routed, no_eligible_model,
    invalid_request (refused before or after routing) or error; `reason` overrides the decision's."""
    chosen = decision.chosen if decision is not None else None
    row = RouterRequest(
        id=str(uuid.uuid4()),
        router_id=router.id,
        organization_id=router.organization_id,
        request_id=request_id,
        modality=modality.value,
        router_version=router.version,
        status=status,
        model=chosen.model if chosen else None,
        provider=provider(chosen.model) if chosen else None,
        reason=reason or (decision.reason if decision else None),
        reason_code=decision.reason_code if decision else None,
        task_id=task_id,
        estimated_credits=credits if credits is not None else (chosen.credits if chosen else None),
        pipeline=decision.pipeline if decision else [],
        emptied_by=decision.emptied_by if decision else [],
        created_at=utcnow(),
    )
    session.add(row)
    return row


def view(row: RouterRequest) -> dict[str, Any]:
    """A decision as the SDK's RouterListRequestsResponse."""
    return {
        "id": row.id,
        "createdAt": iso_millis(row.created_at),
        "emptiedBy": list(row.emptied_by),
        "estimatedCredits": row.estimated_credits,
        "model": row.model,
        "pipeline": list(row.pipeline),
        "provider": row.provider,
        "reason": row.reason,
        "reasonCode": row.reason_code,
        "requestId": row.request_id,
        "status": row.status,
        "taskId": row.task_id,
    }


async def page(session: AsyncSession, router_id: str, limit: int, after: After | None) -> list[RouterRequest]:
    """Newest first, after `(created_at, id)` of the last decision served."""
    query = select(RouterRequest).where(RouterRequest.router_id == router_id)
    query = newest_first(query, RouterRequest.created_at, RouterRequest.id, limit, after)
    return list(await session.scalars(query))
