"""Table definitions. Alembic migrations in `migrations/versions` create exactly these."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC timestamps on every backend (SQLite stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    type_annotation_map: dict[Any, Any] = {datetime: UTCDateTime(), dict[str, Any]: JSON()}


class Organization(Base):
    __tablename__ = "organizations"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    tier: Mapped[int] = mapped_column(Integer, default=1)
    # Bumped by every ledger write, which updates this row last: its lock serializes the books.
    ledger_version: Mapped[int] = mapped_column(BigInteger, default=0)
    # The sum of the organization's ledger entries, kept by every ledger write (`taxiway orgs check`
    # proves they agree), so that a balance is one row, not all of history.
    credit_balance: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    # Net credits spent on tasks in the calendar month starting `spend_month` (UTC), for the monthly cap.
    spend_month: Mapped[date | None] = mapped_column(Date)
    month_spend: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    created_at: Mapped[datetime]


ORGANIZATIONS = Base.metadata.tables[Organization.__tablename__]


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200), default="")
    prefix: Mapped[str] = mapped_column(String(16))
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]

    __table_args__ = (Index("ix_api_keys_organization", "organization_id"),)


class Task(Base):
    __tablename__ = "tasks"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    api_key_id: Mapped[str | None] = mapped_column(String(36))
    endpoint: Mapped[str] = mapped_column(String(64))
    model: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    params: Mapped[dict[str, Any]]
    # Test mode: the simulated outcome the task was accepted with (`testmode.Simulation.to_json`).
    simulation: Mapped[dict[str, Any] | None]
    seed: Mapped[int] = mapped_column(BigInteger)
    estimated_credits: Mapped[int] = mapped_column(Integer)
    cost_credits: Mapped[int | None] = mapped_column(Integer)
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    outputs: Mapped[dict[str, Any] | None]
    failure: Mapped[str | None] = mapped_column(Text)
    failure_code: Mapped[str | None] = mapped_column(String(128))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    deleted_at: Mapped[datetime | None]
    # The replica running it (TAXIWAY_REPLICA_ID) and until when its claim holds: renewed by that
    # replica's heartbeats, taken over by any replica once it lapses.
    lease_owner: Mapped[str | None] = mapped_column(String(200))
    lease_expires_at: Mapped[datetime | None]

    __table_args__ = (
        Index("ix_tasks_status_created", "status", "created_at"),
        Index("ix_tasks_status_lease", "status", "lease_expires_at"),
        Index("ix_tasks_org_model_status", "organization_id", "model", "status"),
        # The console's task list (an organization's tasks, newest first, a page at a time) and the
        # rolling day's generations in all; per model, the next one. Range scans, whatever the history.
        Index("ix_tasks_org_created", "organization_id", "created_at", "id"),
        Index("ix_tasks_org_model_created", "organization_id", "model", "created_at"),
    )


# The tasks table for Core statements: the hot paths skip the ORM's unit of work.
TASKS = Base.metadata.tables[Task.__tablename__]


class LedgerEntry(Base):
    """Append-only credit movements; an organization's balance is their sum."""

    __tablename__ = "ledger_entries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    task_id: Mapped[str | None] = mapped_column(String(36))
    kind: Mapped[str] = mapped_column(String(16))
    amount: Mapped[int] = mapped_column(Integer)
    model: Mapped[str | None] = mapped_column(String(64))
    note: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime]

    __table_args__ = (
        # One reservation and at most one refund per task: a retried step cannot move credits twice.
        UniqueConstraint("task_id", "kind", name="uq_ledger_task_kind"),
        Index("ix_ledger_org_created", "organization_id", "created_at"),
    )


# Tables for Core statements, as TASKS: the create path's statements are built once from them.
LEDGER_ENTRIES = Base.metadata.tables[LedgerEntry.__tablename__]


class UsageDay(Base):
    """Net credits spent on tasks per organization, UTC day and model: the ledger's task entries summed
    as they are written, so usage reports and the monthly spend read days, not every entry."""

    __tablename__ = "usage_days"

    organization_id: Mapped[str] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    model: Mapped[str] = mapped_column(String(64), primary_key=True)
    credits: Mapped[int] = mapped_column(BigInteger)


USAGE_DAYS = Base.metadata.tables[UsageDay.__tablename__]


class Setting(Base):
    """Server-wide values that must survive restarts (e.g. the generated URL-signing secret)."""

    __tablename__ = "settings"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class Document(Base):
    """A knowledge text; `token_count` is kept so an avatar's knowledge limit is a sum, not a re-count."""

    __tablename__ = "documents"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(Text)
    content: Mapped[str] = mapped_column(Text)
    type: Mapped[str] = mapped_column(String(16))
    token_count: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    __table_args__ = (
        Index("ix_documents_org_created", "organization_id", "created_at", "id"),
        Index("ix_documents_org_updated", "organization_id", "updated_at", "id"),
    )


class Avatar(Base):
    __tablename__ = "avatars"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(Text)
    personality: Mapped[str] = mapped_column(Text)
    start_script: Mapped[str | None] = mapped_column(Text)
    voice: Mapped[dict[str, Any]]
    image_processing: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    # Bumped by every new reference image, so a superseded processing job cannot write its result.
    image_version: Mapped[int] = mapped_column(Integer, default=1)
    # The reference image waiting to be processed: its URI, or the blob key its data URI was saved to.
    pending_image: Mapped[str | None] = mapped_column(Text)
    # Blobs: low-resolution previews for the API, the full processed image for the worker.
    reference_preview_key: Mapped[str | None] = mapped_column(String(255))
    processed_preview_key: Mapped[str | None] = mapped_column(String(255))
    processed_key: Mapped[str | None] = mapped_column(String(255))
    failure_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    __table_args__ = (
        Index("ix_avatars_org_created", "organization_id", "created_at", "id"),
        Index("ix_avatars_status", "status"),
    )


class Voice(Base):
    """A custom voice (Voices API): a derived TTS preset, measured from a sample or designed from text."""

    __tablename__ = "voices"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    # "audio" (cloned from a sample) or "text" (designed from `prompt` with `model`).
    source: Mapped[str] = mapped_column(String(16))
    model: Mapped[str | None] = mapped_column(String(64))
    prompt: Mapped[str | None] = mapped_column(Text)
    # The sample waiting to be analysed: its URI, or the blob key its data URI was saved to.
    pending_audio: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    # The derived preset (`Preset.to_json`), once READY.
    preset: Mapped[dict[str, Any] | None]
    preview_key: Mapped[str | None] = mapped_column(String(255))
    failure_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    __table_args__ = (
        Index("ix_voices_org_created", "organization_id", "created_at", "id"),
        Index("ix_voices_status", "status"),
    )


class AvatarDocument(Base):
    __tablename__ = "avatar_documents"

    avatar_id: Mapped[str] = mapped_column(ForeignKey("avatars.id", ondelete="CASCADE"), primary_key=True)
    document_id: Mapped[str] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer)

    __table_args__ = (Index("ix_avatar_documents_document", "document_id"),)


class RealtimeSession(Base):
    __tablename__ = "realtime_sessions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    api_key_id: Mapped[str | None] = mapped_column(String(36))
    status: Mapped[str] = mapped_column(String(16))
    # The validated create body (camelCase), kept whole for the worker.
    params: Mapped[dict[str, Any]]
    avatar_id: Mapped[str | None] = mapped_column(String(36))
    max_duration: Mapped[int] = mapped_column(Integer)
    reserved_credits: Mapped[int] = mapped_column(Integer)
    cost_credits: Mapped[int | None] = mapped_column(Integer)
    duration: Mapped[int | None] = mapped_column(Integer)
    failure: Mapped[str | None] = mapped_column(Text)
    failure_code: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    expires_at: Mapped[datetime | None]
    consumed_at: Mapped[datetime | None]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]

    __table_args__ = (
        Index("ix_realtime_sessions_status", "status"),
        Index("ix_realtime_sessions_org_created", "organization_id", "created_at"),
    )


class AvatarConversation(Base):
    """The conversation record of one realtime session (same id). Deleting it keeps the session, whose
    billing and usage stand; the session's status, times and duration are read from its row."""

    __tablename__ = "avatar_conversations"

    id: Mapped[str] = mapped_column(ForeignKey("realtime_sessions.id", ondelete="CASCADE"), primary_key=True)
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    # The custom avatar, for the `avatar` filter; kept after the avatar is deleted.
    avatar_id: Mapped[str | None] = mapped_column(String(36))
    name: Mapped[str] = mapped_column(Text)
    # As the call began: {"type": "runway-preset", "presetId", "name"} or {"type": "custom", "id", "name"}.
    avatar: Mapped[dict[str, Any]]
    tools: Mapped[list[dict[str, Any]]] = mapped_column(JSON)  # [{"type", "name", "description"}]
    created_at: Mapped[datetime]

    __table_args__ = (
        Index("ix_avatar_conversations_org_created", "organization_id", "created_at", "id"),
        Index("ix_avatar_conversations_org_avatar", "organization_id", "avatar_id", "created_at", "id"),
    )


class AvatarConversationTurn(Base):
    """One transcript entry, written by the avatar worker as the call goes."""

    __tablename__ = "avatar_conversation_turns"

    conversation_id: Mapped[str] = mapped_column(
        ForeignKey("avatar_conversations.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    role: Mapped[str] = mapped_column(String(16))
    content: Mapped[str | None] = mapped_column(Text)
    tool_calls: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    tool_results: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    created_at: Mapped[datetime]


class Workflow(Base):
    """One published version of an operator-defined workflow graph; versions of a name share a scope
    (every organization when `organization_id` is null, else that one organization)."""

    __tablename__ = "workflows"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    organization_id: Mapped[str | None] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    version: Mapped[int] = mapped_column(Integer)
    description: Mapped[str | None] = mapped_column(Text)
    graph: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    __table_args__ = (Index("ix_workflows_name_version", "name", "version"),)


class WorkflowInvocation(Base):
    """A run of a workflow version. The graph and its input values are copied in, so removing the
    version never strands a run; `status` is stored once terminal and derived from the nodes before."""

    __tablename__ = "workflow_invocations"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    api_key_id: Mapped[str | None] = mapped_column(String(36))
    workflow_id: Mapped[str] = mapped_column(String(36))
    graph: Mapped[dict[str, Any]]
    # Input nodes' values after the run's `nodeOutputs`: {nodeId: {key: {type, value | uri}}}.
    inputs: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(16))
    failure: Mapped[str | None] = mapped_column(Text)
    failure_code: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]

    __table_args__ = (
        Index("ix_workflow_invocations_status", "status"),
        Index("ix_workflow_invocations_org_created", "organization_id", "created_at"),
    )


class WorkflowNodeRun(Base):
    """One generation node of an invocation: waiting for its inputs, submitted as a task, or not run
    (`refused` at submission, `skipped` because an input failed) with the reason."""

    __tablename__ = "workflow_node_runs"

    invocation_id: Mapped[str] = mapped_column(
        ForeignKey("workflow_invocations.id", ondelete="CASCADE"), primary_key=True
    )
    node_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    state: Mapped[str] = mapped_column(String(16))
    task_id: Mapped[str | None] = mapped_column(String(36))
    error: Mapped[str | None] = mapped_column(Text)


class IdempotencyKey(Base):
    """A create's answer under its client's `Idempotency-Key`, replayed for 24 hours to the same request."""

    __tablename__ = "idempotency_keys"

    organization_id: Mapped[str] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    # SHA-256 of the method, path and canonical JSON body: what "the same request" means.
    fingerprint: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(Integer)
    response: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]

    __table_args__ = (Index("ix_idempotency_keys_expires", "organization_id", "expires_at"),)


class AuditEvent(Base):
    """One change to an organization's account, recorded by the domain function that made it (keys,
    credits, tier, routers, sessions), whoever called it: the API, the operator API or the CLI."""

    __tablename__ = "audit_events"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    # One of the SDK's audit-log actions (`audit.actions.ACTIONS`).
    action: Mapped[str] = mapped_column(String(64))
    # Who: "api_key" (actor_key_id set), "operator" (the operator API), "cli" or "system".
    actor_kind: Mapped[str] = mapped_column(String(16))
    actor_key_id: Mapped[str | None] = mapped_column(String(36))
    actor_name: Mapped[str | None] = mapped_column(String(200))
    client_ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(Text)
    request_id: Mapped[str | None] = mapped_column(String(64))
    resource_type: Mapped[str | None] = mapped_column(String(64))
    resource_id: Mapped[str | None] = mapped_column(String(64))
    # The SDK's metadata keys ("Amount", "Previous value"…) and their values.
    details: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]

    __table_args__ = (Index("ix_audit_events_org_created", "organization_id", "created_at", "id"),)


class ModelRouter(Base):
    """A saved Model Router configuration: the preferences `POST /v1/generate/*` routes by (`slug`)."""

    __tablename__ = "model_routers"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    slug: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    # The settings snapshot as the API shows it (`schemaVersion`, `optimizeFor`, …).
    settings: Mapped[dict[str, Any]]
    # Bumped when the settings change (not the name or description).
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    __table_args__ = (
        UniqueConstraint("organization_id", "slug", name="uq_model_routers_org_slug"),
        Index("ix_model_routers_org_created", "organization_id", "created_at", "id"),
    )


class RouterRequest(Base):
    """One routing decision of a router: its filter, capacity and rank steps, and what came of it."""

    __tablename__ = "router_requests"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    router_id: Mapped[str] = mapped_column(ForeignKey("model_routers.id", ondelete="CASCADE"))
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    request_id: Mapped[str] = mapped_column(String(64))
    modality: Mapped[str] = mapped_column(String(16))
    router_version: Mapped[int] = mapped_column(Integer)
    # routed, no_eligible_model, invalid_request or error.
    status: Mapped[str] = mapped_column(String(32))
    model: Mapped[str | None] = mapped_column(String(64))
    provider: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str | None] = mapped_column(Text)
    reason_code: Mapped[str | None] = mapped_column(String(32))
    task_id: Mapped[str | None] = mapped_column(String(36))
    estimated_credits: Mapped[float | None] = mapped_column(Float)
    pipeline: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    emptied_by: Mapped[list[str]] = mapped_column(JSON)
    created_at: Mapped[datetime]

    __table_args__ = (Index("ix_router_requests_router_created", "router_id", "created_at", "id"),)


class ModelRunTime(Base):
    """How long a model's engine takes, measured as its tasks succeed: a moving average of seconds per
    unit of output (per second of a timed output, else per file), what latency routing ranks by."""

    __tablename__ = "model_run_times"

    endpoint: Mapped[str] = mapped_column(String(64), primary_key=True)
    model: Mapped[str] = mapped_column(String(64), primary_key=True)
    runs: Mapped[int] = mapped_column(Integer)
    seconds_per_unit: Mapped[float] = mapped_column(Float)
    # "second" (of output audio or video) or "output" (an image, a file).
    unit: Mapped[str] = mapped_column(String(16))
    updated_at: Mapped[datetime]


MODEL_RUN_TIMES = Base.metadata.tables[ModelRunTime.__tablename__]
