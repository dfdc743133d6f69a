"""What both diffusers engines share: the device, the resident pipelines, the image batcher, compilation.

Engine factories take no arguments, so the engines built by the registry share one runtime made from
`Settings()` (the same environment the server read); tests and benchmarks build their own.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from taxiway.config import Settings
from taxiway.engines.base import EngineFailure, EngineRequest
from taxiway.engines.diffusers import pipelines
from taxiway.engines.diffusers.batching import Batcher
from taxiway.engines.diffusers.residency import PipelineCache, Resident
from taxiway.engines.diffusers.weights import (
    STATE_FILE,
    FolderInfo,
    Kind,
    WeightsConfig,
    WeightsEntry,
    WeightsUnavailable,
    inspect_folder,
    lookup,
)

log = logging.getLogger("taxiway.diffusers")

COMPILE_CACHE = "torch-compile"
_ARTIFACTS = "mega-cache.bin"
# Default share of the GPU's memory for resident weights: activations (a 480p Wan video takes several
# GB in attention alone) and the CUDA context need the rest.
DEFAULT_BUDGET_SHARE = 0.75


@dataclass(frozen=True)
class RuntimeOptions:
    weights: WeightsConfig = field(default_factory=dict)
    device: str = field(default_factory=pipelines.default_device)
    budget_bytes: int | None = None
    batch_window_seconds: float = 0.005
    max_batch: int = 4
    compile: bool = False
    attention_backend: str | None = None
    # Where `taxiway models` learns which pipelines are resident and warm; None: not written.
    state_file: Path | None = None
    compile_cache: Path | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> RuntimeOptions:
        device = settings.diffusers_device or pipelines.default_device()
        budget = None
        if settings.gpu_memory_budget_gb is not None:
            budget = int(settings.gpu_memory_budget_gb * 1e9)
        elif torch.device(device).type == "cuda":
            budget = int(
                torch.cuda.get_device_properties(torch.device(device)).total_memory * DEFAULT_BUDGET_SHARE
            )
        return cls(
            weights=dict(settings.weights),
            device=device,
            budget_bytes=budget,
            batch_window_seconds=settings.diffusers_batch_window_ms / 1000,
            max_batch=settings.diffusers_max_batch,
            compile=settings.diffusers_compile,
            attention_backend=settings.diffusers_attention_backend,
            state_file=settings.data_dir / STATE_FILE,
            compile_cache=settings.data_dir / COMPILE_CACHE,
        )


class DiffusersRuntime:
    def __init__(self, options: RuntimeOptions) -> None:
        self.options = options
        self.dtype = pipelines.default_dtype(options.device)
        self.cache = PipelineCache(self._load, self._estimate, options.budget_bytes, self._write_state)
        self.batcher = Batcher(options.batch_window_seconds, options.max_batch)
        self._compile_lock = threading.Lock()
        self._state_lock = threading.Lock()
        if options.compile and options.compile_cache is not None:
            # Inductor's on-disk caches (FX graphs, autotuning) live here, so a restart skips compiling.
            # Assigned, not defaulted: torch writes its default into the environment once it has used it.
            os.environ["TORCHINDUCTOR_CACHE_DIR"] = str(options.compile_cache)

    def resolve(self, request: EngineRequest, kind: Kind) -> tuple[WeightsEntry, FolderInfo]:
        """The request's weights, or an INTERNAL failure naming the model and folder (never a hang)."""
        weights = lookup(self.options.weights, request.endpoint, request.model)
        if weights is None:
            raise EngineFailure("INTERNAL", f"model {request.model} has no weights folder configured")
        try:
            info = inspect_folder(weights.path)
        except WeightsUnavailable as error:
            raise EngineFailure("INTERNAL", f"model {request.model}: {error}") from None
        if info.family.kind is not kind:
            raise EngineFailure(
                "INTERNAL",
                f"model {request.model}: {weights.path} holds {info.class_name}, not a {kind} pipeline",
            )
        return weights, info

    # ---- loading ------------------------------------------------------------------------------------

    def _estimate(self, info: FolderInfo) -> int:
        return pipelines.estimated_bytes(info.path, self.dtype)

    def _load(self, info: FolderInfo) -> Resident:
        try:
            pipe = pipelines.load(info, self.options.device, self.dtype, self.options.attention_backend)
        except (OSError, ValueError) as error:
            # Truncated or mismatched files: the operator must fix the folder; retrying cannot help.
            log.exception("could not load %s", info.path)
            raise EngineFailure(
                "INTERNAL", f"weights folder {info.path} could not be loaded: {error}"
            ) from None
        resident = Resident(info, pipe, pipelines.resident_bytes(pipe))
        if self.options.compile:
            self._compile(resident)
        return resident

    def _compile(self, resident: Resident) -> None:
        """Compile the denoiser(s) and the VAE decoder in place; graphs are built on the first run."""
        artifacts = self._artifacts_file()
        with self._compile_lock:
            if artifacts is not None and artifacts.exists():
                torch.compiler.load_cache_artifacts(artifacts.read_bytes())
        for module in pipelines.denoisers(resident.pipe):
            module.compile()
        decoder = getattr(getattr(resident.pipe, "vae", None), "decoder", None)
        if isinstance(decoder, torch.nn.Module):
            decoder.compile()
        resident.compiled = True

    def _artifacts_file(self) -> Path | None:
        cache = self.options.compile_cache
        return None if cache is None else cache / _ARTIFACTS

    def mark_warm(self, resident: Resident) -> None:
        """After a pipeline's first run: save compiled artifacts so the next process loads, not compiles."""
        if resident.warm:
            return
        resident.warm = True
        artifacts = self._artifacts_file()
        if resident.compiled and artifacts is not None:
            with self._compile_lock:
                saved = torch.compiler.save_cache_artifacts()
                if saved is not None:
                    artifacts.parent.mkdir(parents=True, exist_ok=True)
                    artifacts.write_bytes(saved[0])
        self._write_state()

    # ---- state for `taxiway models` -----------------------------------------------------------------

    def _write_state(self) -> None:
        path = self.options.state_file
        if path is None:
            return
        folders = {
            str(resident.info.path): {
                "pipeline": resident.info.class_name,
                "gigabytes": round(resident.bytes / 1e9, 3),
                "warm": resident.warm,
                "compiled": resident.compiled,
            }
            for resident in self.cache.snapshot()
        }
        document = {
            "pid": os.getpid(),
            "updated": time.time(),
            "device": self.options.device,
            "resident": folders,
        }
        try:
            with self._state_lock:
                path.parent.mkdir(parents=True, exist_ok=True)
                temporary = path.with_suffix(".tmp")
                temporary.write_text(json.dumps(document, indent=1), encoding="utf-8")
                temporary.replace(path)
        except OSError:
            log.warning("could not write %s", path, exc_info=True)


_shared: DiffusersRuntime | None = None
_shared_lock = threading.Lock()


def shared_runtime() -> DiffusersRuntime:
    """The runtime the registry's engines share, made from the environment on first use."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = DiffusersRuntime(RuntimeOptions.from_settings(Settings()))
        return _shared
