"""video_to_hdr (`ruby`): SDR video in, HDR video out, through the official SDK against a live server.

The source is made here with PyAV: 2 s of 320x180 at 24 fps, lossless H.264, with stereo AAC; it holds SDR
diffuse white (the 90% signal), peak white and a saturated colour. Three deliveries are submitted at once
and probed as a client would; the tone curve, alpha and frame rates are checked on the engine directly.
"""

from __future__ import annotations

import base64
import io
import json
import struct
import zipfile
from fractions import Fraction
from typing import Any

import av
import httpx
import numpy as np
import pytest
from runwayml import BadRequestError, RunwayML

from support import clients
from support.clients import Delivered, sdk
from support.server import Server
from taxiway.catalog import model_spec
from taxiway.engines.base import EngineRequest, RunContext
from taxiway.engines.offline.video_formats import pq_encode
from taxiway.engines.offline.video_hdr import (
    DIFFUSE_WHITE,
    DIFFUSE_WHITE_SIGNAL,
    InverseToneMapEngine,
    expand,
    upconvert,
)
from taxiway.errors import Failure

WIDTH, HEIGHT, FRAMES = 320, 180, 48
DIFFUSE_CODE = round(DIFFUSE_WHITE_SIGNAL * 255)  # 230


def _pattern(width: int, height: int) -> np.ndarray[Any, np.dtype[np.uint8]]:
    """Left third SDR diffuse white, middle third peak white, right third a saturated orange."""
    pixels = np.zeros((height, width, 3), np.uint8)
    third = width // 3
    pixels[:, :third] = DIFFUSE_CODE
    pixels[:, third : 2 * third] = 255
    pixels[:, 2 * third :] = (230, 120, 20)
    return pixels


def make_source(
    width: int = WIDTH,
    height: int = HEIGHT,
    frames: int = FRAMES,
    rate: Fraction = Fraction(24),
    audio: bool = True,
    trc: int | None = None,
) -> bytes:
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp4") as container:
        video = container.add_stream("libx264", rate=rate)
        odd = width % 2 or height % 2  # 4:2:0 needs even sides, 4:4:4 does not
        video.width, video.height, video.pix_fmt = width, height, "yuv444p" if odd else "yuv420p"
        video.options = {"preset": "ultrafast", "qp": "0"}
        if trc is not None:
            video.codec_context.color_trc = trc
        sound = container.add_stream("aac", rate=48000) if audio else None
        if sound is not None:
            sound.layout = "stereo"
        picture = _pattern(width, height)
        for index in range(frames):
            frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
            frame.pts = index
            container.mux(video.encode(frame))
        container.mux(video.encode())
        if sound is not None:
            samples = round(float(frames / rate) * 48000)
            tone = (0.3 * np.sin(2 * np.pi * 440 * np.arange(samples) / 48000)).astype(np.float32)
            for offset in range(0, samples, 1024):
                chunk = np.ascontiguousarray(np.stack([tone[offset : offset + 1024]] * 2))
                block = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="stereo")
                block.sample_rate, block.pts = 48000, offset
                container.mux(sound.encode(block))
            container.mux(sound.encode())
    return buffer.getvalue()


def data_uri(data: bytes, media_type: str = "video/mp4") -> str:
    return f"data:{media_type};base64," + base64.b64encode(data).decode()


# ---- through the SDK ----------------------------------------------------------------------------------


DELIVERIES = {"default": None, "hlg": "hlg", "exr": "hdr_exr_sequence"}


@pytest.fixture(scope="module")
def hdr_client(server: Server) -> RunwayML:
    server.cli("orgs", "create", "hdr", "--tier", "5", "--credits", "100000")
    return sdk(server, key=server.cli("keys", "create", "--org", "hdr").strip())


@pytest.fixture(scope="module")
def delivered(hdr_client: RunwayML) -> dict[str, Delivered]:
    uri = data_uri(make_source())
    created = {}
    for name, output_format in DELIVERIES.items():
        extra = {"output_format": output_format} if output_format else {}
        created[name] = hdr_client.video_to_hdr.create(model="ruby", video_uri=uri, **extra)  # type: ignore[arg-type]
    return clients.delivered(created, timeout=120)


def _side_data(frame: Any, kind: str) -> bytes | None:
    return next((bytes(item) for item in frame.side_data if item.type.name == kind), None)


def _movie(data: bytes) -> tuple[Any, list[Any], bool]:
    with av.open(io.BytesIO(data), mode="r") as container:
        stream = container.streams.video[0]
        frames = list(container.decode(stream))
        audio = [s.codec_context.name for s in container.streams.audio]
        assert stream.codec_context.name == "hevc"
        assert stream.codec_context.profile == "Main 10"
        assert (stream.codec_context.width, stream.codec_context.height) == (WIDTH, HEIGHT)
        assert stream.average_rate == 24
        assert float(stream.duration * stream.time_base) == pytest.approx(2.0)
        return stream, frames, audio == ["aac"]


def _band_luma(frame: Any) -> list[float]:
    """Mean 10-bit luma of the pattern's three bands, away from their edges."""
    luma = frame.to_ndarray()[:HEIGHT, :WIDTH].astype(np.float64)
    third = WIDTH // 3
    return [float(luma[:, start + 8 : start + third - 8].mean()) for start in (0, third, 2 * third)]


def test_hdr10_is_the_default_and_expands_the_highlights(delivered: dict[str, Delivered]) -> None:
    result = delivered["default"]
    assert (result.estimated, result.cost) == (40, 40)  # 20 credits per second of output
    [(content_type, data)] = result.files
    assert content_type == "video/mp4"
    _stream, frames, has_audio = _movie(data)
    assert has_audio
    assert len(frames) == FRAMES
    assert {f.format.name for f in frames} == {"yuv420p10le"}
    assert (frames[0].colorspace, frames[0].color_primaries, frames[0].color_trc) == (9, 9, 16)
    mastering = _side_data(frames[0], "MASTERING_DISPLAY_METADATA")
    light = _side_data(frames[0], "CONTENT_LIGHT_LEVEL")
    assert mastering is not None and light is not None
    max_cll, max_fall = struct.unpack("<2I", light)
    assert 950 <= max_cll <= 1000  # SDR peak white reaches the mastering peak
    assert 203 < max_fall < max_cll
    diffuse, peak, _orange = _band_luma(frames[10])
    assert diffuse == pytest.approx(64 + 876 * float(pq_encode(np.array(203.0))), abs=4)
    assert peak == pytest.approx(64 + 876 * float(pq_encode(np.array(1000.0))), abs=4)


def test_hlg_delivery(delivered: dict[str, Delivered]) -> None:
    [(content_type, data)] = delivered["hlg"].files
    assert content_type == "video/mp4"
    _stream, frames, has_audio = _movie(data)
    assert has_audio and len(frames) == FRAMES
    assert (frames[0].colorspace, frames[0].color_primaries, frames[0].color_trc) == (9, 9, 18)
    diffuse, peak, _orange = _band_luma(frames[0])
    assert diffuse == pytest.approx(64 + 876 * 0.75, abs=5)  # BT.2408: reference white at HLG 75%
    assert peak > 64 + 876 * 0.99


def _exr_light(data: bytes) -> np.ndarray[Any, np.dtype[np.float16]]:
    with av.open(io.BytesIO(data), mode="r") as container:
        still = next(container.decode(video=0))
    planes = [
        np.frombuffer(memoryview(p), np.float16).reshape(-1, p.line_size // 2)[: still.height, : still.width]
        for p in still.planes
    ]
    green, blue, red = planes[:3]
    return np.stack([red, green, blue], axis=-1)


def test_exr_zip_carries_provenance_and_the_source_audio(delivered: dict[str, Delivered]) -> None:
    result = delivered["exr"]
    assert result.cost == 40
    [(content_type, data)] = result.files  # the zip is the whole delivery: no separate WAV
    assert content_type == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(data))
    names = archive.namelist()
    assert [n for n in names if n.endswith(".exr")] == [f"frame_{i:04d}.exr" for i in range(1, FRAMES + 1)]
    assert {"colorimetry.json", "provenance.json", "audio.wav"} <= set(names)
    provenance = json.loads(archive.read("provenance.json"))
    assert provenance["upconvert"] == "SDR to HDR" and provenance["model"] == "ruby"
    assert provenance["source"]["frames"] == FRAMES and provenance["source"]["audio"] is True
    assert provenance["inverseToneMapping"]["referenceWhiteNits"] == 203
    assert 950 <= provenance["output"]["maxCLL"] <= 1000
    assert json.loads(archive.read("colorimetry.json"))["frames"]["count"] == FRAMES
    light = _exr_light(archive.read("frame_0001.exr")).astype(np.float64)  # 1.0 = 100 cd/m²
    third = WIDTH // 3
    assert light[:, 8 : third - 8].mean() == pytest.approx(2.03, abs=0.05)
    assert 9.5 <= float(light.max()) <= 10.01
    with av.open(io.BytesIO(archive.read("audio.wav")), mode="r") as container:
        track = container.streams.audio[0]
        assert (track.rate, track.codec_context.channels) == (48000, 2)
        assert sum(f.samples for f in container.decode(track)) == 96000


def test_the_route_is_in_openapi(server: Server) -> None:
    schema = httpx.get(f"{server.base_url}/openapi.json", timeout=120).json()  # built on first request
    body = schema["paths"]["/v1/video_to_hdr"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    model = schema["components"]["schemas"][body["$ref"].split("/")[-1]] if "$ref" in body else body
    assert model["required"] == ["model", "videoUri"]
    assert set(model["properties"]) == {"model", "videoUri", "outputFormat", "proresProfile"}


def test_prores_profile_without_hdr_prores_is_a_400_naming_it(hdr_client: RunwayML) -> None:
    uri = data_uri(make_source(64, 36, 6, audio=False))
    with pytest.raises(BadRequestError) as info:
        hdr_client.video_to_hdr.create(model="ruby", video_uri=uri, output_format="hlg", prores_profile="422")
    body = info.value.body
    assert isinstance(body, dict)
    assert [issue["path"] for issue in body["issues"]] == [["proresProfile"]]


def test_a_non_video_input_is_a_400_naming_it(hdr_client: RunwayML) -> None:
    png = io.BytesIO()
    from PIL import Image

    Image.new("RGB", (32, 32), (200, 10, 10)).save(png, "PNG")
    with pytest.raises(BadRequestError) as info:
        hdr_client.video_to_hdr.create(model="ruby", video_uri=data_uri(png.getvalue(), "image/png"))
    body = info.value.body
    assert isinstance(body, dict)
    assert [issue["path"] for issue in body["issues"]] == [["videoUri"]]


# ---- the tone curve and the engine --------------------------------------------------------------------


def test_tone_curve_puts_diffuse_white_on_203_and_expands_highlights_smoothly() -> None:
    assert float(expand(np.array(DIFFUSE_WHITE))) == pytest.approx(203.0)
    assert float(expand(np.array(1.0))) == pytest.approx(1000.0)
    assert float(expand(np.array(0.0))) == 0.0
    light = np.linspace(0.0, 1.0, 100_001)
    nits = expand(light)
    assert np.all(np.diff(nits) > 0)  # strictly monotonic
    assert np.all(nits[light > DIFFUSE_WHITE] > 203.0)
    assert float(expand(np.array(0.95**2.4))) > 350  # the top of the signal is the highlight range
    # Continuous slope where the shoulder joins (C1), and convex: no channel can pass the peak.
    step = 1e-6
    below = (expand(np.array(DIFFUSE_WHITE)) - expand(np.array(DIFFUSE_WHITE - step))) / step
    above = (expand(np.array(DIFFUSE_WHITE + step)) - expand(np.array(DIFFUSE_WHITE))) / step
    assert float(above) == pytest.approx(float(below), rel=1e-3)
    assert np.all(np.diff(nits, 2) >= -1e-9)
    # An 18% grey card (BT.709 OETF: 41% signal) lands near BT.2408's 26 cd/m².
    assert 24 < float(expand(np.array(0.409**2.4))) < 32


def test_upconvert_keeps_each_pixels_colour() -> None:
    codes = np.array([[[65535, 32768, 5000], [60000, 60000, 60000], [3000, 20000, 64000]]], np.uint16)
    frame = upconvert(codes)
    linear = ((codes / 65535.0) ** 2.4).reshape(-1, 3)
    from taxiway.engines.offline.video_formats import BT709_TO_BT2020

    source = linear @ BT709_TO_BT2020.T
    hdr = frame.light.reshape(-1, 3).astype(np.float64)
    for before, after in zip(source, hdr, strict=True):  # one factor for all three channels
        assert after / after.sum() == pytest.approx(before / before.sum(), abs=1e-5)
    assert frame.gain[0, 1] > 1.0 and frame.gain[0, 2] == 1.0  # only the bright grey is a highlight


def _engine_run(data: bytes, output_format: str, **params: str) -> list[Any]:
    body = {"model": "ruby", "videoUri": "v", "outputFormat": output_format, **params}
    request = EngineRequest("t", "video_to_hdr", "ruby", body, 1, {"v": data})
    return InverseToneMapEngine().run(request, RunContext())


def _alpha_source(width: int = 64, height: int = 36, frames: int = 6) -> tuple[bytes, np.ndarray[Any, Any]]:
    """ProRes 4444 with a horizontal alpha ramp."""
    buffer = io.BytesIO()
    rgba = np.zeros((height, width, 4), np.uint8)
    rgba[..., :3] = _pattern(width, height)
    rgba[..., 3] = np.linspace(0, 255, width).astype(np.uint8)[None, :]
    with av.open(buffer, "w", format="mov") as container:
        stream = container.add_stream("prores_ks", rate=24)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuva444p10le"
        stream.options = {"profile": "4444"}
        for index in range(frames):
            frame = av.VideoFrame.from_ndarray(rgba, format="rgba")
            frame.pts = index
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return buffer.getvalue(), rgba[..., 3].astype(np.float64) / 255.0


def test_alpha_passes_through_to_exr_and_a_4444_prores() -> None:
    data, alpha = _alpha_source()
    [movie] = _engine_run(data, "hdr_prores", proresProfile="422")  # alpha sources always get 4444
    with av.open(io.BytesIO(movie.data), mode="r") as container:
        stream = container.streams.video[0]
        frames = list(container.decode(stream))
        assert stream.codec_context.profile == "4444" and len(frames) == 6
        assert frames[0].format.name.startswith("yuva444p")
        decoded = frames[0].to_ndarray(format="rgba64le")[..., 3] / 65535.0
    assert decoded == pytest.approx(alpha, abs=0.01)
    [archive] = _engine_run(data, "hdr_exr_acescg_sequence_2_0")
    with zipfile.ZipFile(io.BytesIO(archive.data)) as frames_zip:
        exr = frames_zip.read("frame.0001.exr")
    with av.open(io.BytesIO(exr), mode="r") as container:
        still = next(container.decode(video=0))
    assert still.format.name == "gbrapf16le"
    plane = still.planes[3]
    coverage = np.frombuffer(memoryview(plane), np.float16).reshape(-1, plane.line_size // 2)[:36, :64]
    assert coverage.astype(np.float64) == pytest.approx(alpha, abs=0.01)


def test_webm_alpha_is_read_through_libvpx() -> None:
    """FFmpeg's own VP9 decoder drops WebM's alpha (a Matroska side channel); libvpx's keeps it."""
    buffer = io.BytesIO()
    rgba = np.zeros((36, 64, 4), np.uint8)
    rgba[..., :3] = 240
    rgba[..., 3] = np.linspace(0, 255, 64).astype(np.uint8)[None, :]
    with av.open(buffer, "w", format="webm") as container:
        stream = container.add_stream("libvpx-vp9", rate=24)
        stream.width, stream.height, stream.pix_fmt = 64, 36, "yuva420p"
        stream.options = {"deadline": "realtime", "cpu-used": "8", "lossless": "1"}
        for index in range(3):
            frame = av.VideoFrame.from_ndarray(rgba, format="rgba")
            frame.pts = index
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    [archive] = _engine_run(buffer.getvalue(), "hdr_exr_sequence")
    with zipfile.ZipFile(io.BytesIO(archive.data)) as frames_zip:
        exr = frames_zip.read("frame_0003.exr")
        assert json.loads(frames_zip.read("provenance.json"))["source"]["alpha"] is True
    with av.open(io.BytesIO(exr), mode="r") as container:
        still = next(container.decode(video=0))
    plane = still.planes[3]
    coverage = np.frombuffer(memoryview(plane), np.float16).reshape(-1, plane.line_size // 2)[:36, :64]
    assert coverage.astype(np.float64) == pytest.approx(rgba[..., 3] / 255.0, abs=0.01)


def test_fractional_frame_rates_and_odd_sizes_are_kept() -> None:
    data = make_source(67, 37, 12, rate=Fraction(30000, 1001), audio=False)
    [movie] = _engine_run(data, "hlg")
    assert movie.seconds == pytest.approx(12 * 1001 / 30000)
    assert movie.pixels == 67 * 37  # priced on the source's size
    with av.open(io.BytesIO(movie.data), mode="r") as container:
        stream = container.streams.video[0]
        assert stream.average_rate == Fraction(30000, 1001)
        assert (stream.codec_context.width, stream.codec_context.height) == (66, 36)
        assert sum(1 for _ in container.decode(stream)) == 12


def test_already_hdr_sources_are_refused() -> None:
    data = make_source(64, 36, 4, audio=False, trc=16)
    with pytest.raises(Failure) as info:
        _engine_run(data, "hdr10")
    assert info.value.code == "ASSET.INVALID" and info.value.message.startswith("videoUri: ")


def test_price_is_per_second_of_output_and_doubles_above_four_megapixels() -> None:
    spec = model_spec("video_to_hdr", "ruby")
    assert spec.estimated_credits({"videoUri": "x"}, 2.0, 1920 * 1080) == 40
    assert spec.estimated_credits({"videoUri": "x"}, 2.0, 3840 * 2160) == 80
    assert spec.estimated_credits({"videoUri": "x"}, 2.0, 2560 * 1440) == 40  # 1440p is under 4 MP
    assert spec.estimated_credits({"videoUri": "x"}) == 1200  # unmeasured: 30 s held at the higher rate
    assert spec.final_credits({"videoUri": "x"}, 2.5, 1280 * 720) == 50
