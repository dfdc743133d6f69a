"""A procedural vector engine: the still engine's scene as an SVG of gradients, paths and shapes.

Not a generative model. The prompt is planned exactly as for raster stills (`plan_scene`, with Recraft's
`backgroundColor` and `colors` hints), then drawn as vector primitives: a sky gradient, the sun or moon,
a ground silhouette whose ridge comes from the same seeded noise, and soft shapes as ellipses. The
document declares the requested width and height (and a matching viewBox), so it scales cleanly.
"""

from __future__ import annotations

import math
from xml.sax.saxutils import escape

import numpy as np

from taxiway.catalog import CATALOG, framing
from taxiway.engines.base import Artifact, EngineRequest, RunContext
from taxiway.engines.offline.procedural_image import Rgb, Scene, generator_for, plan_for

CONTENT_TYPE = "image/svg+xml"
_RIDGE_POINTS = 48


def _hex(colour: Rgb) -> str:
    return "#" + "".join(f"{round(min(1.0, max(0.0, c)) * 255):02x}" for c in colour)


def _gradient(name: str, top: Rgb, bottom: Rgb) -> str:
    return (
        f'<linearGradient id="{name}" x1="0" y1="0" x2="0" y2="1">'
        f'<stop offset="0" stop-color="{_hex(top)}"/><stop offset="1" stop-color="{_hex(bottom)}"/>'
        "</linearGradient>"
    )


def _ridge(rng: np.random.Generator, scene: Scene, width: int, height: int) -> str:
    """The ground's outline: a smooth random walk around the horizon, closed along the bottom edge."""
    knots = rng.uniform(-1.0, 1.0, 7)
    xs = np.linspace(0.0, 1.0, _RIDGE_POINTS)
    ys = scene.horizon + scene.hills * np.interp(xs, np.linspace(0.0, 1.0, len(knots)), knots)
    points = " ".join(f"{x * width:.1f},{y * height:.1f}" for x, y in zip(xs, ys, strict=True))
    return f"M0,{height} L{points} L{width},{height} Z"


def render_svg(request: EngineRequest, size: tuple[int, int]) -> str:
    width, height = size
    prompt = request.fields.prompt_text or ""
    rng = generator_for(request.model, f"{width}:{height}", request.seed, prompt)
    scene = plan_for(request, prompt, rng)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}">',
        f"<title>{escape(prompt[:200])}</title>",
        "<defs>",
        _gradient("sky", scene.sky_top, scene.sky_bottom),
        _gradient("ground", scene.ground_top, scene.ground_bottom),
        "</defs>",
        f'<rect width="{width}" height="{height}" fill="url(#sky)"/>',
    ]
    if scene.light is not None:
        radius = float(rng.uniform(0.05, 0.09)) * min(width, height)
        cx, cy = float(rng.uniform(0.2, 0.8)) * width, (scene.horizon - 0.12) * height
        fill = "#fff0b8" if scene.light == "sun" else "#eaf0ff"
        parts.append(f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="{radius:.1f}" fill="{fill}"/>')
    parts.append(f'<path d="{_ridge(rng, scene, width, height)}" fill="url(#ground)"/>')
    for index in range(int(rng.integers(3, 8))):
        colour = (
            scene.subject
            if index == 0 and scene.subject
            else scene.accents[int(rng.integers(0, len(scene.accents)))]
        )
        rx = float(rng.uniform(0.04, 0.18)) * width
        ry = rx * float(rng.uniform(0.6, 1.4))
        cx, cy = float(rng.uniform(0.1, 0.9)) * width, float(rng.uniform(0.15, 0.9)) * height
        angle = math.degrees(float(rng.uniform(0.0, math.pi)))
        opacity = 0.95 if index == 0 else float(rng.uniform(0.5, 0.9))
        parts.append(
            f'<ellipse cx="{cx:.1f}" cy="{cy:.1f}" rx="{rx:.1f}" ry="{ry:.1f}" fill="{_hex(colour)}" '
            f'fill-opacity="{opacity:.2f}" transform="rotate({angle:.1f} {cx:.1f} {cy:.1f})"/>'
        )
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


class ProceduralVectorEngine:
    """Procedural stand-in for vector models (recraft_v4_1_vector): one SVG per request."""

    name = "procedural-vector"

    def run(self, request: EngineRequest, context: RunContext) -> list[Artifact]:
        context.check_cancelled()
        spec = CATALOG[(request.endpoint, request.model)]
        svg = render_svg(request, framing.output_size(spec, request.params))
        context.progress(1.0)
        return [Artifact("output.svg", svg.encode(), CONTENT_TYPE)]
