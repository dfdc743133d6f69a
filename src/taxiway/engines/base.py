"""The engine contract. Engines run in worker threads, report progress and stop when cancelled."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Protocol, TypeVar, cast

from pydantic import ValidationError

from taxiway.config import Settings
from taxiway.engines.fields import RequestFields
from taxiway.errors import ASSET_INVALID, Failure

T = TypeVar("T")


@dataclass(frozen=True)
class EngineRequest:
    task_id: str
    endpoint: str
    model: str
    # The validated request body, camelCase as the API speaks it, without nulls.
    params: Mapping[str, Any]
    # Resolved seed: the request's, or one drawn at submission and stored, so reruns are identical.
    seed: int
    # Bytes of every media input the params reference (data URIs, uploads, HTTPS URLs), by URI,
    # fetched and probed before the engine starts so engines never do network I/O.
    assets: Mapping[str, bytes] = field(default_factory=dict)

    @cached_property
    def fields(self) -> RequestFields:
        """The params, typed: what engines read (`request.fields.prompt_text`), never `params.get(...)`."""
        return self.fields_over({})

    def fields_over(self, defaults: Mapping[str, Any]) -> RequestFields:
        """The typed fields over an engine's own defaults (camelCase keys) for what the request leaves out."""
        try:
            return RequestFields.model_validate({**defaults, **self.params})
        except ValidationError as error:
            first = error.errors()[0]
            where = ".".join(str(part) for part in first["loc"]) or "body"
            raise Failure("INPUT.INVALID", f"{where}: {first['msg']}") from None

    def asset(self, uri: str) -> bytes:
        try:
            return self.assets[uri]
        except KeyError:
            raise Failure(ASSET_INVALID, "an input asset could not be loaded") from None


@dataclass(frozen=True)
class Artifact:
    filename: str
    data: bytes
    content_type: str
    # Length of a video or audio output, for models billed on what they really produced.
    seconds: float | None = None
    # Pixels per frame of a video output, for models priced by the size of the picture they keep.
    pixels: int | None = None


class TaskCancelled(Exception):
    """Raised inside an engine when its task was cancelled; the worker frees everything on the way out."""


@dataclass
class RunContext:
    """Handed to an engine: where to report progress and how to learn it must stop."""

    cancel_event: threading.Event = field(default_factory=threading.Event)
    on_progress: Callable[[float], None] = lambda _fraction: None

    def progress(self, fraction: float) -> None:
        """Report progress in [0, 1]; raises TaskCancelled once the task is cancelled."""
        self.check_cancelled()
        self.on_progress(min(1.0, max(0.0, fraction)))

    def check_cancelled(self) -> None:
        if self.cancel_event.is_set():
            raise TaskCancelled()


class Engine(Protocol):
    """A named producer of media. `run` is blocking and is called from a worker thread."""

    name: str

    def run(self, request: EngineRequest, context: RunContext) -> list[Artifact]: ...


class EngineSetup:
    """What engine factories are given: the server's settings, where derived model files go, and the
    resources several engines share (one diffusers runtime, so one set of weights on the GPU)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._shared: dict[str, object] = {}
        self._lock = threading.Lock()

    @property
    def cache(self) -> Path:
        """The engine cache dir: files engines derive from packaged models (see `engines.cache`)."""
        return self.settings.engine_cache_dir

    def built(self, name: str) -> Any:
        """The shared resource called `name` if some engine has built it, else None."""
        with self._lock:
            return self._shared.get(name)

    def shared(self, name: str, build: Callable[[], T]) -> T:
        """The resource called `name`, built by `build` the first time any engine asks for it."""
        with self._lock:
            if name not in self._shared:
                self._shared[name] = build()
            return cast(T, self._shared[name])


# (JSON path, message) for each part of a request an engine cannot serve.
Refusals = list[tuple[list[str | int], str]]


class RefusesUpFront(Protocol):
    """An engine class that knows at submission what it cannot do for a request (a language this machine
    has no translation into): the API answers 400 naming the field instead of accepting a task bound to
    fail. Optional; a static method, asked without building the engine; blocking (it may look at the
    machine), so it is called from a worker thread."""

    @staticmethod
    def refusals(params: Mapping[str, Any]) -> Refusals: ...
