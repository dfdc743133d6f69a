"""One source of time, so tests and test mode can move it."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)


def iso_millis(moment: datetime) -> str:
    """ISO-8601 UTC with milliseconds and `Z`, as the real API writes timestamps."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
