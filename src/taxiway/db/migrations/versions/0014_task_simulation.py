"""a task's test-mode simulation in a column of its own, beside its params instead of inside them

Revision ID: 0014
Revises: 0006
Create Date: 2026-12-03
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Where earlier versions kept a task's simulation: a key of its params no client can send.
PARAM_KEY = "__simulate"
tasks = sa.table(
    "tasks", sa.column("id", sa.String), sa.column("params", sa.JSON), sa.column("simulation", sa.JSON)
)


def _simulated(connection: sa.Connection) -> list[Any]:
    marked = sa.cast(tasks.c.params, sa.Text).like(f'%"{PARAM_KEY}"%')
    return list(connection.execute(sa.select(tasks.c.id, tasks.c.params, tasks.c.simulation).where(marked)))


def upgrade() -> None:
    op.add_column("tasks", sa.Column("simulation", sa.JSON(), nullable=True))
    connection = op.get_bind()
    for task_id, params, _simulation in _simulated(connection):
        if isinstance(params, dict) and PARAM_KEY in params:
            kept = {key: value for key, value in params.items() if key != PARAM_KEY}
            connection.execute(
                tasks.update().where(tasks.c.id == task_id).values(params=kept, simulation=params[PARAM_KEY])
            )


def downgrade() -> None:
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(tasks.c.id, tasks.c.params, tasks.c.simulation).where(tasks.c.simulation.is_not(None))
    )
    for task_id, params, simulation in list(rows):
        connection.execute(
            tasks.update().where(tasks.c.id == task_id).values(params={**params, PARAM_KEY: simulation})
        )
    with op.batch_alter_table("tasks") as batch:
        batch.drop_column("simulation")
