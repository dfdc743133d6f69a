"""Bounds every request's data respects before it reaches the domain, the same on every database.

Each is a 400 naming the field rather than an error deep inside: JSON nested past any real body's
depth (Python's parser would recurse until it fails), NUL characters (PostgreSQL text cannot hold
them; SQLite can, so the rule is the API's, not a backend's), and dates so far out that adding a
default window or a time zone to them overflows.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import Request
from pydantic import AfterValidator

from taxiway.api.errors import ApiError

# The deepest real body (a realtime tool's object parameters) nests under ten levels.
MAX_JSON_DEPTH = 64
NUL = "\x00"
NUL_MESSAGE = "must not contain NUL characters (\\u0000)"
EARLIEST = date(1970, 1, 1)
LATEST = date(9000, 12, 31)
DATE_RANGE_MESSAGE = f"must be between {EARLIEST.isoformat()} and {LATEST.isoformat()}"
# What no per-field schema repeats: /openapi.json states it once, in its description.
RULES_FOR_EVERY_REQUEST = (
    f"Every request: no text (a JSON string or key, a path or query parameter) may contain a NUL character "
    f"(U+0000), JSON bodies nest at most {MAX_JSON_DEPTH} levels deep, and dates lie between "
    f"{EARLIEST.isoformat()} and {LATEST.isoformat()}; anything else is a 400 naming the field."
)
REQUEST_FAILED = "Validation of request failed"
BODY_FAILED = "Validation of body failed"


def _issue(path: list[str | int], message: str) -> dict[str, Any]:
    where = ".".join(map(str, path)) or "body"
    return {"code": "custom", "path": path, "message": f"{where}: {message}"}


def _walk(data: Any) -> Iterator[tuple[list[str | int], Any]]:
    """Every value with its path, depth first, without recursion (the input may be hostile)."""
    stack: list[tuple[list[str | int], Any]] = [([], data)]
    while stack:
        path, value = stack.pop()
        yield path, value
        if isinstance(value, dict):
            stack.extend(([*path, key], item) for key, item in reversed(value.items()))
        elif isinstance(value, list):
            stack.extend(([*path, index], item) for index, item in reversed(list(enumerate(value))))


def json_body_issue(data: Any) -> dict[str, Any] | None:
    """The first problem of a parsed JSON body as a Zod-style issue, or None."""
    for path, value in _walk(data):
        if len(path) > MAX_JSON_DEPTH:
            return _issue(path[:MAX_JSON_DEPTH], f"nested more than {MAX_JSON_DEPTH} levels deep")
        if isinstance(value, dict):
            for key in value:
                if NUL in key:
                    return _issue([*path, key.replace(NUL, "\\u0000")], f"keys {NUL_MESSAGE}")
        elif isinstance(value, str) and NUL in value:
            return _issue(path, NUL_MESSAGE)
    return None


def too_deep() -> ApiError:
    """For a body the JSON parser itself gave up on."""
    return ApiError(400, BODY_FAILED, [_issue([], f"nested more than {MAX_JSON_DEPTH} levels deep")])


async def no_nul_characters(request: Request) -> None:
    """An app-wide dependency: NUL in a path segment or query parameter is a 400 naming it."""
    for name, value in request.path_params.items():
        if isinstance(value, str) and NUL in value:
            raise ApiError(400, REQUEST_FAILED, [_issue(["path", name], NUL_MESSAGE)])
    for name, value in request.query_params.multi_items():
        if NUL in name or NUL in value:
            raise ApiError(
                400, REQUEST_FAILED, [_issue(["query", name.replace(NUL, "\\u0000")], NUL_MESSAGE)]
            )


def in_date_range(moment: date) -> date:
    """For validators: dates (and datetimes, by their UTC day) between EARLIEST and LATEST."""
    day = moment.date() if isinstance(moment, datetime) else moment
    if not EARLIEST <= day <= LATEST:
        raise ValueError(DATE_RANGE_MESSAGE)
    return moment


def _in_range_datetime(moment: datetime) -> datetime:
    in_date_range(moment)
    return moment


# A query or body datetime the server can compute with.
BoundedDatetime = Annotated[datetime, AfterValidator(_in_range_datetime)]
