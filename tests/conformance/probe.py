"""Probing outputs the way a client would: decode, measure, check the container."""

from __future__ import annotations

import io
from dataclasses import dataclass
from fractions import Fraction
from xml.etree import ElementTree

import av
import numpy as np
from PIL import Image


@dataclass(frozen=True)
class Probe:
    kind: str
    width: int
    height: int
    codec: str = ""
    pix_fmt: str = ""
    fps: Fraction = Fraction(0)
    frames: int = 0
    seconds: float = 0.0
    has_audio: bool = False


_IMAGE_KINDS = {"PNG": "png", "JPEG": "jpeg", "WEBP": "webp"}


def probe(data: bytes) -> Probe:
    if data.lstrip()[:4] == b"<svg":
        root = ElementTree.fromstring(data)
        return Probe("svg", int(root.attrib["width"]), int(root.attrib["height"]), pix_fmt="vector")
    try:
        image = Image.open(io.BytesIO(data))
    except OSError:
        image = None
    if image is not None and image.format in _IMAGE_KINDS:
        return Probe(_IMAGE_KINDS[image.format], image.width, image.height, pix_fmt=image.mode)
    with av.open(io.BytesIO(data)) as container:
        video = container.streams.video[0]
        frames = sum(1 for _ in container.decode(video=0))
        fps = Fraction(video.average_rate or 0)
        return Probe(
            kind=container.format.name,
            width=video.codec_context.width,
            height=video.codec_context.height,
            codec=video.codec_context.name,
            pix_fmt=video.codec_context.pix_fmt or "",
            fps=fps,
            frames=frames,
            seconds=frames / float(fps) if fps else 0.0,
            has_audio=bool(container.streams.audio),
        )


@dataclass(frozen=True)
class AudioProbe:
    kind: str
    codec: str
    rate: int
    channels: int
    seconds: float
    rms: float


def probe_audio(data: bytes) -> AudioProbe:
    """Decode every sample, as a player would: the length is what plays, not what a header claims."""
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.audio[0]
        context = stream.codec_context
        samples = [frame.to_ndarray().astype("float64").reshape(-1) for frame in container.decode(audio=0)]
        pcm = np.concatenate(samples) if samples else np.zeros(0)
        return AudioProbe(
            kind=container.format.name,
            codec=context.name,
            rate=context.sample_rate,
            channels=context.channels,
            seconds=len(pcm) / context.sample_rate / max(1, context.channels),
            rms=float(np.sqrt(np.mean(pcm**2))) if len(pcm) else 0.0,
        )
