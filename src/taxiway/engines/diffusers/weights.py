"""Which local diffusers folder serves which model, and whether it is usable; importable without torch.

`TAXIWAY_WEIGHTS` maps a model id, or `endpoint/model` where one id serves two endpoints (gen4.5 text- and
image-to-video), to a folder written by `save_pretrained`, or to an object that also fixes the sampler
settings the folder cannot tell (FLUX.1-schnell wants 4 steps, not the pipeline's default 28).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from taxiway.config import WeightsConfig, WeightsEntry

IMAGE_ENGINE = "diffusers-image"
VIDEO_ENGINE = "diffusers-video"
ENGINE_NAMES = (IMAGE_ENGINE, VIDEO_ENGINE)
STATE_FILE = "diffusers-state.json"  # in the data dir, written by the server's engines


class Kind(StrEnum):
    IMAGE = "image"
    VIDEO = "video"


@dataclass(frozen=True)
class Family:
    """What taxiway needs to know about a pipeline class beyond its call signature."""

    kind: Kind
    takes_first_frame: bool = False  # image-to-video: `image` is the first frame
    takes_last_frame: bool = False  # keyframe pipelines: the last frame too
    takes_reference: bool = False  # image pipelines conditioned on an image (`referenceImages`)
    fps: int = 0  # the rate the model was trained at (videos)
    frame_step: int = 1  # frame counts must be 1 more than a multiple of this (the VAE's time stride)


FAMILIES: Mapping[str, Family] = {
    "FluxPipeline": Family(Kind.IMAGE),
    "FluxKontextPipeline": Family(Kind.IMAGE, takes_reference=True),
    "StableDiffusion3Pipeline": Family(Kind.IMAGE),
    "StableDiffusionXLPipeline": Family(Kind.IMAGE),
    "WanPipeline": Family(Kind.VIDEO, fps=16, frame_step=4),
    "WanImageToVideoPipeline": Family(
        Kind.VIDEO, takes_first_frame=True, takes_last_frame=True, fps=16, frame_step=4
    ),
    "LTXPipeline": Family(Kind.VIDEO, fps=24, frame_step=8),
    "LTXImageToVideoPipeline": Family(Kind.VIDEO, takes_first_frame=True, fps=24, frame_step=8),
    # Conditions at any frame index: text-only, first frame, or first and last keyframes.
    "LTXConditionPipeline": Family(
        Kind.VIDEO, takes_first_frame=True, takes_last_frame=True, fps=24, frame_step=8
    ),
}


def entry(value: Path | WeightsEntry) -> WeightsEntry:
    return value if isinstance(value, WeightsEntry) else WeightsEntry(path=value)


def lookup(weights: WeightsConfig, endpoint: str, model: str) -> WeightsEntry | None:
    """`endpoint/model` wins over `model`, so gen4.5 can use a T2V folder and an I2V folder."""
    value = weights.get(f"{endpoint}/{model}", weights.get(model))
    return None if value is None else entry(value)


class WeightsUnavailable(Exception):
    """The folder is missing, unreadable or not a supported diffusers pipeline."""


@dataclass(frozen=True)
class FolderInfo:
    path: Path
    class_name: str
    family: Family


def inspect_folder(path: Path) -> FolderInfo:
    """Read `model_index.json`; raises WeightsUnavailable with a reason an operator can act on."""
    index = path / "model_index.json"
    try:
        document = json.loads(index.read_text(encoding="utf-8"))
    except FileNotFoundError:
        reason = "is missing" if not path.exists() else "has no model_index.json"
        raise WeightsUnavailable(f"weights folder {path} {reason}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise WeightsUnavailable(f"weights folder {path} is unreadable: {error}") from None
    class_name = document.get("_class_name") if isinstance(document, dict) else None
    if not isinstance(class_name, str) or class_name not in FAMILIES:
        raise WeightsUnavailable(
            f"weights folder {path} holds {class_name!r}; supported pipelines: {', '.join(FAMILIES)}"
        )
    return FolderInfo(path, class_name, FAMILIES[class_name])


def _keys(weights: WeightsConfig, model: str) -> Iterator[str]:
    yield from (key for key in weights if key == model or key.endswith(f"/{model}"))


def startup_problems(engines: Mapping[str, str], weights: WeightsConfig) -> list[str]:
    """Configuration mistakes worth a warning at start-up: those models' tasks would fail."""
    problems = []
    for model, engine in sorted(engines.items()):
        if engine not in ENGINE_NAMES:
            continue
        keys = list(_keys(weights, model))
        if not keys:
            problems.append(f"model {model} is served by {engine} but TAXIWAY_WEIGHTS has no folder for it")
        for key in keys:
            try:
                info = inspect_folder(entry(weights[key]).path)
            except WeightsUnavailable as error:
                problems.append(f"model {key}: {error}; its tasks will fail")
                continue
            wanted = Kind.IMAGE if engine == IMAGE_ENGINE else Kind.VIDEO
            if info.family.kind is not wanted:
                problems.append(f"model {key}: {info.class_name} makes {info.family.kind}s, not {wanted}s")
    for key in sorted(weights):
        model = key.rpartition("/")[2]
        if engines.get(model) not in ENGINE_NAMES:
            problems.append(f"TAXIWAY_WEIGHTS names {key}, but no diffusers engine serves {model}")
    return problems


def describe(weights: WeightsConfig, endpoint: str, model: str, engine: str, state_file: Path) -> str:
    """`taxiway models`: the folder serving a diffusers model, whether it is there, and whether a running
    server holds it resident (and warm: compiled graphs built, first-run costs paid)."""
    if engine not in ENGINE_NAMES:
        return ""
    chosen = lookup(weights, endpoint, model)
    if chosen is None:
        return "not configured"
    try:
        state = inspect_folder(chosen.path).class_name
    except WeightsUnavailable:
        return f"{chosen.path} (missing)" if not chosen.path.exists() else f"{chosen.path} (unusable)"
    resident = read_state(state_file).get(str(chosen.path))
    if resident is not None:
        state += (
            ", resident"
            + ", warming up" * bool(resident.get("warming"))
            + ", warm" * bool(resident.get("warm"))
            + ", compiled" * bool(resident.get("compiled"))
        )
        accelerations = resident.get("accelerations")
        if isinstance(accelerations, list) and accelerations:
            state += "; " + ", ".join(str(item) for item in accelerations)
    return f"{chosen.path} ({state})"


def read_state(state_file: Path) -> Mapping[str, Mapping[str, object]]:
    """Folders a running server holds resident (written by the engines), or nothing when none runs."""
    try:
        document = json.loads(state_file.read_text(encoding="utf-8"))
        os.kill(int(document["pid"]), 0)  # a file left by a stopped server says nothing
    except (OSError, ValueError, KeyError, TypeError):
        return {}
    resident = document.get("resident")
    return resident if isinstance(resident, dict) else {}
