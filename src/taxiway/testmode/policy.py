"""Standing simulations for a whole organization or one API key, set by `taxiway simulate set`:
a test environment that behaves like a flaky production for a while.

Each task's draw is a hash of the policy, the caller and the request body (seed included), so the
same request gets the same outcome every time.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from taxiway.audit import log as audit
from taxiway.audit.actions import Action
from taxiway.db.tables import Setting
from taxiway.testmode.simulate import Simulation, SimulationError, failure_code, parse_duration

SETTING_PREFIX = "simulate:"
_FAILURE_CODE_DEFAULT = "INTERNAL"


@dataclass(frozen=True)
class Policy:
    failure_rate: float = 0.0
    code: str = _FAILURE_CODE_DEFAULT
    latency_min: float = 0.0
    latency_max: float = 0.0

    def describe(self) -> str:
        parts = [f"failure-rate={self.failure_rate:g}", f"code={self.code}"]
        if self.latency_max:
            parts.append(f"latency={self.latency_min:g}s..{self.latency_max:g}s")
        return " ".join(parts)


def parse_policy(directives: list[str]) -> Policy:
    """`failure-rate=0.1 code=INTERNAL latency=2s..6s` (each optional; at least one given)."""
    if not directives:
        raise SimulationError("give at least one of failure-rate=, code=, latency=")
    fields: dict[str, float | str] = {}
    for directive in directives:
        key, equals, value = directive.partition("=")
        if not equals:
            raise SimulationError(f"not key=value: {directive!r}")
        if key == "failure-rate":
            try:
                rate = float(value)
            except ValueError:
                raise SimulationError(f"failure-rate must be a number, not {value!r}") from None
            if not 0 <= rate <= 1:
                raise SimulationError("failure-rate must be between 0 and 1")
            fields["failure_rate"] = rate
        elif key == "code":
            fields["code"] = failure_code(value)
        elif key == "latency":
            low_text, dots, high_text = value.partition("..")
            low = parse_duration(low_text)
            high = parse_duration(high_text) if dots else low
            if high < low:
                raise SimulationError("latency range must go from low to high")
            fields["latency_min"], fields["latency_max"] = low, high
        else:
            raise SimulationError(f"unknown setting {key!r} (allowed: failure-rate, code, latency)")
    return Policy(**fields)  # type: ignore[arg-type]


def _setting_key(organization_id: str, api_key_id: str | None) -> str:
    return SETTING_PREFIX + organization_id + (f":{api_key_id}" if api_key_id else "")


async def store(
    session: AsyncSession,
    organization_id: str,
    api_key_id: str | None,
    policy: Policy | None,
    *,
    actor: audit.Actor = audit.SYSTEM,
) -> None:
    """Set (or with None clear) the standing simulation of an organization or one of its keys."""
    key = _setting_key(organization_id, api_key_id)
    previous = await stored(session, organization_id, api_key_id)
    if policy is None:
        existing = await session.get(Setting, key)
        if existing is not None:
            await session.delete(existing)
    else:
        await session.merge(Setting(key=key, value=json.dumps(asdict(policy))))
    if previous != policy:
        details = {
            "Setting": "test-mode simulation",
            "Operation": "cleared" if policy is None else "set",
            "Previous value": previous.describe() if previous else None,
            "New value": policy.describe() if policy else None,
        }
        audit.record(
            session, organization_id, Action.SETTINGS_CHANGED, actor, resource_type="simulation",
            resource_id=api_key_id or organization_id, details=details,
        )  # fmt: skip


async def stored(session: AsyncSession, organization_id: str, api_key_id: str | None) -> Policy | None:
    """The policy set for exactly this scope: the key's, or with no key the organization's."""
    row = await session.get(Setting, _setting_key(organization_id, api_key_id))
    return Policy(**json.loads(row.value)) if row is not None else None


async def load(session: AsyncSession, organization_id: str, api_key_id: str) -> Policy | None:
    """The key's own policy, else its organization's."""
    return await stored(session, organization_id, api_key_id) or await stored(session, organization_id, None)


def draw(policy: Policy, identity: str, raw_body: bytes) -> Simulation | None:
    """This request's outcome under the policy: deterministic for the same caller and body."""
    digest = hashlib.sha256(
        json.dumps(asdict(policy)).encode() + identity.encode() + b"\0" + raw_body
    ).digest()
    fail_draw = int.from_bytes(digest[:8], "big") / 2**64
    latency_draw = int.from_bytes(digest[8:16], "big") / 2**64
    failure = policy.code if fail_draw < policy.failure_rate else None
    delay = policy.latency_min + (policy.latency_max - policy.latency_min) * latency_draw
    if failure is None and delay <= 0:
        return None
    return Simulation(failure=failure, delay=delay if delay > 0 else None)
