"""`GET /v1/organization` and `POST /v1/organization/usage`: balance, limits and credit history."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, TypeAdapter, ValidationError

from taxiway.api.auth import CurrentPrincipal, State
from taxiway.api.errors import VALIDATION_FAILED, ApiError, body_issues
from taxiway.api.generation import read_json_object
from taxiway.api.input_limits import in_date_range
from taxiway.api.schemas import Answer, ErrorBody
from taxiway.billing import usage
from taxiway.clock import utcnow

router = APIRouter(prefix="/v1/organization", tags=["organization"])

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _iso_date(value: Any) -> Any:
    """Only `YYYY-MM-DD` names a day here (pydantic alone would also take a datetime string)."""
    if not isinstance(value, str):
        return value  # left to the strict date check, which names the type received
    try:
        day = date.fromisoformat(value) if _ISO_DATE.fullmatch(value) else None
    except ValueError:
        day = None
    if day is None:
        raise ValueError("Invalid date: expected a day as YYYY-MM-DD")
    return in_date_range(day)


IsoDate = Annotated[date, BeforeValidator(_iso_date)]


class UsageQuery(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    startDate: IsoDate | None = Field(default=None, description="First day (UTC); default 30 days ago")
    beforeDate: IsoDate | None = Field(
        default=None, description="Day after the last (UTC), exclusive; default and maximum startDate + 30/90"
    )


_QUERY = TypeAdapter(UsageQuery)


# Response shapes of the SDK's `organization_retrieve*_response.py`, for the OpenAPI document.
class TierModelLimits(Answer):
    maxConcurrentGenerations: int | None = Field(description="null: no limit")
    maxDailyGenerations: int | None = Field(description="null: no limit; a rolling 24 hours")


class TierView(Answer):
    maxMonthlyCreditSpend: int
    models: dict[str, TierModelLimits]


class ModelDailyUsage(Answer):
    dailyGenerations: int


class OrganizationUsage(Answer):
    models: dict[str, ModelDailyUsage]


class OrganizationView(Answer):
    creditBalance: int
    tier: TierView
    usage: OrganizationUsage


class UsedCredits(Answer):
    model: str
    amount: int = Field(description="Net credits: charges minus refunds; negative when refunds exceed")


class UsageDay(Answer):
    date: date
    usedCredits: list[UsedCredits]


class UsageView(Answer):
    models: list[str]
    results: list[UsageDay]


async def read_usage_query(request: Request) -> UsageQuery:
    """The body, strictly: no body at all means every default; unknown keys and bad dates are 400s."""
    if not (await request.body()).strip():
        return UsageQuery()
    raw, data = await read_json_object(request)
    try:
        return _QUERY.validate_json(raw)
    except ValidationError as exc:
        raise ApiError(400, VALIDATION_FAILED, body_issues(exc.errors(), data)) from None


@router.get(
    "",
    response_model=OrganizationView,
    summary="Credit balance, the tier's limits per model and the past day's generations per model.",
)
async def get_organization(principal: CurrentPrincipal, state: State) -> Response:
    async with state.sessions() as session:
        view = await usage.organization_view(session, principal.organization_id, principal.tier, utcnow())
    return JSONResponse(view)


@router.post(
    "/usage",
    response_model=UsageView,
    responses={400: {"model": ErrorBody}},
    summary="Net credits used per UTC day and model, over up to 90 days.",
    openapi_extra={
        "requestBody": {
            "required": False,
            "content": {"application/json": {"schema": UsageQuery.model_json_schema()}},
        }
    },
)
async def get_usage(request: Request, principal: CurrentPrincipal, state: State) -> Response:
    query = await read_usage_query(request)
    try:
        start, before = usage.usage_window(query.startDate, query.beforeDate, utcnow().date())
    except usage.UsageRangeError as exc:
        issue = {"code": "custom", "path": [exc.field], "message": f"{exc.field}: {exc.message}"}
        raise ApiError(400, VALIDATION_FAILED, [issue]) from None
    async with state.sessions() as session:
        report = await usage.usage_report(session, principal.organization_id, start, before)
    return JSONResponse(report)
