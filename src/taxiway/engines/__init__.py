"""Engines turn a validated request into media. One interface; offline, audio and GPU implementations."""

from taxiway.engines.base import Artifact, Engine, EngineFailure, EngineRequest, RunContext, TaskCancelled

__all__ = ["Artifact", "Engine", "EngineFailure", "EngineRequest", "RunContext", "TaskCancelled"]
