"""One source of time, so tests and test mode can move it.

In test mode (`TAXIWAY_TEST_MODE=1`) the server follows an offset kept in the `settings` table,
which `taxiway clock advance` writes: a test can move a running server's time forward, e.g. past a
rolling 24-hour quota window. Outside test mode nothing reads the offset and the clock is the real one.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from taxiway.db.tables import Setting

OFFSET_SETTING = "clock_offset_seconds"
FOLLOW_INTERVAL_SECONDS = 1.0
_UNIT_SECONDS = {"ms": 0.001, "d": 86_400.0, "h": 3_600.0, "m": 60.0, "s": 1.0}

# Replaced whole, never mutated, so engine threads always read a consistent value.
_offset = timedelta(0)


def utcnow() -> datetime:
    return datetime.now(UTC) + _offset


def timestamp() -> float:
    """Unix seconds on the same clock as `utcnow`, for tokens that carry their expiry as a number."""
    return utcnow().timestamp()


def iso_millis(moment: datetime) -> str:
    """ISO-8601 UTC with milliseconds and `Z`, as the real API writes timestamps."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def set_offset(seconds: float) -> None:
    global _offset
    _offset = timedelta(seconds=seconds)


def parse_duration(text: str, units: tuple[str, ...] = ("d", "h", "m", "s")) -> float:
    """Seconds in `25h`, `1d2h30m`, `90s` (or `500ms` where `units` allows it); ValueError otherwise."""
    alternatives = "|".join(sorted(units, key=len, reverse=True))  # `ms` before `m`
    part = re.compile(rf"(\d+(?:\.\d+)?)({alternatives})")
    if not text or part.sub("", text):
        raise ValueError(f"not a duration: {text!r} (use e.g. 25h, 1d2h, 90m, 30s)")
    return sum(float(number) * _UNIT_SECONDS[unit] for number, unit in part.findall(text))


async def stored_offset(session: AsyncSession) -> float:
    row = await session.get(Setting, OFFSET_SETTING)
    return float(row.value) if row else 0.0


async def store_offset(session: AsyncSession, seconds: float) -> None:
    await session.merge(Setting(key=OFFSET_SETTING, value=repr(float(seconds))))


async def load_offset(sessions: async_sessionmaker[AsyncSession]) -> None:
    """Test mode: take up the time `taxiway clock` stored (the server reads it every second)."""
    async with sessions() as session:
        set_offset(await stored_offset(session))
