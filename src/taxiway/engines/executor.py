"""Where engines run. The scheduler hands each run to an executor from one of its worker threads and
gets the artifacts back (or the engine's Failure, or TaskCancelled); the executor decides where the
engine lives: in this process (`LocalExecutor`, the default) or on a cluster (`taxiway.cluster`).
"""

from __future__ import annotations

from typing import Any, Protocol

from taxiway.engines.base import Artifact, EngineRequest, RunContext
from taxiway.engines.registry import EngineRegistry


class Executor(Protocol):
    def engine_name(self, endpoint: str, model_id: str) -> str:
        """The engine that serves a model (the registry's answer, wherever the engine runs)."""
        ...

    def run(self, request: EngineRequest, context: RunContext) -> list[Artifact]:
        """Blocking, called from a worker thread: progress goes to `context`, and setting its cancel
        event stops the engine wherever it runs."""
        ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def describe(self) -> dict[str, Any]:
        """Where engines run now, for the status view: nodes, actors, resident models."""
        ...


class LocalExecutor:
    """Engines in this process, built once by the registry and shared by the scheduler's threads."""

    def __init__(self, engines: EngineRegistry) -> None:
        self.engines = engines

    def engine_name(self, endpoint: str, model_id: str) -> str:
        return self.engines.engine_name(endpoint, model_id)

    def run(self, request: EngineRequest, context: RunContext) -> list[Artifact]:
        return self.engines.get(request.endpoint, request.model).run(request, context)

    async def start(self) -> None:
        await self.engines.start()

    async def stop(self) -> None:
        await self.engines.stop()

    async def describe(self) -> dict[str, Any]:
        return {"executor": "local", **self.engines.describe()}
