"""`diffusers-image` and `diffusers-video`: real generation with diffusers pipelines on a GPU (or CPU).

Every request is made at the pipeline's nearest valid size (optionally capped in area), then fitted to the
exact requested ratio with Lanczos; videos are made at the model's own frame rate and re-timed to the
API's 24 fps for exactly the requested duration. Progress follows the denoising steps; a cancelled task
stops at the next step. `referenceImages` condition the pipelines that take an image (FLUX Kontext); the
text-to-image ones take none and ignore them.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from av.video.reformatter import Interpolation
from PIL import Image, ImageOps

from taxiway.catalog import framing, model_spec
from taxiway.config import WeightsEntry
from taxiway.engines.base import Artifact, EngineRequest, RunContext, TaskCancelled
from taxiway.engines.diffusers import pipelines
from taxiway.engines.diffusers.batching import Job
from taxiway.engines.diffusers.geometry import cover_crop, pipeline_frames, request_size, retime
from taxiway.engines.diffusers.residency import Resident, acquire, free_device_memory
from taxiway.engines.diffusers.runtime import DiffusersRuntime
from taxiway.engines.diffusers.weights import IMAGE_ENGINE, VIDEO_ENGINE, Family, FolderInfo, Kind
from taxiway.engines.offline.video_common import (
    clip_seconds,
    frame_size,
    frame_total,
    load_image,
    render_video,
)
from taxiway.engines.png_encode import encode_png
from taxiway.errors import Failure

log = logging.getLogger("taxiway.diffusers")

# Progress: text encoding is quick, denoising is most of the time, then decoding and encoding the output.
STEPS_START = 0.02
IMAGE_STEPS_END = 0.9
VIDEO_STEPS_END = 0.85
VIDEO_ENCODE_START = 0.9
REFERENCE_GROUND = (128, 128, 128)
# The GPU does the generating and leaves the host's cores idle: the H.264 encode (1-2 s of a 5 s clip on
# one core, a few percent of a Wan generation) gets several of them.
ENCODER_THREADS = min(8, os.cpu_count() or 1)


def _step_callback(
    contexts: Sequence[RunContext], start: float, end: float
) -> Callable[[Any, int, Any, dict[str, Any]], dict[str, Any]]:
    """`callback_on_step_end`: progress for every task in the call; raising stops the pipeline at once,
    which happens when every task it serves was cancelled."""

    def on_step_end(pipe: Any, step: int, _timestep: Any, _tensors: dict[str, Any]) -> dict[str, Any]:
        timesteps = getattr(pipe.scheduler, "timesteps", None)
        total = max(1, len(timesteps) if timesteps is not None else 1)
        fraction = start + (end - start) * min(1.0, (step + 1) / total)
        live = 0
        for context in contexts:
            try:
                context.progress(fraction)
                live += 1
            except TaskCancelled:
                pass
        if not live:
            raise TaskCancelled()
        return {}

    return on_step_end


def _sampler(weights: WeightsEntry, batch: int) -> dict[str, Any]:
    kwargs: dict[str, Any] = {}
    if weights.steps is not None:
        kwargs["num_inference_steps"] = weights.steps
    if weights.guidance_scale is not None:
        kwargs["guidance_scale"] = weights.guidance_scale
    if weights.negative_prompt is not None:
        kwargs["negative_prompt"] = [weights.negative_prompt] * batch
    return kwargs


def image_call(
    weights: WeightsEntry,
    size: tuple[int, int],
    prompts: Sequence[str],
    seeds: Sequence[int],
    device: str,
    family: Family,
    reference: Image.Image | None = None,
) -> dict[str, Any]:
    """The image pipeline's arguments, shared with the warm-up so that it builds the same graphs.

    Image-conditioned pipelines (Kontext) are told to keep the size asked for, with or without a
    reference: left to themselves they rescale the output to 1 megapixel and the reference to their
    training resolutions. A reference comes at the generation size already."""
    call = {
        "prompt": list(prompts),
        "width": size[0],
        "height": size[1],
        "generator": [pipelines.manual_seed(device, seed) for seed in seeds],
        "output_type": pipelines.OUTPUT_TYPE,
        **_sampler(weights, len(prompts)),
    }
    if family.takes_reference:
        call["max_area"] = size[0] * size[1]
        if reference is not None:
            call.update(image=[reference] * len(prompts), _auto_resize=False)
    return call


def reference_image(images: Sequence[Image.Image], size: tuple[int, int]) -> Image.Image:
    """What an image-conditioned pipeline sees: one reference fitted to the generation size, or several
    side by side, scaled to fit within it on a neutral ground (Kontext takes one image; a collage is how
    it is given more)."""
    if len(images) == 1:
        return _fit(images[0].convert("RGB"), size)
    height = max(image.height for image in images)
    scaled = [
        image.convert("RGB").resize((max(1, image.width * height // image.height), height))
        for image in images
    ]
    row = Image.new("RGB", (sum(image.width for image in scaled), height), REFERENCE_GROUND)
    left = 0
    for image in scaled:
        row.paste(image, (left, 0))
        left += image.width
    canvas = Image.new("RGB", size, REFERENCE_GROUND)
    row = ImageOps.contain(row, size, Image.Resampling.LANCZOS)
    canvas.paste(row, ((size[0] - row.width) // 2, (size[1] - row.height) // 2))
    return canvas


def video_call(
    weights: WeightsEntry,
    info: FolderInfo,
    size: tuple[int, int],
    count: int,
    prompt: str,
    seed: int,
    device: str,
) -> dict[str, Any]:
    """The video pipeline's arguments but keyframes (see `video_conditioning`), shared with the warm-up."""
    kwargs: dict[str, Any] = {
        "prompt": prompt,
        "width": size[0],
        "height": size[1],
        "num_frames": count,
        "generator": pipelines.manual_seed(device, seed),
        "output_type": pipelines.OUTPUT_TYPE,
        **_sampler(weights, 1),
    }
    if weights.negative_prompt is not None:
        kwargs["negative_prompt"] = weights.negative_prompt
    if info.class_name.startswith("LTX"):
        kwargs["frame_rate"] = info.family.fps
    return kwargs


def _fit(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    """Exactly `size`: scaled to cover it and centre-cropped, so rounding never stretches the picture."""
    if image.size == size:
        return image
    return ImageOps.fit(image, size, Image.Resampling.LANCZOS)


def _png(pixels: npt.NDArray[np.uint8], size: tuple[int, int]) -> bytes:
    if pixels.shape[1::-1] != size:
        pixels = np.asarray(_fit(Image.fromarray(pixels, "RGB"), size))
    return encode_png(pixels)


class _RuntimeEngine:
    """The registry hands both engines one runtime (settings, resident pipelines); tests their own."""

    def __init__(self, runtime: DiffusersRuntime) -> None:
        self.runtime = runtime


@dataclass(frozen=True)
class _ImageItem:
    prompt: str
    seed: int


def _references(request: EngineRequest) -> list[Image.Image]:
    return [
        load_image(request, item.uri, f"referenceImages[{index}].uri")
        for index, item in enumerate(request.fields.reference_images)
    ]


class DiffusersImageEngine(_RuntimeEngine):
    name = IMAGE_ENGINE

    def run(self, request: EngineRequest, context: RunContext) -> list[Artifact]:
        runtime = self.runtime
        weights, info = runtime.resolve(request, Kind.IMAGE)
        width, height = framing.output_size(model_spec(request.endpoint, request.model), request.params)
        context.progress(0.0)
        item = _ImageItem(request.fields.prompt_text or "", request.seed)
        references = _references(request) if info.family.takes_reference else []
        try:
            with runtime.cache.use(info) as resident:
                multiple = pipelines.size_multiple(resident.pipe, info.class_name)
                size = request_size(weights, (width, height), multiple)
                reference = reference_image(references, size) if references else None
                # Requests batch only with others conditioned on the same picture.
                picture = hashlib.sha256(reference.tobytes()).hexdigest() if reference is not None else None
                key = (info.path, size, weights, picture)

                def execute(jobs: Sequence[Job[_ImageItem, Pixels]]) -> list[Pixels]:
                    return self._generate(runtime, resident, weights, size, jobs, reference)

                pixels = runtime.batcher.run(key, item, context, resident.lock, execute)
        except BaseException:
            free_device_memory()  # a cancelled or failed run hands its memory back at once
            raise
        context.progress(IMAGE_STEPS_END)
        data = _png(pixels, (width, height))
        context.progress(1.0)
        return [Artifact(filename="output.png", data=data, content_type="image/png")]

    @staticmethod
    def _generate(
        runtime: DiffusersRuntime,
        resident: Resident,
        weights: WeightsEntry,
        size: tuple[int, int],
        jobs: Sequence[Job[_ImageItem, Pixels]],
        reference: Image.Image | None,
    ) -> list[Pixels]:
        call = image_call(
            weights,
            size,
            [job.item.prompt for job in jobs],
            [job.item.seed for job in jobs],
            runtime.options.device,
            resident.info.family,
            reference,
        )
        callback = _step_callback([job.context for job in jobs], STEPS_START, IMAGE_STEPS_END)
        with torch.inference_mode():
            output = resident.pipe(**call, callback_on_step_end=callback)
            pixels = pipelines.to_pixels(output.images)
        runtime.mark_warm(resident)
        return list(pixels)


def _keyframes(request: EngineRequest) -> tuple[Image.Image | None, Image.Image | None]:
    """`promptImage`: one URI (the first frame) or a list of {uri, position: first|last}."""
    value = request.fields.prompt_image
    if isinstance(value, str):
        return load_image(request, value, "promptImage"), None
    frames: dict[str, Image.Image] = {}
    for index, item in enumerate(value or ()):
        frames[item.position or "first"] = load_image(request, item.uri, f"promptImage[{index}].uri")
    return frames.get("first"), frames.get("last")


Pixels = npt.NDArray[np.uint8]


class DiffusersVideoEngine(_RuntimeEngine):
    name = VIDEO_ENGINE

    def run(self, request: EngineRequest, context: RunContext) -> list[Artifact]:
        runtime = self.runtime
        weights, info = runtime.resolve(request, Kind.VIDEO)
        family = info.family
        seconds = clip_seconds(request.fields.duration, request.model)
        size = frame_size(request, None, "1280:720")
        first, last = _keyframes(request)
        if first is not None and not family.takes_first_frame:
            raise Failure(
                "INTERNAL",
                f"model {request.model}: {weights.path} holds {info.class_name}, which cannot start from an "
                "image; configure an image-to-video folder for image_to_video",
            )
        if first is None and family.takes_first_frame and info.class_name != "LTXConditionPipeline":
            raise Failure(
                "INTERNAL",
                f"model {request.model}: {weights.path} holds {info.class_name}, which needs an image",
            )
        if last is not None and not family.takes_last_frame:
            log.info(
                "%s takes no last frame; task %s is generated from its first",
                info.class_name,
                request.task_id,
            )
            last = None
        context.progress(0.0)
        try:
            with runtime.cache.use(info) as resident:
                multiple = pipelines.size_multiple(resident.pipe, info.class_name)
                gen_size = request_size(weights, size, multiple)
                count = pipeline_frames(seconds, family.fps, family.frame_step, weights.max_frames)
                acquire(resident.lock, context)
                try:
                    frames = self._generate(
                        runtime, resident, weights, request, context, gen_size, count, first, last
                    )
                finally:
                    resident.lock.release()
        except BaseException:
            free_device_memory()
            raise
        context.progress(VIDEO_ENCODE_START)
        # Cropped to the requested aspect here; the encoder's scaler resizes with Lanczos as it converts
        # to YUV, in one pass per frame.
        fitted = cover_crop(frames, size)
        total = frame_total(seconds)
        timeline = (fitted[index] for index in retime(len(fitted), total))
        return render_video(
            request,
            timeline,
            size,
            total,
            context,
            start=VIDEO_ENCODE_START,
            resample=Interpolation.LANCZOS,
            threads=ENCODER_THREADS,
        )

    @staticmethod
    def _generate(
        runtime: DiffusersRuntime,
        resident: Resident,
        weights: WeightsEntry,
        request: EngineRequest,
        context: RunContext,
        size: tuple[int, int],
        count: int,
        first: Image.Image | None,
        last: Image.Image | None,
    ) -> Pixels:
        info = resident.info
        prompt = request.fields.prompt_text or ""
        kwargs = video_call(weights, info, size, count, prompt, request.seed, runtime.options.device)
        kwargs.update(video_conditioning(info, size, first, last, count))
        callback = _step_callback([context], STEPS_START, VIDEO_STEPS_END)
        with torch.inference_mode():
            output = resident.pipe(**kwargs, callback_on_step_end=callback)
            frames = pipelines.to_pixels(output.frames[0])
        runtime.mark_warm(resident)
        return frames


def video_conditioning(
    info: FolderInfo, size: tuple[int, int], first: Image.Image | None, last: Image.Image | None, count: int
) -> dict[str, Any]:
    """Keyframes in each family's terms, fitted to the generated size (pipelines would stretch them)."""
    kwargs: dict[str, Any] = {}
    if first is None:
        return kwargs
    first = _fit(first, size)
    last = _fit(last, size) if last is not None else None
    if info.class_name == "LTXConditionPipeline":
        from diffusers.pipelines.ltx.pipeline_ltx_condition import LTXVideoCondition

        conditions = [LTXVideoCondition(image=first, frame_index=0)]
        if last is not None:
            conditions.append(LTXVideoCondition(image=last, frame_index=count - 1))
        kwargs["conditions"] = conditions
        return kwargs
    kwargs["image"] = first
    if last is not None:
        kwargs["last_image"] = last
    return kwargs
