"""Start-up warm-up: each configured diffusers model loaded and run once at the shapes requests will use.

Loading a pipeline takes seconds to minutes, and under `torch.compile` its first run at each shape
compiles (or reads the graphs an earlier process saved): paid here, in the background, instead of by the
first requests. A request that arrives meanwhile waits on the pipeline's lock, as behind any other job.

Compiled graphs are specialised on shapes until dynamo sees a second value of a dimension; the warm-up
then runs every generation size the model's ratios map to, two frame counts and two batch sizes, so the
graphs it leaves are the general ones. Uncompiled pipelines need one run: kernels do not depend on shape.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import torch
from PIL import Image

from taxiway.catalog import CATALOG
from taxiway.catalog.models import ModelSpec
from taxiway.config import WeightsEntry
from taxiway.engines.diffusers import pipelines
from taxiway.engines.diffusers.engines import image_call, video_call, video_conditioning
from taxiway.engines.diffusers.geometry import pipeline_frames, request_size
from taxiway.engines.diffusers.runtime import DiffusersRuntime
from taxiway.engines.diffusers.weights import (
    IMAGE_ENGINE,
    VIDEO_ENGINE,
    FolderInfo,
    Kind,
    WeightsUnavailable,
    inspect_folder,
    lookup,
)
from taxiway.engines.offline.video_common import clip_seconds

log = logging.getLogger("taxiway.diffusers")

# Enough for every graph (first and later steps, the VAE decoder) to be built; shapes do not depend on it.
STEPS = 2
PROMPT = "warm-up"


@dataclass(frozen=True)
class Target:
    """One model's folder and the settings its requests run with."""

    endpoint: str
    model: ModelSpec
    weights: WeightsEntry
    info: FolderInfo


@dataclass(frozen=True)
class Shape:
    size: tuple[int, int]
    frames: int = 0  # 0: an image
    batch: int = 1
    reference: bool = False  # conditioned on a reference image (its tokens join the sequence)


def targets(runtime: DiffusersRuntime, engines: Mapping[str, str]) -> Iterator[Target]:
    """Every catalog model served by a diffusers engine with a usable folder (unusable ones are reported
    at start-up and fail their tasks clearly; warming cannot help them)."""
    for (endpoint, model_id), spec in CATALOG.items():
        engine = engines.get(model_id, spec.engine)
        if engine not in (IMAGE_ENGINE, VIDEO_ENGINE):
            continue
        weights = lookup(runtime.options.weights, endpoint, model_id)
        if weights is None:
            continue
        try:
            info = inspect_folder(weights.path)
        except WeightsUnavailable:
            continue
        if info.family.kind is (Kind.IMAGE if engine == IMAGE_ENGINE else Kind.VIDEO):
            yield Target(endpoint, spec, weights, info)


def shapes(target: Target, multiple: int, compiled: bool, max_batch: int) -> list[Shape]:
    sizes = list(
        dict.fromkeys(
            request_size(target.weights, ModelSpec.size_of(ratio), multiple) for ratio in target.model.ratios
        )
    )
    if not compiled:
        sizes = sizes[:1]
    if target.info.family.kind is Kind.IMAGE:
        batches = sorted({1, max_batch}) if compiled else [1]
        references = (False, True) if target.info.family.takes_reference else (False,)
        return [
            Shape(size, batch=batch, reference=reference)
            for size in sizes
            for batch in batches
            for reference in references
        ]
    family = target.info.family
    seconds = clip_seconds(target.model.defaults.get("duration"), target.model.id)
    counts = [pipeline_frames(seconds, family.fps, family.frame_step, target.weights.max_frames)]
    if compiled:
        counts.append(pipeline_frames(seconds / 2, family.fps, family.frame_step, target.weights.max_frames))
    return [Shape(size, frames=count) for size in sizes for count in dict.fromkeys(counts)]


def warm_up(runtime: DiffusersRuntime, engines: Mapping[str, str]) -> None:
    """Warm every target in turn; a failure is logged and leaves the model to load on first use."""
    done: set[tuple[object, Shape]] = set()
    for target in targets(runtime, engines):
        try:
            _warm(runtime, target, done)
        except Exception:
            log.exception("warm-up of %s (%s) failed", target.model.id, target.info.path)


def _warm(runtime: DiffusersRuntime, target: Target, done: set[tuple[object, Shape]]) -> None:
    short = target.weights.model_copy(update={"steps": STEPS})
    device = runtime.options.device
    with runtime.cache.use(target.info) as resident:
        multiple = pipelines.size_multiple(resident.pipe, target.info.class_name)
        planned = shapes(target, multiple, resident.compiled, runtime.batcher.max_batch)
        todo = [shape for shape in planned if (target.info.path, shape) not in done]
        if not todo:
            return
        with resident.lock:
            resident.warming = True
            runtime.write_state()
            try:
                for shape in todo:
                    if shape.frames:
                        call = video_call(short, target.info, shape.size, shape.frames, PROMPT, 0, device)
                        if target.info.family.takes_first_frame:
                            first = Image.new("RGB", shape.size, (128, 128, 128))
                            call.update(
                                video_conditioning(target.info, shape.size, first, None, shape.frames)
                            )
                    else:
                        reference = Image.new("RGB", shape.size, (128, 128, 128)) if shape.reference else None
                        prompts, seeds = [PROMPT] * shape.batch, range(shape.batch)
                        family = target.info.family
                        call = image_call(short, shape.size, prompts, seeds, device, family, reference)
                    with torch.inference_mode():
                        resident.pipe(**call)
                    done.add((target.info.path, shape))
                    log.info("warmed %s at %s", target.info.path, shape)
                runtime.mark_warm(resident)
            finally:
                resident.warming = False
                runtime.write_state()


def start(runtime: DiffusersRuntime, engines: Mapping[str, str]) -> threading.Thread:
    """The warm-up on a daemon thread: the server answers (and queues tasks) while it runs."""
    thread = threading.Thread(target=warm_up, args=(runtime, engines), name="diffusers-warmup", daemon=True)
    thread.start()
    return thread
