"""constant-cost books: balance and month spend on the organization, daily usage rollups, a range index

Revision ID: 0005
Revises: 0012
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("organizations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("credit_balance", sa.BigInteger(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("spend_month", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("month_spend", sa.BigInteger(), server_default="0", nullable=False))
    op.create_table(
        "usage_days",
        sa.Column("organization_id", sa.String(length=36), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("model", sa.String(length=64), nullable=False),
        sa.Column("credits", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["organization_id"], ["organizations.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("organization_id", "day", "model"),
    )
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.create_index(
            "ix_tasks_org_model_created", ["organization_id", "model", "created_at"], unique=False
        )

    # The books so far, from the ledger. The month spend starts empty: the first credit movement of a
    # month sums it from the daily rollups (see `billing.ledger`).
    op.execute(
        "UPDATE organizations SET credit_balance = (SELECT COALESCE(SUM(amount), 0) FROM ledger_entries"
        " WHERE ledger_entries.organization_id = organizations.id)"
    )
    if op.get_bind().dialect.name == "postgresql":
        day = "(created_at AT TIME ZONE 'UTC')::date"
    else:
        day = "substr(created_at, 1, 10)"  # SQLite keeps UTC timestamps as text
    op.execute(
        f"INSERT INTO usage_days (organization_id, day, model, credits) SELECT organization_id, {day},"
        " model, -SUM(amount) FROM ledger_entries WHERE task_id IS NOT NULL AND model IS NOT NULL"
        f" GROUP BY organization_id, {day}, model"
    )


def downgrade() -> None:
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.drop_index("ix_tasks_org_model_created")
    op.drop_table("usage_days")
    with op.batch_alter_table("organizations", schema=None) as batch_op:
        batch_op.drop_column("month_spend")
        batch_op.drop_column("spend_month")
        batch_op.drop_column("credit_balance")
