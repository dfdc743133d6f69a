"""Sizes and frame counts: from what the API asks for to what a pipeline can make, and back."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from taxiway.config import WeightsEntry


def generation_size(width: int, height: int, multiple: int, max_area: int | None = None) -> tuple[int, int]:
    """The requested size with each side rounded to `multiple` (at least one); with `max_area`, shrunk to
    at most that many pixels, rounding down as Wan's examples do (1280x720 in 832x480 -> 832x464).

    Latents are pixels / (VAE stride x patch size), so sides must be multiples of that product; the output
    is resized to the exact request afterwards, so rounding loses nothing but a sliver of crop.
    """
    if max_area is not None and width * height > max_area:
        scale = math.sqrt(max_area / (width * height))
        return (
            max(multiple, math.floor(width * scale / multiple) * multiple),
            max(multiple, math.floor(height * scale / multiple) * multiple),
        )
    return max(multiple, round(width / multiple) * multiple), max(
        multiple, round(height / multiple) * multiple
    )


def closest_size(width: int, height: int, sizes: Sequence[str]) -> tuple[int, int]:
    """Of "WxH" sizes, the one whose aspect is closest to width:height (in log scale, so 2:1 and 1:2 are
    equally far from 1:1)."""
    parsed = [tuple(int(side) for side in size.split("x")) for size in sizes]
    best = min(parsed, key=lambda size: abs(math.log((size[0] / size[1]) / (width / height))))
    return best[0], best[1]


def request_size(weights: WeightsEntry, size: tuple[int, int], multiple: int) -> tuple[int, int]:
    """What a request for `size` is generated at: the configured size closest in aspect, else the size
    itself within `max_area`, rounded to the pipeline's multiple."""
    if weights.sizes:
        return generation_size(*closest_size(size[0], size[1], weights.sizes), multiple)
    return generation_size(size[0], size[1], multiple, weights.max_area)


def cover_crop(frames: npt.NDArray[np.uint8], size: tuple[int, int]) -> npt.NDArray[np.uint8]:
    """The centred region of frames (..., height, width, channels) with the aspect of `size`: scaled to
    `size` afterwards it covers it exactly, so rounding a side never stretches the picture. A view."""
    height, width = frames.shape[-3], frames.shape[-2]
    target = size[0] / size[1]
    if width / height > target:
        keep = max(1, round(height * target))
        left = (width - keep) // 2
        return frames[..., :, left : left + keep, :]
    keep = max(1, round(width / target))
    top = (height - keep) // 2
    return frames[..., top : top + keep, :, :]


def pipeline_frames(seconds: float, fps: int, frame_step: int, max_frames: int | None = None) -> int:
    """Frames to generate for `seconds` at the model's `fps`: 1 + a multiple of the VAE's time stride.

    Wan at 16 fps: 5 s -> 81 frames; LTX at 24 fps: 5 s -> 121. `max_frames` caps it (rounded down to a
    valid count); the output is then re-timed, so the video still lasts `seconds`.
    """
    chunks = max(1, round(seconds * fps / frame_step))
    if max_frames is not None:
        chunks = max(1, min(chunks, (max_frames - 1) // frame_step))
    return chunks * frame_step + 1


def retime(source_count: int, output_count: int) -> list[int]:
    """For each output frame, the source frame showing at its midpoint, spreading the source evenly over
    the output's duration: 81 frames at 16 fps become 120 at 24 fps, in order, none skipped."""
    return [
        min(source_count - 1, (2 * index + 1) * source_count // (2 * output_count))
        for index in range(output_count)
    ]
