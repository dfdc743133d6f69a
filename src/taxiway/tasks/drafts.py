"""Seedance 2.5 drafts: a cheap 480p preview that a later request remakes at 1080p by its task id.

`POST /v1/text_to_video {"model": "seedance2_5", "draftTaskId": id}` regenerates the draft from its own
prompt, inputs, settings and seed, on the endpoint it was made on (a draft may come from any of the
three), at its ratio's 1080p size. The offline engines are deterministic, so the remake shows the same
content, sharper. A draft can be remade by its own organization, once it has succeeded, within 7 days of
its creation; inputs given as uploads must still be valid then.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from taxiway.catalog import ModelSpec, model_spec
from taxiway.catalog.framing import nearest_in_tier
from taxiway.tasks import repository
from taxiway.tasks.state import TaskStatus

MODEL = "seedance2_5"
REMAKE_WINDOW = timedelta(days=7)
REMAKE_TIER = "1080p"


class DraftRejected(ValueError):
    """`draftTaskId` names no draft that can be remade; the message says why."""


@dataclass(frozen=True)
class Remake:
    spec: ModelSpec
    params: dict[str, Any]


async def remake(session: AsyncSession, organization_id: str, draft_id: str, now: datetime) -> Remake:
    """The remake's model and params, from the draft task `draft_id`."""
    task = await repository.get_visible(session, organization_id, draft_id)
    if task is None or task.model != MODEL or not task.params.get("draft"):
        raise DraftRejected(f"must name a {MODEL} draft task (`draft: true`) of this organization")
    if task.status != TaskStatus.SUCCEEDED.value:
        raise DraftRejected(f"the draft has not succeeded (it is {task.status})")
    created = task.created_at if task.created_at.tzinfo else task.created_at.replace(tzinfo=UTC)
    if now - created > REMAKE_WINDOW:
        raise DraftRejected("drafts can be enhanced within 7 days of their creation")
    spec = model_spec(task.endpoint, task.model)
    params = {key: value for key, value in task.params.items() if key != "draft"}
    ratio = spec.effective(params).get("ratio")
    if ratio is not None:
        params["ratio"] = nearest_in_tier(spec.ratios, ratio, REMAKE_TIER)
    params["seed"] = task.seed
    return Remake(spec, params)
