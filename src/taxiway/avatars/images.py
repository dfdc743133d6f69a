"""What avatar processing makes of a reference image: the image the worker animates, and previews.

`optimize` crops and scales the image to the avatar video's frame (1088x704, the aspect Runway
recommends), keeping the upper middle where a face usually is; `none` keeps the image as it is.
The API shows only low-resolution previews (`referenceImageUri`, `processedImageUri`).
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

FRAME_SIZE = (1088, 704)
PREVIEW_MAX_SIDE = 512
MIN_SIDE = 64
MAX_PIXELS = 40_000_000


class ImageRejected(ValueError):
    """A reference image that cannot make an avatar; the text becomes the avatar's `failureReason`."""


@dataclass(frozen=True)
class AvatarImages:
    original: bytes  # as received, kept so a new `imageProcessing` can be applied later
    processed: bytes  # PNG, full size, for the worker
    processed_preview: bytes  # JPEG
    reference_preview: bytes  # JPEG


def _jpeg_preview(image: Image.Image) -> bytes:
    preview = image.copy()
    preview.thumbnail((PREVIEW_MAX_SIDE, PREVIEW_MAX_SIDE))
    buffer = io.BytesIO()
    preview.save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


def process(data: bytes, image_processing: str) -> AvatarImages:
    """Blocking (Pillow): run it in a thread."""
    try:
        with Image.open(io.BytesIO(data)) as opened:
            if opened.width * opened.height > MAX_PIXELS:
                raise ImageRejected(f"The reference image is too large (at most {MAX_PIXELS:,} pixels).")
            image = ImageOps.exif_transpose(opened).convert("RGB")
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError):
        raise ImageRejected("The reference image could not be decoded.") from None
    if min(image.size) < MIN_SIDE:
        width, height = image.size
        raise ImageRejected(
            f"The reference image is too small ({width}x{height});"
            f" each side must be at least {MIN_SIDE} pixels."
        )
    if image_processing == "none":
        processed = image
    else:
        processed = ImageOps.fit(image, FRAME_SIZE, Image.Resampling.LANCZOS, centering=(0.5, 0.4))
    buffer = io.BytesIO()
    processed.save(buffer, "PNG")
    return AvatarImages(
        original=data,
        processed=buffer.getvalue(),
        processed_preview=_jpeg_preview(processed),
        reference_preview=_jpeg_preview(image),
    )
