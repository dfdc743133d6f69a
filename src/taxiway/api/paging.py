"""List pages of `{data, nextCursor}` for the newer list endpoints (routers, their decisions, the
web-app reports): a page is read one row long, so the extra row tells whether a next page exists."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar

from fastapi.responses import JSONResponse

from taxiway.api.avatars import cursor_after
from taxiway.avatars.cursors import Cursor
from taxiway.db.paging import After

Row = TypeVar("Row")


def start(cursor: str | None, order: str) -> After | None:
    """Where the page starts: after the row the cursor names (a 400 for a cursor of another list)."""
    found = cursor_after(cursor, order)
    return (found.moment, found.id) if found else None


def page(
    rows: Sequence[Row],
    limit: int,
    order: str,
    key: Callable[[Row], tuple[datetime, Any]],
    render: Callable[[Row], dict[str, Any]],
) -> JSONResponse:
    """The first `limit` of `rows` (read `limit + 1` long) and the cursor to the next page, if any."""
    shown = rows[:limit]
    next_cursor = None
    if len(rows) > limit:
        moment, last = key(shown[-1])
        next_cursor = Cursor(order, moment, str(last)).encode()
    return JSONResponse({"data": [render(row) for row in shown], "nextCursor": next_cursor})
