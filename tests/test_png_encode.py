"""The parallel PNG encoder: any decoder reads back exactly the pixels, in every channel layout."""

from __future__ import annotations

import io

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from PIL import Image

from taxiway.engines.png_encode import SEGMENTS, encode_png

MODES = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}


def decode(data: bytes) -> tuple[str, np.ndarray]:
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        return image.mode, np.asarray(image)


@settings(max_examples=60, deadline=None)
@given(
    st.integers(1, 4).flatmap(
        lambda channels: arrays(
            np.uint8,
            st.tuples(st.integers(1, 40), st.integers(1, 40), st.just(channels)),
        )
    ),
    st.sampled_from([0, 1, 6, 9]),
)
def test_pixels_round_trip_exactly(pixels: np.ndarray, level: int) -> None:
    mode, decoded = decode(encode_png(pixels, level=level))
    assert mode == MODES[pixels.shape[2]]
    assert np.array_equal(decoded.reshape(pixels.shape), pixels)


def test_large_image_round_trips_and_bytes_are_reproducible() -> None:
    rng = np.random.default_rng(0)
    rows, columns = np.mgrid[0:768, 0:1024]
    smooth = (rows + columns) // 8
    pixels = np.stack([smooth, smooth[::-1], rng.integers(0, 256, (768, 1024))], axis=-1).astype(np.uint8)
    data = encode_png(pixels)
    assert np.array_equal(decode(data)[1], pixels)
    assert encode_png(pixels) == data
    assert len(data) < pixels.nbytes * 0.6  # two smooth channels compress, the noisy one cannot


def test_grey_images_and_fewer_rows_than_segments() -> None:
    pixels = np.arange(3 * 5, dtype=np.uint8).reshape(3, 5)
    assert SEGMENTS > 3
    mode, decoded = decode(encode_png(pixels))
    assert mode == "L" and np.array_equal(decoded, pixels)


@pytest.mark.parametrize(
    "pixels",
    [np.zeros((4, 4, 3), np.uint16), np.zeros((4, 4, 5), np.uint8), np.zeros((4,), np.uint8)],
)
def test_unsupported_layouts_are_refused(pixels: np.ndarray) -> None:
    with pytest.raises(ValueError):
        encode_png(pixels)
