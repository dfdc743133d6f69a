"""OpenEXR stills: half-float RGB(A), scanline, ZIP-compressed in blocks of 16 lines, with chromaticities.

FFmpeg's EXR encoder deflates at zlib's default level (about 130 ms for a 1280x720 frame, 2.5x this one at
level 4, OpenEXR's own default, for 8% more bytes) and writes neither `chromaticities` nor
`pixelAspectRatio`, which colour-managed readers need to place the primaries. The format is small
(OpenEXR file layout, "ZIP_COMPRESSION"): a header of typed attributes, a table of chunk offsets, then
chunks of 16 scanlines, each holding per line the channels in name order (A, B, G, R), byte-split into
low and high halves, delta-coded and deflated.
"""

from __future__ import annotations

import struct
import zlib

import numpy as np
import numpy.typing as npt

ZIP_LEVEL = 4
_MAGIC = 20000630
_VERSION = 2  # single-part scanline file, short names
_HALF = 1
_ZIP_COMPRESSION = 3
_LINES_PER_CHUNK = 16

Chromaticities = tuple[tuple[float, float], tuple[float, float], tuple[float, float], tuple[float, float]]


def _attribute(name: str, kind: str, value: bytes) -> bytes:
    return name.encode() + b"\0" + kind.encode() + b"\0" + struct.pack("<i", len(value)) + value


def _header(
    width: int,
    height: int,
    chromaticities: Chromaticities,
    white_nits: float | None,
    names: tuple[bytes, ...],
) -> bytes:
    channels = b"".join(name + b"\0" + struct.pack("<iB3xii", _HALF, 0, 1, 1) for name in names)
    window = struct.pack("<4i", 0, 0, width - 1, height - 1)
    attributes = [
        _attribute("channels", "chlist", channels + b"\0"),
        _attribute(
            "chromaticities", "chromaticities", struct.pack("<8f", *(c for xy in chromaticities for c in xy))
        ),
        _attribute("compression", "compression", bytes([_ZIP_COMPRESSION])),
        _attribute("dataWindow", "box2i", window),
        _attribute("displayWindow", "box2i", window),
        _attribute("lineOrder", "lineOrder", b"\0"),
        _attribute("pixelAspectRatio", "float", struct.pack("<f", 1.0)),
        _attribute("screenWindowCenter", "v2f", struct.pack("<2f", 0.0, 0.0)),
        _attribute("screenWindowWidth", "float", struct.pack("<f", 1.0)),
    ]
    if white_nits is not None:
        attributes.append(_attribute("whiteLuminance", "float", struct.pack("<f", white_nits)))
    return struct.pack("<ii", _MAGIC, _VERSION) + b"".join(attributes) + b"\0"


def _packed(block: npt.NDArray[np.uint8], level: int) -> bytes:
    """One chunk's bytes as OpenEXR's ZIP codec stores them (raw where deflating would not shrink them)."""
    split = np.concatenate([block[0::2], block[1::2]])
    coded = np.empty_like(split)
    coded[0] = split[0]
    np.subtract(split[1:], split[:-1], out=coded[1:])  # uint8 arithmetic wraps mod 256, as EXR wants
    coded[1:] += 128
    packed = zlib.compress(coded.tobytes(), level)
    return packed if len(packed) < block.size else block.tobytes()


def encode_exr(
    rgb: npt.NDArray[np.floating],
    chromaticities: Chromaticities,
    *,
    white_nits: float | None = None,
    level: int = ZIP_LEVEL,
) -> bytes:
    """A half-float EXR of `rgb` (height x width x 3, linear light, or x 4 with straight alpha last).
    `chromaticities` are the red, green, blue and white (x, y) of its primaries; `white_nits` the
    luminance of (1, 1, 1) where it has one."""
    if rgb.ndim != 3 or rgb.shape[2] not in (3, 4):
        raise ValueError(f"expected height x width x 3 (or 4) values, got {rgb.shape}")
    height, width = rgb.shape[:2]
    alpha = rgb.shape[2] == 4
    # Per scanline: the (A,) B, G and R runs of little-endian halves.
    order = [3, 2, 1, 0] if alpha else [2, 1, 0]
    lines = np.ascontiguousarray(rgb[:, :, order].astype("<f2").transpose(0, 2, 1)).view(np.uint8)
    rows = lines.reshape(height, -1)
    names = (b"A", b"B", b"G", b"R") if alpha else (b"B", b"G", b"R")
    header = _header(width, height, chromaticities, white_nits, names)
    chunks = []
    for y in range(0, height, _LINES_PER_CHUNK):
        data = _packed(rows[y : y + _LINES_PER_CHUNK].reshape(-1), level)
        chunks.append(struct.pack("<ii", y, len(data)) + data)
    offset = len(header) + 8 * len(chunks)
    table = []
    for chunk in chunks:
        table.append(offset)
        offset += len(chunk)
    return header + struct.pack(f"<{len(table)}Q", *table) + b"".join(chunks)
