"""SDR to HDR upconvert (video_to_hdr, `ruby`): a real inverse tone mapping of the source's own pixels.

Each frame is decoded at 16 bits, linearised (BT.1886, gamma 2.4) and moved into BT.2020 primaries
(ITU-R BT.2087), then its luminance Y (relative to SDR peak white) is expanded into HDR display light:

    HDR(Y) = 203 * Y / W                                    for Y <= W
    HDR(Y) = 203 * Y / W + (1000 - 203 / W) * t ** 2        for Y >  W, t = (Y - W) / (1 - W)

W is SDR diffuse white, the 90% signal (BT.1886 light 0.777): it lands on BT.2408's HDR reference white,
203 cd/m², and everything below it keeps its proportions, so shadows, mid-tones and skin are the source's
contrast at HDR's reference level (an 18% grey card, 41% signal, lands at 31 cd/m²; BT.2408 puts it at 26).
The top 10% of the signal, where SDR grading and camera knees squeeze speculars, skies and lamps, is the
highlight range: a quadratic shoulder, joined with a matching slope (C1), expands it to the 1000 cd/m²
mastering peak at SDR 100%. This is the diffuse/specular split of Meylan, Daly and Süsstrunk (2006) with a
smooth join instead of their corner; like BT.2446 Method A's inverse, it expands luminance only and scales
the three channels together, which keeps each pixel's chromaticity: the source's colours. The curve is
convex, so no channel of a BT.709 colour exceeds the peak.

The frames keep the source's size (odd sides lose their last row or column: 4:2:0 needs even ones), frame
count and frame rate; the audio is the source's, resampled to 48 kHz. Alpha (ProRes 4444, VP8/VP9 WebM with
alpha, any codec FFmpeg decodes with one) passes through, straight, where the delivery has a plane for it.
ACEScg deliveries bring the 8-bit source into ACES through the inverse SDR Output Transform and multiply
that scene by each pixel's highlight gain (HDR(Y) over the diffuse line, 1 below W): through the ACES SDR
view the source comes back below W, its highlights a little brighter (greys within 7 code values, bright
colours paler), as the SDR tone scale renders the recovered range it cannot show. Already-HDR sources
(PQ or HLG) are refused: expanding them again would be wrong. 8-bit sources keep their code steps, which
the shoulder stretches: smooth highlight gradients may show contours that were invisible in SDR.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Generator, Iterator, Mapping
from dataclasses import dataclass, replace
from fractions import Fraction
from typing import Any

import av
import av.error
import numpy as np
import numpy.typing as npt
from av.video.frame import VideoFrame
from av.video.reformatter import Interpolation

from taxiway.catalog.video_models import MAX_HDR_INPUT_SECONDS, PRORES_DEFAULT_PROFILE
from taxiway.engines.base import Artifact, EngineRequest, RunContext
from taxiway.engines.offline.video_common import PROGRESS_EVERY
from taxiway.engines.offline.video_encode import (
    FPS,
    SAMPLE_RATE,
    FloatArray,
    InvalidMedia,
    probe_video,
    read_audio,
)
from taxiway.engines.offline.video_formats import (
    BT709_TO_BT2020,
    SDR_WHITE_NITS,
    HdrFrame,
    Linear,
    light_levels,
    wav_bytes,
    write_video,
)
from taxiway.errors import ASSET_INVALID, Failure

PEAK_NITS = 1000.0  # the HDR10 mastering display the writers declare, and HLG's nominal display
DIFFUSE_WHITE_SIGNAL = 0.9
DIFFUSE_WHITE = DIFFUSE_WHITE_SIGNAL**2.4  # BT.1886 light of SDR diffuse white, 1.0 = SDR peak
_DIFFUSE_GAIN = SDR_WHITE_NITS / DIFFUSE_WHITE  # cd/m² per unit of SDR light below diffuse white
_SHOULDER = PEAK_NITS - _DIFFUSE_GAIN  # what the shoulder adds at SDR peak
_LUMA = np.array([0.2627, 0.6780, 0.0593], np.float32)  # BT.2020 luminance of linear RGB
_TO_BT2020 = BT709_TO_BT2020.T.astype(np.float32)
_LINEAR16 = ((np.arange(65536) / 65535.0) ** 2.4).astype(np.float32)  # 16-bit code -> BT.1886 light
_PQ, _HLG = 16, 18  # AVColorTransferCharacteristic
_BT709, _BT601 = 1, 5  # AVColorSpace
_FULL_RANGE = 2  # AVCOL_RANGE_JPEG
# Y'CbCr matrices (Kr, Kb) by AVColorSpace: BT.709, FCC, BT.601 (470BG, 170M), SMPTE 240M, BT.2020.
_LUMA_WEIGHTS = {
    1: (0.2126, 0.0722), 4: (0.30, 0.11), 5: (0.299, 0.114), 6: (0.299, 0.114), 7: (0.212, 0.087),
    9: (0.2627, 0.0593), 10: (0.2627, 0.0593),
}  # fmt: skip
_EXACT = Interpolation.BILINEAR | Interpolation.ACCURATE_RND | Interpolation.BITEXACT
_ALPHA_DECODERS = {"vp8": "libvpx", "vp9": "libvpx-vp9"}  # FFmpeg's own VP8/VP9 decoders drop alpha
_ZIP_FORMATS = ("hdr_exr_sequence", "hdr_exr_acescg_sequence_1_3", "hdr_exr_acescg_sequence_2_0")


def expand(luminance: npt.NDArray[np.floating]) -> npt.NDArray[np.float64]:
    """SDR light (BT.1886, 1.0 = SDR peak white) to HDR display luminance in cd/m²; see the module doc."""
    light = np.clip(np.asarray(luminance, np.float64), 0.0, 1.0)
    over = np.clip((light - DIFFUSE_WHITE) / (1.0 - DIFFUSE_WHITE), 0.0, None)
    return np.asarray(light * _DIFFUSE_GAIN + _SHOULDER * over * over)


def upconvert(rgb: npt.NDArray[np.uint16], alpha: Linear | None = None) -> HdrFrame:
    """One decoded frame (16-bit BT.709 R'G'B', full range) as the HDR frame the writers take."""
    light = _LINEAR16[rgb] @ _TO_BT2020
    luminance = light @ _LUMA
    np.clip(luminance, 0.0, 1.0, out=luminance)
    over = np.clip((luminance - np.float32(DIFFUSE_WHITE)) / np.float32(1.0 - DIFFUSE_WHITE), 0.0, None)
    # HDR(Y) / (Y * 203 / W): the shoulder's gain over the diffuse line; Y > W wherever over > 0.
    gain = 1.0 + np.float32(_SHOULDER / _DIFFUSE_GAIN) * over * over / np.maximum(luminance, DIFFUSE_WHITE)
    light *= (gain * np.float32(1.0 / DIFFUSE_WHITE))[..., None]  # relative to 203 cd/m²
    source = ((rgb.astype(np.uint32) + 128) // 257).astype(np.uint8)
    return HdrFrame(light.astype(np.float32, copy=False), source, gain.astype(np.float32), alpha)


# ---- the source ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Source:
    data: bytes
    width: int
    height: int
    frames: int
    fps: Fraction
    codec: str
    pix_fmt: str
    alpha: bool
    has_audio: bool

    @property
    def size(self) -> tuple[int, int]:
        """The output's size: the source's, with odd sides one pixel shorter (4:2:0 needs even ones)."""
        return max(2, self.width - self.width % 2), max(2, self.height - self.height % 2)


def _invalid(field: str, reason: str) -> Failure:
    return Failure(ASSET_INVALID, f"{field}: {reason}")


def _decoder(stream: av.VideoStream) -> Any:
    """The stream's decoder; libvpx for VP8/VP9 that carry alpha, which FFmpeg's own would drop."""
    name = _ALPHA_DECODERS.get(stream.codec_context.name)
    if name is not None and stream.metadata.get("alpha_mode") == "1":
        context = av.CodecContext.create(name, "r")
        context.thread_count = 1
        return context
    stream.thread_type = "AUTO"  # decoders are bit-exact whatever their threading
    return stream.codec_context


def _decoded(data: bytes) -> Generator[VideoFrame, None, None]:
    with av.open(io.BytesIO(data), mode="r") as container:
        stream = container.streams.video[0]
        decoder = _decoder(stream)
        for packet in container.demux(stream):
            yield from decoder.decode(packet)


def open_source(data: bytes, field: str) -> Source:
    """Measure the source; ASSET.INVALID naming the field for what cannot be upconverted."""
    try:
        info = probe_video(data)
        with av.open(io.BytesIO(data), mode="r") as container:
            stream = container.streams.video[0]
            rate = stream.average_rate or stream.guessed_rate
            trc = stream.codec_context.color_trc
        first = next(_decoded(data), None)
    except (InvalidMedia, av.error.FFmpegError) as error:
        raise _invalid(field, "could not be decoded as a video") from error
    if first is None:
        raise _invalid(field, "the video stream has no frames")
    if trc in (_PQ, _HLG) or first.color_trc in (_PQ, _HLG):
        kind = "PQ" if _PQ in (trc, first.color_trc) else "HLG"
        raise _invalid(field, f"the video is HDR already ({kind}); video_to_hdr upconverts SDR video")
    if info.width < 2 or info.height < 2:
        raise _invalid(field, f"must be at least 2x2 pixels, got {info.width}x{info.height}")
    if info.duration > MAX_HDR_INPUT_SECONDS + 0.05:
        raise _invalid(
            field, f"must be at most {MAX_HDR_INPUT_SECONDS:g} seconds long, got {info.duration:.2f}"
        )
    fps = Fraction(rate).limit_denominator(1001) if rate else Fraction(FPS)
    alpha = any(component.is_alpha for component in first.format.components)
    return Source(
        data, info.width, info.height, max(1, info.frame_count), fps, info.codec, first.format.name, alpha,
        info.has_audio,
    )  # fmt: skip


def _rgb(
    frame: VideoFrame, alpha: bool, size: tuple[int, int]
) -> tuple[npt.NDArray[np.uint16], Linear | None]:
    """16-bit full-range R'G'B' (and straight alpha in [0, 1]) cropped to `size`.

    swscale only upsamples the chroma here (to 16-bit 4:4:4, codes shifted left); the Y'CbCr matrix and
    range are applied in floating point, because swscale's own conversion of 8-bit video lands about
    0.4% short of white, which the highlight shoulder would turn into 60 cd/m².
    """
    width, height = size
    if frame.format.is_rgb:
        pixels = frame.to_ndarray(format="rgba64le" if alpha else "rgb48le", interpolation=_EXACT, threads=1)
        pixels = np.asarray(pixels[:height, :width], np.uint16)
        coverage = pixels[..., 3].astype(np.float32) / np.float32(65535.0) if alpha else None
        return np.ascontiguousarray(pixels[..., :3]), coverage
    bits = frame.format.components[0].bits
    wide = frame.to_ndarray(
        format="yuva444p16le" if alpha else "yuv444p16le", interpolation=_EXACT, threads=1
    )
    planes = np.asarray(wide[:height, :width], np.float32)
    if frame.color_range == _FULL_RANGE or frame.format.name.startswith("yuvj"):
        top = float(((1 << bits) - 1) << (16 - bits))
        offset, scale = np.array([0.0, 32768.0, 32768.0]), np.full(3, 1.0 / top)
    else:  # limited range: black 16, white 235, chroma 16-240, in any bit depth shifted to 16 bits
        offset, scale = (
            np.array([16.0, 128.0, 128.0]) * 256.0,
            1.0 / (256.0 * np.array([219.0, 224.0, 224.0])),
        )
    default = _BT709 if frame.height >= 720 else _BT601  # untagged: HD or SD, as players guess
    kr, kb = _LUMA_WEIGHTS.get(frame.colorspace, _LUMA_WEIGHTS[default])
    kg = 1.0 - kr - kb
    to_rgb = np.array(  # R'G'B' from Y'CbCr (BT.601 / 709 / 2020 all share this form)
        [
            [1.0, 0.0, 2.0 - 2.0 * kr],
            [1.0, -kb * (2.0 - 2.0 * kb) / kg, -kr * (2.0 - 2.0 * kr) / kg],
            [1.0, 2.0 - 2.0 * kb, 0.0],
        ]
    )
    matrix = (to_rgb * scale[None, :] * 65535.0).T.astype(np.float32)
    values = (planes[..., :3] - offset.astype(np.float32)) @ matrix
    np.clip(values, 0.0, 65535.0, out=values)
    values += 0.5
    codes = values.astype(np.uint16)
    if not alpha:
        return codes, None
    alpha_bits = frame.format.components[-1].bits if frame.format.components[-1].is_alpha else 16
    coverage = planes[..., 3] / np.float32(((1 << alpha_bits) - 1) << (16 - alpha_bits))
    return codes, np.clip(coverage, 0.0, 1.0)


def hdr_frames(source: Source, field: str) -> Iterator[HdrFrame]:
    """Exactly `source.frames` frames (the container's count): a short stream holds its last frame."""
    last: HdrFrame | None = None
    decoded = _decoded(source.data)
    try:
        for _ in range(source.frames):
            frame = next(decoded, None)
            if frame is not None:
                last = upconvert(*_rgb(frame, source.alpha, source.size))
            if last is None:
                raise _invalid(field, "the video stream has no frames")
            yield last
    except (av.error.FFmpegError, ValueError) as error:
        raise _invalid(field, "could not be decoded as a video") from error
    finally:
        decoded.close()


def source_audio(source: Source, field: str) -> FloatArray | None:
    """The first audio track at 48 kHz, aligned with the picture's start; None without one."""
    if not source.has_audio:
        return None
    try:
        return read_audio(source.data)
    except InvalidMedia as error:
        raise _invalid(field, "the audio track could not be decoded") from error


# ---- the engine ---------------------------------------------------------------------------------------


@dataclass
class LightMeter:
    """MaxCLL and MaxFALL (CTA-861.3) of the frames that pass through it, in cd/m²."""

    max_cll: float = 0.0
    max_fall: float = 0.0

    def frames(self, frames: Iterator[HdrFrame]) -> Iterator[HdrFrame]:
        for frame in frames:
            peak, mean = light_levels(frame)
            self.max_cll, self.max_fall = max(self.max_cll, peak), max(self.max_fall, mean)
            yield frame


def provenance(
    request: EngineRequest, source: Source, output_format: str, meter: LightMeter, audio: bool
) -> bytes:
    """provenance.json: the delivery declares itself an upconvert of this source, and how it was made."""
    width, height = source.size
    body: Mapping[str, Any] = {
        "upconvert": "SDR to HDR",
        "model": request.model,
        "engine": InverseToneMapEngine.name,
        "taskId": request.task_id,
        "statement": "An upconvert of the source's own pixels: their light is expanded into HDR; "
        "nothing is re-synthesized.",
        "source": {
            "width": source.width,
            "height": source.height,
            "frames": source.frames,
            "frameRate": str(source.fps),
            "codec": source.codec,
            "pixelFormat": source.pix_fmt,
            "assumed": "BT.709 primaries, BT.1886 (gamma 2.4) SDR",
            "alpha": source.alpha,
            "audio": source.has_audio,
        },
        "inverseToneMapping": {
            "curve": "linear to SDR diffuse white, then a C1 quadratic highlight shoulder to the peak",
            "appliedTo": "luminance (BT.2020), the three channels scaled together: chromaticity kept",
            "sdrDiffuseWhiteSignal": DIFFUSE_WHITE_SIGNAL,
            "referenceWhiteNits": SDR_WHITE_NITS,
            "peakNits": PEAK_NITS,
            "references": ["ITU-R BT.2408", "ITU-R BT.1886", "ITU-R BT.2087", "ITU-R BT.2446"],
        },
        "output": {
            "outputFormat": output_format,
            "width": width,
            "height": height,
            "frames": source.frames,
            "maxCLL": math.ceil(meter.max_cll),
            "maxFALL": math.ceil(meter.max_fall),
            "alpha": source.alpha,
            "audio": "audio.wav" if audio else None,
        },
    }
    return (json.dumps(body, indent=2) + "\n").encode()


class InverseToneMapEngine:
    """Stand-in for Ruby; see the module docstring."""

    name = "inverse-tone-map"

    def run(self, request: EngineRequest, context: RunContext) -> list[Artifact]:
        context.check_cancelled()
        field = "videoUri"
        source = open_source(request.asset(request.fields.video_uri or ""), field)
        output_format = request.fields.output_format or "hdr10"
        profile = request.fields.prores_profile or PRORES_DEFAULT_PROFILE.get(output_format)
        if source.alpha and output_format == "hdr_prores":
            profile = "4444"  # the only tier with an alpha plane
        audio = source_audio(source, field)
        context.progress(0.05)
        meter = LightMeter()
        start = 0.05
        if output_format == "hdr10":  # HDR10 declares MaxCLL / MaxFALL up front: measure first
            for index, _frame in enumerate(meter.frames(hdr_frames(source, field))):
                if index % PROGRESS_EVERY == 0:
                    context.progress(start + 0.3 * index / source.frames)
            start = 0.35

        def on_step(done: int, total: int) -> None:
            if done % PROGRESS_EVERY == 0 or done == total:
                context.progress(start + (0.99 - start) * done / total)

        zipped = output_format in _ZIP_FORMATS
        frames = (
            hdr_frames(source, field) if output_format == "hdr10" else meter.frames(hdr_frames(source, field))
        )

        def sidecars() -> Mapping[str, bytes]:
            files = {"provenance.json": provenance(request, source, output_format, meter, audio is not None)}
            if audio is not None:  # as long as the picture, like the movies' tracks
                total = source.frames * SAMPLE_RATE * source.fps.denominator // source.fps.numerator
                track = np.zeros((audio.shape[0], total), np.float32)
                track[:, : min(total, audio.shape[1])] = audio[:, :total]
                files["audio.wav"] = wav_bytes(track, SAMPLE_RATE)
            return files

        width, height = source.size
        artifacts = write_video(
            frames,
            width,
            height,
            source.frames,
            output_format=output_format,
            prores_profile=None if profile is None else str(profile),
            audio=None if zipped else audio,
            on_step=on_step,
            fps=source.fps,
            alpha=source.alpha,
            light_levels=(meter.max_cll, meter.max_fall) if output_format == "hdr10" else None,
            sidecars=sidecars if zipped else None,
        )
        context.progress(1.0)
        # Priced on the source's size (an upconvert keeps it), not the even-sided output's.
        return [replace(artifact, pixels=source.width * source.height) for artifact in artifacts]
