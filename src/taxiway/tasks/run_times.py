"""How long each model's engine takes on this server, measured as its tasks succeed.

Kept per (endpoint, model) as an exponential moving average of seconds per unit of output: per
second of a timed output (video, audio), else per file (an image). Recent runs weigh most, so the
figure follows a model moved to another engine (a GPU, a different offline one) within a few tasks.
Latency routing ranks models by it.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, case, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from taxiway.db.engine import upsert_insert
from taxiway.db.tables import MODEL_RUN_TIMES, ModelRunTime

# Weight of the newest run in the average.
SMOOTHING = 0.3


@dataclass(frozen=True)
class RunTime:
    seconds_per_unit: float
    unit: str  # "second" or "output"
    runs: int


def per_unit(seconds: float, output_seconds: float | None, outputs: int) -> tuple[float, str]:
    """A run's seconds per unit of what it produced."""
    if output_seconds:
        return seconds / output_seconds, "second"
    return seconds / max(outputs, 1), "output"


async def record(
    session: AsyncSession,
    endpoint: str,
    model: str,
    started: datetime | None,
    finished: datetime,
    output_seconds: float | None,
    outputs: int,
) -> None:
    """Fold one successful run into its model's average, in the caller's transaction. Two statements,
    each atomic, so runs of one model finishing at once all count."""
    if started is None:
        return
    value, unit = per_unit(max((finished - started).total_seconds(), 0.0), output_seconds, outputs)
    first, fold = _statements(session.get_bind().dialect.name)
    row = {"endpoint": endpoint, "model": model, "unit": unit, "updated_at": finished}
    await session.execute(first, {**row, "runs": 0, "seconds_per_unit": value})
    await session.execute(fold, {f"new_{key}": item for key, item in row.items()} | {"new_value": value})


@functools.cache
def _statements(dialect: str) -> tuple[Any, Any]:
    """Create a model's row if it has none; fold a run into it. Built once, bound per run."""
    table = MODEL_RUN_TIMES.c
    value = bindparam("new_value", type_=table.seconds_per_unit.type)
    unit = bindparam("new_unit", type_=table.unit.type)
    fresh = or_(table.runs == 0, table.unit != unit)
    average = table.seconds_per_unit + SMOOTHING * (value - table.seconds_per_unit)
    fold = (
        update(MODEL_RUN_TIMES)
        .where(table.endpoint == bindparam("new_endpoint"), table.model == bindparam("new_model"))
        .values(
            runs=table.runs + 1,
            seconds_per_unit=case((fresh, value), else_=average),
            unit=unit,
            updated_at=bindparam("new_updated_at", type_=table.updated_at.type),
        )
    )
    return upsert_insert(dialect)(MODEL_RUN_TIMES).on_conflict_do_nothing(), fold


async def known(session: AsyncSession, pairs: Iterable[tuple[str, str]]) -> dict[tuple[str, str], RunTime]:
    """The measured run times of these (endpoint, model) pairs; pairs never run are left out."""
    wanted = set(pairs)
    models = {model for _endpoint, model in wanted}
    rows = await session.scalars(select(ModelRunTime).where(ModelRunTime.model.in_(models)))
    return {
        (row.endpoint, row.model): RunTime(row.seconds_per_unit, row.unit, row.runs)
        for row in rows
        if (row.endpoint, row.model) in wanted
    }
