"""Scene-referred ACEScg from the engines' SDR frames, through the inverse ACES SDR Output Transforms.

An ACES pipeline reads an ACEScg plate with the stock `ACES - ACEScg` input transform and shows it through
an ACES Output Transform. For the engines' BT.709 / BT.1886 frames to look like themselves there, the plate
must hold the scene that transform renders onto them: each frame through the transform's inverse for an
SDR Rec.709 (BT.1886) display. OpenColorIO ships both ACES generations as built-in configs (no file, no
download), each used through its "Rec.1886 Rec.709 - Display" and one view:

| delivery | OCIO config | view |
|---|---|---|
| ACES 1.3 | studio-config-v2.2.0_aces-v1.3_ocio-v2.4 | ACES 1.0 - SDR Video (RRT + Rec.709 100-nit dim ODT) |
| ACES 2.0 | studio-config-v4.0.0_aces-v2.0_ocio-v2.5 | ACES 2.0 - SDR 100 nits (Rec.709) |

SDR white lands on the top of each tone scale, ACEScg 16.3 (1.3) and 128 (2.0); half floats hold both.
Where the forward transform can produce a display colour the inverse is exact: through the same view
again (from the half-float EXR), greys come back within 0.05 of an 8-bit code value and the engines'
frames within 0.85 (1.3) and 0.1 (2.0). Neither transform reaches every Rec.709 colour and OCIO's inverse
clips those, so they come back changed: under 1.3 bright saturated ones, 5.5% of the 8-bit cube off by
more than one code value (0.3% by more than 10; pure yellow by 142), under 2.0 0.26% (at most 10).

Frames are mapped colour by colour: an 8-bit frame holds far fewer distinct colours than pixels (about
50,000 in a 1280x720 engine frame), and the ACES 2.0 inverse costs about 1 µs per colour. The processors
run OCIO's lossless optimisation, whatever OCIO_OPTIMIZATION_FLAGS says, on the calling thread (OCIO
releases the GIL); results are the same on every run on one machine.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import PyOpenColorIO as ocio

from taxiway.engines.exr_encode import Chromaticities

Pixels = npt.NDArray[np.uint8]
Linear = npt.NDArray[np.float32]

SCENE = "ACEScg"  # the configs' scene-linear colour space, read by the stock `ACES - ACEScg` input transform
# ACES AP1 primaries and the ACES white (SMPTE ST 2065-1, Academy S-2014-004), as the EXR header states them.
ACESCG_CHROMATICITIES: Chromaticities = ((0.713, 0.293), (0.165, 0.830), (0.128, 0.044), (0.32168, 0.33767))


@dataclass(frozen=True)
class AcesOutput:
    """One ACES Output Transform in one of OpenColorIO's built-in configs."""

    version: str
    config: str
    view: str
    display: str = "Rec.1886 Rec.709 - Display"  # BT.709 primaries, BT.1886 (gamma 2.4): the engines' frames


ACES_1_3 = AcesOutput("1.3", "ocio://studio-config-v2.2.0_aces-v1.3_ocio-v2.4", "ACES 1.0 - SDR Video")
ACES_2_0 = AcesOutput(
    "2.0", "ocio://studio-config-v4.0.0_aces-v2.0_ocio-v2.5", "ACES 2.0 - SDR 100 nits (Rec.709)"
)


@functools.cache
def _config(uri: str) -> Any:
    return ocio.Config.CreateFromFile(uri)


@functools.cache
def _inverse(output: AcesOutput) -> Any:
    """The CPU processor from the display's code values to ACEScg, built once per output transform."""
    transform = ocio.DisplayViewTransform(
        src=SCENE, display=output.display, view=output.view, direction=ocio.TRANSFORM_DIR_INVERSE
    )
    processor = _config(output.config).getProcessor(transform)
    return processor.getOptimizedCPUProcessor(ocio.OPTIMIZATION_LOSSLESS)


def scene_acescg(rgb: Pixels, output: AcesOutput) -> Linear:
    """One 8-bit SDR frame (height x width x RGB) as the ACEScg scene `output` renders onto it."""
    flat = rgb.reshape(-1, 3).astype(np.uint32)
    packed = (flat[:, 0] << 16) | (flat[:, 1] << 8) | flat[:, 2]
    colours, index = np.unique(packed, return_inverse=True)
    codes = np.stack([colours >> 16, (colours >> 8) & 0xFF, colours & 0xFF], axis=1).astype(np.float32)
    codes /= np.float32(255.0)
    _inverse(output).applyRGB(codes)
    scene: Linear = codes[index].reshape(rgb.shape)
    return scene


@functools.cache
def colorimetry(output: AcesOutput) -> Mapping[str, Any]:
    """The colorimetry.json fields of an ACEScg delivery made through `output`'s inverse."""
    config = _config(output.config)
    view_transform = config.getDisplayViewTransformName(output.display, output.view)
    builtin = config.getViewTransform(view_transform).getTransform(ocio.VIEWTRANSFORM_DIR_FROM_REFERENCE)
    white = scene_acescg(np.full((1, 1, 3), 255, np.uint8), output)
    return {
        "colorSpace": SCENE,
        "colorPrimaries": "ACES AP1",
        "whitePoint": "ACES (x 0.32168, y 0.33767)",
        "transferCharacteristics": "linear",
        "signal": "scene-referred linear light, half float",
        "inputTransform": "ACES - ACEScg",
        "inverseOutputTransform": {
            "aces": output.version,
            "ocioConfig": output.config,
            "display": output.display,
            "view": output.view,
            "viewTransform": view_transform,
            "builtinTransform": builtin.getStyle(),
            "source": "8-bit BT.709 R'G'B', BT.1886 (gamma 2.4), full range",
            "sdrWhiteScene": round(float(white[0, 0, 1]), 3),
            "roundTrip": "this view renders the frames back onto the source, except colours it cannot "
            "produce (bright, saturated), which the inverse clipped",
        },
    }
