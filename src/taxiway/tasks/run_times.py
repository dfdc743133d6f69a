"""How long each model's engine takes on this server, measured as its tasks succeed.

Kept per (endpoint, model) as an exponential moving average of seconds per unit of output: per
second of a timed output (video, audio), else per file (an image). Recent runs weigh most, so the
figure follows a model moved to another engine (a GPU, a different offline one) within a few tasks.
Latency routing ranks models by it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, or_, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from taxiway.db.tables import ModelRunTime

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
    dialect = session.get_bind().dialect.name
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    first = {"runs": 0, "seconds_per_unit": value, "unit": unit, "updated_at": finished}
    await session.execute(
        insert(ModelRunTime).values(endpoint=endpoint, model=model, **first).on_conflict_do_nothing()
    )
    fresh = or_(ModelRunTime.runs == 0, ModelRunTime.unit != unit)
    average = ModelRunTime.seconds_per_unit + SMOOTHING * (value - ModelRunTime.seconds_per_unit)
    await session.execute(
        update(ModelRunTime)
        .where(ModelRunTime.endpoint == endpoint, ModelRunTime.model == model)
        .values(
            runs=ModelRunTime.runs + 1,
            seconds_per_unit=case((fresh, value), else_=average),
            unit=unit,
            updated_at=finished,
        )
    )


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
