"""Where simulations meet the server: the create route, the stored task and the scheduler.

A task's simulation is stored beside its params (`tasks.simulation`), never inside them: engines, prices
and input loaders only ever see what the client sent. Only task submission adds it, and only in test mode.
Simulated answers to the create call are raised as `SimulatedReply`, which the API turns into HTTP.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable, Mapping
from datetime import timedelta
from http import HTTPStatus
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from taxiway.accounts.repository import Principal
from taxiway.clock import utcnow
from taxiway.db.tables import Task
from taxiway.engines.base import Artifact, EngineRequest, RunContext
from taxiway.errors import Failure
from taxiway.testmode import policy
from taxiway.testmode.simulate import HEADER, Simulation, SimulationError, parse

log = logging.getLogger("taxiway.testmode")

STALL_PROGRESS = 0.5
DELAY_PROGRESS_CEILING = 0.9
TICK_SECONDS = 0.1
RETRY_AFTER_MS = "100"

_HTTP_MESSAGES = {
    400: "Bad request",
    401: "Invalid API key",
    429: "You have exceeded the rate limit for this API key. Please retry later.",
    500: "An unexpected error occurred.",
    502: "Bad gateway",
    503: "The service is temporarily unavailable. Please retry later.",
    504: "Gateway timeout",
}
_FAILURE_MESSAGES = (
    ("SAFETY.INPUT.", "The input did not pass content moderation."),
    ("SAFETY.OUTPUT.", "The output did not pass content moderation."),
    ("INPUT_PREPROCESSING.SAFETY.", "The input did not pass content moderation."),
    ("INPUT_PREPROCESSING.", "An input could not be processed."),
    ("ASSET.INVALID", "An input asset is invalid or could not be read."),
    ("INTERNAL.BAD_OUTPUT.", "The model produced an unusable output."),
    ("INTERNAL", "An unexpected error occurred."),
)


class SimulatedReply(Exception):
    """The answer test mode gives a create call instead of a task: a simulated HTTP error, or a 400
    for a malformed header. The API maps it to a response with this status, message and headers."""

    def __init__(self, status: int, message: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = dict(headers or {})


_attempts: dict[str, int] = {}
_attempts_lock = threading.Lock()

Run = Callable[[EngineRequest, RunContext], list[Artifact]]


def from_headers(headers: Mapping[str, str], test_mode: bool) -> Simulation | None:
    """The requested simulation; None outside test mode, where the header is ignored entirely."""
    if not test_mode:
        return None
    header = headers.get(HEADER)
    if header is None:
        return None
    try:
        simulation = parse(header)
    except SimulationError as exc:
        raise SimulatedReply(400, f"Invalid {HEADER} header: {exc}") from None
    return simulation if simulation != Simulation() else None


async def standing(
    session: AsyncSession, principal: Principal, endpoint: str, raw_body: bytes
) -> Simulation | None:
    """The outcome a `taxiway simulate set` policy draws for this request, if one applies."""
    found = await policy.load(session, principal.organization_id, principal.api_key_id)
    if found is None:
        return None
    simulation = policy.draw(found, f"{principal.api_key_id} {endpoint}", raw_body)
    if simulation is not None:
        log.warning("simulated by policy (%s): %s", found.describe(), simulation)
    return simulation


def failure_message(code: str) -> str:
    """A human message that fits a failure code, as the real API pairs them."""
    for prefix, message in _FAILURE_MESSAGES:
        if code.startswith(prefix):
            return message
    return f"The task failed ({code})."


def answer_http(simulation: Simulation | None, identity: str, raw_body: bytes) -> None:
    """Raise the simulated HTTP error for the first `http_times` identical requests.

    `identity` names the caller and endpoint; together with the body's hash it makes requests
    identical, so an SDK's retries of one call are counted together.
    """
    if simulation is None or simulation.http_status is None:
        return
    key = hashlib.sha256(identity.encode() + b"\0" + raw_body).hexdigest()
    with _attempts_lock:
        attempt = _attempts[key] = _attempts.get(key, 0) + 1
    limit = simulation.http_times
    if limit is not None and attempt > limit:
        log.warning(
            "simulated HTTP %d passed: attempt %d of %d succeeds", simulation.http_status, attempt, limit
        )
        return
    status = simulation.http_status
    log.warning("simulated HTTP %d on attempt %d of %s", status, attempt, limit or "every")
    headers = {}
    if status == 429 or status >= 500:
        headers = {"retry-after": "1", "retry-after-ms": RETRY_AFTER_MS, "x-should-retry": "true"}
    raise SimulatedReply(status, _HTTP_MESSAGES.get(status) or HTTPStatus(status).phrase, headers)


def stored(simulation: Simulation | None) -> dict[str, Any] | None:
    """What a task keeps of a simulation: its task-level part, or nothing."""
    if simulation is None or not simulation.affects_task:
        return None
    return simulation.to_json()


class Simulated(Protocol):
    @property
    def simulation(self) -> dict[str, Any] | None: ...


def of_task(task: Simulated) -> Simulation | None:
    """The simulation a task was accepted with."""
    return Simulation.from_json(task.simulation) if task.simulation else None


async def held(session: AsyncSession, task_id: str) -> bool:
    """Whether a THROTTLED task is still inside its simulated throttling time."""
    task = await session.get(Task, task_id)
    if task is None:
        return False
    simulation = of_task(task)
    if simulation is None or simulation.throttle is None:
        return False
    return utcnow() < task.created_at + timedelta(seconds=simulation.throttle)


def wrap(simulation: Simulation | None, run: Run) -> Run:
    """The engine call with the simulated delay, stall or failure in front of it."""
    if simulation is None or not (simulation.failure or simulation.delay or simulation.stall):
        return run

    def simulated(request: EngineRequest, context: RunContext) -> list[Artifact]:
        if simulation.stall:
            log.warning("simulated stall at progress %g on task %s", STALL_PROGRESS, request.task_id)
            context.progress(STALL_PROGRESS)
            context.cancel_event.wait()
            context.check_cancelled()
        if simulation.delay:
            log.warning("simulated delay of %gs on task %s", simulation.delay, request.task_id)
            _wait(context, simulation.delay)
        if simulation.failure:
            log.warning("simulated failure %s on task %s", simulation.failure, request.task_id)
            raise Failure(simulation.failure, failure_message(simulation.failure))
        return run(request, context)

    return simulated


def _wait(context: RunContext, seconds: float) -> None:
    """Stay busy for `seconds`, advancing progress, stopping early when the task is cancelled."""
    ticks = max(1, round(seconds / TICK_SECONDS))
    for tick in range(1, ticks + 1):
        if context.cancel_event.wait(seconds / ticks):
            context.check_cancelled()
        context.progress(DELAY_PROGRESS_CEILING * tick / ticks)
