"""Opaque keyset cursors for the list endpoints (`cursor` in, `nextCursor` out).

A cursor carries the sort key of the last item served and the order it was served in, so the next
page starts right after that item however many rows were added since; a cursor from another sort
or order is refused rather than silently skipping rows.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime

MIN_LIMIT = 1
MAX_LIMIT = 100


class BadCursor(ValueError):
    pass


@dataclass(frozen=True)
class Cursor:
    order: str  # e.g. "createdAt:desc"
    moment: datetime
    id: str

    def encode(self) -> str:
        raw = json.dumps([self.order, self.moment.isoformat(), self.id], separators=(",", ":"))
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str, order: str) -> Cursor:
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
            served, moment, item = json.loads(raw)
            cursor = cls(str(served), datetime.fromisoformat(moment), str(item))
            if "\x00" in cursor.id:
                raise ValueError("a NUL character")
        except (binascii.Error, ValueError, TypeError, UnicodeDecodeError):
            raise BadCursor("The cursor is not one this API returned.") from None
        if cursor.order != order or cursor.moment.tzinfo is None:
            raise BadCursor("The cursor belongs to a list with a different sort or order.")
        return cursor
