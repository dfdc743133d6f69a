"""gen4.5's `outputFormat`s: every format through the SDK against a live server, probed as delivered.

All deliveries are submitted at once (2 s clips; the server runs two at a time) and probed with PyAV and
zipfile: container, codec, bit depth, colour tags, HDR metadata, frame count and size, and the credits
with each format's surcharge. The colour maths and the writers' details are checked directly at small
sizes.
"""

from __future__ import annotations

import io
import json
import struct
import zipfile
from dataclasses import dataclass
from typing import Any

import av
import numpy as np
import PyOpenColorIO as ocio
import pytest
from PIL import Image
from runwayml import BadRequestError, RunwayML

from support import clients
from support.clients import Delivered, sdk
from support.server import Server
from taxiway.catalog.models import Price, PriceSource
from taxiway.catalog.video_models import FORMAT_SURCHARGE, OUTPUT_FORMATS
from taxiway.engines.base import EngineRequest, RunContext, TaskCancelled
from taxiway.engines.exr_encode import encode_exr
from taxiway.engines.offline.video_formats import (
    Signal,
    hdr_code_values,
    hlg_encode,
    light_levels,
    linear_light,
    pq_encode,
    write_video,
)
from taxiway.engines.offline.video_procedural import ProceduralVideoEngine

PROMPT = "a lighthouse at dusk over the ocean, slow push in"
# Matrix coefficients, primaries and transfer as FFmpeg numbers them.
BT709, BT2020, PQ, HLG = (1, 1, 1), (9, 9, 16), (9, 9, 16), (9, 9, 18)


def _png_uri() -> str:
    import base64

    buffer = io.BytesIO()
    Image.new("RGB", (320, 180), (200, 120, 40)).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


@dataclass(frozen=True)
class Case:
    output_format: str
    endpoint: str
    ratio: str
    credits: int  # for 2 s: (12 + surcharge) x 2
    profile: str | None = None

    @property
    def size(self) -> tuple[int, int]:
        width, height = self.ratio.split(":")
        return int(width), int(height)


# Each format once, on both endpoints (the procedural and the camera-move engine); explicit ProRes
# profiles where the format has one, defaults where not. gen4.5's sizes are all about 1 MP.
CASES = [
    Case("mp4", "text_to_video", "1280:720", 24),
    Case("prores", "image_to_video", "960:960", 34),
    Case("png_sequence", "text_to_video", "720:1280", 34),
    Case("hdr10", "image_to_video", "1584:672", 64),
    Case("hlg", "text_to_video", "1280:720", 64),
    Case("sdr_rec709_10bit", "image_to_video", "832:1104", 64),
    Case("hdr_pq_12bit_master", "text_to_video", "1280:720", 64),
    Case("hdr_prores", "image_to_video", "1104:832", 64, profile="422"),
    Case("hdr_png_sequence", "image_to_video", "1280:720", 64),
    Case("hdr_exr_sequence", "text_to_video", "1280:720", 64),
    Case("hdr_exr_acescg_sequence_1_3", "image_to_video", "960:960", 64),
    Case("hdr_exr_acescg_sequence_2_0", "image_to_video", "720:1280", 64),
]


@pytest.fixture(scope="module")
def formats_client(server: Server) -> RunwayML:
    server.cli("orgs", "create", "formats", "--tier", "5", "--credits", "100000")
    return sdk(server, key=server.cli("keys", "create", "--org", "formats").strip())


@pytest.fixture(scope="module")
def delivered(formats_client: RunwayML) -> dict[Case, Delivered]:
    """Every case submitted at once, then awaited and downloaded."""
    image = _png_uri()
    created = {}
    for case in CASES:
        extra: dict[str, Any] = {"prores_profile": case.profile} if case.profile else {}
        if case.endpoint == "image_to_video":
            extra["prompt_image"] = image
        resource = getattr(formats_client, case.endpoint)
        created[case] = resource.create(
            model="gen4.5",
            prompt_text=PROMPT,
            ratio=case.ratio,
            duration=2,
            output_format=case.output_format,
            seed=5,
            **extra,
        )
    return clients.delivered(created, timeout=300)


def _probe_movie(data: bytes) -> tuple[Any, Any, list[Any]]:
    container = av.open(io.BytesIO(data), mode="r")
    stream = container.streams.video[0]
    return container, stream, list(container.decode(stream))


def _tags(frame: Any) -> tuple[int, int, int]:
    return frame.colorspace, frame.color_primaries, frame.color_trc


def _side_data(frame: Any, kind: str) -> bytes | None:
    return next((bytes(item) for item in frame.side_data if item.type.name == kind), None)


MOVIES = {
    # format: (content type, container, codec, decoded pixel format, (matrix, primaries, transfer))
    "mp4": ("video/mp4", "mp4", "h264", "yuv420p", BT709),
    "sdr_rec709_10bit": ("video/mp4", "mp4", "hevc", "yuv420p10le", BT709),
    "hdr10": ("video/mp4", "mp4", "hevc", "yuv420p10le", PQ),
    "hlg": ("video/mp4", "mp4", "hevc", "yuv420p10le", HLG),
    "hdr_pq_12bit_master": ("video/quicktime", "mov", "hevc", "yuv444p12le", PQ),
    "prores": ("video/quicktime", "mov", "prores", "yuv444p12le", BT709),  # 4444 decodes at 12 bits
    "hdr_prores": ("video/quicktime", "mov", "prores", "yuv422p10le", PQ),
}


@pytest.mark.parametrize(
    "case", [c for c in CASES if c.output_format in MOVIES], ids=lambda c: c.output_format
)
def test_movie_formats(delivered: dict[Case, Delivered], case: Case) -> None:
    result = delivered[case]
    assert (result.estimated, result.cost) == (case.credits, case.credits)
    assert len(result.files) == 1
    content_type, data = result.files[0]
    expected_type, container_name, codec, pix_fmt, tags = MOVIES[case.output_format]
    assert content_type == expected_type
    container, stream, frames = _probe_movie(data)
    with container:
        assert container_name in container.format.name.split(",")
        assert stream.codec_context.name == codec
        assert (stream.codec_context.width, stream.codec_context.height) == case.size
        assert float(stream.average_rate) == 24
        assert len(frames) == 48
        assert float(stream.duration * stream.time_base) == pytest.approx(2.0)
        assert {f.format.name for f in frames} == {pix_fmt}
        assert _tags(frames[0]) == tags
        assert (stream.codec_context.colorspace, stream.codec_context.color_primaries) == tags[:2]
        assert not container.streams.audio
        if codec == "hevc":
            assert stream.codec_tag == "hvc1"
        if case.output_format == "prores":
            assert stream.codec_context.profile == "4444"  # the default profile
        if case.output_format == "hdr_prores":
            assert stream.codec_context.profile == "Standard"  # "422"
        if case.output_format in ("hdr10", "hdr_pq_12bit_master"):
            mastering = _side_data(frames[0], "MASTERING_DISPLAY_METADATA")
            assert mastering is not None
            max_nits = struct.unpack_from("<20i", mastering)[18:20]
            assert max_nits[0] / max_nits[1] == 1000
        if case.output_format == "hdr_pq_12bit_master":
            light = _side_data(frames[0], "CONTENT_LIGHT_LEVEL")
            assert light is not None
            max_cll, max_fall = struct.unpack("<2I", light)
            assert 0 < max_fall <= max_cll <= 203  # measured: SDR white is 203 cd/m²


def _zip(result: Delivered) -> zipfile.ZipFile:
    assert len(result.files) == 1
    content_type, data = result.files[0]
    assert content_type == "application/zip"
    return zipfile.ZipFile(io.BytesIO(data))


def _decode_still(data: bytes) -> Any:
    with av.open(io.BytesIO(data), mode="r") as container:
        return next(container.decode(video=0))


def _exr_values(data: bytes) -> Any:
    """An EXR's halves as FFmpeg decodes them, height x width x RGB (swscale would clip them to [0, 1])."""
    still = _decode_still(data)
    assert still.format.name == "gbrpf16le"
    green, blue, red = (
        np.frombuffer(memoryview(p), np.float16).reshape(-1, p.line_size // 2)[: still.height, : still.width]
        for p in still.planes
    )
    return np.stack([red, green, blue], axis=-1)


def _exr_attributes(data: bytes) -> dict[str, bytes]:
    position, found = 8, {}
    while data[position] != 0:
        name_end = data.index(b"\0", position)
        kind_end = data.index(b"\0", name_end + 1)
        (size,) = struct.unpack_from("<i", data, kind_end + 1)
        found[data[position:name_end].decode()] = data[kind_end + 5 : kind_end + 5 + size]
        position = kind_end + 5 + size
    return found


SEQUENCES = {
    # format: (first name, decoded pixel format, colorimetry.json)
    "png_sequence": ("frame_0001.png", "rgb24", False),
    "hdr_png_sequence": ("frame_0001.png", "rgb48be", True),
    "hdr_exr_sequence": ("frame_0001.exr", "gbrpf16le", True),
    "hdr_exr_acescg_sequence_1_3": ("frame.0001.exr", "gbrpf16le", True),
    "hdr_exr_acescg_sequence_2_0": ("frame.0001.exr", "gbrpf16le", True),
}


@pytest.mark.parametrize(
    "case", [c for c in CASES if c.output_format in SEQUENCES], ids=lambda c: c.output_format
)
def test_frame_sequences(delivered: dict[Case, Delivered], case: Case) -> None:
    result = delivered[case]
    assert (result.estimated, result.cost) == (case.credits, case.credits)
    first, pix_fmt, sidecar = SEQUENCES[case.output_format]
    archive = _zip(result)
    names = [n for n in archive.namelist() if n != "colorimetry.json"]
    assert names == [first.replace("0001", f"{i:04d}") for i in range(1, 49)]
    assert ("colorimetry.json" in archive.namelist()) is sidecar
    for name in (names[0], names[-1]):
        still = _decode_still(archive.read(name))
        assert (still.width, still.height) == case.size
        assert still.format.name == pix_fmt
    data = archive.read(names[0])
    if case.output_format == "hdr_png_sequence":
        assert b"cICP\x09\x10\x00\x01" in data  # BT.2020, PQ, RGB, full range
    colorimetry = json.loads(archive.read("colorimetry.json")) if sidecar else {}
    if first.endswith(".exr"):
        attributes = _exr_attributes(data)
        red = struct.unpack("<8f", attributes["chromaticities"])[:2]
        aces = "acescg" in case.output_format
        assert red == pytest.approx((0.713, 0.293) if aces else (0.708, 0.292))
        assert ("whiteLuminance" in attributes) is not aces  # ACEScg is scene light: no display luminance
        light = _exr_values(data)
        assert float(light.min()) >= 0.0
        # Display light tops out at SDR white (203 cd/m² = 2.03), ACEScg at SDR white's scene value.
        top = colorimetry["inverseOutputTransform"]["sdrWhiteScene"] if aces else 2.04
        assert 0.5 < float(light.max()) <= top
    if sidecar:
        assert colorimetry["outputFormat"] == case.output_format
        assert colorimetry["frames"]["count"] == 48
        assert (colorimetry["width"], colorimetry["height"]) == case.size
        expected = {"hdr_png_sequence": "smpte2084"}.get(case.output_format, "linear")
        assert colorimetry["transferCharacteristics"] == expected


# ---- ACEScg -------------------------------------------------------------------------------------------


def _frames(archive: zipfile.ZipFile, suffix: str) -> list[Any]:
    return [archive.read(name) for name in archive.namelist() if name.endswith(suffix)]


def _view(colorimetry: dict[str, Any]) -> Any:
    """The ACES view that colorimetry.json names, ACEScg to display code values, built from it alone."""
    named = colorimetry["inverseOutputTransform"]
    config = ocio.Config.CreateFromFile(named["ocioConfig"])
    view = ocio.DisplayViewTransform(
        src=colorimetry["colorSpace"], display=named["display"], view=named["view"]
    )
    return config.getProcessor(view).getOptimizedCPUProcessor(ocio.OPTIMIZATION_LOSSLESS)


def _shown(scene: Any, colorimetry: dict[str, Any]) -> Any:
    """What an ACES pipeline shows of an EXR's ACEScg, in 8-bit code values."""
    display = np.ascontiguousarray(scene, np.float32)
    _view(colorimetry).applyRGB(display)
    return display * 255.0


ACES = ("hdr_exr_acescg_sequence_1_3", "hdr_exr_acescg_sequence_2_0")


@pytest.fixture(scope="module")
def aces_grid() -> tuple[Any, dict[str, tuple[Any, dict[str, Any]]]]:
    """Every grey and a 16-level cube of colours (64x68), through each ACEScg format: the frame and, per
    format, the EXR's values and colorimetry.json."""
    levels = np.arange(0, 256, 17, dtype=np.uint8)
    cube = np.stack(np.meshgrid(levels, levels, levels, indexing="ij"), axis=-1).reshape(64, 64, 3)
    frame = np.concatenate([np.repeat(np.arange(256, dtype=np.uint8), 3).reshape(4, 64, 3), cube])
    written = {}
    for output_format in ACES:
        [artifact] = write_video([frame], 64, 68, 1, output_format=output_format)
        archive = zipfile.ZipFile(io.BytesIO(artifact.data))
        [exr] = _frames(archive, ".exr")
        written[output_format] = (_exr_values(exr), json.loads(archive.read("colorimetry.json")))
    return frame, written


@pytest.mark.parametrize(
    ("output_format", "config", "white", "reached", "yellow"),
    [
        (ACES[0], "ocio://studio-config-v2.2.0_aces-v1.3_ocio-v2.4", 16.29, 0.87, 142.3),
        (ACES[1], "ocio://studio-config-v4.0.0_aces-v2.0_ocio-v2.5", 128.0, 0.96, 9.9),
    ],
    ids=["1_3", "2_0"],
)
def test_acescg_round_trips_through_its_output_transform_but_for_colours_it_cannot_show(
    aces_grid: tuple[Any, dict[str, tuple[Any, dict[str, Any]]]],
    output_format: str,
    config: str,
    white: float,
    reached: float,
    yellow: float,
) -> None:
    frame, written = aces_grid
    scene, colorimetry = written[output_format]
    named = colorimetry["inverseOutputTransform"]
    assert (named["ocioConfig"], named["display"], colorimetry["inputTransform"]) == (
        config,
        "Rec.1886 Rec.709 - Display",
        "ACES - ACEScg",
    )
    assert named["sdrWhiteScene"] == pytest.approx(white, abs=0.01)
    assert scene[3, -1] == pytest.approx([white] * 3, rel=1e-3)  # SDR white: the top of the tone scale
    error = np.abs(_shown(scene, colorimetry) - frame).max(axis=-1)
    # Measured: greys within 0.03 (1.3) and 0.02 (2.0) code values; the cube within one code value for 89%
    # (1.3) and 97% (2.0) of its colours; the worst is pure yellow, which neither view can show.
    assert float(error[:4].max()) < 0.1
    assert float((error[4:] <= 1.0).mean()) >= reached
    assert float(error[4:].max()) == pytest.approx(yellow, abs=0.5)
    assert tuple(frame[4:][np.unravel_index(np.argmax(error[4:]), (64, 64))]) == (255, 255, 0)


def test_aces_1_3_and_2_0_deliver_different_scenes(
    aces_grid: tuple[Any, dict[str, tuple[Any, dict[str, Any]]]],
) -> None:
    _frame, written = aces_grid
    (old, old_colorimetry), (new, new_colorimetry) = (written[name] for name in ACES)
    assert old_colorimetry["inverseOutputTransform"]["view"] == "ACES 1.0 - SDR Video"
    assert new_colorimetry["inverseOutputTransform"]["view"] == "ACES 2.0 - SDR 100 nits (Rec.709)"
    # Code 128, half the SDR signal: ACEScg 0.277 under 1.3, 0.328 under 2.0.
    assert (float(old[2, 0, 0]), float(new[2, 0, 0])) == (
        pytest.approx(0.2773, abs=2e-3),
        pytest.approx(0.3279, abs=2e-3),
    )
    ratio = np.log2(np.maximum(new, 1e-3) / np.maximum(old, 1e-3))
    assert float(np.abs(ratio).mean()) > 0.4  # over 30% apart on average (measured: 0.53 stops)


@pytest.mark.parametrize(("output_format", "tolerance"), [(ACES[0], 1.0), (ACES[1], 0.25)])
def test_acescg_engine_frames_come_back_through_the_aces_view(output_format: str, tolerance: float) -> None:
    """What an ACES pipeline shows of the EXRs, against the same engine's PNGs of the same request."""
    params = {"model": "gen4.5", "promptText": PROMPT, "ratio": "128:72", "duration": 1}

    def run(delivery: str) -> zipfile.ZipFile:
        request = EngineRequest("t", "text_to_video", "gen4.5", {**params, "outputFormat": delivery}, 3)
        [artifact] = ProceduralVideoEngine().run(request, RunContext())
        return zipfile.ZipFile(io.BytesIO(artifact.data))

    sdr, aces = run("png_sequence"), run(output_format)
    colorimetry = json.loads(aces.read("colorimetry.json"))
    pairs = list(zip(_frames(sdr, ".png"), _frames(aces, ".exr"), strict=True))
    assert len(pairs) == 24
    worst = 0.0
    for png, exr in pairs:
        source = _decode_still(png).to_ndarray(format="rgb24")
        worst = max(worst, float(np.abs(_shown(_exr_values(exr), colorimetry) - source).max()))
    assert worst <= tolerance  # measured 0.70 (1.3) and 0.085 (2.0) code values


def test_every_format_has_a_case() -> None:
    assert [c.output_format for c in CASES] == list(OUTPUT_FORMATS)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"prores_profile": "422"}, "only valid when outputFormat is 'prores' or 'hdr_prores'"),
        ({"output_format": "hdr10", "prores_profile": "4444"}, "only valid when"),
        (
            {"output_format": "hdr_prores", "prores_profile": "422 Proxy"},
            "must be one of '422', '422 HQ', '4444'",
        ),
        ({"output_format": "hdr_prores", "prores_profile": "422 LT"}, "must be one of"),
        ({"output_format": "hdr_prores", "prores_profile": "4444 XQ"}, "must be one of"),
    ],
)
def test_bad_prores_profile_is_a_400_naming_it(
    formats_client: RunwayML, extra: dict[str, Any], message: str
) -> None:
    with pytest.raises(BadRequestError) as info:
        formats_client.text_to_video.create(
            model="gen4.5", prompt_text=PROMPT, ratio="1280:720", duration=2, **extra
        )
    body = info.value.body
    assert isinstance(body, dict)
    issues = [i for i in body["issues"] if i["path"] == ["proresProfile"]]
    assert issues and message in issues[0]["message"], body


def test_every_prores_profile_is_accepted_for_prores(formats_client: RunwayML) -> None:
    for profile in ("422", "4444", "422 Proxy", "422 LT", "422 HQ", "4444 XQ"):
        task = formats_client.text_to_video.create(
            model="gen4.5",
            prompt_text=PROMPT,
            ratio="1280:720",
            duration=2,
            output_format="prores",
            prores_profile=profile,
        )
        assert task.estimated_cost.credits == 34
        formats_client.tasks.delete(task.id)


# ---- pricing ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("output_format", "ratio", "credits"),
    [
        ("mp4", "3840:2160", 120),
        ("prores", "3840:2160", 170),  # 5/s at every size
        ("hdr10", "2560:1440", 320),  # 3.7 MP: under the line
        ("hdr10", "2560:1600", 520),  # 4.1 MP: over it
        ("hdr_exr_sequence", "3840:2160", 520),
    ],
)
def test_deep_formats_cost_more_above_four_megapixels(output_format: str, ratio: str, credits: int) -> None:
    price = Price(source=PriceSource.RUNWAY, per_second=12, format_surcharge=FORMAT_SURCHARGE)
    assert price.credits({"outputFormat": output_format, "ratio": ratio}, 10) == credits


# ---- writers ------------------------------------------------------------------------------------------


def _flat(colour: tuple[int, int, int], count: int = 2, size: tuple[int, int] = (64, 36)) -> list[Any]:
    return [np.full((size[1], size[0], 3), colour, np.uint8) for _ in range(count)]


def test_sdr_white_lands_on_the_hdr_reference_white() -> None:
    white = np.full((2, 2, 3), 255, np.uint8)
    assert pq_encode(np.array(203.0)) == pytest.approx(0.5807, abs=5e-4)  # BT.2408: PQ 58%
    assert hdr_code_values(white, Signal.PQ)[0, 0] / 65535 == pytest.approx(0.5807, abs=5e-4)
    assert hlg_encode(np.array(0.2648)) == pytest.approx(0.75, abs=1e-3)  # HLG 75%
    assert hdr_code_values(white, Signal.HLG)[0, 0] / 65535 == pytest.approx(0.75, abs=1e-3)
    assert linear_light(white)[0, 0] == pytest.approx([2.03] * 3, abs=1e-3)
    assert light_levels(white) == pytest.approx((203.0, 203.0))


def test_saturated_colours_keep_their_hue_in_wider_primaries() -> None:
    red = np.zeros((1, 1, 3), np.uint8)
    red[..., 0] = 255
    # BT.709 red inside BT.2020 (ITU-R BT.2087).
    assert linear_light(red)[0, 0] / 2.03 == pytest.approx([0.6274, 0.0691, 0.0164], abs=2e-4)


def test_hdr10_decodes_to_the_pq_code_of_sdr_white() -> None:
    [artifact] = write_video(_flat((255, 255, 255)), 64, 36, 2, output_format="hdr10")
    container, _stream, frames = _probe_movie(artifact.data)
    with container:
        luma = frames[0].to_ndarray()[:36, :64]  # yuv420p10le: the Y plane first
    assert float(luma.mean()) == pytest.approx(64 + 876 * 0.5807, abs=2)  # limited range, 10 bits


def test_the_12_bit_master_measures_its_light_levels() -> None:
    frames = _flat((0, 0, 0), 1) + _flat((255, 255, 255), 1)
    frames[0][:, :32] = 255  # half white: a frame average of 101.5 cd/m²
    [artifact] = write_video(frames, 64, 36, 2, output_format="hdr_pq_12bit_master")
    container, _stream, decoded = _probe_movie(artifact.data)
    with container:
        light = _side_data(decoded[0], "CONTENT_LIGHT_LEVEL")
    assert light is not None and struct.unpack("<2I", light) == (203, 203)


@pytest.mark.parametrize(
    ("profile", "name", "pix_fmt"),
    [
        ("422 Proxy", "Proxy", "yuv422p10le"),
        ("422 LT", "LT", "yuv422p10le"),
        ("422", "Standard", "yuv422p10le"),
        ("422 HQ", "HQ", "yuv422p10le"),
        ("4444", "4444", "yuv444p12le"),
        ("4444 XQ", "XQ", "yuv444p12le"),
    ],
)
def test_prores_profiles(profile: str, name: str, pix_fmt: str) -> None:
    [artifact] = write_video(_flat((10, 200, 30)), 64, 36, 2, output_format="prores", prores_profile=profile)
    container, stream, frames = _probe_movie(artifact.data)
    with container:
        assert stream.codec_context.profile == name
        assert frames[0].format.name == pix_fmt


@pytest.mark.parametrize(("output_format", "profile"), [("prores", "4444"), ("hdr_prores", "HQ")])
def test_engines_write_the_default_prores_profile(output_format: str, profile: str) -> None:
    params = {"model": "gen4.5", "promptText": PROMPT, "ratio": "128:72", "duration": 1}
    request = EngineRequest("t", "text_to_video", "gen4.5", {**params, "outputFormat": output_format}, 3)
    [artifact] = ProceduralVideoEngine().run(request, RunContext())
    assert (artifact.filename, artifact.content_type, artifact.seconds) == (
        "output.mov",
        "video/quicktime",
        1.0,
    )
    container, stream, frames = _probe_movie(artifact.data)
    with container:
        assert (stream.codec_context.profile, len(frames)) == (profile, 24)


def test_audio_rides_along_in_each_kind_of_delivery() -> None:
    tone = (np.sin(np.linspace(0, 400, 48000 * 2))[None, :] * 0.5).astype(np.float32)
    for output_format, codec in (("hlg", "aac"), ("hdr_prores", "pcm_s24le")):
        [artifact] = write_video(
            _flat((90, 90, 90), 48), 64, 36, 48, output_format=output_format, audio=tone, prores_profile="422"
        )
        with av.open(io.BytesIO(artifact.data), mode="r") as container:
            assert container.streams.audio[0].codec_context.name == codec
    frames, sound = write_video(_flat((90, 90, 90), 48), 64, 36, 48, output_format="png_sequence", audio=tone)
    assert (frames.filename, sound.filename, sound.content_type) == ("output.zip", "output.wav", "audio/wav")
    with av.open(io.BytesIO(sound.data), mode="r") as container:
        track = container.streams.audio[0]
        assert (track.codec_context.name, track.rate) == ("pcm_s24le", 48000)
        assert sum(f.samples for f in container.decode(track)) == 96000


def test_exr_frames_read_back_exactly() -> None:
    rng = np.random.default_rng(1)
    light = rng.uniform(0.0, 3.0, (37, 20, 3)).astype(np.float32)  # 3 chunks, the last one short
    data = encode_exr(light, ((0.708, 0.292), (0.17, 0.797), (0.131, 0.046), (0.3127, 0.329)), white_nits=100)
    assert np.array_equal(_exr_values(data), light.astype(np.float16))
    attributes = _exr_attributes(data)
    assert struct.unpack("<f", attributes["whiteLuminance"]) == (100.0,)
    assert {"channels", "compression", "dataWindow", "pixelAspectRatio", "lineOrder"} <= set(attributes)


def test_writers_stop_when_told_and_reject_short_sources() -> None:
    def stop(done: int, _total: int) -> None:
        if done == 3:
            raise TaskCancelled()

    with pytest.raises(TaskCancelled):
        write_video(_flat((1, 2, 3), 10), 64, 36, 10, output_format="hdr_pq_12bit_master", on_step=stop)
    with pytest.raises(ValueError, match="ended after 2 of 3"):
        write_video(_flat((1, 2, 3), 2), 64, 36, 3, output_format="hdr_exr_sequence")


def test_hevc_outputs_are_byte_identical_across_runs() -> None:
    runs = {write_video(_flat((40, 80, 160), 6), 64, 36, 6, output_format="hdr10")[0].data for _ in range(2)}
    assert len(runs) == 1
