"""One shape for the server's periodic loops (task dispatch, workflow passes, session timers, the upload
sweep, the test clock): a step run at once, then every `interval` seconds or sooner when woken, until
stopped. `interval` may be a function, read after each step: a loop can poll faster while it has work.

A failing step is logged and tried again at the next turn: a loop that died on one database hiccup would
leave tasks queued or uploads kept forever without a word.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable


class Periodic:
    def __init__(
        self,
        name: str,
        step: Callable[[], Awaitable[object]],
        interval: float | Callable[[], float],
        log: logging.Logger,
        failure: str | None = None,
    ) -> None:
        self.name = name
        self._interval = interval if callable(interval) else lambda: interval
        self._step = step
        self._log = log
        self._failure = failure or f"{name} failed; trying again"
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._forever(), name=self.name)

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def wake(self) -> None:
        """Run the step now rather than at the end of the interval."""
        self._wake.set()

    async def _forever(self) -> None:
        while True:
            self._wake.clear()  # before the step, so that a wake-up during it is not lost
            try:
                await self._step()
            except Exception:
                self._log.exception(self._failure)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self._interval())
