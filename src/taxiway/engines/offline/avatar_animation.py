"""An avatar's face, animated by its voice: the reference image, animated procedurally. Not a generative
model. Realtime sessions (`realtime.avatar_video`) and avatar videos (`talking_avatar`) both draw with it.

Each frame is the reference image (cover-cropped to the output size) shifted by a slow, sub-percent
breathing bob and sway, with a soft dark ellipse over the mouth whose height follows the loudness of
the voice being played at that instant. The mouth sits at a fixed place in the frame (`FaceLayout`,
where a centred portrait has it), not at a detected landmark. Everything is a pure function of the
frame index and the voice level, so the same speech always renders the same frames.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw, ImageOps

RgbaArray = npt.NDArray[np.uint8]

SILENCE_DBFS = -50.0  # mouth closed at or below this level
FULL_OPEN_DBFS = -16.0  # mouth fully open at or above this level


@dataclass(frozen=True)
class FaceLayout:
    """Where the mouth is, as fractions of the frame (centre, width) and how far it opens (of height)."""

    mouth_x: float = 0.5
    mouth_y: float = 0.6
    mouth_width: float = 0.07
    mouth_open: float = 0.035
    bob: float = 0.006  # breathing: vertical travel, fraction of height
    sway: float = 0.004  # horizontal travel, fraction of width
    breath_seconds: float = 4.0
    sway_seconds: float = 7.0


def rms(samples: npt.NDArray[np.float32]) -> float:
    return float(np.sqrt(np.mean(np.square(samples, dtype=np.float64)))) if samples.size else 0.0


def openness_for(level: float) -> float:
    """Loudness (RMS of float samples) to mouth opening in [0, 1], linear in decibels."""
    if level <= 0.0:
        return 0.0
    dbfs = 20.0 * math.log10(level)
    return min(1.0, max(0.0, (dbfs - SILENCE_DBFS) / (FULL_OPEN_DBFS - SILENCE_DBFS)))


class MouthEnvelope:
    """Opens as fast as the voice rises, closes over a few frames, so syllables don't flicker."""

    def __init__(self, release: float = 0.55) -> None:
        self.release = release
        self.value = 0.0

    def update(self, level: float) -> float:
        target = openness_for(level)
        self.value = target if target >= self.value else max(target, self.value * self.release)
        if self.value < 0.02:
            self.value = 0.0  # shut, not a never-ending sliver
        return self.value


def drawn_portrait(width: int, height: int) -> Image.Image:
    """A drawn face for avatars without a reference image (presets), in the same layout."""
    image = Image.new("RGB", (width, height), (46, 52, 64))
    draw = ImageDraw.Draw(image)
    cx, cy = width / 2, height * 0.5
    fw, fh = height * 0.3, height * 0.4
    draw.ellipse((cx - fw, cy - fh, cx + fw, cy + fh), fill=(224, 184, 150))
    for side in (-1, 1):
        ex = cx + side * fw * 0.4
        draw.ellipse((ex - fw * 0.1, cy - fh * 0.25, ex + fw * 0.1, cy - fh * 0.12), fill=(40, 40, 48))
    draw.line((cx - fw * 0.28, cy + fh * 0.25, cx + fw * 0.28, cy + fh * 0.25), fill=(150, 80, 80), width=3)
    return image


class AvatarAnimator:
    def __init__(
        self,
        image: Image.Image | None,
        width: int,
        height: int,
        fps: float,
        layout: FaceLayout | None = None,
    ) -> None:
        if width % 2 or height % 2:
            raise ValueError("video size must be even (I420 encoding)")
        self.width, self.height, self.fps = width, height, fps
        self.layout = layout or FaceLayout()
        if image is None:
            image = drawn_portrait(width, height)
        fitted = ImageOps.fit(ImageOps.exif_transpose(image).convert("RGBA"), (width, height))
        self._margin_y = max(1, math.ceil(self.layout.bob * height))
        self._margin_x = max(1, math.ceil(self.layout.sway * width))
        pad = ((self._margin_y, self._margin_y), (self._margin_x, self._margin_x), (0, 0))
        self._padded: RgbaArray = np.pad(np.asarray(fitted, dtype=np.uint8), pad, mode="edge")

    def offset(self, index: int) -> tuple[int, int]:
        """The idle motion at frame `index`: (dx, dy) in pixels."""
        t = index / self.fps
        dy = round(self._margin_y * math.sin(2 * math.pi * t / self.layout.breath_seconds))
        dx = round(self._margin_x * math.sin(2 * math.pi * t / self.layout.sway_seconds))
        return dx, dy

    def mouth_box(self, index: int) -> tuple[int, int, int, int]:
        """The region the mouth may darken at frame `index` (x0, y0, x1, y1), for measuring it."""
        dx, dy = self.offset(index)
        cx = self.layout.mouth_x * self.width - dx
        cy = self.layout.mouth_y * self.height - dy
        rx = self.layout.mouth_width * self.width / 2
        ry = self.layout.mouth_open * self.height / 2
        return (
            max(0, math.floor(cx - rx)),
            max(0, math.floor(cy - ry)),
            min(self.width, math.ceil(cx + rx) + 1),
            min(self.height, math.ceil(cy + ry) + 1),
        )

    def render(self, index: int, openness: float) -> RgbaArray:
        """Frame `index` (height x width x 4, RGBA) with the mouth open by `openness` in [0, 1]."""
        dx, dy = self.offset(index)
        top, left = self._margin_y - dy, self._margin_x - dx
        frame = self._padded[top : top + self.height, left : left + self.width].copy()
        if openness > 0.0:
            self._draw_mouth(frame, index, openness)
        return frame

    def _draw_mouth(self, frame: RgbaArray, index: int, openness: float) -> None:
        x0, y0, x1, y1 = self.mouth_box(index)
        dx, dy = self.offset(index)
        cx = self.layout.mouth_x * self.width - dx
        cy = self.layout.mouth_y * self.height - dy
        rx = self.layout.mouth_width * self.width / 2 * (0.75 + 0.25 * openness)
        ry = max(0.5, self.layout.mouth_open * self.height / 2 * openness)
        ys, xs = np.mgrid[y0:y1, x0:x1].astype(np.float32)
        distance = ((xs - cx) / rx) ** 2 + ((ys - cy) / ry) ** 2
        mask = np.clip((1.0 - distance) * 2.5, 0.0, 1.0)[..., None] * 0.85
        region = frame[y0:y1, x0:x1, :3].astype(np.float32)
        inside = (30.0, 12.0, 14.0)  # the dark of an open mouth
        frame[y0:y1, x0:x1, :3] = (region * (1.0 - mask) + np.asarray(inside) * mask).astype(np.uint8)
