"""Task statuses, shared by every package that reads tasks (the API, the upload sweeper, billing).

The state machine over them (which moves are legal) is the task domain's, in `tasks.state`.
"""

from __future__ import annotations

from enum import StrEnum


class TaskStatus(StrEnum):
    PENDING = "PENDING"
    THROTTLED = "THROTTLED"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"

    @property
    def terminal(self) -> bool:
        return self in TERMINAL

    @property
    def queued(self) -> bool:
        return self in (TaskStatus.PENDING, TaskStatus.THROTTLED)


TERMINAL = frozenset({TaskStatus.SUCCEEDED, TaskStatus.FAILED, TaskStatus.CANCELLED})
# Statuses that hold one of an organization's concurrency slots for a model.
ACTIVE = frozenset({TaskStatus.PENDING, TaskStatus.RUNNING})
