"""Finished tasks never change, so the views of those recently polled are kept in memory: polling a
finished task costs no database round trip.

A DELETE is the one thing that still happens to a finished task, and it makes the task invisible.
This process forgets a deleted task at once and never remembers it again; another server sharing
the database learns of it when its entry is `ttl_seconds` old.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import Any


class FinishedTasks:
    def __init__(self, capacity: int = 50_000, ttl_seconds: float = 5.0) -> None:
        self._capacity = capacity
        self._ttl = ttl_seconds
        self._views: OrderedDict[str, tuple[float, str, Any]] = OrderedDict()
        self._deleted: OrderedDict[str, None] = OrderedDict()

    def get(self, task_id: str, organization_id: str) -> Any | None:
        """The kept view of a finished task of `organization_id`, or None."""
        entry = self._views.get(task_id)
        if entry is None:
            return None
        expires, owner, view = entry
        if expires < time.monotonic():
            del self._views[task_id]
            return None
        return view if owner == organization_id else None

    def put(self, task_id: str, organization_id: str, view: Any) -> None:
        """Keep the view of a task read in a terminal status (a deleted task is never kept again)."""
        if task_id in self._deleted:
            return
        self._views[task_id] = (time.monotonic() + self._ttl, organization_id, view)
        self._views.move_to_end(task_id)
        if len(self._views) > self._capacity:
            self._views.popitem(last=False)

    def forget(self, task_id: str) -> None:
        """A task was deleted: drop its view, and refuse it from reads that raced the deletion."""
        self._views.pop(task_id, None)
        self._deleted[task_id] = None
        if len(self._deleted) > self._capacity:
            self._deleted.popitem(last=False)
