"""Engines turn a validated request into media. One interface; offline, audio and GPU implementations."""

from taxiway.engines.base import Artifact, Engine, EngineRequest, EngineSetup, RunContext, TaskCancelled
from taxiway.engines.fields import RequestFields

__all__ = [
    "Artifact",
    "Engine",
    "EngineRequest",
    "EngineSetup",
    "RequestFields",
    "RunContext",
    "TaskCancelled",
]
