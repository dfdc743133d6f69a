"""Which engine serves which model: the catalog's default, unless configuration maps it elsewhere."""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable, Mapping

from taxiway.catalog import CATALOG, model_spec
from taxiway.catalog.recipes import RECIPE_SPECS
from taxiway.engines.base import Engine
from taxiway.engines.diffusers.weights import ENGINE_NAMES as DIFFUSERS_ENGINES

EngineFactory = Callable[[], Engine]


def _procedural_image() -> Engine:
    from taxiway.engines.offline.procedural_image import ProceduralImageEngine

    return ProceduralImageEngine()


def _builtin(package: str, module: str, attribute: str) -> EngineFactory:
    def factory() -> Engine:
        engine: Engine = getattr(importlib.import_module(f"taxiway.engines.{package}.{module}"), attribute)()
        return engine

    return factory


def _offline(module: str, attribute: str) -> EngineFactory:
    return _builtin("offline", module, attribute)


def _audio(module: str, attribute: str) -> EngineFactory:
    return _builtin("audio", module, attribute)


BUILTIN: Mapping[str, EngineFactory] = {
    "procedural-image": _procedural_image,
    "procedural-video": _offline("video_procedural", "ProceduralVideoEngine"),
    "camera-move-video": _offline("video_camera", "CameraMoveEngine"),
    "restyle-video": _offline("video_restyle", "RestyleVideoEngine"),
    "performance-transfer": _offline("video_restyle", "PerformanceTransferEngine"),
    "lanczos-upscale": _offline("video_upscale", "UpscaleEngine"),
    "inverse-tone-map": _offline("video_hdr", "InverseToneMapEngine"),
    "offline-tts": _audio("text_to_speech", "TextToSpeechEngine"),
    "offline-voice-conversion": _audio("speech_to_speech", "SpeechToSpeechEngine"),
    "deepfilternet-isolation": _audio("voice_isolation", "VoiceIsolationEngine"),
    "offline-dubbing": _audio("dubbing", "DubbingEngine"),
    "procedural-sound-effects": _audio("sound_effects", "SoundEffectEngine"),
    "precision-upscale": _offline("precision_upscale", "PrecisionUpscaleEngine"),
    "creative-video-upscale": _offline("creative_upscale", "CreativeUpscaleEngine"),
    "motion-interpolation": _offline("frame_rate", "MotionInterpolationEngine"),
    "motion-foley": _audio("video_foley", "VideoFoleyEngine"),
    "talking-avatar": _offline("talking_avatar", "TalkingAvatarEngine"),
    "diffusers-image": _builtin("diffusers", "engines", "DiffusersImageEngine"),
    "diffusers-video": _builtin("diffusers", "engines", "DiffusersVideoEngine"),
}


def _load(reference: str) -> Engine:
    """A built-in engine name, or `package.module:attribute` naming an Engine class or factory."""
    if reference in BUILTIN:
        return BUILTIN[reference]()
    module_name, _, attribute = reference.partition(":")
    if not attribute:
        raise ValueError(f"unknown engine {reference!r}; built-in engines: {', '.join(sorted(BUILTIN))}")
    factory = getattr(importlib.import_module(module_name), attribute)
    engine: Engine = factory()
    return engine


RECIPE_ENGINE = "recipe"


class EngineRegistry:
    """Engines are built once, on first use, and shared by every task of the models they serve."""

    def __init__(self, overrides: Mapping[str, str] | None = None, *, warm_up: bool = False) -> None:
        self._overrides = dict(overrides or {})
        self._warm_up = warm_up
        unknown = set(self._overrides) - {model_id for _endpoint, model_id in [*CATALOG, *RECIPE_SPECS]}
        if unknown:
            raise ValueError(f"engine configuration names unknown models: {', '.join(sorted(unknown))}")
        self._engines: dict[str, Engine] = {}
        self._lock = threading.Lock()

    def engine_name(self, endpoint: str, model_id: str) -> str:
        return self._overrides.get(model_id) or model_spec(endpoint, model_id).engine

    def _recipes(self) -> Engine:
        """Recipes run their steps on this registry's engines, GPU ones included."""
        from taxiway.engines.recipes.engine import RecipeEngine

        return RecipeEngine(self)

    def get(self, endpoint: str, model_id: str) -> Engine:
        """Called from worker threads, so that loading weights never blocks the event loop."""
        reference = self.engine_name(endpoint, model_id)
        with self._lock:
            if reference not in self._engines:
                self._engines[reference] = self._recipes() if reference == RECIPE_ENGINE else _load(reference)
            return self._engines[reference]

    async def start(self) -> None:
        """With `diffusers_warmup`, diffusers models load and run once in the background (see `warmup`)."""
        if self._warm_up and any(name in DIFFUSERS_ENGINES for name in self._overrides.values()):
            from taxiway.engines.diffusers import runtime, warmup  # torch is imported only when needed

            warmup.start(runtime.shared_runtime(), self._overrides)

    async def stop(self) -> None:
        """Nothing to stop: engines hold no threads of their own, and a warm-up thread is a daemon."""
