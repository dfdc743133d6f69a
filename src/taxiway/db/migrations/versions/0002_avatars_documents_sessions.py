"""avatars, knowledge documents and realtime sessions

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "documents",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("organization_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("token_count", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["organization_id"], ["organizations.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.create_index(
            "ix_documents_org_created", ["organization_id", "created_at", "id"], unique=False
        )
        batch_op.create_index(
            "ix_documents_org_updated", ["organization_id", "updated_at", "id"], unique=False
        )

    op.create_table(
        "avatars",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("organization_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("personality", sa.Text(), nullable=False),
        sa.Column("start_script", sa.Text(), nullable=True),
        sa.Column("voice", sa.JSON(), nullable=False),
        sa.Column("image_processing", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("image_version", sa.Integer(), nullable=False),
        sa.Column("pending_image", sa.Text(), nullable=True),
        sa.Column("reference_preview_key", sa.String(length=255), nullable=True),
        sa.Column("processed_preview_key", sa.String(length=255), nullable=True),
        sa.Column("processed_key", sa.String(length=255), nullable=True),
        sa.Column("failure_reason", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["organization_id"], ["organizations.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("avatars", schema=None) as batch_op:
        batch_op.create_index("ix_avatars_org_created", ["organization_id", "created_at", "id"], unique=False)
        batch_op.create_index("ix_avatars_status", ["status"], unique=False)

    op.create_table(
        "avatar_documents",
        sa.Column("avatar_id", sa.String(length=36), nullable=False),
        sa.Column("document_id", sa.String(length=36), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["avatar_id"], ["avatars.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["document_id"], ["documents.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("avatar_id", "document_id"),
    )
    with op.batch_alter_table("avatar_documents", schema=None) as batch_op:
        batch_op.create_index("ix_avatar_documents_document", ["document_id"], unique=False)

    op.create_table(
        "realtime_sessions",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("organization_id", sa.String(length=36), nullable=False),
        sa.Column("api_key_id", sa.String(length=36), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("avatar_id", sa.String(length=36), nullable=True),
        sa.Column("max_duration", sa.Integer(), nullable=False),
        sa.Column("reserved_credits", sa.Integer(), nullable=False),
        sa.Column("cost_credits", sa.Integer(), nullable=True),
        sa.Column("duration", sa.Integer(), nullable=True),
        sa.Column("failure", sa.Text(), nullable=True),
        sa.Column("failure_code", sa.String(length=128), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("consumed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["organization_id"], ["organizations.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("realtime_sessions", schema=None) as batch_op:
        batch_op.create_index("ix_realtime_sessions_status", ["status"], unique=False)
        batch_op.create_index(
            "ix_realtime_sessions_org_created", ["organization_id", "created_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("realtime_sessions", schema=None) as batch_op:
        batch_op.drop_index("ix_realtime_sessions_org_created")
        batch_op.drop_index("ix_realtime_sessions_status")
    op.drop_table("realtime_sessions")
    with op.batch_alter_table("avatar_documents", schema=None) as batch_op:
        batch_op.drop_index("ix_avatar_documents_document")
    op.drop_table("avatar_documents")
    with op.batch_alter_table("avatars", schema=None) as batch_op:
        batch_op.drop_index("ix_avatars_status")
        batch_op.drop_index("ix_avatars_org_created")
    op.drop_table("avatars")
    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.drop_index("ix_documents_org_updated")
        batch_op.drop_index("ix_documents_org_created")
    op.drop_table("documents")
