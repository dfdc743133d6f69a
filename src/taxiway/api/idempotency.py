"""The `Idempotency-Key` header on every create: replay the first answer, refuse a reused key.

Sent with the SDKs' `extra_headers` (Python) or `headers` request option (Node). The answer to a
replay carries `Idempotent-Replayed: true`. A key reused for a different request is a 422, a key
that is not 1-255 visible ASCII characters a 400, both in the API's error shape.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from taxiway.accounts.repository import Principal
from taxiway.api.errors import ApiError
from taxiway.api.state import AppState
from taxiway.clock import utcnow
from taxiway.tasks import idempotency
from taxiway.tasks.idempotency import KeyReused, StoredAnswer

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX = idempotency.MAX_KEY_LENGTH
KEY_REUSED = "This Idempotency-Key was already used for a different request. Use a new key for a new request."


@dataclass(frozen=True)
class Guard:
    """One create request's idempotency: its key (None without the header) and fingerprint."""

    organization_id: str
    key: str | None
    fingerprint: str

    async def replay(self, state: AppState) -> JSONResponse | None:
        """The first answer to this request, if there was one; ApiError(422) for a reused key."""
        if self.key is None:
            return None
        async with state.sessions() as session:
            try:
                stored = await idempotency.find(
                    session, self.organization_id, self.key, self.fingerprint, utcnow()
                )
            except KeyReused:
                raise ApiError(422, KEY_REUSED) from None
        if stored is None:
            return None
        return JSONResponse(stored.body, status_code=stored.status_code, headers={REPLAYED_HEADER: "true"})

    async def after_conflict(self, state: AppState, error: IntegrityError) -> JSONResponse:
        """The answer a twin with the same key committed first; `error` again if it was not that."""
        replayed = await self.replay(state) if self.key is not None else None
        if replayed is None:
            raise error
        return replayed

    async def remember(self, session: AsyncSession, body: dict[str, Any], status_code: int = 200) -> None:
        """Keep `body` as the answer, in the caller's transaction (no-op without a key)."""
        if self.key is not None:
            answer = StoredAnswer(status_code, body)
            await idempotency.remember(
                session, self.organization_id, self.key, self.fingerprint, answer, utcnow()
            )


def guard(request: Request, principal: Principal, body: Any) -> Guard:
    """The request's guard; a malformed key is a 400 naming the header."""
    return guard_for(request, principal.organization_id, body)


def guard_for(request: Request, organization_id: str, body: Any) -> Guard:
    """As `guard`, for a caller acting on an organization (the operator API): keys are the organization's."""
    key = request.headers.get(HEADER)
    if key is not None and not (
        0 < len(key) <= idempotency.MAX_KEY_LENGTH and all(" " <= char <= "~" for char in key)
    ):
        issue = {
            "code": "custom",
            "path": ["headers", HEADER],
            "message": f"headers.{HEADER}: must be 1 to {MAX} visible ASCII characters",
        }
        raise ApiError(400, "Validation of request failed", [issue])
    fingerprint = idempotency.fingerprint(request.method, request.url.path, body)
    return Guard(organization_id, key, fingerprint)


async def open_guard(
    request: Request, principal: Principal, state: AppState, body: Any
) -> tuple[Guard, JSONResponse | None]:
    """The request's guard, and the first answer if this request was already answered."""
    found = guard(request, principal, body)
    return found, await found.replay(state)


async def once(
    request: Request,
    principal: Principal,
    state: AppState,
    body: Any,
    create: Callable[[], Awaitable[JSONResponse]],
) -> JSONResponse:
    """For creates with a transaction of their own: replay, or create and then keep the answer.

    A crash between the create and keeping its answer lets a retry create again; tasks, which are
    charged, keep their key in their own transaction instead (`Guard.remember`).
    """
    found, replayed = await open_guard(request, principal, state, body)
    if replayed is not None:
        return replayed
    response = await create()
    if found.key is None or response.status_code >= 300:
        return response
    try:
        async with state.sessions.begin() as session:
            await found.remember(session, json.loads(bytes(response.body)), response.status_code)
    except IntegrityError:
        pass  # a twin request kept its answer first; this one's stands
    return response


Handler = Callable[..., Awaitable[JSONResponse]]


def idempotent(handler: Handler) -> Handler:
    """Decorate a create route (with `request`, `principal` and `state` parameters) to honour the header.

    A body that is not JSON goes straight to the route, which answers it with its own 400.
    """

    @functools.wraps(handler)
    async def route(**values: Any) -> JSONResponse:
        request: Request = values["request"]
        try:
            body = json.loads(await request.body())
        except (ValueError, RecursionError):
            return await handler(**values)
        return await once(request, values["principal"], values["state"], body, lambda: handler(**values))

    return route
