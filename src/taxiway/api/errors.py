"""Error bodies in the real API's shape: `{"error": ...}`, plus Zod-style `issues` for bad fields."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.routing import Match

from taxiway.testmode.runtime import SimulatedReply

log = logging.getLogger("taxiway.api")

DOC_URL = "https://docs.dev.runwayml.com/api"
VALIDATION_FAILED = "Validation of body failed"


class ApiError(Exception):
    def __init__(
        self, status: int, message: str, issues: list[dict[str, Any]] | None = None, **headers: str
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.issues = issues
        self.headers = headers


def error_response(
    status: int,
    message: str,
    issues: list[dict[str, Any]] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {"error": message}
    if issues is not None:
        body["issues"] = issues
        body["docUrl"] = DOC_URL
    return JSONResponse(body, status_code=status, headers=headers)


_JSON_TYPES = {
    str: "string",
    int: "number",
    float: "number",
    bool: "boolean",
    list: "array",
    dict: "object",
    type(None): "null",
}


def _received(value: Any) -> str:
    return "undefined" if value is _MISSING else _JSON_TYPES.get(type(value), "unknown")


_MISSING = object()


def _options(expected: str) -> str:
    return "|".join(part.strip() for part in expected.replace(" or ", ", ").split(","))


def zod_issue(error: Any, path: list[str | int], tags: Sequence[str] = ()) -> dict[str, Any]:
    """Translate one pydantic error into the Zod issue the real API would report."""
    kind: str = error["type"]
    ctx: dict[str, Any] = error.get("ctx") or {}
    value = error.get("input", _MISSING)
    issue: dict[str, Any]
    if kind == "missing":
        issue = {
            "code": "invalid_type",
            "expected": "string",
            "message": "Invalid input: expected a value, received undefined",
        }
    elif kind in ("literal_error", "enum"):
        issue = {
            "code": "invalid_value",
            "message": f"Invalid option: expected one of {_options(ctx.get('expected', ''))}",
        }
    elif kind in ("union_tag_invalid", "union_tag_not_found"):
        expected = ctx.get("expected_tags") or ", ".join(f"'{tag}'" for tag in tags)
        issue = {
            "code": "invalid_union",
            "errors": [],
            "note": "No matching discriminator",
            "discriminator": ctx.get("discriminator", "").strip("'"),
            "message": f"Invalid input: expected one of {_options(expected)}"
            if expected
            else "Invalid input",
        }
        if not path or path[-1] != issue["discriminator"]:
            path = [*path, issue["discriminator"]]
    elif kind == "extra_forbidden":
        key = path[-1] if path else ""
        path = path[:-1]
        issue = {"code": "unrecognized_keys", "keys": [key], "message": f'Unrecognized key: "{key}"'}
    elif kind in ("string_too_long", "too_long", "less_than_equal", "less_than"):
        limit = ctx.get("max_length", ctx.get("le", ctx.get("lt")))
        origin = "string" if kind == "string_too_long" else ("array" if kind == "too_long" else "number")
        issue = {
            "code": "too_big",
            "maximum": limit,
            "origin": origin,
            "inclusive": kind != "less_than",
            "message": error["msg"],
        }
    elif kind in ("string_too_short", "too_short", "greater_than_equal", "greater_than"):
        limit = ctx.get("min_length", ctx.get("ge", ctx.get("gt")))
        origin = "string" if kind == "string_too_short" else ("array" if kind == "too_short" else "number")
        issue = {
            "code": "too_small",
            "minimum": limit,
            "origin": origin,
            "inclusive": kind != "greater_than",
            "message": error["msg"],
        }
    elif kind.endswith("_type") or kind.endswith("_parsing") or kind == "model_type":
        expected = kind.removesuffix("_type").removesuffix("_parsing")
        expected = {
            "int": "number",
            "float": "number",
            "bool": "boolean",
            "str": "string",
            "model": "object",
            "dict": "object",
            "list": "array",
        }.get(expected, expected)
        if kind == "int_type" and isinstance(value, float):
            expected = "int"  # a number, not a whole one
        issue = {
            "code": "invalid_type",
            "expected": expected,
            "message": f"Invalid input: expected {expected}, received {_received(value)}",
        }
    elif kind == "string_pattern_mismatch":
        issue = {
            "code": "invalid_format",
            "format": "regex",
            "pattern": ctx.get("pattern"),
            "message": "Invalid string: does not match the required pattern",
        }
    else:
        message = str(error["msg"]).removeprefix("Value error, ")
        issue = {"code": "custom", "message": message}
    issue["path"] = path
    where = ".".join(str(p) for p in path) or "body"
    issue["message"] = f"{where}: {issue['message']}"
    return issue


def body_issues(errors: Sequence[Any], body: Any, tags: Sequence[str] = ()) -> list[dict[str, Any]]:
    """Issues with paths relative to the body; the union's model tag that pydantic inserts is dropped."""
    tag = body.get("model") if isinstance(body, dict) else None
    issues = []
    for error in errors:
        loc = list(error["loc"])
        if loc and loc[0] == "body":
            loc = loc[1:]
        if loc and tag is not None and loc[0] == tag:
            loc = loc[1:]
        if error["type"] == "union_tag_not_found":
            issues.append(zod_issue({"type": "missing"}, [*loc, "model"]))
        issues.append(zod_issue(error, loc, tags))
    return issues


async def _validation_handler(request: Request, exc: Exception) -> JSONResponse:
    """Path and query parameters; generation bodies are validated by the catalog in the router."""
    assert isinstance(exc, RequestValidationError)
    return error_response(400, "Validation of request failed", body_issues(exc.errors(), None))


async def _api_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return error_response(exc.status, exc.message, exc.issues, exc.headers or None)


async def _simulated_reply_handler(request: Request, exc: Exception) -> JSONResponse:
    """Test mode's answers to a create call: a simulated HTTP error, or its header's 400."""
    assert isinstance(exc, SimulatedReply)
    return error_response(exc.status, exc.message, headers=exc.headers or None)


_HTTP_MESSAGES = {404: "Not found", 405: "Method not allowed", 413: "Request body too large"}


_METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")


def allowed_methods(request: Request) -> str:
    """Every method some route serves at this path (Starlette names only the first route's)."""
    routes = request.app.router.routes
    return ", ".join(
        method
        for method in _METHODS
        if any(route.matches({**request.scope, "method": method})[0] is Match.FULL for route in routes)
    )


async def _http_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    message = exc.detail if isinstance(exc.detail, str) and exc.status_code not in _HTTP_MESSAGES else None
    headers = exc.headers
    if exc.status_code == 405:
        headers = {**(headers or {}), "Allow": allowed_methods(request)}
    return error_response(
        exc.status_code, message or _HTTP_MESSAGES.get(exc.status_code, "Request failed"), headers=headers
    )


async def _client_gone_handler(request: Request, exc: Exception) -> Response:
    """The client left (or was cut off for sending too slowly) before its body arrived: nobody to answer."""
    return Response(status_code=400)


async def _unexpected_handler(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(500, "An unexpected error occurred.")


def install(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation_handler)
    app.add_exception_handler(ApiError, _api_error_handler)
    app.add_exception_handler(SimulatedReply, _simulated_reply_handler)
    app.add_exception_handler(StarletteHTTPException, _http_error_handler)
    app.add_exception_handler(ClientDisconnect, _client_gone_handler)
    app.add_exception_handler(Exception, _unexpected_handler)
