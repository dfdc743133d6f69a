"""Which engine serves which model: the catalog's default, unless configuration maps it elsewhere.

Engines are made by factories that receive the server's `EngineSetup` (its settings, the engine cache dir,
the resources engines share), so nothing an engine needs is read from the environment or a module global.
"""

from __future__ import annotations

import importlib
import inspect
import logging
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from taxiway.catalog import CATALOG, model_spec
from taxiway.catalog.recipes import RECIPE_SPECS
from taxiway.config import Settings
from taxiway.engines.base import Engine, EngineSetup, Refusals
from taxiway.engines.diffusers.weights import ENGINE_NAMES as DIFFUSERS_ENGINES
from taxiway.engines.diffusers.weights import startup_problems

if TYPE_CHECKING:
    from taxiway.engines.diffusers.runtime import DiffusersRuntime

log = logging.getLogger("taxiway.engines")

EngineFactory = Callable[[EngineSetup], Engine]
# What a built-in engine's constructor is given, taken from the setup.
Need = Callable[[EngineSetup], Any]


def _cache(setup: EngineSetup) -> Path:
    return setup.cache


def diffusers_runtime(setup: EngineSetup) -> DiffusersRuntime:
    """The one runtime both diffusers engines share (the resident weights, the batcher), made from the
    setup's settings on first use; torch is imported only then."""
    from taxiway.engines.diffusers.runtime import DiffusersRuntime, RuntimeOptions

    def build() -> DiffusersRuntime:
        return DiffusersRuntime(RuntimeOptions.from_settings(setup.settings))

    return setup.shared("diffusers-runtime", build)


class _Builtin:
    """An engine class of `taxiway.engines.<package>.<module>`, imported on first use (a server only loads
    what it serves), built with what `needs` take from the setup."""

    def __init__(self, package: str, module: str, attribute: str, *needs: Need) -> None:
        self.module = f"taxiway.engines.{package}.{module}"
        self.attribute = attribute
        self.needs = needs

    def engine_class(self) -> Any:
        return getattr(importlib.import_module(self.module), self.attribute)

    def __call__(self, setup: EngineSetup) -> Engine:
        engine: Engine = self.engine_class()(*(need(setup) for need in self.needs))
        return engine


def _offline(module: str, attribute: str, *needs: Need) -> _Builtin:
    return _Builtin("offline", module, attribute, *needs)


def _audio(module: str, attribute: str, *needs: Need) -> _Builtin:
    return _Builtin("audio", module, attribute, *needs)


BUILTIN: Mapping[str, _Builtin] = {
    "procedural-image": _offline("procedural_image", "ProceduralImageEngine"),
    "procedural-vector": _offline("procedural_vector", "ProceduralVectorEngine"),
    "procedural-video": _offline("video_procedural", "ProceduralVideoEngine"),
    "camera-move-video": _offline("video_camera", "CameraMoveEngine"),
    "restyle-video": _offline("video_restyle", "RestyleVideoEngine"),
    "performance-transfer": _offline("video_restyle", "PerformanceTransferEngine"),
    "lanczos-upscale": _offline("video_upscale", "UpscaleEngine"),
    "inverse-tone-map": _offline("video_hdr", "InverseToneMapEngine"),
    "offline-tts": _audio("text_to_speech", "TextToSpeechEngine", _cache),
    "offline-voice-conversion": _audio("speech_to_speech", "SpeechToSpeechEngine"),
    "deepfilternet-isolation": _audio("voice_isolation", "VoiceIsolationEngine"),
    "offline-dubbing": _audio("dubbing", "DubbingEngine", _cache),
    "procedural-sound-effects": _audio("sound_effects", "SoundEffectEngine"),
    "precision-upscale": _offline("precision_upscale", "PrecisionUpscaleEngine"),
    "creative-video-upscale": _offline("creative_upscale", "CreativeUpscaleEngine"),
    "motion-interpolation": _offline("frame_rate", "MotionInterpolationEngine"),
    "motion-foley": _audio("video_foley", "VideoFoleyEngine"),
    "talking-avatar": _offline("talking_avatar", "TalkingAvatarEngine", _cache),
    "diffusers-image": _Builtin("diffusers", "engines", "DiffusersImageEngine", diffusers_runtime),
    "diffusers-video": _Builtin("diffusers", "engines", "DiffusersVideoEngine", diffusers_runtime),
}


def _takes_setup(factory: Callable[..., Any]) -> bool:
    """Whether a configured engine class or factory wants an argument (the setup) or none."""
    try:
        parameters = inspect.signature(factory).parameters.values()
    except (TypeError, ValueError):
        return False
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return any(p.kind in positional and p.default is p.empty for p in parameters)


def _factory(reference: str) -> Any:
    """A built-in engine's class, or what `package.module:attribute` names (an Engine class or factory)."""
    if reference in BUILTIN:
        return BUILTIN[reference].engine_class()
    module_name, _, attribute = reference.partition(":")
    if not attribute:
        raise ValueError(f"unknown engine {reference!r}; built-in engines: {', '.join(sorted(BUILTIN))}")
    return getattr(importlib.import_module(module_name), attribute)


def load(reference: str, setup: EngineSetup) -> Engine:
    """A built-in engine name, or `package.module:attribute` naming an Engine class or factory, called
    with the setup if it takes an argument."""
    if reference in BUILTIN:
        return BUILTIN[reference](setup)
    factory = _factory(reference)
    engine: Engine = factory(setup) if _takes_setup(factory) else factory()
    return engine


RECIPE_ENGINE = "recipe"


class EngineRegistry:
    """Engines are built once, on first use, and shared by every task of the models they serve."""

    def __init__(self, settings: Settings) -> None:
        self._setup = EngineSetup(settings)
        self._overrides = dict(settings.engines)
        unknown = set(self._overrides) - {model_id for _endpoint, model_id in [*CATALOG, *RECIPE_SPECS]}
        if unknown:
            raise ValueError(f"engine configuration names unknown models: {', '.join(sorted(unknown))}")
        for problem in startup_problems(settings.engines, settings.weights):
            log.warning("%s", problem)
        self._engines: dict[str, Engine] = {}
        self._lock = threading.Lock()
        # Each engine's up-front check once its class was imported (None: it has none).
        self._checks: dict[str, Callable[[Mapping[str, Any]], Refusals] | None] = {}

    def engine_name(self, endpoint: str, model_id: str) -> str:
        return self._overrides.get(model_id) or model_spec(endpoint, model_id).engine

    def _recipes(self) -> Engine:
        """Recipes run their steps on this registry's engines, GPU ones included."""
        from taxiway.engines.recipes.engine import RecipeEngine

        return RecipeEngine(self)

    def refusals(self, endpoint: str, model_id: str, params: Mapping[str, Any]) -> Refusals:
        """What the model's engine knows up front it cannot do for `params` (see `RefusesUpFront`).
        Asked of the engine's class, so answering never builds an engine (nor loads its weights)."""
        reference = self.engine_name(endpoint, model_id)
        if reference == RECIPE_ENGINE:  # a recipe's steps are checked when they are planned
            return []
        if reference not in self._checks:
            check = getattr(_factory(reference), "refusals", None)
            self._checks[reference] = check if callable(check) else None
        check = self._checks[reference]
        return list(check(params)) if check is not None else []

    def refuses_nothing(self, endpoint: str, model_id: str) -> bool:
        """Whether `refusals` is known to answer [] without asking the engine: then the event loop
        need not hand it to a thread (a first ask imports the engine's module, and a check may run
        a program, as dubbing's lists the installed translation pairs)."""
        reference = self.engine_name(endpoint, model_id)
        return reference == RECIPE_ENGINE or (reference in self._checks and self._checks[reference] is None)

    def get(self, endpoint: str, model_id: str) -> Engine:
        """Called from worker threads, so that loading weights never blocks the event loop."""
        reference = self.engine_name(endpoint, model_id)
        with self._lock:
            if reference not in self._engines:
                self._engines[reference] = (
                    self._recipes() if reference == RECIPE_ENGINE else load(reference, self._setup)
                )
            return self._engines[reference]

    def describe(self) -> dict[str, list[str]]:
        """The engines built so far and the weights folders resident in the diffusers runtime."""
        with self._lock:
            engines = sorted(self._engines)
        runtime = self._setup.built("diffusers-runtime")
        weights = [str(resident.info.path) for resident in runtime.cache.snapshot()] if runtime else []
        return {"engines": engines, "weights": sorted(weights)}

    async def start(self) -> None:
        """With `diffusers_warmup`, diffusers models load and run once in the background (see `warmup`);
        with `audio_warmup`, the audio engines' models are built and loaded in the background too."""
        settings = self._setup.settings
        if settings.diffusers_warmup and any(name in DIFFUSERS_ENGINES for name in self._overrides.values()):
            from taxiway.engines.diffusers import warmup  # torch is imported only when needed

            warmup.start(diffusers_runtime(self._setup), self._overrides)
        if settings.audio_warmup:
            from taxiway.engines.audio import warmup as audio_warmup

            engines = {self.engine_name(endpoint, model) for endpoint, model in CATALOG}
            audio_warmup.start(engines, self._setup.cache)

    async def stop(self) -> None:
        """Nothing to stop: engines hold no threads of their own, and a warm-up thread is a daemon."""
