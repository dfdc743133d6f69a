"""Keyset pages, newest first: rows strictly before the last one served, by (moment, id)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, and_, or_
from sqlalchemy.orm import InstrumentedAttribute

# (moment, id) of the last row served; ids are strings or the ledger's integers.
After = tuple[datetime, Any]
Query = TypeVar("Query", bound=Select[*tuple[Any, ...]])


def before(
    moment: InstrumentedAttribute[datetime], key: InstrumentedAttribute[Any], after: After
) -> ColumnElement[bool]:
    """Rows that come after `after` in a (moment, id) descending order."""
    last_moment, last_key = after
    return or_(moment < last_moment, and_(moment == last_moment, key < last_key))


def newest_first(
    query: Query,
    moment: InstrumentedAttribute[datetime],
    key: InstrumentedAttribute[Any],
    limit: int,
    after: After | None,
) -> Query:
    """`query`'s page of `limit` rows, newest first, after `(moment, id)` of the last row served."""
    if after is not None:
        query = query.where(before(moment, key, after))
    return query.order_by(moment.desc(), key.desc()).limit(limit)
