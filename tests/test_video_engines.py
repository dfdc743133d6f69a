"""The offline video engines: the MP4 contract, determinism, what prompts and inputs steer, failures, cancel.

Inputs are built here (PNG with Pillow, MP4 with the engines' own encoder) at small sizes and short
durations, so the whole file stays fast.
"""

from __future__ import annotations

import io
import itertools
import os
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image, ImageDraw

from taxiway.engines.base import Engine, EngineRequest, RunContext, TaskCancelled
from taxiway.engines.fields import MediaRef
from taxiway.engines.offline.video_camera import CameraMoveEngine, choose_move, keyframe_uris
from taxiway.engines.offline.video_common import (
    clip_seconds,
    keeps_input_audio,
    output_size,
    ratio_for_aspect,
)
from taxiway.engines.offline.video_encode import (
    InvalidMedia,
    VideoInfo,
    decode_frames,
    encode_mp4,
    probe_video,
    synthesize_ambience,
)
from taxiway.engines.offline.video_procedural import ProceduralVideoEngine
from taxiway.engines.offline.video_restyle import (
    PerformanceTransferEngine,
    RestyleVideoEngine,
    choose_style,
)
from taxiway.engines.offline.video_upscale import UpscaleEngine, upscale_size
from taxiway.errors import Failure

Pixels = npt.NDArray[np.float64]

# ---- helpers ------------------------------------------------------------------------------------------


def make_request(
    endpoint: str,
    model: str,
    params: Mapping[str, Any],
    assets: Mapping[str, bytes] | None = None,
    seed: int = 42,
) -> EngineRequest:
    return EngineRequest(
        task_id="t1",
        endpoint=endpoint,
        model=model,
        params={"model": model, **params},
        seed=seed,
        assets=dict(assets or {}),
    )


def run(engine: Engine, request: EngineRequest, context: RunContext | None = None) -> bytes:
    artifacts = engine.run(request, context or RunContext())
    assert len(artifacts) == 1
    assert artifacts[0].filename == "output.mp4"
    assert artifacts[0].content_type == "video/mp4"
    return artifacts[0].data


def check_mp4(data: bytes, width: int, height: int, frames: int, audio: bool = False) -> VideoInfo:
    """The output contract: H.264 yuv420p, exact size, 24 fps, exact frame count and duration."""
    info = probe_video(data)
    assert info.codec == "h264"
    assert info.pix_fmt == "yuv420p"
    assert (info.width, info.height) == (width, height)
    assert info.fps == 24.0
    assert info.frame_count == frames
    assert info.duration == pytest.approx(frames / 24, abs=1e-6)
    assert info.has_audio is audio
    if audio:
        assert info.audio_duration == pytest.approx(frames / 24, abs=1e-3)
    assert len(list(decode_frames(data, frames))) == frames
    return info


def all_frames(data: bytes) -> list[Pixels]:
    count = probe_video(data).frame_count
    return [np.asarray(frame, np.float64) for frame in decode_frames(data, count)]


def png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def detailed_image(
    width: int = 640, height: int = 384, marker: tuple[float, float] = (0.7, 0.5)
) -> Image.Image:
    """Gradients, stripes and one magenta marker whose centroid is easy to track."""
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    pixels = np.stack(
        [
            60 + 120 * xs / width,
            60 + 100 * ys / height,
            90 + 60 * np.sin(xs / 9.0) * np.cos(ys / 13.0),
        ],
        axis=-1,
    )
    image = Image.fromarray(pixels.clip(0, 255).astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(image)
    mx, my, r = marker[0] * width, marker[1] * height, height * 0.06
    draw.ellipse((mx - r, my - r, mx + r, my + r), fill=(255, 0, 255))
    return image


def marker_centre(frame: Pixels) -> tuple[float, float]:
    """Centroid of magenta pixels (the marker)."""
    mask = (frame[..., 0] > 180) & (frame[..., 1] < 90) & (frame[..., 2] > 180)
    ys, xs = np.nonzero(mask)
    assert xs.size > 0, "the marker is not in the frame"
    return float(xs.mean()), float(ys.mean())


def solid(colour: tuple[int, int, int], size: tuple[int, int] = (320, 192)) -> bytes:
    return png(Image.new("RGB", size, colour))


def square_video(
    size: tuple[int, int] = (160, 96), frames: int = 24, fps: int = 24, direction: int = 1
) -> bytes:
    """A bright square crossing a dark background: a performer who moves right (or left)."""
    width, height = size

    def render() -> Iterator[Image.Image]:
        for index in range(frames):
            image = Image.new("RGB", size, (20, 20, 30))
            progress = index / max(1, frames - 1)
            x = width * (0.15 + 0.55 * (progress if direction > 0 else 1 - progress))
            ImageDraw.Draw(image).rectangle(
                (x, height * 0.3, x + width * 0.15, height * 0.6), fill=(240, 240, 240)
            )
            yield image

    return encode_mp4(render(), width, height, frames, fps=fps)


def ramp_video(size: tuple[int, int] = (256, 144), frames: int = 36, fps: int = 24) -> bytes:
    """Frames whose grey level encodes their index, over a colourful gradient so grading shows."""
    width, height = size
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)

    def render() -> Iterator[npt.NDArray[np.uint8]]:
        for index in range(frames):
            level = 40 + 4 * index
            pixels = np.stack([level + 60 * xs / width, level + 40 * ys / height, level + 0 * xs], axis=-1)
            yield pixels.clip(0, 255).astype(np.uint8)

    return encode_mp4(render(), width, height, frames, fps=fps)


@pytest.fixture(scope="module")
def long_video() -> bytes:
    """31 seconds, tiny: just over every engine's 30-second limit."""
    frames = 31 * 24
    return encode_mp4((np.full((32, 48, 3), i % 256, np.uint8) for i in range(frames)), 48, 32, frames)


# ---- the encoder and decoder --------------------------------------------------------------------------


def test_encode_mp4_meets_the_contract_with_audio() -> None:
    frames = (np.full((48, 64, 3), 8 * i, np.uint8) for i in range(30))
    audio = synthesize_ambience(np.random.default_rng(1), 1.25)
    data = encode_mp4(frames, 64, 48, 30, audio=audio)
    check_mp4(data, 64, 48, 30, audio=True)
    assert data[4:8] == b"ftyp"
    assert data.find(b"moov") < data.find(b"mdat")  # faststart: playable while downloading


def test_encode_mp4_is_byte_identical_whatever_the_heap_holds() -> None:
    """x264's AVX-512 code read uninitialised memory, so identical frames gave different bytes depending on
    what the heap held; leaving random garbage on it between frames made that show up reliably."""
    image = detailed_image()
    frames = []
    for index in range(24):  # a push in: the content that exposed it
        zoom = 1 + 0.3 * index / 23
        width, height = 640 / zoom, 384 / zoom
        box = ((640 - width) / 2, (384 - height) / 2, (640 + width) / 2, (384 + height) / 2)
        frames.append(np.asarray(image.resize((160, 96), Image.Resampling.BILINEAR, box=box)))

    def with_garbage() -> Iterator[npt.NDArray[np.uint8]]:
        for frame in frames:
            garbage = [os.urandom(size) for size in (3000, 60_000, 250_000)]
            del garbage
            yield frame

    assert len({encode_mp4(with_garbage(), 160, 96, 24) for _ in range(6)}) == 1


def test_encode_mp4_scales_frames_of_another_size() -> None:
    frames = (np.zeros((24, 32, 3), np.uint8) for _ in range(3))
    check_mp4(encode_mp4(frames, 64, 48, 3), 64, 48, 3)


def test_encode_mp4_rejects_odd_sizes_and_short_sources() -> None:
    with pytest.raises(ValueError, match="even"):
        encode_mp4([], 63, 48, 1)
    with pytest.raises(ValueError, match="ended after 2"):
        encode_mp4([np.zeros((48, 64, 3), np.uint8)] * 2, 64, 48, 3)


def test_decode_frames_resamples_30fps_to_24fps_by_held_frame() -> None:
    data = ramp_video(frames=30, fps=30)
    assert probe_video(data).duration == pytest.approx(1.0)
    levels = [
        round((np.asarray(frame, np.float64)[..., 2].mean() - 40) / 4) for frame in decode_frames(data, 24)
    ]
    assert levels == [int(k * 30 / 24 + 1e-6) for k in range(24)]


def test_decode_frames_holds_or_loops_past_the_end() -> None:
    data = ramp_video(frames=6)
    held = [round((np.asarray(f, np.float64)[..., 2].mean() - 40) / 4) for f in decode_frames(data, 9)]
    looped = [
        round((np.asarray(f, np.float64)[..., 2].mean() - 40) / 4) for f in decode_frames(data, 9, loop=True)
    ]
    assert held == [0, 1, 2, 3, 4, 5, 5, 5, 5]
    assert looped == [0, 1, 2, 3, 4, 5, 0, 1, 2]


def test_garbage_is_invalid_media() -> None:
    with pytest.raises(InvalidMedia):
        probe_video(b"definitely not a video" * 20)


def test_ambience_is_deterministic_stereo_and_bounded() -> None:
    first = synthesize_ambience(np.random.default_rng(5), 1.0)
    assert first.shape == (2, 48000)
    assert first.dtype == np.float32
    assert np.array_equal(first, synthesize_ambience(np.random.default_rng(5), 1.0))
    assert not np.array_equal(first, synthesize_ambience(np.random.default_rng(6), 1.0))
    assert 0.3 < float(np.abs(first).max()) <= 0.5 + 1e-6
    assert float(np.abs(first[:, :100]).max()) < 0.05  # faded in, no click


# ---- shared parameter handling ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "model", "seconds"),
    [
        ({"duration": 3}, "gen4.5", 3.0),
        ({}, "gen4_turbo", 5.0),
        ({"duration": "auto"}, "seedance2", 5.0),
        ({}, "veo3.1", 8.0),
        ({"duration": 4}, "veo3.1_fast", 4.0),
    ],
)
def test_clip_seconds_defaults(params: dict[str, Any], model: str, seconds: float) -> None:
    assert clip_seconds(params.get("duration"), model) == seconds


@pytest.mark.parametrize(
    ("ratio", "fallback", "size"),
    [
        ("1280:720", "960:960", (1280, 720)),
        (None, "720:1280", (720, 1280)),
        ("auto_720p", "1280:720", (1280, 720)),
        ("16:9", "960:960", (1280, 720)),
        ("321:241", "960:960", (320, 240)),
        (None, (49, 33), (48, 32)),  # an input video's own size is pixels, however small
    ],
)
def test_output_size(ratio: str | None, fallback: str | tuple[int, int], size: tuple[int, int]) -> None:
    assert output_size(ratio, fallback) == size


def test_ratio_for_aspect_follows_orientation() -> None:
    assert ratio_for_aspect(16 / 9) == "1280:720"
    assert ratio_for_aspect(9 / 16) == "720:1280"
    assert ratio_for_aspect(1.0) == "960:960"


# ---- text_to_video ------------------------------------------------------------------------------------


def ttv(prompt: str = "a red fox in snow at dusk", seed: int = 42, **params: Any) -> EngineRequest:
    body = {"promptText": prompt, "ratio": "320:192", "duration": 1, **params}
    return make_request("text_to_video", "gen4.5", body, seed=seed)


def test_text_to_video_contract_and_determinism() -> None:
    engine = ProceduralVideoEngine()
    assert engine.name == "procedural-video"
    data = run(engine, ttv())
    check_mp4(data, 320, 192, 24)
    assert run(engine, ttv()) == data
    assert run(engine, ttv(seed=43)) != data
    assert run(engine, ttv("night ocean")) != data


def test_text_to_video_moves() -> None:
    frames = all_frames(run(ProceduralVideoEngine(), ttv(duration=2)))
    assert np.abs(frames[0] - frames[-1]).mean() > 1.0
    steps = [np.abs(a - b).mean() for a, b in itertools.pairwise(frames)]
    assert max(steps) < 8.0  # drift, not cuts


def test_text_to_video_audio_track_when_asked() -> None:
    data = run(ProceduralVideoEngine(), ttv(audio=True))
    check_mp4(data, 320, 192, 24, audio=True)


def test_text_to_video_colour_words_steer() -> None:
    red = all_frames(run(ProceduralVideoEngine(), ttv("red red red")))[0]
    blue = all_frames(run(ProceduralVideoEngine(), ttv("blue blue blue")))[0]
    assert red[..., 0].mean() - red[..., 2].mean() > blue[..., 0].mean() - blue[..., 2].mean() + 20


def test_text_to_video_optional_ratio_defaults_to_720p() -> None:
    request = make_request("text_to_video", "seedance2", {"promptText": "dawn", "duration": 1})
    check_mp4(run(ProceduralVideoEngine(), request), 1280, 720, 24)


# ---- image_to_video -----------------------------------------------------------------------------------


def itv(prompt: str, prompt_image: Any = "img", model: str = "gen4_turbo", **params: Any) -> EngineRequest:
    body = {"promptText": prompt, "promptImage": prompt_image, "ratio": "320:192", "duration": 1, **params}
    assets = {"img": png(detailed_image()), "red": solid((220, 30, 30)), "blue": solid((30, 40, 220))}
    return make_request("image_to_video", model, body, assets)


@pytest.mark.parametrize(
    ("prompt", "move"),
    [
        ("slow push in on her face", "push in"),
        ("the camera zooms out", "pull out"),
        ("pull back to reveal the city", "pull out"),
        ("pan left across the skyline", "pan left"),
        ("panning to the right", "pan right"),
        ("tilt down to the street", "tilt down"),
        ("orbit around the statue", "orbit right"),
        ("rotate counter-clockwise", "orbit left"),
        ("static shot, locked camera", "static"),
        ("a man pulls a cart past a pancake stall", "gentle push in"),
        ("pan left, then zoom in", "pan left"),
    ],
)
def test_camera_move_words(prompt: str, move: str) -> None:
    assert choose_move(prompt).name == move


@pytest.mark.parametrize(
    ("endpoint", "model", "params", "kept"),
    [
        ("video_to_video", "klingO3_pro", {}, True),
        ("video_to_video", "klingO3_pro", {"providerSettings": {"keepOriginalSound": False}}, False),
        ("video_to_video", "gemini_omni_flash_1.1", {"mode": "edit"}, True),
        ("video_to_video", "gemini_omni_flash_1.1", {"mode": "reference"}, False),
        ("video_to_video", "hailuo3", {}, False),  # a new picture: sound only when generated
        ("character_performance", "act_two", {}, True),
    ],
)
def test_which_models_keep_the_input_sound(
    endpoint: str, model: str, params: dict[str, Any], kept: bool
) -> None:
    assert keeps_input_audio(make_request(endpoint, model, params)) is kept


def test_keyframe_uris() -> None:
    assert keyframe_uris("a") == ["a"]
    assert keyframe_uris([MediaRef(uri="a", position="first"), MediaRef(uri="b", position="last")]) == [
        "a",
        "b",
    ]
    assert keyframe_uris([MediaRef(uri="r1"), MediaRef(uri="r2")]) == ["r1"]
    # kling_4: middle frames go between the first and the last, in their order.
    frames = [
        MediaRef(uri="z", position="last"),
        MediaRef(uri="m1", position="middle"),
        MediaRef(uri="a", position="first"),
        MediaRef(uri="m2", position="middle"),
    ]
    assert keyframe_uris(frames) == ["a", "m1", "m2", "z"]


def test_image_to_video_contract_and_determinism() -> None:
    engine = CameraMoveEngine()
    assert engine.name == "camera-move-video"
    data = run(engine, itv("push in"))
    check_mp4(data, 320, 192, 24)
    assert run(engine, itv("push in")) == data


def test_push_in_magnifies_the_centre() -> None:
    frames = all_frames(run(CameraMoveEngine(), itv("slow push in")))
    first, last = frames[0], frames[-1]
    # The last frame (zoom 1.3) should look like the first frame's centre, enlarged.
    crop_w, crop_h = 320 / 1.3, 192 / 1.3
    box = ((320 - crop_w) / 2, (192 - crop_h) / 2, (320 + crop_w) / 2, (192 + crop_h) / 2)
    centre = Image.fromarray(first.astype(np.uint8)).resize((320, 192), Image.Resampling.BILINEAR, box=box)
    assert np.abs(np.asarray(centre, np.float64) - last).mean() < 0.35 * np.abs(first - last).mean()
    assert marker_centre(last)[0] > marker_centre(first)[0] + 8  # the off-centre marker moves outward


@pytest.mark.parametrize(
    ("prompt", "axis", "sign"), [("pan left", 0, 1), ("pan right", 0, -1), ("tilt up", 1, 1)]
)
def test_pans_and_tilts_move_the_scene_the_right_way(prompt: str, axis: int, sign: int) -> None:
    frames = all_frames(run(CameraMoveEngine(), itv(prompt, duration=2)))
    moved = marker_centre(frames[-1])[axis] - marker_centre(frames[0])[axis]
    assert moved * sign > 15  # panning left slides the scene right, tilting up slides it down


def test_orbit_and_static_change_frames_without_borders() -> None:
    for prompt in ("orbit around", "static"):
        frames = all_frames(run(CameraMoveEngine(), itv(prompt)))
        assert np.abs(frames[0] - frames[-1]).mean() > 0.5
        corners = np.stack([f[:2, :2] for f in frames] + [f[-2:, -2:] for f in frames])
        assert corners.min() > 20  # the image always covers the frame: no black wedges


def test_keyframes_blend_from_first_to_last() -> None:
    keyframes = [{"uri": "red", "position": "first"}, {"uri": "blue", "position": "last"}]
    frames = all_frames(run(CameraMoveEngine(), itv("", keyframes)))
    first, middle, last = (
        frames[0].mean(axis=(0, 1)),
        frames[12].mean(axis=(0, 1)),
        frames[-1].mean(axis=(0, 1)),
    )
    assert np.abs(first - (220, 30, 30)).max() < 12
    assert np.abs(last - (30, 40, 220)).max() < 12
    assert 60 < middle[0] < 190 and 60 < middle[2] < 190


def test_reference_mode_images_and_default_ratio_from_orientation() -> None:
    request = itv("", [{"uri": "portrait"}, {"uri": "img"}], model="seedance2")
    request = make_request(
        "image_to_video",
        "seedance2",
        {k: v for k, v in request.params.items() if k not in ("ratio", "model")},
        {**request.assets, "portrait": png(detailed_image(200, 360))},
    )
    check_mp4(run(CameraMoveEngine(), request), 720, 1280, 24)


def test_image_to_video_audio_when_asked() -> None:
    data = run(CameraMoveEngine(), itv("", model="veo3.1", audio=True))
    check_mp4(data, 320, 192, 24, audio=True)


def test_undecodable_prompt_image_is_an_asset_failure() -> None:
    request = make_request(
        "image_to_video", "gen4_turbo", {"promptImage": "bad", "ratio": "320:192"}, {"bad": b"nope"}
    )
    with pytest.raises(Failure) as failure:
        CameraMoveEngine().run(request, RunContext())
    assert failure.value.code == "ASSET.INVALID"
    assert failure.value.message == "promptImage could not be decoded as an image"
    with pytest.raises(Failure, match="could not be loaded"):
        CameraMoveEngine().run(
            make_request("image_to_video", "gen4_turbo", {"promptImage": "x"}), RunContext()
        )


# ---- video_to_video -----------------------------------------------------------------------------------


def v2v(prompt: str, video: bytes, field: str = "videoUri", **params: Any) -> EngineRequest:
    assets = {"v": video, "blue": solid((20, 40, 230), (64, 64))}
    return make_request("video_to_video", "aleph2", {"promptText": prompt, field: "v", **params}, assets)


@pytest.mark.parametrize(
    ("prompt", "style"),
    [
        ("a pencil sketch", "sketch"),
        ("film noir, black and white", "noir"),
        ("cyberpunk neon", "neon"),
        ("soft watercolor", "watercolor"),
        ("vintage 70s home movie", "vintage"),
        ("anime style", "cartoon"),
        ("8-bit pixel art", "pixel"),
        ("make it golden", "grade"),
    ],
)
def test_every_style_keeps_timing_and_size(prompt: str, style: str) -> None:
    assert choose_style(prompt) == style
    data = run(RestyleVideoEngine(), v2v(prompt, ramp_video((128, 72), 12)))
    check_mp4(data, 128, 72, 12)


def test_restyle_keeps_the_input_duration_at_24fps() -> None:
    source = ramp_video(frames=45, fps=30)  # 1.5 s at 30 fps
    engine = RestyleVideoEngine()
    assert engine.name == "restyle-video"
    data = run(engine, v2v("", source))
    check_mp4(data, 256, 144, 36)
    assert run(engine, v2v("", source)) == data
    check_mp4(run(engine, v2v("", source, field="promptVideo", ratio="320:192")), 320, 192, 36)


def test_restyle_follows_colour_words_references_and_noir() -> None:
    source = ramp_video(frames=6)
    original = all_frames(source)[3]
    red = all_frames(run(RestyleVideoEngine(), v2v("deep red", source)))[3]
    noir = all_frames(run(RestyleVideoEngine(), v2v("noir", source)))[3]
    plain = all_frames(run(RestyleVideoEngine(), v2v("", source)))[3]
    referenced = all_frames(run(RestyleVideoEngine(), v2v("", source, references=[{"uri": "blue"}])))[3]

    def redness(frame: Pixels) -> float:
        return float(frame[..., 0].mean() - frame[..., 1:].mean())

    assert redness(red) > redness(original) + 15
    assert np.abs(noir[..., 0] - noir[..., 2]).mean() < 4  # grey
    assert (
        referenced[..., 2].mean() - referenced[..., 0].mean()
        > plain[..., 2].mean() - plain[..., 0].mean() + 10
    )


def test_restyle_caps_at_30_seconds(long_video: bytes) -> None:
    check_mp4(run(RestyleVideoEngine(), v2v("", long_video)), 48, 32, 720)


def test_undecodable_video_is_an_asset_failure() -> None:
    with pytest.raises(Failure) as failure:
        RestyleVideoEngine().run(v2v("", b"\x00" * 4096), RunContext())
    assert failure.value.code == "ASSET.INVALID"
    assert failure.value.message == "videoUri could not be decoded as a video"


# ---- video_upscale ------------------------------------------------------------------------------------


def test_upscale_size_is_4x_capped_at_4096() -> None:
    assert upscale_size(64, 36) == (256, 144)
    assert upscale_size(1280, 720) == (4096, 2304)
    assert upscale_size(1100, 64) == (4096, 238)
    assert upscale_size(321, 181) == (1284, 724)


def test_upscale_is_4x_with_the_input_timing_and_no_audio() -> None:
    frames = (np.asarray(detailed_image(64, 36)) for _ in range(30))
    source = encode_mp4(frames, 64, 36, 30, fps=30, audio=synthesize_ambience(np.random.default_rng(0), 1.0))
    engine = UpscaleEngine()
    assert engine.name == "lanczos-upscale"
    request = make_request("video_upscale", "upscale_v1", {"videoUri": "v"}, {"v": source})
    data = run(engine, request)
    check_mp4(data, 256, 144, 24)
    big = all_frames(data)[5]
    small = np.asarray(
        Image.fromarray(big.astype(np.uint8)).resize((64, 36), Image.Resampling.BOX), np.float64
    )
    assert np.abs(small - all_frames(source)[5]).mean() < 6  # same picture, just larger


def test_upscale_refuses_videos_over_30_seconds(long_video: bytes) -> None:
    request = make_request("video_upscale", "upscale_v1", {"videoUri": "v"}, {"v": long_video})
    with pytest.raises(Failure) as failure:
        UpscaleEngine().run(request, RunContext())
    assert (failure.value.code, failure.value.message) == (
        "ASSET.INVALID",
        "videoUri: video must be at most 30 seconds",
    )


# ---- character_performance ----------------------------------------------------------------------------


def character_png() -> bytes:
    """A stick portrait: a magenta face where act_two's head region sits, a body below."""
    image = Image.new("RGB", (320, 192), (40, 60, 90))
    draw = ImageDraw.Draw(image)
    draw.ellipse((145, 45, 175, 95), fill=(255, 0, 255))
    draw.rectangle((135, 100, 185, 192), fill=(120, 30, 30))
    return png(image)


def act_two(reference: bytes, character_type: str = "image", **params: Any) -> EngineRequest:
    body = {
        "character": {"type": character_type, "uri": "c"},
        "reference": {"type": "video", "uri": "r"},
        "ratio": "320:192",
        **params,
    }
    character = character_png() if character_type == "image" else ramp_video((160, 96), 6)
    return make_request("character_performance", "act_two", body, {"c": character, "r": reference})


def head_shift(data: bytes) -> float:
    frames = all_frames(data)
    return marker_centre(frames[-1])[0] - marker_centre(frames[0])[0]


def test_performance_lasts_as_long_as_the_reference_and_follows_it() -> None:
    engine = PerformanceTransferEngine()
    assert engine.name == "performance-transfer"
    reference = square_video(frames=30)
    data = run(engine, act_two(reference))
    check_mp4(data, 320, 192, 30)
    assert head_shift(data) > 5
    assert head_shift(run(engine, act_two(square_video(frames=30, direction=-1)))) < -5
    assert run(engine, act_two(reference)) == data


def test_body_control_and_intensity_scale_the_motion() -> None:
    reference = square_video()
    gentle = head_shift(run(PerformanceTransferEngine(), act_two(reference, expressionIntensity=1)))
    normal = head_shift(run(PerformanceTransferEngine(), act_two(reference)))
    body = head_shift(run(PerformanceTransferEngine(), act_two(reference, bodyControl=True)))
    assert 0 < gentle < normal < body


def test_performance_with_a_video_character_loops_it() -> None:
    data = run(PerformanceTransferEngine(), act_two(square_video(frames=20), character_type="video"))
    check_mp4(data, 320, 192, 20)


def test_performance_default_ratio_and_bad_character() -> None:
    request = act_two(square_video(frames=6))
    params = {k: v for k, v in request.params.items() if k != "ratio"}
    check_mp4(
        run(
            PerformanceTransferEngine(),
            make_request("character_performance", "act_two", params, request.assets),
        ),
        1280,
        720,
        6,
    )
    broken = make_request(
        "character_performance", "act_two", params, {**request.assets, "c": b"not an image"}
    )
    with pytest.raises(Failure, match="character could not be decoded as an image"):
        PerformanceTransferEngine().run(broken, RunContext())


# ---- cancellation -------------------------------------------------------------------------------------


def all_engine_requests() -> list[tuple[Engine, EngineRequest]]:
    source = ramp_video(frames=24)
    return [
        (ProceduralVideoEngine(), ttv(duration=2)),
        (CameraMoveEngine(), itv("pan left", duration=2)),
        (RestyleVideoEngine(), v2v("neon", ramp_video(frames=48))),
        (UpscaleEngine(), make_request("video_upscale", "upscale_v1", {"videoUri": "v"}, {"v": source})),
        (PerformanceTransferEngine(), act_two(square_video(frames=48))),
    ]


def temp_dirs() -> set[str]:
    return {name for name in os.listdir(tempfile.gettempdir()) if name.startswith("taxiway-video-")}


@pytest.mark.parametrize("index", range(5))
def test_cancelled_before_start(index: int) -> None:
    engine, request = all_engine_requests()[index]
    context = RunContext()
    context.cancel_event.set()
    with pytest.raises(TaskCancelled):
        engine.run(request, context)


@pytest.mark.parametrize("index", range(5))
def test_cancelled_while_encoding_stops_promptly_and_cleans_up(
    index: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine, request = all_engine_requests()[index]
    # A temp dir of this test's own: engines of other tests running at the same time make theirs too.
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    before = temp_dirs()
    reported: list[float] = []
    context = RunContext()

    def on_progress(fraction: float) -> None:
        reported.append(fraction)
        if fraction > 0.4:
            context.cancel_event.set()

    context.on_progress = on_progress
    with pytest.raises(TaskCancelled):
        engine.run(request, context)
    assert reported[-1] < 0.8  # stopped within a few frames, not at the end
    assert temp_dirs() <= before  # the half-written file is gone


def test_progress_is_monotonic_and_ends_at_one() -> None:
    reported: list[float] = []
    ProceduralVideoEngine().run(ttv(duration=2), RunContext(on_progress=reported.append))
    assert len(reported) >= 8
    assert reported == sorted(reported)
    assert reported[-1] == 1.0
