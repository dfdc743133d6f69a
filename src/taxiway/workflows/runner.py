"""The background loop that moves active workflow invocations on as their nodes' tasks finish.

It keeps no state of its own: each pass reads the active invocations from the database, so a
restarted server picks up where the last one stopped (the scheduler requeues interrupted tasks).
Passes are frequent while invocations are active and rare when none is; a new run wakes it at once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from taxiway.assets.intake import AssetIntake
from taxiway.db.tables import Task, WorkflowInvocation
from taxiway.periodic import Periodic
from taxiway.workflows.invocations import ACTIVE, Advance, active_ids

log = logging.getLogger("taxiway.workflows")

ACTIVE_POLL_SECONDS = 0.25
IDLE_POLL_SECONDS = 2.0


class WorkflowRunner:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        intake: AssetIntake,
        accepted: Callable[[Task], None],
    ) -> None:
        self._sessions = sessions
        self._intake = intake
        # Told of each node's task once committed (the scheduler reports it and wakes its dispatch).
        self._accepted = accepted
        self._active = 0
        self._loop = Periodic(
            "taxiway-workflows", self._pass, self._poll_seconds, log, "workflow pass failed; retrying"
        )

    async def start(self) -> None:
        await self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()

    def wake(self) -> None:
        self._loop.wake()

    def _poll_seconds(self) -> float:
        return ACTIVE_POLL_SECONDS if self._active else IDLE_POLL_SECONDS

    async def _pass(self) -> None:
        self._active = 0
        self._active = await self.pass_once()

    async def pass_once(self) -> int:
        """Advance every active invocation once; how many were active."""
        async with self._sessions() as session:
            ids = await active_ids(session)
        for invocation_id in ids:
            try:
                await self.advance(invocation_id)
            except Exception:
                log.exception("workflow invocation %s could not be advanced; retrying", invocation_id)
        return len(ids)

    async def advance(self, invocation_id: str) -> None:
        async with self._sessions.begin() as session:
            invocation = await session.get(WorkflowInvocation, invocation_id)
            if invocation is None or invocation.status != ACTIVE:
                return
            step = Advance(session, self._intake, invocation)
            await step.run()
        for task in step.submitted:
            self._accepted(task)
