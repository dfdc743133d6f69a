"""an index for listing an organization's tasks newest first (the console's task list)

Revision ID: 0010
Revises: 0007
Create Date: 2026-12-03
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_tasks_org_created", "tasks", ["organization_id", "created_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_tasks_org_created", table_name="tasks")
