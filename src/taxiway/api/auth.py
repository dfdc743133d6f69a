"""Every /v1 call: a Bearer API key (401 otherwise) and a supported X-Runway-Version (400 otherwise)."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import Depends, Request

from taxiway import API_VERSION, SUPPORTED_API_VERSIONS
from taxiway.accounts.keys import hash_key
from taxiway.accounts.repository import Principal, authenticate
from taxiway.api.errors import ApiError
from taxiway.api.state import app_state
from taxiway.services import Services

# Authenticated keys are remembered briefly so polling does not hit the database for every call;
# a revoked key stops working within this many seconds.
AUTH_CACHE_SECONDS = 2.0
_cache: dict[str, tuple[float, Principal]] = {}


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def _unsupported_version(request: Request) -> ApiError | None:
    version = request.headers.get("x-runway-version")
    if version is None:
        return ApiError(400, f"The X-Runway-Version header is required. Set it to {API_VERSION}.")
    if version not in SUPPORTED_API_VERSIONS:
        supported = ", ".join(sorted(SUPPORTED_API_VERSIONS))
        return ApiError(400, f"API version {version!r} is not supported. Supported versions: {supported}.")
    return None


def _remembered(digest: str) -> Principal | None:
    cached = _cache.get(digest)
    return cached[1] if cached and cached[0] > time.monotonic() else None


def known_principal(request: Request) -> Principal | None:
    """The principal of a request `require_principal` would pass without the database (its key was
    authenticated moments ago, its version header is supported); None when that takes more."""
    token = bearer_token(request)
    if token is None or _unsupported_version(request) is not None:
        return None
    return _remembered(hash_key(token))


async def require_principal(request: Request, state: Annotated[Services, Depends(app_state)]) -> Principal:
    token = bearer_token(request)
    if token is None:
        raise ApiError(401, "Missing API key. Send it as 'Authorization: Bearer <key>'.")
    digest = hash_key(token)
    principal = _remembered(digest)
    if principal is None:
        async with state.sessions() as session:
            found = await authenticate(session, token)
        if found is None:
            _cache.pop(digest, None)
            raise ApiError(401, "Invalid API key, or the key was revoked.")
        principal = found
        if len(_cache) > 10_000:
            _cache.clear()
        _cache[digest] = (time.monotonic() + AUTH_CACHE_SECONDS, principal)
    problem = _unsupported_version(request)
    if problem is not None:
        raise problem
    return principal


CurrentPrincipal = Annotated[Principal, Depends(require_principal)]
State = Annotated[Services, Depends(app_state)]
