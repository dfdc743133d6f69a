"""A procedural text-to-video engine: offline, CPU-only, deterministic for (model, ratio, seed, prompt).

Not a generative model. It animates the procedural image engine's scene so that text_to_video works end to
end without weights: the prompt is planned exactly as for stills (`plan_scene`: colour, sky and ground
words, a seeded palette otherwise), then painted once, at low resolution, as three layers wider than the
frame - the textured landscape, a cloud veil and the shapes. Each frame slides a sub-pixel window over
every layer at its own speed (parallax: the landscape drifts slowest, clouds fastest, shapes also bob) and
composites them at that low resolution; the encoder's scaler brings the frame to the output size. So
motion stays smooth and a frame costs a few C calls (~0.3 s of CPU per second of 720p video).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from PIL import Image

from taxiway.engines.base import Artifact, EngineRequest, RunContext
from taxiway.engines.offline.procedural_image import (
    RENDER_LONG_SIDE,
    Scene,
    _fbm,
    _mix,
    _smoothstep,
    apply_texture,
    generator_for,
    paint_background,
    plan_scene,
    rgba,
    shape_layer,
)
from taxiway.engines.offline.video_common import (
    audio_bed,
    clip_seconds,
    frame_size,
    frame_total,
    reference_size,
    render_video,
)
from taxiway.engines.offline.video_encode import FPS

DEFAULT_RATIO = "1280:720"
_CLOUD_OPACITY = 0.45


@dataclass(frozen=True)
class _Layer:
    image: Image.Image  # RGB for the backdrop, RGBA above it; low resolution, wider and taller than the view
    speed: float  # horizontal drift in view widths per second; the sign is the direction
    bob: float  # vertical sway amplitude as a fraction of the view height
    period: float  # seconds per sway

    def window(self, view: tuple[int, int], seconds: float) -> tuple[float, float, float, float]:
        """The sub-pixel box of the layer that the frame at `seconds` shows."""
        view_w, view_h = view
        slack_x = self.image.width - view_w
        travel = abs(self.speed) * view_w * seconds
        x0 = travel if self.speed > 0 else slack_x - travel
        y0 = self.bob * view_h * (1.0 + math.sin(2.0 * math.pi * seconds / self.period))
        return (x0, y0, x0 + view_w, y0 + view_h)


def _cloud_layer(scene: Scene, rng: np.random.Generator, height: int, width: int) -> Image.Image:
    """A soft veil of fractal noise, densest at the top of the sky and gone below the horizon."""
    density = _smoothstep(0.5, 0.78, _fbm(rng, height, width, 2, 4))
    ys = ((np.arange(height, dtype=np.float32) + 0.5) / height)[:, None]
    sky = np.clip(1.0 - ys / max(scene.horizon, 0.1), 0.0, 1.0) ** 0.7
    tone = np.asarray(_mix(scene.sky_bottom, (1.0, 1.0, 1.0), 0.55), np.float32) * min(scene.brightness, 1.0)
    colour = np.broadcast_to(tone, (height, width, 3))
    return rgba(colour, density * sky * _CLOUD_OPACITY)


def _plan_layers(
    scene: Scene, rng: np.random.Generator, view: tuple[int, int], seconds: float
) -> tuple[_Layer, ...]:
    view_w, view_h = view
    direction = 1.0 if rng.random() < 0.5 else -1.0
    base_speed = float(rng.uniform(0.008, 0.016)) * direction
    bob = 0.012
    sway = float(rng.uniform(5.0, 9.0))

    def size(speed: float, sway_amplitude: float) -> tuple[int, int]:
        return (
            math.ceil(view_w * (1.0 + abs(speed) * seconds)) + 2,
            math.ceil(view_h * (1.0 + 2.0 * sway_amplitude)) + 2,
        )

    bg_w, bg_h = size(base_speed, 0.0)
    backdrop = paint_background(scene, rng, bg_h, bg_w)
    apply_texture(scene, rng, backdrop)
    backdrop_image = Image.fromarray((np.clip(backdrop, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8), "RGB")

    cloud_speed = base_speed * 4.0
    clouds = _cloud_layer(scene, rng, *reversed(size(cloud_speed, 0.0)))
    shape_speed = base_speed * 2.5
    shapes = shape_layer(scene, rng, *reversed(size(shape_speed, bob)))
    return (
        _Layer(backdrop_image, base_speed, 0.0, 1.0),
        _Layer(clouds, cloud_speed, 0.0, 1.0),
        _Layer(shapes, shape_speed, bob, sway),
    )


def _frames(layers: tuple[_Layer, ...], view: tuple[int, int], count: int) -> Iterator[Image.Image]:
    """Composite at the render size; the encoder upscales. Sub-pixel windows keep the drift smooth."""
    backdrop, *overlays = layers
    for index in range(count):
        seconds = index / FPS
        frame = backdrop.image.resize(view, Image.Resampling.BILINEAR, box=backdrop.window(view, seconds))
        for layer in overlays:
            # RGBA resizing premultiplies alpha, so edges stay clean; the layer is its own paste mask.
            moved = layer.image.resize(view, Image.Resampling.BILINEAR, box=layer.window(view, seconds))
            frame.paste(moved, (0, 0), moved)
        yield frame


class ProceduralVideoEngine:
    """Procedural stand-in for text-to-video models; see the module docstring for what moves and why."""

    name = "procedural-video"

    def run(self, request: EngineRequest, context: RunContext) -> list[Artifact]:
        fields = request.fields
        ratio = fields.ratio or DEFAULT_RATIO
        prompt = fields.prompt_text or ""
        size = frame_size(request, reference_size(request), DEFAULT_RATIO)
        seconds = clip_seconds(fields.duration, request.model)
        count = frame_total(seconds)
        context.check_cancelled()

        rng = generator_for(request.model, ratio, request.seed, prompt)
        scene = plan_scene(prompt, rng)
        scale = min(1.0, RENDER_LONG_SIDE / max(size))
        view = (max(2, round(size[0] * scale)), max(2, round(size[1] * scale)))
        layers = _plan_layers(scene, rng, view, count / FPS)
        context.progress(0.1)
        audio = audio_bed(request, count / FPS, scene.brightness)
        return render_video(request, _frames(layers, view, count), size, count, context, audio=audio)
