"""Probing media by content: supported formats and codecs pass, everything else is a ProbeError."""

from __future__ import annotations

import io
import resource
import time
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from support.https_assets import audio_bytes, image_bytes, png_header_only, video_bytes
from taxiway.assets.errors import ProbeError
from taxiway.assets.kinds import AssetKind
from taxiway.assets.probe import MediaInfo, probe

PNG = image_bytes("PNG")
JPEG = image_bytes("JPEG")
WEBP = image_bytes("WEBP")
MP4 = video_bytes()
WAV = audio_bytes()
MP3 = audio_bytes("mp3", "libmp3lame")
FLAC = audio_bytes("flac", "flac")
NOPE = "Unsupported asset type."
SEEDS = [PNG, JPEG, WEBP, MP4, WAV, MP3, FLAC]


def refusal(data: bytes) -> str:
    with pytest.raises(ProbeError) as caught:
        probe(data)
    return caught.value.reason


@pytest.mark.parametrize(
    ("data", "fmt", "media_type"),
    [
        (PNG, "PNG", "image/png"),
        (JPEG, "JPEG", "image/jpeg"),
        (WEBP, "WEBP", "image/webp"),
        (image_bytes("JPEG", mode="CMYK"), "JPEG", "image/jpeg"),
        (image_bytes("PNG", mode="RGBA"), "PNG", "image/png"),
    ],
)
def test_images(data: bytes, fmt: str, media_type: str) -> None:
    info = probe(data)
    assert (info.kind, info.format, info.media_type) == (AssetKind.IMAGE, fmt, media_type)
    assert (info.width, info.height) == (64, 48)


@pytest.mark.parametrize(
    ("make", "codec", "media_type"),
    [
        (lambda: MP4, "h264", "video/mp4"),
        (lambda: video_bytes("mp4", "libx265"), "hevc", "video/mp4"),
        (lambda: video_bytes("webm", "libvpx"), "vp8", "video/webm"),
        (lambda: video_bytes("webm", "libvpx-vp9"), "vp9", "video/webm"),
        (lambda: video_bytes("mp4", "libsvtav1"), "av1", "video/mp4"),
        (lambda: video_bytes("mov", "prores_ks", pix_fmt="yuv422p10le"), "prores", "video/quicktime"),
        (lambda: video_bytes("matroska", "libx264"), "h264", "video/x-matroska"),
    ],
)
def test_video_codecs(make: object, codec: str, media_type: str) -> None:
    assert callable(make)
    try:
        data = make()
    except Exception as exc:  # an FFmpeg build without that encoder
        pytest.skip(f"cannot encode {codec} here: {exc}")
    info = probe(data)
    assert (info.kind, info.codec, info.media_type) == (AssetKind.VIDEO, codec, media_type)
    assert (info.width, info.height, info.fps, info.has_audio) == (64, 64, 12.0, False)
    assert info.duration == pytest.approx(1.0, abs=0.1)


def test_video_with_sound() -> None:
    info = probe(video_bytes(with_audio=True))
    assert info.kind is AssetKind.VIDEO and info.has_audio


@pytest.mark.parametrize(
    ("data", "codec", "media_type"),
    [
        (WAV, "pcm_s16le", "audio/wav"),
        (MP3, "mp3", "audio/mpeg"),
        (FLAC, "flac", "audio/flac"),
        (audio_bytes("adts", "aac"), "aac", "audio/aac"),
        (audio_bytes("ipod", "alac"), "alac", "audio/mp4"),
        (audio_bytes("ipod", "aac"), "aac", "audio/mp4"),
    ],
)
def test_audio_codecs(data: bytes, codec: str, media_type: str) -> None:
    info = probe(data)
    assert (info.kind, info.codec, info.media_type) == (AssetKind.AUDIO, codec, media_type)
    assert info.sample_rate == 44100 and info.channels == 1
    assert info.duration == pytest.approx(0.5, abs=0.05)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (image_bytes("GIF"), f"{NOPE} GIF images are not supported; use JPEG, PNG or WebP."),
        (image_bytes("BMP"), f"{NOPE} BMP images are not supported; use JPEG, PNG or WebP."),
        (
            image_bytes("TIFF"),
            f"{NOPE} TIFF images are not supported; use JPEG, PNG or WebP.",
        ),
        (video_bytes("mp4", "mpeg4"), f"{NOPE} The mpeg4 video codec is not supported."),
        (
            audio_bytes("ogg", "libopus", rate=48000),
            f"{NOPE} The opus audio codec is not supported.",
        ),
        (b"", f"{NOPE} The file is empty."),
        (
            b"hello world" * 100,
            f"{NOPE} The file is not a supported image, video or audio file.",
        ),
        (
            MP4[: len(MP4) // 2],
            f"{NOPE} The file is truncated or corrupt.",
        ),
        (PNG[: len(PNG) // 2], f"{NOPE} The image is truncated or corrupt."),
        (image_bytes("JPEG", (300, 300))[:600], f"{NOPE} The image is truncated or corrupt."),
    ],
)
def test_refusals(data: bytes, expected: str) -> None:
    assert refusal(data) == expected


def test_truncated_faststart_mp4(tmp_path: object) -> None:
    """With the index first, a cut file still opens; the missing packets give it away."""
    import av
    import numpy as np

    path = f"{tmp_path}/fast.mp4"
    with av.open(path, "w", options={"movflags": "faststart"}) as output:
        stream = output.add_stream("libx264", rate=12)
        stream.width = stream.height = 64
        stream.pix_fmt = "yuv420p"
        rng = np.random.default_rng(1)
        for _ in range(24):
            pixels = rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)
            output.mux(stream.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")))
        output.mux(stream.encode(None))
    with open(path, "rb") as handle:
        data = handle.read()
    assert probe(data).kind is AssetKind.VIDEO
    assert refusal(data[: len(data) * 3 // 4]) == f"{NOPE} The file is truncated."


def test_pixel_bombs_are_refused_before_decoding() -> None:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.monotonic()
    assert refusal(png_header_only(100_000, 100_000)) == f"{NOPE} The image has too many pixels."
    assert refusal(png_header_only(9000, 9000)) == f"{NOPE} The image is 9000x9000, too many pixels."
    assert time.monotonic() - started < 1
    # ru_maxrss is in KiB on Linux: decoding 81 Mpx would have taken hundreds of MB.
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 100 * 1024


def test_limits_are_parameters() -> None:
    assert refusal_with(PNG, max_bytes=100) == f"{NOPE} The file is larger than 100 bytes."
    assert refusal_with(PNG, max_pixels=64 * 48 - 1) == f"{NOPE} The image is 64x48, too many pixels."
    assert refusal_with(MP4, max_video_pixels=64 * 64 - 1) == f"{NOPE} The video is 64x64, too many pixels."


def refusal_with(data: bytes, **limits: int) -> str:
    with pytest.raises(ProbeError) as caught:
        probe(data, **limits)
    return caught.value.reason


def test_file_objects_are_probed_in_place() -> None:
    handle = io.BytesIO(MP4)
    assert probe(handle).codec == "h264"
    assert not handle.closed


def _probe_or_refuse(data: bytes) -> MediaInfo | None:
    try:
        return probe(data)
    except ProbeError:
        return None


FUZZ = settings(
    max_examples=100,
    deadline=timedelta(seconds=2),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@FUZZ
@given(st.binary(max_size=4096))
def test_fuzz_random_bytes(data: bytes) -> None:
    _probe_or_refuse(data)


@FUZZ
@given(st.binary(min_size=1, max_size=64))
def test_fuzz_random_bytes_behind_real_magic(tail: bytes) -> None:
    for magic in (
        b"\x89PNG\r\n\x1a\n",
        b"\xff\xd8\xff\xe0",
        b"RIFF\0\0\0\0WEBPVP8 ",
        b"\0\0\0\x18ftypisom",
        b"ID3",
    ):
        _probe_or_refuse(magic + tail)


@FUZZ
@given(
    st.sampled_from(SEEDS),
    st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 255)), max_size=8),
    st.floats(0.05, 1.0),
)
def test_fuzz_mutated_media(seed: bytes, flips: list[tuple[float, int]], keep: float) -> None:
    """Valid files with bytes overwritten and the tail cut off: a MediaInfo or a ProbeError, quickly."""
    data = bytearray(seed[: max(1, int(len(seed) * keep))])
    for where, value in flips:
        data[int(where * len(data))] = value
    info = _probe_or_refuse(bytes(data))
    if info is not None:
        assert info.kind in AssetKind
        assert info.width is None or 0 < info.width * (info.height or 0) <= 50_000_000
