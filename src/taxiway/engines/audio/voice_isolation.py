"""voice_isolation: DeepFilterNet3 speech enhancement (see `isolation.py`) behind the engine interface."""

from __future__ import annotations

from taxiway.engines.audio import isolation
from taxiway.engines.audio.codec import artifact, decode
from taxiway.engines.base import Artifact, EngineRequest, RunContext
from taxiway.errors import Failure

MIN_SECONDS = 4.6
MAX_SECONDS = 3600.0


class VoiceIsolationEngine:
    name = "deepfilternet-isolation"

    def run(self, request: EngineRequest, context: RunContext) -> list[Artifact]:
        uri = request.fields.required("audio_uri")
        clip = decode(request.asset(uri), isolation.RATE, "audioUri")
        if not MIN_SECONDS <= clip.seconds <= MAX_SECONDS:
            raise Failure(
                "ASSET.INVALID",
                f"audioUri: the audio is {clip.seconds:.1f} seconds long; "
                f"it must be between {MIN_SECONDS} and {MAX_SECONDS:.0f} seconds",
            )
        context.progress(0.05)
        speech = isolation.denoise(clip, progress=lambda fraction: context.progress(0.05 + 0.85 * fraction))
        result = artifact(speech, "isolated")
        context.progress(1.0)
        return [result]
