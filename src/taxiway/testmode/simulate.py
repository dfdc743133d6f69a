"""The `X-Taxiway-Simulate` header: a strict, pure parser of simulated task and HTTP outcomes.

Grammar: `key=value` directives separated by `;` or `,`, e.g. `failure=SAFETY.INPUT.TEXT`,
`delay=8s`, `progress=stall`, `status=THROTTLED:2s`, `http=503:2`. Keys may appear once each.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

from taxiway import clock

HEADER = "X-Taxiway-Simulate"
MAX_SECONDS = 3600.0
MAX_HTTP_TIMES = 1000

_UNITS = ("ms", "s", "m", "h")
_FAILURE_CODE = re.compile(r"[A-Z][A-Z0-9_]*(?:\.[A-Z0-9_]+)*")
_HTTP = re.compile(r"([1-5]\d\d)(?::(\d+))?")
_SEPARATORS = re.compile(r"[;,]")


class SimulationError(ValueError):
    """The header does not follow the grammar; the message says why."""


@dataclass(frozen=True)
class Simulation:
    """One request's simulated outcome; all fields unset means the real one."""

    failure: str | None = None
    delay: float | None = None
    stall: bool = False
    throttle: float | None = None
    http_status: int | None = None
    http_times: int | None = None  # None: every attempt

    @property
    def affects_task(self) -> bool:
        """Whether anything beyond the create call itself is simulated."""
        return bool(self.failure or self.delay or self.stall or self.throttle)

    def to_json(self) -> dict[str, Any]:
        """The task-level part, as stored with the task."""
        data = asdict(self)
        del data["http_status"], data["http_times"]
        return {key: value for key, value in data.items() if value not in (None, False)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Simulation:
        known = {"failure", "delay", "stall", "throttle"}
        return cls(**{key: value for key, value in data.items() if key in known})


def parse_duration(text: str) -> float:
    """Seconds in `500ms`, `8s`, `1.5s`, `2m`, `1m30s`; positive and at most an hour."""
    try:
        seconds = clock.parse_duration(text, _UNITS)
    except ValueError:
        raise SimulationError(f"not a duration: {text!r} (use e.g. 500ms, 8s, 2m)") from None
    if not 0 < seconds <= MAX_SECONDS:
        raise SimulationError(f"duration {text!r} must be above 0 and at most {MAX_SECONDS:g}s")
    return seconds


def failure_code(value: str) -> str:
    """`value` if it has the shape of a failure code (`SAFETY.INPUT.TEXT`, `INTERNAL`…)."""
    if len(value) > 100 or not _FAILURE_CODE.fullmatch(value):
        raise SimulationError(f"not a failure code: {value!r} (use e.g. SAFETY.INPUT.TEXT, INTERNAL)")
    return value


def _failure(value: str) -> dict[str, Any]:
    return {"failure": failure_code(value)}


def _delay(value: str) -> dict[str, Any]:
    return {"delay": parse_duration(value)}


def _progress(value: str) -> dict[str, Any]:
    if value != "stall":
        raise SimulationError(f"progress must be 'stall', not {value!r}")
    return {"stall": True}


def _status(value: str) -> dict[str, Any]:
    status, _, duration = value.partition(":")
    if status != "THROTTLED" or not duration:
        raise SimulationError(f"status must be THROTTLED:<duration>, not {value!r}")
    return {"throttle": parse_duration(duration)}


def _http(value: str) -> dict[str, Any]:
    match = _HTTP.fullmatch(value)
    if not match or not 400 <= int(match[1]) <= 599:
        raise SimulationError(f"http must be <400-599>[:<attempts>], not {value!r}")
    times = None if match[2] is None else int(match[2])
    if times is not None and not 1 <= times <= MAX_HTTP_TIMES:
        raise SimulationError(f"http attempts must be 1 to {MAX_HTTP_TIMES}, not {times}")
    return {"http_status": int(match[1]), "http_times": times}


_DIRECTIVES = {"failure": _failure, "delay": _delay, "progress": _progress, "status": _status, "http": _http}


def parse(header: str) -> Simulation:
    """The simulation a header asks for; raises `SimulationError` on anything not in the grammar."""
    fields: dict[str, Any] = {}
    seen: set[str] = set()
    for part in _SEPARATORS.split(header):
        part = part.strip()
        if not part:
            continue
        key, equals, value = part.partition("=")
        key, value = key.strip(), value.strip()
        if not equals or key not in _DIRECTIVES:
            allowed = ", ".join(_DIRECTIVES)
            raise SimulationError(f"unknown directive {part!r} (allowed: {allowed}, as key=value)")
        if key in seen:
            raise SimulationError(f"directive {key!r} given twice")
        seen.add(key)
        fields.update(_DIRECTIVES[key](value))
    if fields.get("stall") and (fields.get("failure") or fields.get("delay")):
        raise SimulationError("progress=stall never ends, so it cannot be combined with failure or delay")
    return Simulation(**fields)
