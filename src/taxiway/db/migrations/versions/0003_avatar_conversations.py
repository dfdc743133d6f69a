"""avatar conversations: one record per realtime session, and its transcript

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    conversations = op.create_table(
        "avatar_conversations",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("organization_id", sa.String(length=36), nullable=False),
        sa.Column("avatar_id", sa.String(length=36), nullable=True),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("avatar", sa.JSON(), nullable=False),
        sa.Column("tools", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["id"], ["realtime_sessions.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["organization_id"], ["organizations.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("avatar_conversations", schema=None) as batch_op:
        batch_op.create_index(
            "ix_avatar_conversations_org_created", ["organization_id", "created_at", "id"], unique=False
        )
        batch_op.create_index(
            "ix_avatar_conversations_org_avatar",
            ["organization_id", "avatar_id", "created_at", "id"],
            unique=False,
        )

    op.create_table(
        "avatar_conversation_turns",
        sa.Column("conversation_id", sa.String(length=36), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("content", sa.Text(), nullable=True),
        sa.Column("tool_calls", sa.JSON(), nullable=True),
        sa.Column("tool_results", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["conversation_id"], ["avatar_conversations.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("conversation_id", "position"),
    )
    _backfill(conversations)


def _backfill(conversations: sa.Table) -> None:
    """Sessions created before this revision get their record (with no transcript: none was kept)."""
    sessions = sa.table(
        "realtime_sessions",
        sa.column("id", sa.String()),
        sa.column("organization_id", sa.String()),
        sa.column("params", sa.JSON()),
        sa.column("created_at", sa.DateTime(timezone=True)),
    )
    rows = op.get_bind().execute(
        sa.select(sessions.c.id, sessions.c.organization_id, sessions.c.params, sessions.c.created_at)
    )
    records = [_record(*row) for row in rows]
    if records:
        op.bulk_insert(conversations, records)


def _record(session_id: str, organization_id: str, params: Any, created_at: Any) -> dict[str, Any]:
    """Frozen copy of what the application writes at session creation, as of this revision."""
    params = params if isinstance(params, dict) else {}
    choice = params.get("avatar") or {}
    name = str((params.get("persona") or {}).get("name") or "Avatar")
    if choice.get("type") == "custom":
        avatar: dict[str, Any] = {"type": "custom", "id": choice.get("avatarId"), "name": name}
    else:
        avatar = {"type": "runway-preset", "presetId": choice.get("presetId"), "name": name}
    tools = [
        {"type": tool.get("type"), "name": tool.get("name"), "description": tool.get("description") or ""}
        for tool in params.get("tools") or []
    ]
    return {
        "id": session_id,
        "organization_id": organization_id,
        "avatar_id": avatar.get("id"),
        "name": f"Conversation with {name}",
        "avatar": avatar,
        "tools": tools,
        "created_at": created_at,
    }


def downgrade() -> None:
    op.drop_table("avatar_conversation_turns")
    with op.batch_alter_table("avatar_conversations", schema=None) as batch_op:
        batch_op.drop_index("ix_avatar_conversations_org_avatar")
        batch_op.drop_index("ix_avatar_conversations_org_created")
    op.drop_table("avatar_conversations")
