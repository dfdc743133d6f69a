"""Workflow definitions the tests publish: small media, every kind of node and edge."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

# Two stills made side by side from one prompt, then a clip that moves from the first to the second.
KEYFRAMES: dict[str, Any] = {
    "name": "Keyframe teaser",
    "description": "Two stills from one prompt, animated from the first to the second.",
    "graph": {
        "version": 1,
        "nodes": [
            {
                "id": "prompt",
                "type": "input",
                "name": "Prompt",
                "outputs": {"text": {"type": "primitive", "value": "a lighthouse at dusk"}},
            },
            {
                "id": "first",
                "type": "generation",
                "name": "First frame",
                "endpoint": "text_to_image",
                "inputs": {"model": "gen4_image", "ratio": "1024:1024"},
            },
            {
                "id": "last",
                "type": "generation",
                "name": "Last frame",
                "endpoint": "text_to_image",
                "inputs": {"model": "gen4_image", "ratio": "1024:1024", "seed": 7},
            },
            {
                "id": "clip",
                "type": "generation",
                "name": "Clip",
                "endpoint": "image_to_video",
                "inputs": {
                    "model": "seedance2",
                    "ratio": "640:640",
                    "duration": 4,
                    "promptImage": [{"position": "first"}, {"position": "last"}],
                },
            },
        ],
        "edges": [
            {"source": "prompt", "sourceOutput": "text", "target": "first", "targetInput": "promptText"},
            {"source": "prompt", "sourceOutput": "text", "target": "last", "targetInput": "promptText"},
            {"source": "prompt", "sourceOutput": "text", "target": "clip", "targetInput": "promptText"},
            {
                "source": "first",
                "sourceOutput": "image",
                "target": "clip",
                "targetInput": "promptImage[0].uri",
            },
            {
                "source": "last",
                "sourceOutput": "image",
                "target": "clip",
                "targetInput": "promptImage[1].uri",
            },
        ],
    },
}
# gen4_image at 1024:1024 is 8 credits; seedance2 36 credits/s for 4 s.
KEYFRAMES_COST = 8 + 8 + 36 * 4

# A still that succeeds beside a clip whose input image cannot be fetched, and a node that takes the
# failed clip: the run succeeds (the still is a final node) and lists the other two in nodeErrors.
PARTIAL: dict[str, Any] = {
    "name": "Partly broken",
    "graph": {
        "version": 1,
        "nodes": [
            {
                "id": "photo",
                "type": "input",
                "outputs": {"image": {"type": "image", "uri": "https://unreachable.invalid/photo.png"}},
            },
            {
                "id": "still",
                "type": "generation",
                "name": "Still",
                "endpoint": "text_to_image",
                "inputs": {"model": "gen4_image", "ratio": "720:720", "promptText": "a quiet harbour"},
            },
            {
                "id": "move",
                "type": "generation",
                "name": "Move",
                "endpoint": "image_to_video",
                "inputs": {"model": "gen4_turbo", "ratio": "960:960", "duration": 2},
            },
            {
                "id": "grade",
                "type": "generation",
                "endpoint": "video_upscale",
                "inputs": {"model": "upscale_v1"},
            },
        ],
        "edges": [
            {"source": "photo", "sourceOutput": "image", "target": "move", "targetInput": "promptImage"},
            {"source": "move", "sourceOutput": "video", "target": "grade", "targetInput": "videoUri"},
        ],
    },
}

# One still, then a short move over it: the smallest run with a node that waits for another.
STILL_AND_MOVE: dict[str, Any] = {
    "name": "Still and move",
    "graph": {
        "version": 1,
        "nodes": [
            {
                "id": "still",
                "type": "generation",
                "endpoint": "text_to_image",
                "inputs": {"model": "gen4_image", "ratio": "720:720", "promptText": "a quiet harbour"},
            },
            {
                "id": "move",
                "type": "generation",
                "endpoint": "image_to_video",
                "inputs": {"model": "gen4_turbo", "ratio": "960:960", "duration": 2, "promptText": "zoom in"},
            },
        ],
        "edges": [
            {"source": "still", "sourceOutput": "image", "target": "move", "targetInput": "promptImage"}
        ],
    },
}
STILL_AND_MOVE_COST = 5 + 5 * 2


def write(directory: Path, definition: dict[str, Any], name: str = "workflow.json") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(json.dumps(definition))
    return path
