"""Who a request acts as, for the audit log: the calling API key or the operator, with the request's
client address, user agent and id."""

from __future__ import annotations

import re
import uuid

from fastapi import Request

from taxiway.accounts.repository import Principal
from taxiway.audit.log import Actor

# A client's own request id is kept when it is a plain token; anything else gets one of ours.
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


def request_id(request: Request) -> str:
    """The request's id: the client's `X-Request-Id` when it is a plain token, else a new UUID; the
    same for every caller within one request."""
    known: str | None = getattr(request.state, "request_id", None)
    if known is None:
        given = request.headers.get("x-request-id", "")
        known = given if _REQUEST_ID.match(given) else str(uuid.uuid4())
        request.state.request_id = known
    return known


def _origin(request: Request) -> dict[str, str | None]:
    return {
        "client_ip": request.client.host if request.client else None,
        "user_agent": request.headers.get("user-agent"),
        "request_id": request_id(request),
    }


def api_key(request: Request, principal: Principal) -> Actor:
    return Actor("api_key", key_id=principal.api_key_id, **_origin(request))


def operator(request: Request) -> Actor:
    return Actor("operator", "operator", **_origin(request))
