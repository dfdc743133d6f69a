"""Writers for every video `outputFormat`: the engines' 8-bit frames as MP4, MOV or a zip of frames.

Engines render 8-bit BT.709 SDR frames of any size with the output's aspect; `write_video` writes them as

| format | file | picture |
|---|---|---|
| mp4 | .mp4 | H.264 8-bit 4:2:0, BT.709 (`video_encode.encode_mp4`) |
| prores | .mov | ProRes 10-bit: 422 Proxy/LT/422/HQ at 4:2:2, 4444 and 4444 XQ at 4:4:4; BT.709 |
| png_sequence | .zip | 8-bit RGB PNG frames |
| sdr_rec709_10bit | .mp4 | HEVC Main 10 4:2:0, BT.709 |
| hdr10 | .mp4 | HEVC Main 10 4:2:0, BT.2020 + PQ, HDR10 mastering-display SEI |
| hlg | .mp4 | HEVC Main 10 4:2:0, BT.2020 + HLG |
| hdr_pq_12bit_master | .mov | HEVC 12-bit 4:4:4, BT.2020 + PQ, SEI with the measured MaxCLL / MaxFALL |
| hdr_prores | .mov | ProRes 422, 422 HQ or 4444 (10-bit), BT.2020 + PQ |
| hdr_png_sequence | .zip | 16-bit RGB PNG frames of the PQ signal (cICP chunk) + colorimetry.json |
| hdr_exr_sequence | .zip | half-float EXR, linear BT.2020 display light, 1.0 = 100 cd/m² + colorimetry.json |
| hdr_exr_acescg_sequence_* | .zip | half-float EXR, scene-referred ACEScg, frame.0001.exr, colorimetry.json |

SDR enters HDR the way ITU-R BT.2408 maps SDR into an HDR programme (display-referred): BT.1886 (gamma 2.4)
to linear light, BT.709 to BT.2020 primaries, SDR 100% at the HDR reference white of 203 cd/m² (PQ 58%,
HLG 75% for a 1000 cd/m² display). An HDR delivery of SDR frames therefore looks like them, not brighter.
The MP4s carry audio as AAC and the MOVs as 24-bit PCM; a zip of frames comes with a separate WAV.

An upconvert (video_to_hdr) hands over `HdrFrame`s instead: frames already in HDR, which the HDR formats write
as they are (no BT.2408 placement), at the source's frame rate, with its alpha plane where the format has one
(4444 ProRes, EXR); its measured MaxCLL / MaxFALL go into HEVC PQ streams without a spooled first pass.

The two ACEScg deliveries are not display light but the scene that the ACES 1.3 or 2.0 SDR Rec.709 Output
Transform renders onto the SDR frames (its inverse, through OpenColorIO; see `aces`), so an ACES pipeline's
stock `ACES - ACEScg` input and SDR view show the frames as they are; colorimetry.json names the transform.

Like `encode_mp4`, every encoder runs on one thread, so a task costs about one core, and output bytes are
the same for the same frames.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import struct
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import Enum
from fractions import Fraction
from typing import IO, Any

import av
import numpy as np
import numpy.typing as npt
from av.audio.stream import AudioStream
from av.video.codeccontext import VideoCodecContext
from av.video.frame import VideoFrame
from av.video.reformatter import Interpolation
from av.video.stream import VideoStream
from PIL import Image

from taxiway.engines.base import Artifact
from taxiway.engines.exr_encode import encode_exr
from taxiway.engines.offline.aces import ACES_1_3, ACES_2_0, ACESCG_CHROMATICITIES, AcesOutput, scene_acescg
from taxiway.engines.offline.aces import colorimetry as aces_colorimetry
from taxiway.engines.offline.video_encode import FPS, SAMPLE_RATE, FloatArray, Frame, audio_frames, encode_mp4

# (done, total) steps of the writer's work; two-pass formats count every frame twice.
StepCallback = Callable[[int, int], None]
Pixels = npt.NDArray[np.uint8]
Wide = npt.NDArray[np.uint16]
Linear = npt.NDArray[np.float32]

SDR_WHITE_NITS = 203.0  # ITU-R BT.2408: HDR reference white, where SDR 100% goes
HLG_DISPLAY_NITS = 1000.0  # the nominal HLG display for the inverse OOTF (BT.2100, gamma 1.2)
EXR_UNIT_NITS = 100.0  # EXR deliveries: 1.0 = 100 cd/m²
PNG_LEVEL = "1"  # zlib level for PNG frames: level 6 takes three times as long for 15% fewer bytes
# Notional HDR10 mastering display: P3-D65, 1000 / 0.0001 cd/m², the common grading-monitor declaration.
MASTER_DISPLAY = "G(13250,34500)B(7500,3000)R(34000,16000)WP(15635,16450)L(10000000,1)"
X265_PRESET = "superfast"
X265_BASE = "pools=none:frame-threads=1:info=0:log-level=error"  # one thread, no version-string SEI

# FFmpeg's AVColorPrimaries / AVColorTransferCharacteristic / AVColorSpace / AVColorRange values.
_PRI_BT709, _PRI_BT2020 = 1, 9
_TRC_BT709, _TRC_PQ, _TRC_HLG = 1, 16, 18
_SPC_RGB, _SPC_BT709, _SPC_BT2020 = 0, 1, 9
_RANGE_LIMITED, _RANGE_FULL = 1, 2

_PRORES = {
    "422 Proxy": "proxy",
    "422 LT": "lt",
    "422": "standard",
    "422 HQ": "hq",
    "4444": "4444",
    "4444 XQ": "4444xq",
}


class Signal(Enum):
    """What the pixel values mean once written."""

    SDR = "sdr"  # BT.709, BT.1886: the engines' own frames at a higher or equal bit depth
    PQ = "pq"  # BT.2020 + SMPTE ST 2084
    HLG = "hlg"  # BT.2020 + ARIB STD-B67
    LINEAR = "linear"  # linear BT.2020 display light, 1.0 = 100 cd/m²
    ACESCG = "acescg"  # scene-referred ACEScg, through an inverse ACES Output Transform


@dataclass(frozen=True)
class Colour:
    primaries: int
    transfer: int
    matrix: int


_COLOUR = {
    Signal.SDR: Colour(_PRI_BT709, _TRC_BT709, _SPC_BT709),
    Signal.PQ: Colour(_PRI_BT2020, _TRC_PQ, _SPC_BT2020),
    Signal.HLG: Colour(_PRI_BT2020, _TRC_HLG, _SPC_BT2020),
}


@dataclass(frozen=True)
class MovieFormat:
    """A video stream in a container: HEVC or ProRes, in .mp4 or .mov."""

    container: str
    codec: str
    pix_fmt: str
    signal: Signal
    options: Mapping[str, str] = field(default_factory=dict)
    # Measure MaxCLL / MaxFALL first (a pass over spooled frames) and declare them in the stream.
    measure_light: bool = False

    @property
    def content_type(self) -> str:
        return "video/mp4" if self.container == "mp4" else "video/quicktime"


@dataclass(frozen=True)
class FrameSequence:
    """A zip of still frames (PNG through FFmpeg, EXR through `encode_exr`), numbered from 1."""

    codec: str
    signal: Signal
    pattern: str
    colorimetry: Mapping[str, Any] | None = None  # the colorimetry.json sidecar, where there is one
    aces: AcesOutput | None = None  # for ACEScg: the output transform whose inverse makes the scene
    alpha: bool = False  # EXR frames with an A channel

    @property
    def pix_fmt(self) -> str:
        return "rgb24" if self.signal is Signal.SDR else "rgb48be"


@dataclass(frozen=True)
class HdrFrame:
    """A frame already in HDR, as an SDR-to-HDR upconvert makes it, at the output's size.

    `light` is linear BT.2020 display light relative to HDR reference white (1.0 = 203 cd/m², the scale
    `linear_bt2020` gives SDR frames). ACEScg deliveries cannot use display light: they take the 8-bit
    BT.709 `source` through the inverse ACES Output Transform and multiply the scene by `gain`, the
    highlight gain the upconvert gave each pixel (1 where it kept the source's tone). `alpha` is straight
    (not premultiplied) coverage in [0, 1], or None.
    """

    light: Linear
    source: Pixels
    gain: Linear
    alpha: Linear | None = None


AnyFrame = Frame | HdrFrame


def _x265(crf: int, extra: str = "") -> dict[str, str]:
    return {"preset": X265_PRESET, "crf": str(crf), "x265-params": X265_BASE + extra}


def _prores(profile: str, signal: Signal, alpha: bool = False) -> MovieFormat:
    if profile not in _PRORES:
        raise ValueError(f"unknown ProRes profile {profile!r}")
    if alpha and not profile.startswith("4444"):
        raise ValueError(f"ProRes {profile} has no alpha plane")
    pix_fmt = ("yuva444p10le" if alpha else "yuv444p10le") if profile.startswith("4444") else "yuv422p10le"
    return MovieFormat("mov", "prores_ks", pix_fmt, signal, {"profile": _PRORES[profile]})


_PQ_COLORIMETRY = {
    "colorPrimaries": "bt2020",
    "whitePoint": "D65",
    "transferCharacteristics": "smpte2084",
    "signal": "full-range 16-bit R'G'B' (0-65535), PQ code values",
    "sdrReferenceWhiteNits": SDR_WHITE_NITS,
    "cicp": {"colourPrimaries": 9, "transferCharacteristics": 16, "matrixCoefficients": 0, "fullRange": True},
}
_LINEAR_COLORIMETRY = {
    "colorPrimaries": "bt2020",
    "whitePoint": "D65",
    "transferCharacteristics": "linear",
    "signal": "display-referred linear light, half float",
    "nitsPerUnit": EXR_UNIT_NITS,
    "sdrReferenceWhiteNits": SDR_WHITE_NITS,
}
_ACES = {"hdr_exr_acescg_sequence_1_3": ACES_1_3, "hdr_exr_acescg_sequence_2_0": ACES_2_0}


def _format(name: str, prores_profile: str | None, alpha: bool = False) -> MovieFormat | FrameSequence | None:
    """The writer for `name`; None for mp4, which `encode_mp4` writes. `alpha` asks for an alpha plane
    where the format has one (4444 ProRes, EXR frames); the others deliver the picture without it."""
    if name == "mp4":
        return None
    if name in ("prores", "hdr_prores"):
        if prores_profile is None:
            raise ValueError(f"{name} needs a ProRes profile")
        return _prores(prores_profile, Signal.SDR if name == "prores" else Signal.PQ, alpha)
    if name == "sdr_rec709_10bit":
        return MovieFormat("mp4", "libx265", "yuv420p10le", Signal.SDR, _x265(18))
    if name == "hdr10":
        return MovieFormat(
            "mp4", "libx265", "yuv420p10le", Signal.PQ, _x265(18, f":master-display={MASTER_DISPLAY}")
        )
    if name == "hlg":
        return MovieFormat("mp4", "libx265", "yuv420p10le", Signal.HLG, _x265(18))
    if name == "hdr_pq_12bit_master":
        return MovieFormat("mov", "libx265", "yuv444p12le", Signal.PQ, _x265(12), measure_light=True)
    if name == "png_sequence":
        return FrameSequence("png", Signal.SDR, "frame_{:04d}.png")
    if name == "hdr_png_sequence":
        return FrameSequence("png", Signal.PQ, "frame_{:04d}.png", _PQ_COLORIMETRY)
    if name == "hdr_exr_sequence":
        return FrameSequence("exr", Signal.LINEAR, "frame_{:04d}.exr", _LINEAR_COLORIMETRY, alpha=alpha)
    if name in _ACES:
        aces = _ACES[name]
        return FrameSequence(
            "exr", Signal.ACESCG, "frame.{:04d}.exr", aces_colorimetry(aces), aces, alpha=alpha
        )
    raise ValueError(f"unknown output format {name!r}")


# ---- colour -------------------------------------------------------------------------------------------

Matrix = npt.NDArray[np.float64]
_D65 = (0.3127, 0.3290)
_BT709_RGB = ((0.64, 0.33), (0.30, 0.60), (0.15, 0.06))
_BT2020_RGB = ((0.708, 0.292), (0.170, 0.797), (0.131, 0.046))


def _xyz(x: float, y: float) -> Matrix:
    return np.array([x / y, 1.0, (1.0 - x - y) / y])


def _rgb_to_xyz(primaries: tuple[tuple[float, float], ...], white: tuple[float, float]) -> Matrix:
    columns = np.stack([_xyz(*p) for p in primaries], axis=1)
    return columns * np.linalg.solve(columns, _xyz(*white))


_BT709_TO_XYZ = _rgb_to_xyz(_BT709_RGB, _D65)
BT709_TO_BT2020 = np.linalg.solve(_rgb_to_xyz(_BT2020_RGB, _D65), _BT709_TO_XYZ)
_BT2020_LUMA = np.array([0.2627, 0.6780, 0.0593])

_BT1886 = ((np.arange(256) / 255.0) ** 2.4).astype(np.float32)  # 8-bit code -> relative linear light
_LUT_SIZE = 65536  # tables indexed by sqrt(linear): fine steps in the shadows, where PQ and HLG are steep


def pq_encode(nits: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """SMPTE ST 2084 inverse EOTF: absolute luminance (cd/m²) to a PQ signal in [0, 1]."""
    m1, m2 = 2610 / 16384, 2523 / 4096 * 128
    c1, c2, c3 = 3424 / 4096, 2413 / 4096 * 32, 2392 / 4096 * 32
    y = np.power(np.clip(nits / 10000.0, 0.0, 1.0), m1)
    return np.asarray(np.power((c1 + c2 * y) / (1.0 + c3 * y), m2))


def hlg_encode(scene: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """ARIB STD-B67 / BT.2100 HLG OETF: normalised scene light [0, 1] to an HLG signal."""
    a, b, c = 0.17883277, 1.0 - 4 * 0.17883277, 0.5 - 0.17883277 * math.log(4 * 0.17883277)
    scene = np.clip(scene, 0.0, 1.0)
    low = np.sqrt(3.0 * scene)
    high = a * np.log(np.maximum(12.0 * scene - b, 1e-12)) + c
    return np.asarray(np.where(scene <= 1.0 / 12.0, low, high))


def _table(
    encode: Callable[[npt.NDArray[np.float64]], npt.NDArray[np.float64]], size: int = _LUT_SIZE
) -> Wide:
    relative = np.square(np.linspace(0.0, 1.0, size))
    return np.round(np.clip(encode(relative), 0.0, 1.0) * 65535.0).astype(np.uint16)


_PQ_TABLE = _table(lambda x: pq_encode(x * SDR_WHITE_NITS))
_HLG_TABLE = _table(hlg_encode)
# HDR frames reach past SDR white: their PQ table spans all of PQ (10,000 cd/m²), four times as finely.
_PQ_PEAK_NITS = 10000.0
_PQ_FULL_TABLE = _table(lambda x: pq_encode(x * _PQ_PEAK_NITS), 4 * _LUT_SIZE)


def _lookup(values: Linear, table: Wide) -> Wide:
    index = np.sqrt(np.clip(values, 0.0, 1.0, out=values), out=values)
    index *= len(table) - 1
    index += 0.5
    return table[index.astype(np.uint32)]


def linear_bt2020(rgb: Pixels) -> Linear:
    """SDR code values to linear BT.2020 light relative to SDR white (1.0 = 203 cd/m² in HDR)."""
    return _BT1886[rgb] @ BT709_TO_BT2020.T.astype(np.float32)


def hdr_code_values(rgb: Pixels | HdrFrame, signal: Signal) -> Wide:
    """The PQ or HLG rendition of one SDR (or HDR) frame as full-range 16-bit R'G'B' code values."""
    if signal is Signal.PQ:
        if isinstance(rgb, HdrFrame):
            return _lookup(rgb.light * np.float32(SDR_WHITE_NITS / _PQ_PEAK_NITS), _PQ_FULL_TABLE)
        return _lookup(linear_bt2020(rgb), _PQ_TABLE)
    if signal is not Signal.HLG:
        raise ValueError(f"{signal} is not a PQ or HLG signal")
    display = rgb.light.copy() if isinstance(rgb, HdrFrame) else linear_bt2020(rgb)
    display *= SDR_WHITE_NITS / HLG_DISPLAY_NITS
    # Inverse HLG OOTF (BT.2100, gamma 1.2): scene light = display light x Yd^(-0.2/1.2).
    luma = display @ _BT2020_LUMA.astype(np.float32)
    display *= np.power(np.maximum(luma, 1e-9), -1.0 / 6.0)[..., None]
    return _lookup(display, _HLG_TABLE)


def linear_light(rgb: Pixels | HdrFrame) -> Linear:
    """One SDR (or HDR) frame as hdr_exr_sequence's linear BT.2020 display light, 1.0 = 100 cd/m²."""
    light = rgb.light.copy() if isinstance(rgb, HdrFrame) else linear_bt2020(rgb)
    light *= SDR_WHITE_NITS / EXR_UNIT_NITS
    return light


def light_levels(rgb: Pixels | HdrFrame) -> tuple[float, float]:
    """(max, frame average) of max(R, G, B) in cd/m² of the PQ rendition: CTA-861.3's MaxCLL inputs."""
    light = rgb.light if isinstance(rgb, HdrFrame) else linear_bt2020(rgb)
    brightest = np.maximum(np.maximum(light[..., 0], light[..., 1]), light[..., 2])
    return float(brightest.max()) * SDR_WHITE_NITS, float(brightest.mean()) * SDR_WHITE_NITS


# ---- frames -------------------------------------------------------------------------------------------


def _flags(scaling: bool, resample: Interpolation) -> Interpolation:
    # ACCURATE_RND | BITEXACT: the same output on every CPU, as in encode_mp4.
    base = resample if scaling else Interpolation.BILINEAR
    return base | Interpolation.ACCURATE_RND | Interpolation.BITEXACT


def _source(frame: Frame) -> VideoFrame:
    if isinstance(frame, Image.Image):
        frame = np.asarray(frame if frame.mode == "RGB" else frame.convert("RGB"))
    return VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")


def _sized_rgb(frame: Frame, width: int, height: int, resample: Interpolation) -> Pixels:
    """The frame as RGB at the output size, for formats that work on its pixels."""
    if isinstance(frame, np.ndarray) and frame.shape == (height, width, 3):
        return frame
    source = _source(frame)
    if (source.width, source.height) != (width, height):
        source = source.reformat(width, height, "rgb24", interpolation=_flags(True, resample), threads=1)
    pixels = source.to_ndarray(format="rgb24")
    return np.asarray(pixels, dtype=np.uint8)


def _sized(frame: AnyFrame, width: int, height: int, resample: Interpolation) -> Pixels | HdrFrame:
    """SDR frames at the output size; HDR frames come at it already."""
    if not isinstance(frame, HdrFrame):
        return _sized_rgb(frame, width, height, resample)
    if frame.light.shape != (height, width, 3):
        raise ValueError(f"HDR frames must be {width}x{height}, got {frame.light.shape[1::-1]}")
    return frame


def _alpha_plane(frame: Pixels | HdrFrame, bits: int) -> Wide:
    """Straight alpha as a full-range plane of `bits`; opaque where the frame has none."""
    top = (1 << bits) - 1
    if isinstance(frame, HdrFrame) and frame.alpha is not None:
        return np.round(np.clip(frame.alpha, 0.0, 1.0) * top).astype(np.uint16)
    shape = frame.light.shape[:2] if isinstance(frame, HdrFrame) else frame.shape[:2]
    return np.full(shape, top, np.uint16)


def _chroma(plane: Linear, vertical: bool) -> Linear:
    """Subsampled chroma, sited left as HEVC and ProRes expect: [1, 2, 1] across, pairs averaged down."""
    padded = np.pad(plane, ((0, 0), (1, 1)), mode="edge")
    sited: Linear = (padded[:, 0:-2:2] + 2.0 * padded[:, 1:-1:2] + padded[:, 2::2]) * 0.25
    if vertical:
        sited = (sited[0::2] + sited[1::2]) * 0.5
    return sited


def ycbcr_planes(code: Wide, pix_fmt: str) -> list[Wide]:
    """Full-range 16-bit BT.2020 R'G'B' as limited-range non-constant-luminance Y'CbCr planes (BT.2100).

    Done here rather than in swscale, whose 16-bit RGB input path lands a few code values off (575
    instead of 573 for the PQ code of SDR white in 10 bits)."""
    bits = 12 if "12" in pix_fmt else 10
    scale = float(1 << (bits - 8))
    rgb = code.astype(np.float32) / 65535.0
    kr, kg, kb = (float(k) for k in _BT2020_LUMA)
    luma: Linear = rgb @ np.array([kr, kg, kb], np.float32)
    blue: Linear = (rgb[..., 2] - luma) / np.float32(2.0 * (1.0 - kb))
    red: Linear = (rgb[..., 0] - luma) / np.float32(2.0 * (1.0 - kr))
    if not pix_fmt.startswith("yuv444"):
        blue, red = _chroma(blue, "420" in pix_fmt), _chroma(red, "420" in pix_fmt)
    planes = [(luma * 219.0 + 16.0) * scale, (blue * 224.0 + 128.0) * scale, (red * 224.0 + 128.0) * scale]
    return [np.round(plane).astype(np.uint16) for plane in planes]


def _planar_frame(planes: list[Wide], pix_fmt: str) -> VideoFrame:
    height, width = planes[0].shape
    frame = VideoFrame(width, height, pix_fmt)
    for plane, values in zip(frame.planes, planes, strict=True):
        rows = np.frombuffer(memoryview(plane), np.uint16).reshape(-1, plane.line_size // 2)
        rows[: values.shape[0], : values.shape[1]] = values
    return frame


def _movie_frame(
    frame: AnyFrame, spec: MovieFormat, width: int, height: int, resample: Interpolation
) -> VideoFrame:
    """One frame in the stream's pixel format and matrix (limited range, as video players expect)."""
    colour = _COLOUR[spec.signal]
    if spec.signal is Signal.SDR:
        if isinstance(frame, HdrFrame):
            raise ValueError("SDR formats take SDR frames")
        source = _source(frame)
        scaling = (source.width, source.height) != (width, height)
        picture = source.reformat(
            width,
            height,
            spec.pix_fmt,
            dst_colorspace=colour.matrix,
            dst_color_range=_RANGE_LIMITED,
            interpolation=_flags(scaling, resample),
            threads=1,
        )
    else:
        pixels = _sized(frame, width, height, resample)
        planes = ycbcr_planes(hdr_code_values(pixels, spec.signal), spec.pix_fmt.replace("yuva", "yuv"))
        if spec.pix_fmt.startswith("yuva"):
            planes.append(_alpha_plane(pixels, 10))
        picture = _planar_frame(planes, spec.pix_fmt)
        picture.colorspace, picture.color_range = colour.matrix, _RANGE_LIMITED
    # ProRes writes each frame's own tags into its frame header; swscale sets only the matrix.
    picture.color_primaries, picture.color_trc = colour.primaries, colour.transfer
    return picture


def _sdr_only(frames: Iterable[AnyFrame]) -> Iterator[Frame]:
    source = iter(frames)
    try:
        for frame in source:
            if isinstance(frame, HdrFrame):
                raise ValueError("SDR formats take SDR frames")
            yield frame
    finally:
        close = getattr(source, "close", None)
        if close is not None:
            close()


def _take(frames: Iterable[AnyFrame], count: int) -> Iterator[AnyFrame]:
    source = iter(frames)
    try:
        for index in range(count):
            frame = next(source, None)
            if frame is None:
                raise ValueError(f"the frame source ended after {index} of {count} frames")
            yield frame
    finally:
        close = getattr(source, "close", None)
        if close is not None:
            close()  # a generator decoding an input video closes its container now, not at GC


# ---- movies -------------------------------------------------------------------------------------------


def _x265_light(options: Mapping[str, str], max_cll: float, max_fall: float) -> dict[str, str]:
    """HDR10 static metadata with the measured light levels (whole cd/m², rounded up as CTA-861.3 says)."""
    params = f"{options['x265-params']}:master-display={MASTER_DISPLAY}"
    params += f":max-cll={math.ceil(max_cll)},{math.ceil(max_fall)}"
    return {**options, "x265-params": params}


def _spool(
    frames: Iterator[AnyFrame],
    spool: IO[bytes],
    width: int,
    height: int,
    count: int,
    resample: Interpolation,
    on_step: StepCallback,
) -> tuple[float, float]:
    """First pass: every frame at the output size into `spool`, measuring its light levels."""
    brightest = average = 0.0
    for index, frame in enumerate(frames):
        if isinstance(frame, HdrFrame):
            raise ValueError("HDR frames come with their light levels measured (write_video's light_levels)")
        pixels = _sized_rgb(frame, width, height, resample)
        peak, mean = light_levels(pixels)
        brightest, average = max(brightest, peak), max(average, mean)
        spool.write(np.ascontiguousarray(pixels).tobytes())
        on_step(index + 1, 2 * count)
    spool.seek(0)
    return brightest, average


def _respooled(spool: IO[bytes], width: int, height: int, count: int) -> Iterator[Pixels]:
    size = width * height * 3
    for _ in range(count):
        yield np.frombuffer(spool.read(size), np.uint8).reshape(height, width, 3)


def _write_movie(
    spec: MovieFormat,
    frames: Iterator[AnyFrame],
    width: int,
    height: int,
    count: int,
    audio: FloatArray | None,
    sample_rate: int,
    on_step: StepCallback,
    resample: Interpolation,
    fps: Fraction,
    light: tuple[float, float] | None,
) -> bytes:
    options = dict(spec.options)
    if spec.codec == "libx265" and count < 3:
        # With B-frames, this x265 reports an uninitialised DTS now and then for 1- or 2-frame clips.
        options["x265-params"] += ":bframes=0"
    steps, done = count, 0
    with contextlib.ExitStack() as stack:
        if light is not None and spec.codec == "libx265" and spec.signal is Signal.PQ:
            options = _x265_light(options, *light)
        elif spec.measure_light:
            spool = stack.enter_context(tempfile.TemporaryFile(prefix="taxiway-frames-"))
            max_cll, max_fall = _spool(frames, spool, width, height, count, resample, on_step)
            options = _x265_light(options, max_cll, max_fall)
            frames, steps, done = _respooled(spool, width, height, count), 2 * count, count
        directory = stack.enter_context(tempfile.TemporaryDirectory(prefix="taxiway-video-"))
        # The mp4 muxer's faststart pass re-opens its output by name, so it cannot write to a BytesIO.
        path = os.path.join(directory, f"output.{spec.container}")
        container = av.open(path, mode="w", format=spec.container, options={"movflags": "+faststart"})
        try:
            video = container.add_stream(spec.codec, rate=fps, options=options)
            assert isinstance(video, VideoStream)
            video.width, video.height, video.pix_fmt = width, height, spec.pix_fmt
            video.time_base = 1 / fps
            context = video.codec_context
            context.thread_count = 1
            colour = _COLOUR[spec.signal]
            context.color_primaries, context.color_trc = colour.primaries, colour.transfer
            context.colorspace, context.color_range = colour.matrix, _RANGE_LIMITED
            if spec.codec == "libx265":
                video.codec_tag = "hvc1"  # the tag Apple players require for HEVC
            sound: AudioStream | None = None
            if audio is not None:
                sound = container.add_stream(
                    "aac" if spec.container == "mp4" else "pcm_s24le", rate=sample_rate
                )
                assert isinstance(sound, AudioStream)
                sound.layout = "stereo" if audio.shape[0] == 2 else "mono"
            sent = 0
            for index, frame in enumerate(frames):
                picture = _movie_frame(frame, spec, width, height, resample)
                picture.pts = index
                container.mux(video.encode(picture))
                if audio is not None and sound is not None:
                    target = _samples(index + 1, sample_rate, fps)  # interleave: audio up to this frame's end
                    for chunk in audio_frames(audio, sample_rate, sent, target):
                        container.mux(sound.encode(chunk))
                    sent = target
                on_step(done + index + 1, steps)
            container.mux(video.encode(None))
            if sound is not None:
                container.mux(sound.encode(None))
        except BaseException:
            with contextlib.suppress(Exception):
                container.close()
            raise
        container.close()
        with open(path, "rb") as output:
            return output.read()


# ---- frame sequences ----------------------------------------------------------------------------------


def _png_encoder(spec: FrameSequence, width: int, height: int) -> VideoCodecContext:
    encoder = av.CodecContext.create("png", "w")
    assert isinstance(encoder, VideoCodecContext)
    encoder.width, encoder.height, encoder.pix_fmt = width, height, spec.pix_fmt
    encoder.time_base = Fraction(1, FPS)
    encoder.thread_count = 1
    encoder.options = {"compression_level": PNG_LEVEL}
    return encoder


def _with_alpha(light: Linear, frame: Pixels | HdrFrame, spec: FrameSequence) -> Linear:
    if not spec.alpha:
        return light
    coverage = frame.alpha if isinstance(frame, HdrFrame) else None
    if coverage is None:
        coverage = np.ones(light.shape[:2], np.float32)
    return np.concatenate([light, coverage[..., None].astype(np.float32)], axis=-1)


def _still(
    pixels: Pixels | HdrFrame, spec: FrameSequence, png: VideoCodecContext | None, index: int
) -> bytes:
    """One frame as a PNG or EXR file."""
    if png is None:
        if spec.aces is not None:  # scene-referred: no display luminance for 1.0
            if isinstance(pixels, HdrFrame):
                scene = scene_acescg(pixels.source, spec.aces)
                scene *= pixels.gain[..., None]
            else:
                scene = scene_acescg(pixels, spec.aces)
            return encode_exr(_with_alpha(scene, pixels, spec), ACESCG_CHROMATICITIES)
        light = _with_alpha(linear_light(pixels), pixels, spec)
        return encode_exr(light, (*_BT2020_RGB, _D65), white_nits=EXR_UNIT_NITS)
    if isinstance(pixels, HdrFrame) and spec.signal is not Signal.SDR:
        picture = VideoFrame.from_ndarray(hdr_code_values(pixels, spec.signal), format="rgb48be")
    elif isinstance(pixels, HdrFrame):
        raise ValueError("SDR formats take SDR frames")
    elif spec.signal is Signal.SDR:
        picture = VideoFrame.from_ndarray(pixels, format="rgb24")
    else:
        picture = VideoFrame.from_ndarray(hdr_code_values(pixels, spec.signal), format="rgb48be")
    colour = _COLOUR[spec.signal]  # the encoder writes the frame's tags as a cICP chunk (and cHRM)
    picture.color_primaries, picture.color_trc = colour.primaries, colour.transfer
    picture.colorspace, picture.color_range = _SPC_RGB, _RANGE_FULL
    picture.pts = index
    return b"".join(bytes(packet) for packet in png.encode(picture))


def _write_sequence(
    spec: FrameSequence,
    name: str,
    frames: Iterator[AnyFrame],
    width: int,
    height: int,
    count: int,
    on_step: StepCallback,
    resample: Interpolation,
    fps: Fraction,
    sidecars: Callable[[], Mapping[str, bytes]] | None,
) -> bytes:
    png = _png_encoder(spec, width, height) if spec.codec == "png" else None
    with tempfile.TemporaryFile(prefix="taxiway-frames-") as spool:
        # Frames are compressed already: stored, not deflated again.
        with zipfile.ZipFile(spool, "w", zipfile.ZIP_STORED) as archive:
            for index, frame in enumerate(frames):
                data = _still(_sized(frame, width, height, resample), spec, png, index)
                archive.writestr(spec.pattern.format(index + 1), data)
                on_step(index + 1, count)
            if spec.colorimetry is not None:
                sidecar = {
                    "outputFormat": name,
                    "frames": {"pattern": spec.pattern, "first": 1, "count": count, "rate": _rate(fps)},
                    "width": width,
                    "height": height,
                    **spec.colorimetry,
                }
                archive.writestr("colorimetry.json", json.dumps(sidecar, indent=2) + "\n")
            for filename, data in (sidecars() if sidecars is not None else {}).items():
                archive.writestr(filename, data)
        spool.seek(0)
        return spool.read()


def _rate(fps: Fraction) -> int | float:
    """A frame rate for JSON: whole rates as integers, 30000/1001 as 29.97002997."""
    return int(fps) if fps.denominator == 1 else round(float(fps), 8)


def _samples(frames: int, sample_rate: int, fps: Fraction) -> int:
    """Audio samples in `frames` frames, rounded down, exactly for fractional rates too."""
    return frames * sample_rate * fps.denominator // fps.numerator


def wav_bytes(audio: FloatArray, sample_rate: int) -> bytes:
    """24-bit PCM WAV of float (channels, samples) audio in [-1, 1]."""
    samples = np.ascontiguousarray(np.round(np.clip(audio.T, -1.0, 1.0) * 8388607.0), "<i4")  # interleaved
    packed = samples.view(np.uint8).reshape(-1, 4)[:, :3].tobytes()
    channels = audio.shape[0]
    header = struct.pack(
        "<4sI4s4sIHHIIHH4sI",
        b"RIFF", 36 + len(packed), b"WAVE", b"fmt ", 16, 1, channels, sample_rate,
        sample_rate * channels * 3, channels * 3, 24, b"data", len(packed),
    )  # fmt: skip
    return header + packed


# ---- entry point --------------------------------------------------------------------------------------


def write_video(
    frames: Iterable[AnyFrame],
    width: int,
    height: int,
    frame_count: int,
    *,
    output_format: str = "mp4",
    prores_profile: str | None = None,
    audio: FloatArray | None = None,
    sample_rate: int = SAMPLE_RATE,
    on_step: StepCallback | None = None,
    resample: Interpolation = Interpolation.BICUBIC,
    threads: int = 1,
    fps: int | Fraction = FPS,
    alpha: bool = False,
    light_levels: tuple[float, float] | None = None,
    sidecars: Callable[[], Mapping[str, bytes]] | None = None,
) -> list[Artifact]:
    """The first `frame_count` frames (RGB uint8 arrays or PIL images, any size with the output's aspect,
    or `HdrFrame`s at the output's size), written as `output_format` at `fps`; see the module docstring
    for what each format holds.

    `audio` is float32 (channels, samples) in [-1, 1]; it is cut or zero-padded to the video's length.
    `threads` is the H.264 encoder's (the default MP4); the other formats encode on one thread.
    `alpha` writes the HDR frames' alpha where the format has a plane for it; `light_levels` are the
    frames' MaxCLL and MaxFALL (cd/m²), declared in HEVC PQ streams; `sidecars` adds files to a zip of
    frames, asked for once every frame is written.
    Whatever `on_step` raises (e.g. TaskCancelled) propagates after the files and the frame source close.
    """
    if width % 2 or height % 2 or width <= 0 or height <= 0:
        raise ValueError(f"outputs need positive even sizes (4:2:0), got {width}x{height}")
    if frame_count <= 0:
        raise ValueError("frame_count must be positive")
    if audio is not None and (audio.ndim != 2 or audio.shape[0] not in (1, 2)):
        raise ValueError("audio must be shaped (channels, samples) with 1 or 2 channels")
    rate = Fraction(fps)
    if rate <= 0:
        raise ValueError(f"fps must be positive, got {fps}")
    spec = _format(output_format, prores_profile, alpha)
    step = on_step or (lambda _done, _total: None)
    seconds = float(frame_count / rate)
    if spec is None:
        data = encode_mp4(
            _sdr_only(frames), width, height, frame_count, fps=rate, audio=audio,
            sample_rate=sample_rate, resample=resample, on_frame=lambda index: step(index + 1, frame_count),
            threads=threads,
        )  # fmt: skip
        return [Artifact("output.mp4", data, "video/mp4", seconds=seconds)]
    if audio is not None:
        total = _samples(frame_count, sample_rate, rate)
        padded = np.zeros((audio.shape[0], total), np.float32)
        padded[:, : min(total, audio.shape[1])] = audio[:, :total]
        audio = padded
    source = _take(frames, frame_count)
    if isinstance(spec, MovieFormat):
        data = _write_movie(
            spec, source, width, height, frame_count, audio, sample_rate, step, resample, rate, light_levels
        )
        return [Artifact(f"output.{spec.container}", data, spec.content_type, seconds=seconds)]
    data = _write_sequence(
        spec, output_format, source, width, height, frame_count, step, resample, rate, sidecars
    )
    artifacts = [Artifact("output.zip", data, "application/zip", seconds=seconds)]
    if audio is not None:
        artifacts.append(Artifact("output.wav", wav_bytes(audio, sample_rate), "audio/wav", seconds=seconds))
    return artifacts
