"""Engines used by the tests to hold tasks in RUNNING: real engines, slowed down, that obey cancellation.

They are loaded by the server under test through the `TAXIWAY_ENGINES` configuration, exactly as an
operator maps a model to a GPU engine.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

from taxiway.engines.base import Artifact, EngineRequest, RunContext, TaskCancelled
from taxiway.engines.offline.procedural_image import ProceduralImageEngine


class SlowImageEngine:
    """The procedural image engine behind `TAXIWAY_TEST_ENGINE_SECONDS` of stepwise work.

    It records what happened to each task in `TAXIWAY_TEST_ENGINE_LOG` (one file per event), so a
    test can prove that a cancelled engine really stopped rather than ran to completion.
    """

    name = "test-slow-image"
    steps = 20

    def __init__(self) -> None:
        self.seconds = float(os.environ.get("TAXIWAY_TEST_ENGINE_SECONDS", "3"))
        self.log_dir = Path(os.environ.get("TAXIWAY_TEST_ENGINE_LOG", "."))
        self.inner = ProceduralImageEngine()

    def _mark(self, task_id: str, event: str) -> None:
        (self.log_dir / f"{task_id}.{event}").write_text(str(time.time()))

    def run(self, request: EngineRequest, context: RunContext) -> list[Artifact]:
        self._mark(request.task_id, "started")
        try:
            for step in range(self.steps):
                context.progress(step / self.steps)
                if context.cancel_event.wait(self.seconds / self.steps):
                    context.check_cancelled()
            artifacts = self.inner.run(request, context)
        except TaskCancelled:
            self._mark(request.task_id, "stopped")
            raise
        self._mark(request.task_id, "finished")
        return artifacts


class BrokenEngine:
    """Fails every task with an unexpected error, as a crashing model would."""

    name = "test-broken"

    def run(self, request: EngineRequest, context: RunContext) -> list[Artifact]:
        raise RuntimeError("model exploded")


class PromptTimedImageEngine:
    """The procedural image after as many seconds of stepwise work as the prompt names ("… 2.5s"),
    stopping when cancelled: a stand-in for a GPU step wherever it runs, a Ray actor included, with no
    environment to read there."""

    name = "test-prompt-timed-image"
    steps = 20

    def __init__(self) -> None:
        self.inner = ProceduralImageEngine()

    def run(self, request: EngineRequest, context: RunContext) -> list[Artifact]:
        found = re.search(r"(\d+(?:\.\d+)?)s\b", str(request.params.get("promptText", "")))
        seconds = float(found.group(1)) if found else 0.0
        for step in range(self.steps):
            context.progress(step / self.steps)
            if context.cancel_event.wait(seconds / self.steps):
                context.check_cancelled()
        return self.inner.run(request, context)


class InstantImageEngine:
    """A 1x1 PNG at once: for tests where only the task's path through the server counts."""

    name = "test-instant-image"
    PIXEL = bytes.fromhex(
        "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
        "0000000d4944415478da63f8cfc0f01f0005000201e2a1c2b20000000049454e44ae426082"
    )

    def run(self, request: EngineRequest, context: RunContext) -> list[Artifact]:
        return [Artifact("output.png", self.PIXEL, "image/png")]
