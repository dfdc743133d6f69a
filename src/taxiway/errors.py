"""The failure every domain reports in the API's terms: a machine code and a message for the user.

Engines, asset intake, avatar and voice processing all raise it; the task scheduler and the
processors record it (a task's `failureCode`, an avatar's `failureReason`). It lives at the bottom of
the package graph so that no domain has to import another one's module to speak of failures.
"""

from __future__ import annotations

ASSET_INVALID = "ASSET.INVALID"
INTERNAL = "INTERNAL"


class Failure(Exception):
    """A failure the API reports with a machine code, e.g. `ASSET.INVALID` or `SAFETY.INPUT.TEXT`."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
