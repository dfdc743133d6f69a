"""The recipe engine: runs a recipe's plan (`catalog.recipes`) step by step with the engines that serve
each step's model, feeding a step's output to the next, then finishes the result (cuts shots together,
fits a video to its length, lays speech under a picture, sets translated text).

Steps run inside the recipe's one task, so a recipe is charged, cancelled and retried as one task; a
rerun after a restart repeats the same deterministic steps.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import replace
from typing import Any, Protocol, TypeVar

import numpy as np
from PIL import Image
from pydantic import TypeAdapter

from taxiway.catalog.fields import StrictModel
from taxiway.catalog.recipes import (
    RECIPES,
    SWAP_SIZES,
    AdLocalization,
    MultiShotAuto,
    MultiShotCustom,
    MultiShotVideo,
    ProductSwap,
    ProductUgc,
    Step,
    shot_list,
    step_uri,
)
from taxiway.engines.audio import codec
from taxiway.engines.base import Artifact, Engine, EngineRequest, RunContext
from taxiway.engines.offline.video_common import audio_bed, load_image, output_size, render_video
from taxiway.engines.offline.video_encode import FPS, SAMPLE_RATE, decode_frames, probe_video
from taxiway.engines.png_encode import encode_png
from taxiway.engines.recipes.localize import localize

STEPS_SHARE = 0.8  # of the progress bar; the finishing pass takes the rest


class EngineLookup(Protocol):
    def get(self, endpoint: str, model_id: str) -> Engine: ...


Outputs = list[list[Artifact]]
Body = TypeVar("Body", bound=StrictModel)


def _body(request: EngineRequest, model: type[Body]) -> Body:
    """The recipe's request, typed by its own model (the params were validated against it)."""
    return model.model_validate(request.params)


def _finishing(request: EngineRequest, *, audio: bool | None = None) -> EngineRequest:
    """The request the shared video helpers read their fields from: a recipe's body is not a generation
    request, so they see an MP4 with, where the recipe asks for it, an ambience track."""
    return replace(request, params={} if audio is None else {"audio": audio})


class RecipeEngine:
    name = "recipe"

    def __init__(self, engines: EngineLookup) -> None:
        self._engines = engines

    def run(self, request: EngineRequest, context: RunContext) -> list[Artifact]:
        if request.model == "ad_localization":
            return _ad_localization(request, context)
        steps = RECIPES[request.model].plan(request.params, request.seed)
        outputs = self._run_steps(request, steps, context)
        return FINISH[request.model](request, steps, outputs, context)

    def _run_steps(self, request: EngineRequest, steps: Sequence[Step], context: RunContext) -> Outputs:
        outputs: Outputs = []
        for index, step in enumerate(steps):
            assets = dict(request.assets)
            assets.update({step_uri(n): produced[0].data for n, produced in enumerate(outputs)})
            sub = EngineRequest(
                task_id=f"{request.task_id}.{index}",
                endpoint=step.endpoint,
                model=step.model,
                params=step.spec.effective(step.params),
                seed=int(step.params.get("seed", request.seed)),
                assets=assets,
            )

            def report(fraction: float, index: int = index) -> None:
                context.progress(STEPS_SHARE * (index + fraction) / len(steps))

            inner = RunContext(cancel_event=context.cancel_event, on_progress=report)
            outputs.append(self._engines.get(step.endpoint, step.model).run(sub, inner))
        return outputs


def _ad_localization(request: EngineRequest, context: RunContext) -> list[Artifact]:
    body = _body(request, AdLocalization)
    image = load_image(request, body.reference_image.uri, "referenceImage")
    localized = localize(image, str(body.target_language), context)
    pixels = np.asarray(localized.convert("RGB"))
    return [
        Artifact("output.png", encode_png(pixels), "image/png", pixels=localized.width * localized.height)
    ]


def _images(
    request: EngineRequest, steps: Sequence[Step], outputs: Outputs, context: RunContext
) -> list[Artifact]:
    """Each step's image, numbered."""
    return [replace(produced[0], filename=f"image_{n + 1}.png") for n, produced in enumerate(outputs)]


def _frames_of(clips: Sequence[tuple[bytes, float]]) -> Iterator[Image.Image]:
    for data, seconds in clips:
        yield from decode_frames(data, round(seconds * FPS))


def _speech(data: bytes, seconds: float) -> np.ndarray[Any, np.dtype[np.float32]]:
    """An audio file as one channel at the video's rate, cut or padded to `seconds`."""
    samples = codec.decode(data, SAMPLE_RATE).samples
    total = round(seconds * SAMPLE_RATE)
    padded = np.zeros(total, np.float32)
    padded[: min(total, len(samples))] = samples[:total]
    return padded.reshape(1, -1)


def _video(
    request: EngineRequest,
    clips: Sequence[tuple[bytes, float]],
    size: tuple[int, int],
    context: RunContext,
    audio: np.ndarray[Any, np.dtype[np.float32]] | None = None,
) -> list[Artifact]:
    count = sum(round(seconds * FPS) for _data, seconds in clips)
    return render_video(
        _finishing(request), _frames_of(clips), size, count, context, audio=audio, start=STEPS_SHARE
    )


def _multi_shot(
    request: EngineRequest, steps: Sequence[Step], outputs: Outputs, context: RunContext
) -> list[Artifact]:
    """The shots cut together in order, each at its planned length, sound and all."""
    shots = [
        (produced[0].data, float(seconds))
        for produced, (_p, seconds) in zip(outputs, shot_list(request.params), strict=True)
    ]
    body: MultiShotAuto | MultiShotCustom = TypeAdapter(MultiShotVideo).validate_python(request.params)
    audio = None
    if body.audio:
        audio = np.concatenate([_speech(data, seconds) for data, seconds in shots], axis=1)
    size = output_size(body.ratio, "1280:720")
    return _video(request, shots, size, context, audio)


def _last(
    request: EngineRequest, steps: Sequence[Step], outputs: Outputs, context: RunContext
) -> list[Artifact]:
    return outputs[-1]


def _product_swap(
    request: EngineRequest, steps: Sequence[Step], outputs: Outputs, context: RunContext
) -> list[Artifact]:
    """The swapped video looped or cut to `duration`, at the requested resolution (short side)."""
    data = outputs[0][0].data
    info = probe_video(data)
    body = _body(request, ProductSwap)
    short = SWAP_SIZES[body.resolution or "720p"]
    scale = short / min(info.width, info.height)
    size = (round(info.width * scale / 2) * 2, round(info.height * scale / 2) * 2)
    seconds = float(body.duration or 10)
    count = round(seconds * FPS)
    frames = decode_frames(data, count, loop=True, duration=info.duration)
    finishing = _finishing(request, audio=body.audio)
    audio = audio_bed(finishing, seconds)
    return render_video(finishing, frames, size, count, context, audio=audio, start=STEPS_SHARE)


def _product_ugc(
    request: EngineRequest, steps: Sequence[Step], outputs: Outputs, context: RunContext
) -> list[Artifact]:
    """The creator clip with the spoken script laid under it."""
    clip = outputs[1][0].data
    body = _body(request, ProductUgc)
    seconds = float(body.duration or 15)
    speech = _speech(outputs[2][0].data, seconds) if body.audio else None
    size = output_size(body.ratio, "720:1280")
    return _video(request, [(clip, seconds)], size, context, speech)


Finish = Callable[[EngineRequest, Sequence[Step], Outputs, RunContext], list[Artifact]]
FINISH: Mapping[str, Finish] = {
    "marketing_stock_image": _images,
    "product_campaign_image": _images,
    "multi_shot_video": _multi_shot,
    "product_ad": _last,
    "product_swap": _product_swap,
    "product_ugc": _product_ugc,
}
