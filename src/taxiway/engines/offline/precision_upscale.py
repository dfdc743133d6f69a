"""image_upscale (`magnific_precision_upscaler_v2`): a real upscale of the input by `scaleFactor`.

The output is exactly the input's size times `scaleFactor`, as a PNG. `flavor` prepares the input:
`photo` upscales it as it is, `photo_denoiser` removes noise first (non-local means), `sublime`
(illustration) flattens smooth areas while keeping edges. Then Real-ESRGAN's compact model and Lanczos
(`upscaling.super_resolve`), and the finishing controls `sharpen`, `ultraDetail` and `smartGrain`.
The SDK's pixel limits were checked before the engine runs (`catalog.media_models.upscale_limits`).
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageOps

from taxiway.engines.base import Artifact, EngineRequest, RunContext
from taxiway.engines.offline import upscaling
from taxiway.engines.png_encode import encode_png
from taxiway.errors import Failure


class PrecisionUpscaleEngine:
    name = "precision-upscale"

    def run(self, request: EngineRequest, context: RunContext) -> list[Artifact]:
        fields = request.fields
        try:
            with Image.open(io.BytesIO(request.asset(fields.required("image_uri")))) as opened:
                image = ImageOps.exif_transpose(opened).convert("RGB")
        except (OSError, ValueError, Image.DecompressionBombError) as error:
            raise Failure("ASSET.INVALID", "imageUri could not be decoded as an image") from error
        context.progress(0.05)
        scale = fields.scale_factor or 2
        pixels = np.asarray(image, np.uint8)
        flavor = fields.flavor or "photo"
        if flavor == "photo_denoiser":
            pixels = upscaling.denoise(pixels)
        elif flavor == "sublime":
            pixels = upscaling.flatten(pixels)
        context.progress(0.15)
        size = (image.width * scale, image.height * scale)
        upscaled, _neural = upscaling.super_resolve(pixels, size)
        context.progress(0.8)
        finished = upscaling.finish(
            upscaled,
            sharpen=float(fields.sharpen or 0),
            ultra_detail=float(fields.ultra_detail or 0),
            smart_grain=float(fields.smart_grain or 0),
            seed=request.seed,
        )
        context.progress(0.9)
        data = encode_png(finished)
        context.progress(1.0)
        return [Artifact("output.png", data, "image/png", pixels=size[0] * size[1])]
