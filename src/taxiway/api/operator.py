"""The operator API (`/operator/...`): organizations, keys, credits, tiers and test-mode policies.

It calls the same account, billing and test-mode functions as the `taxiway` CLI, behind a bearer
token from settings (`TAXIWAY_OPERATOR_TOKEN`); without one configured every route is a 404, as if
the API did not exist. Not part of the Runway API, so it stays out of /v1 and /openapi.json.
"""

from __future__ import annotations

import hmac
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from taxiway.accounts import repository
from taxiway.api import actors, idempotency
from taxiway.api.auth import State, bearer_token
from taxiway.api.errors import ApiError
from taxiway.api.state import AppState, app_state
from taxiway.billing import ledger, operator
from taxiway.billing.tiers import TIERS
from taxiway.clock import iso_millis
from taxiway.db.tables import ApiKey, Organization
from taxiway.testmode import policy
from taxiway.testmode.simulate import SimulationError

PREFIX = "/operator"


async def require_operator(request: Request, state: Annotated[AppState, Depends(app_state)]) -> None:
    """The operator token, compared in constant time; no token configured means no operator API."""
    expected = state.settings.operator_token
    if expected is None or not expected.get_secret_value():
        raise ApiError(404, "Not Found")
    given = bearer_token(request) or ""
    if not hmac.compare_digest(given.encode(), expected.get_secret_value().encode()):
        raise ApiError(401, "Invalid operator token. Send TAXIWAY_OPERATOR_TOKEN as 'Authorization: Bearer'.")


router = APIRouter(prefix=PREFIX, include_in_schema=False, dependencies=[Depends(require_operator)])


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class OrganizationCreate(_Body):
    name: str = Field(min_length=1, max_length=200, pattern=r"\S")
    tier: int = Field(default=1, ge=1, le=5)
    credits: int = Field(default=0, ge=0)


class CreditAdjustment(_Body):
    amount: int = Field(description="Credits to add (> 0) or remove (< 0)")
    note: str = Field(default="", max_length=200)


class TierChange(_Body):
    tier: int = Field(ge=1, le=5)


class KeyCreate(_Body):
    name: str = Field(default="", max_length=200)


class SimulationSet(_Body):
    settings: list[str] = Field(min_length=1, description='e.g. ["failure-rate=0.1", "code=INTERNAL"]')
    keyId: str | None = Field(default=None, description="Only this API key; the whole organization if unset")


def _when(moment: datetime | None) -> str | None:
    return iso_millis(moment) if moment else None


def _key_view(key: ApiKey) -> dict[str, Any]:
    return {
        "id": key.id,
        "prefix": key.prefix,
        "name": key.name,
        "createdAt": _when(key.created_at),
        "revokedAt": _when(key.revoked_at),
    }


def _org_view(org: Organization, balance: int, active_keys: int) -> dict[str, Any]:
    return {
        "id": org.id,
        "name": org.name,
        "tier": org.tier,
        "creditBalance": balance,
        "activeKeys": active_keys,
        "createdAt": _when(org.created_at),
    }


async def _find(session: AsyncSession, org: str) -> Organization:
    try:
        return await repository.find_organization(session, org)
    except repository.NotFound as exc:
        raise ApiError(404, str(exc)) from None


async def _policies(session: AsyncSession, org: Organization, keys: list[ApiKey]) -> list[dict[str, Any]]:
    """The standing simulations: the organization's own and each key's."""
    found = []
    for key_id in [None, *(key.id for key in keys)]:
        chosen = await policy.stored(session, org.id, key_id)
        if chosen is not None:
            found.append({"keyId": key_id, "settings": chosen.describe()})
    return found


@router.get("/cluster")
async def cluster_status(state: Annotated[AppState, Depends(app_state)]) -> dict[str, Any]:
    """What `taxiway cluster status` shows: the queue, and where engines run."""
    from taxiway.cluster import status

    async with state.sessions() as session:
        return await status.collect(session, state.executor)


@router.get("/tiers")
async def list_tiers() -> JSONResponse:
    return JSONResponse(
        [
            {
                "tier": level,
                "maxConcurrentGenerations": spec.max_concurrent_generations,
                "maxDailyGenerations": spec.max_daily_generations,
                "maxMonthlyCreditSpend": spec.max_monthly_credit_spend,
            }
            for level, spec in TIERS.items()
        ]
    )


@router.get("/organizations")
async def list_organizations(state: State) -> JSONResponse:
    async with state.sessions() as session:
        rows = await repository.list_organizations(session)
    return JSONResponse({"data": [_org_view(org, balance, keys) for org, balance, keys in rows]})


@router.post("/organizations", status_code=201)
async def create_organization(request: Request, body: OrganizationCreate, state: State) -> JSONResponse:
    async with state.sessions.begin() as session:
        try:
            org = await repository.create_organization(
                session, body.name, body.tier, body.credits, actor=actors.operator(request)
            )
        except ValueError as exc:
            raise ApiError(409, str(exc)) from None
        view = _org_view(org, body.credits, 0)
    return JSONResponse(view, status_code=201)


@router.get("/organizations/{org}")
async def get_organization(org: str, state: State) -> JSONResponse:
    """One organization with its keys and standing simulations (`org`: its name or id)."""
    async with state.sessions() as session:
        found = await _find(session, org)
        keys = await repository.list_keys(session, found.id)
        view = _org_view(found, await ledger.balance(session, found.id), sum(not k.revoked_at for k in keys))
        view["keys"] = [_key_view(key) for key in keys]
        view["simulations"] = await _policies(session, found, keys)
    view["testMode"] = state.settings.test_mode
    return JSONResponse(view)


@router.post("/organizations/{org}/credits")
async def adjust_credits(request: Request, org: str, body: CreditAdjustment, state: State) -> JSONResponse:
    """One ledger entry. With an `Idempotency-Key`, a retry of a grant whose answer was lost replays
    that answer instead of granting again; the key is kept in the entry's transaction."""
    async with state.sessions() as session:
        found = await _find(session, org)
    once = idempotency.guard_for(request, found.id, body.model_dump())
    replayed = await once.replay(state)
    if replayed is not None:
        return replayed
    try:
        async with state.sessions.begin() as session:
            try:
                balance = await operator.adjust_credits(
                    session, found.id, body.amount, body.note, actor=actors.operator(request)
                )
            except ValueError as exc:
                issue = {"code": "custom", "path": ["amount"], "message": f"amount: {exc}"}
                raise ApiError(400, "Validation of body failed", [issue]) from None
            view = {"creditBalance": balance}
            await once.remember(session, view)
    except IntegrityError as error:  # a twin with the same key committed first: its answer
        return await once.after_conflict(state, error)
    return JSONResponse(view)


@router.put("/organizations/{org}/tier")
async def set_tier(request: Request, org: str, body: TierChange, state: State) -> JSONResponse:
    async with state.sessions.begin() as session:
        found = await _find(session, org)
        await operator.set_tier(session, found.id, body.tier, actor=actors.operator(request))
    return JSONResponse({"tier": body.tier})


@router.post("/organizations/{org}/keys", status_code=201)
async def create_key(request: Request, org: str, body: KeyCreate, state: State) -> JSONResponse:
    """A new key; the response is the only place its secret is ever shown."""
    async with state.sessions.begin() as session:
        found = await _find(session, org)
        record, plain = await repository.create_key(
            session, found.id, name=body.name, actor=actors.operator(request)
        )
        view = {**_key_view(record), "key": plain}
    return JSONResponse(view, status_code=201)


@router.delete("/keys/{key_id}")
async def revoke_key(request: Request, key_id: str, state: State) -> JSONResponse:
    """Revoke a key (by id or displayed prefix); requests with it get 401 within seconds."""
    async with state.sessions.begin() as session:
        try:
            record = await repository.revoke_key(session, key_id, actor=actors.operator(request))
        except repository.NotFound as exc:
            raise ApiError(404, str(exc)) from None
        view = _key_view(record)
    return JSONResponse(view)


def _needs_test_mode(state: AppState) -> None:
    if not state.settings.test_mode:
        raise ApiError(409, "Simulations need a server in test mode (TAXIWAY_TEST_MODE=1).")


@router.put("/organizations/{org}/simulation")
async def set_simulation(request: Request, org: str, body: SimulationSet, state: State) -> JSONResponse:
    """A standing simulation, as `taxiway simulate set` stores it."""
    _needs_test_mode(state)
    try:
        chosen = policy.parse_policy(body.settings)
    except SimulationError as exc:
        issue = {"code": "custom", "path": ["settings"], "message": f"settings: {exc}"}
        raise ApiError(400, "Validation of body failed", [issue]) from None
    async with state.sessions.begin() as session:
        found = await _find(session, org)
        key_id = await _own_key(session, found, body.keyId)
        await policy.store(session, found.id, key_id, chosen, actor=actors.operator(request))
    return JSONResponse({"keyId": key_id, "settings": chosen.describe()})


@router.delete("/organizations/{org}/simulation", status_code=204)
async def clear_simulation(request: Request, org: str, state: State, keyId: str | None = None) -> Response:
    _needs_test_mode(state)
    async with state.sessions.begin() as session:
        found = await _find(session, org)
        key_id = await _own_key(session, found, keyId)
        await policy.store(session, found.id, key_id, None, actor=actors.operator(request))
    return Response(status_code=204)


async def _own_key(session: AsyncSession, org: Organization, key_id: str | None) -> str | None:
    if key_id is None:
        return None
    try:
        return (await repository.find_key(session, org.id, key_id)).id
    except repository.NotFound as exc:
        raise ApiError(404, str(exc)) from None
