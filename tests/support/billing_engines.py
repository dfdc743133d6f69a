"""An engine whose behaviour the prompt picks, so one server can show every billing outcome.

Mapped to models through `TAXIWAY_ENGINES`, like `support.engines`:
- `fail:<CODE>` fails with that failure code (e.g. `fail:SAFETY.INPUT.TEXT`, kept by the real API);
- `crash` raises an unexpected error (reported as `INTERNAL`, refunded);
- `slow` works for `TAXIWAY_TEST_ENGINE_SECONDS`, obeying cancellation;
- anything else succeeds at once.
"""

from __future__ import annotations

from support.engines import SlowImageEngine
from taxiway.engines.base import Artifact, EngineRequest, RunContext
from taxiway.engines.offline.procedural_image import ProceduralImageEngine
from taxiway.errors import Failure


class ScriptedEngine:
    name = "test-scripted"

    def run(self, request: EngineRequest, context: RunContext) -> list[Artifact]:
        prompt = str(request.params.get("promptText", ""))
        if prompt.startswith("fail:"):
            raise Failure(prompt.removeprefix("fail:"), "The input did not pass moderation.")
        if prompt == "crash":
            raise RuntimeError("model exploded")
        if prompt.startswith("slow"):
            return SlowImageEngine().run(request, context)
        return ProceduralImageEngine().run(request, context)
