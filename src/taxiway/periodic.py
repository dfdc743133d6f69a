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
        self._woken = False
        self._stepping = asyncio.Lock()  # one step at a time, whether the loop's or `run_now`'s
        self._waiter: asyncio.Future[None] | None = None
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
        self._woken = True
        _release(self._waiter)

    async def run_now(self) -> None:
        """Run the step in the caller's task, now, unless a step is under way: then the loop runs it
        again once that one ends. Saves a caller that has work for the step a turn of the event loop."""
        if self._stepping.locked():
            self.wake()
            return
        await self._run()

    async def _forever(self) -> None:
        while True:
            await self._run()
            await self._pause()

    async def _run(self) -> None:
        async with self._stepping:
            self._woken = False  # before the step, so that a wake-up during it is not lost
            try:
                await self._step()
            except Exception:
                self._log.exception(self._failure)

    async def _pause(self) -> None:
        """Until woken or the interval ends; a wake-up whose step `run_now` already ran does not count.

        A bare future with a timer, not `wait_for` on an event: a wake-up resumes the loop in one turn
        of the event loop, not three (under load a turn is milliseconds, paid by every waiting task)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._interval()
        while not self._woken and (remaining := deadline - loop.time()) > 0:
            self._waiter = waiter = loop.create_future()
            timer = loop.call_later(remaining, _release, waiter)
            try:
                await waiter
            finally:
                timer.cancel()
                self._waiter = None


def _release(waiter: asyncio.Future[None] | None) -> None:
    if waiter is not None and not waiter.done():
        waiter.set_result(None)
