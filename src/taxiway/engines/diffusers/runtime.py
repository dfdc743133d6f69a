"""What both diffusers engines share: the device, the resident pipelines, the image batcher, compilation.

The registry makes one runtime from the server's settings and hands it to both engines; tests and
benchmarks build their own.
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

from taxiway.config import Settings, WeightsConfig, WeightsEntry
from taxiway.engines.base import EngineRequest
from taxiway.engines.diffusers import pipelines
from taxiway.engines.diffusers.accelerations import Accelerations
from taxiway.engines.diffusers.batching import Batcher
from taxiway.engines.diffusers.residency import PipelineCache, Resident
from taxiway.engines.diffusers.weights import (
    STATE_FILE,
    FolderInfo,
    Kind,
    WeightsUnavailable,
    inspect_folder,
    lookup,
)
from taxiway.errors import Failure

log = logging.getLogger("taxiway.diffusers")

COMPILE_CACHE = "torch-compile"
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
    accelerations: Accelerations = field(default_factory=Accelerations)
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
            accelerations=Accelerations(
                attention_backend=settings.diffusers_attention_backend,
                fuse_projections=settings.diffusers_fuse_projections,
                compile=settings.diffusers_compile,
                compile_mode=settings.diffusers_compile_mode,
                compile_scope=settings.diffusers_compile_scope,
                vae_tiling=settings.diffusers_vae_tiling,
                first_block_cache=settings.diffusers_first_block_cache,
            ),
            state_file=settings.data_dir / STATE_FILE,
            compile_cache=settings.data_dir / COMPILE_CACHE,
        )


class DiffusersRuntime:
    def __init__(self, options: RuntimeOptions) -> None:
        self.options = options
        self.dtype = pipelines.default_dtype(options.device)
        self.cache = PipelineCache(self._load, self._estimate, options.budget_bytes, self.write_state)
        self.batcher = Batcher(options.batch_window_seconds, options.max_batch)
        self._compile_lock = threading.Lock()
        self._state_lock = threading.Lock()
        if options.accelerations.compile and options.compile_cache is not None:
            # Inductor's on-disk caches (FX graphs, AOT autograd, autotuning results) live in the data dir,
            # so a restart reads compiled kernels back instead of compiling them (on CPU, 35 s -> 5 s for a
            # tiny FLUX; minutes on a GPU with max-autotune). Assigned, not defaulted: torch writes its
            # default into the environment once it has used it.
            os.environ["TORCHINDUCTOR_CACHE_DIR"] = str(options.compile_cache)

    def resolve(self, request: EngineRequest, kind: Kind) -> tuple[WeightsEntry, FolderInfo]:
        """The request's weights, or an INTERNAL failure naming the model and folder (never a hang)."""
        weights = lookup(self.options.weights, request.endpoint, request.model)
        if weights is None:
            raise Failure("INTERNAL", f"model {request.model} has no weights folder configured")
        try:
            info = inspect_folder(weights.path)
        except WeightsUnavailable as error:
            raise Failure("INTERNAL", f"model {request.model}: {error}") from None
        if info.family.kind is not kind:
            raise Failure(
                "INTERNAL",
                f"model {request.model}: {weights.path} holds {info.class_name}, not a {kind} pipeline",
            )
        return weights, info

    # ---- loading ------------------------------------------------------------------------------------

    def _estimate(self, info: FolderInfo) -> int:
        return pipelines.estimated_bytes(info.path, self.dtype)

    def _load(self, info: FolderInfo) -> Resident:
        accelerations = self.options.accelerations
        try:
            pipe = pipelines.load(info, self.options.device, self.dtype)
            accelerations.apply(pipe)
        except (OSError, ValueError) as error:
            # Truncated or mismatched files: the operator must fix the folder; retrying cannot help.
            log.exception("could not load %s", info.path)
            raise Failure("INTERNAL", f"weights folder {info.path} could not be loaded: {error}") from None
        resident = Resident(info, pipe, pipelines.resident_bytes(pipe))
        if accelerations.compile:
            self._compile(resident)
        return resident

    def _compile(self, resident: Resident) -> None:
        """Compile the denoiser(s) and the VAE decoder in place; graphs are built (or read from the
        on-disk cache) on the first run of each shape."""
        with self._compile_lock:
            self.options.accelerations.compile_modules(resident.pipe)
        resident.compiled = True

    def mark_warm(self, resident: Resident) -> None:
        """After a pipeline's first run: compiled graphs are built, later runs go at full speed."""
        if resident.warm:
            return
        resident.warm = True
        self.write_state()

    # ---- state for `taxiway models` -----------------------------------------------------------------

    def write_state(self) -> None:
        path = self.options.state_file
        if path is None:
            return
        folders = {
            str(resident.info.path): {
                "pipeline": resident.info.class_name,
                "gigabytes": round(resident.bytes / 1e9, 3),
                "warm": resident.warm,
                "warming": resident.warming,
                "compiled": resident.compiled,
                "accelerations": self.options.accelerations.describe(),
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
