"""The task state machine. Every status change in the code base goes through `can_move`."""

from __future__ import annotations

from taxiway.status import ACTIVE, TERMINAL, TaskStatus

__all__ = ["ACTIVE", "TERMINAL", "IllegalTransition", "TaskStatus", "can_move", "check_move", "sources_for"]

TRANSITIONS: dict[TaskStatus, frozenset[TaskStatus]] = {
    TaskStatus.THROTTLED: frozenset({TaskStatus.PENDING, TaskStatus.CANCELLED, TaskStatus.FAILED}),
    TaskStatus.PENDING: frozenset(
        {TaskStatus.RUNNING, TaskStatus.THROTTLED, TaskStatus.CANCELLED, TaskStatus.FAILED}
    ),
    # RUNNING -> PENDING is the restart rule: an interrupted run is queued again.
    TaskStatus.RUNNING: frozenset(
        {TaskStatus.SUCCEEDED, TaskStatus.FAILED, TaskStatus.CANCELLED, TaskStatus.PENDING}
    ),
    TaskStatus.SUCCEEDED: frozenset(),
    TaskStatus.FAILED: frozenset(),
    TaskStatus.CANCELLED: frozenset(),
}


class IllegalTransition(ValueError):
    pass


def can_move(source: TaskStatus, target: TaskStatus) -> bool:
    return target in TRANSITIONS[source]


def sources_for(target: TaskStatus) -> frozenset[TaskStatus]:
    """Every status from which `target` may be reached: the WHERE clause of a guarded update."""
    return frozenset(status for status, targets in TRANSITIONS.items() if target in targets)


def check_move(source: TaskStatus, target: TaskStatus) -> None:
    if not can_move(source, target):
        raise IllegalTransition(f"a {source} task cannot become {target}")


# Failure codes whose reservation is kept: the real API does not refund input-moderation failures.
NON_REFUNDABLE_PREFIXES = ("SAFETY.INPUT.", "INPUT_PREPROCESSING.SAFETY.")


def refundable(failure_code: str | None) -> bool:
    return not (failure_code or "").startswith(NON_REFUNDABLE_PREFIXES)
