"""The diffusers engines on tiny random-weight pipelines of the real classes, on CPU.

The folders are written with `save_pretrained` and loaded through the engines' own loading code
(local files only), so everything but the model sizes is what a GPU server runs.
"""

from __future__ import annotations

import base64
import dataclasses
import io
import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("diffusers")

import numpy as np
import torch
from PIL import Image
from runwayml import NotFoundError
from runwayml.lib.polling import TaskFailedError

from support import tiny_diffusers
from support.clients import sdk
from support.server import Server
from taxiway.config import WeightsEntry
from taxiway.engines.base import EngineRequest, RunContext, TaskCancelled
from taxiway.engines.diffusers import pipelines, warmup
from taxiway.engines.diffusers.accelerations import Accelerations
from taxiway.engines.diffusers.engines import (
    DiffusersImageEngine,
    DiffusersVideoEngine,
    image_call,
    reference_image,
)
from taxiway.engines.diffusers.geometry import closest_size, generation_size, pipeline_frames, retime
from taxiway.engines.diffusers.runtime import DiffusersRuntime, RuntimeOptions
from taxiway.engines.diffusers.weights import describe, inspect_folder, startup_problems
from taxiway.engines.offline.video_encode import probe_video
from taxiway.errors import Failure

SMALL = 64 * 48  # generated area: outputs are resized to the requested ratio afterwards


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("weights")
    return {
        "flux": tiny_diffusers.flux(root / "flux"),
        "flux_b": tiny_diffusers.flux(root / "flux_b", seed=1),
        "kontext": tiny_diffusers.flux(root / "kontext", kontext=True),
        "wan": tiny_diffusers.wan(root / "wan"),
        "wan_i2v": tiny_diffusers.wan_i2v(root / "wan_i2v"),
        "ltx": tiny_diffusers.ltx(root / "ltx"),
    }


def small(path: Path, steps: int = 2) -> WeightsEntry:
    return WeightsEntry(path=path, steps=steps, max_area=SMALL, max_frames=9)


def runtime(weights: dict[str, Path | WeightsEntry], **options: Any) -> DiffusersRuntime:
    options.setdefault("batch_window_seconds", 0.0)
    return DiffusersRuntime(RuntimeOptions(weights=weights, device="cpu", **options))


def image_request(
    prompt: str = "a cat", seed: int = 1, ratio: str = "720:720", model: str = "gen4_image"
) -> EngineRequest:
    return EngineRequest("task", "text_to_image", model, {"promptText": prompt, "ratio": ratio}, seed)


def video_request(seed: int = 3) -> EngineRequest:
    body = {"promptText": "a dog at night", "ratio": "1280:720", "duration": 2}
    return EngineRequest("task", "text_to_video", "gen4.5", body, seed)


def png_size(data: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(data)) as image:
        return image.size


def pixels(data: bytes) -> np.ndarray[Any, Any]:
    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image.convert("RGB"), dtype=np.int16)


# ---- sizes and frame counts -------------------------------------------------------------------------


def test_sizes_round_to_the_pipeline_multiple() -> None:
    assert generation_size(1280, 720, 16) == (1280, 720)
    assert generation_size(1360, 768, 16) == (1360, 768)
    assert generation_size(1168, 880, 32) == (1152, 896)
    assert generation_size(1080, 1920, 8) == (1080, 1920)
    assert generation_size(1280, 720, 16, max_area=832 * 480) == (832, 464)
    width, height = generation_size(2112, 912, 16, max_area=SMALL)
    assert width % 16 == height % 16 == 0 and width * height <= SMALL
    assert generation_size(20, 10, 16) == (16, 16)  # never below one latent
    sizes = ("832x480", "480x832", "624x624")
    assert closest_size(1280, 720, sizes) == (832, 480)
    assert closest_size(1080, 1920, sizes) == (480, 832)
    assert closest_size(960, 960, sizes) == (624, 624)


def test_durations_become_valid_frame_counts() -> None:
    assert pipeline_frames(5, 16, 4) == 81  # Wan: 16 fps, 4k + 1
    assert pipeline_frames(5, 24, 8) == 121  # LTX: 24 fps, 8k + 1
    assert pipeline_frames(2, 16, 4) == 33
    assert pipeline_frames(10, 16, 4, max_frames=81) == 81
    assert pipeline_frames(10, 16, 4, max_frames=9) == 9
    order = retime(81, 120)
    assert order[0] == 0 and order[-1] == 80
    assert order == sorted(order) and set(order) == set(range(81))  # every frame shown, in order
    assert retime(9, 48).count(0) == retime(9, 48).count(8)  # spread evenly


# ---- images -----------------------------------------------------------------------------------------


def test_image_has_the_exact_size_and_follows_the_seed(folders: dict[str, Path]) -> None:
    engine = DiffusersImageEngine(runtime({"gen4_image": small(folders["flux"])}))
    for ratio in ("1168:880", "720:1280"):
        [artifact] = engine.run(image_request(ratio=ratio), RunContext())
        assert artifact.content_type == "image/png"
        assert png_size(artifact.data) == tuple(int(side) for side in ratio.split(":"))
    first = engine.run(image_request(seed=7), RunContext())[0].data
    again = engine.run(image_request(seed=7), RunContext())[0].data
    other = engine.run(image_request(seed=8), RunContext())[0].data
    assert first == again
    assert first != other


def test_progress_is_monotonic_and_cancel_stops_at_the_next_step(folders: dict[str, Path]) -> None:
    shared = runtime({"gen4_image": small(folders["flux"], steps=6)})
    engine = DiffusersImageEngine(shared)
    seen: list[float] = []
    engine.run(image_request(), RunContext(on_progress=seen.append))
    assert seen == sorted(seen) and seen[-1] == 1.0
    assert len(seen) >= 6 + 2  # one per step, then the PNG

    with shared.cache.use(inspect_folder(folders["flux"])) as resident:
        forwards: list[int] = []
        hook = resident.pipe.transformer.register_forward_hook(lambda *_: forwards.append(1))
    cancel = threading.Event()

    def on_progress(fraction: float) -> None:
        if 0 < fraction < 0.9:  # the end of the first step
            cancel.set()

    try:
        with pytest.raises(TaskCancelled):
            engine.run(image_request(), RunContext(cancel_event=cancel, on_progress=on_progress))
    finally:
        hook.remove()
    assert len(forwards) == 2  # step 2 ran (it had started), step 3 never did
    assert engine.run(image_request(), RunContext())  # the pipeline lock was released


def test_batched_requests_get_the_images_they_get_alone(folders: dict[str, Path]) -> None:
    weights: dict[str, Path | WeightsEntry] = {"gen4_image": small(folders["flux"])}
    requests = [image_request("a cat", 1), image_request("the sea at night", 2), image_request("a cat", 3)]
    alone_engine = DiffusersImageEngine(runtime(weights))
    alone = [alone_engine.run(request, RunContext())[0].data for request in requests]
    # A batch closes as soon as it is full, so a long window makes this deterministic, not slow.
    batched_runtime = runtime(weights, batch_window_seconds=30.0, max_batch=3)
    engine = DiffusersImageEngine(batched_runtime)
    results: dict[int, bytes] = {}

    def run(index: int) -> None:
        results[index] = engine.run(requests[index], RunContext())[0].data

    threads = [threading.Thread(target=run, args=(index,)) for index in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert batched_runtime.batcher.batch_sizes == [3]
    for index in range(3):
        difference = np.abs(pixels(results[index]) - pixels(alone[index]))
        assert difference.max() <= 2, index  # batched kernels may round differently, nothing more
    assert np.abs(pixels(results[0]) - pixels(results[2])).max() > 10  # same prompt, own seed


def png_uri(colour: tuple[int, int, int], size: tuple[int, int] = (40, 30)) -> tuple[str, bytes]:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, "PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode(), buffer.getvalue()


def test_reference_images_condition_an_image_conditioned_pipeline(folders: dict[str, Path]) -> None:
    weights: dict[str, Path | WeightsEntry] = {"gen4_image": small(folders["kontext"])}
    engine = DiffusersImageEngine(runtime(weights))
    red, blue = png_uri((220, 30, 30)), png_uri((30, 30, 220), (30, 60))

    def generate(*references: tuple[str, bytes]) -> bytes:
        body = {
            "promptText": "a cat",
            "ratio": "720:720",
            "referenceImages": [
                {"uri": uri, "tag": f"ref{index}"} for index, (uri, _) in enumerate(references)
            ],
        }
        request = EngineRequest("task", "text_to_image", "gen4_image", body, 1, assets=dict(references))
        [artifact] = engine.run(request, RunContext())
        assert png_size(artifact.data) == (720, 720)
        return artifact.data

    with_red = generate(red)
    assert generate(red) == with_red  # the seed still decides the rest
    assert generate(blue) != with_red
    assert generate(red, blue) not in (with_red, generate(blue))  # several: one picture of them all
    assert generate() != with_red  # none: plain text-to-image

    # Kontext is held to the size asked for even without a reference (its default is 1 megapixel).
    kontext = inspect_folder(folders["kontext"]).family
    assert image_call(small(folders["kontext"]), (52, 52), ["a"], [1], "cpu", kontext)["max_area"] == 52 * 52

    collage = reference_image(
        [Image.new("RGB", (40, 30), "red"), Image.new("RGB", (30, 60), "blue")], (64, 48)
    )
    assert collage.size == (64, 48)
    assert collage.getpixel((0, 0)) == (128, 128, 128)  # the row is letterboxed, nothing is cropped
    assert any(collage.getpixel((x, 24))[2] > 200 for x in range(64))


def test_least_recently_used_pipeline_is_evicted(folders: dict[str, Path]) -> None:
    one = pipelines.estimated_bytes(folders["flux"], torch.float32)
    weights: dict[str, Path | WeightsEntry] = {
        "gen4_image": small(folders["flux"]),
        "gemini_2.5_flash": small(folders["flux_b"]),
    }
    tight = runtime(weights, budget_bytes=int(one * 1.5))
    engine = DiffusersImageEngine(tight)
    engine.run(image_request(), RunContext())
    engine.run(image_request(model="gemini_2.5_flash"), RunContext())
    assert [resident.info.path for resident in tight.cache.snapshot()] == [folders["flux_b"]]
    engine.run(image_request(), RunContext())
    assert tight.cache.loads == 3

    roomy = runtime(weights, budget_bytes=one * 3)
    engine = DiffusersImageEngine(roomy)
    for model in ("gen4_image", "gemini_2.5_flash", "gen4_image"):
        engine.run(image_request(model=model), RunContext())
    assert roomy.cache.loads == 2
    assert [resident.info.path for resident in roomy.cache.snapshot()] == [folders["flux_b"], folders["flux"]]


def test_missing_weights_fail_clearly_and_are_reported(folders: dict[str, Path], tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    not_a_pipeline = tmp_path / "other"
    not_a_pipeline.mkdir()
    (not_a_pipeline / "model_index.json").write_text(json.dumps({"_class_name": "KandinskyPipeline"}))
    weights: dict[str, Path | WeightsEntry] = {"gen4_image": missing, "gemini_2.5_flash": not_a_pipeline}
    engine = DiffusersImageEngine(runtime(weights))
    with pytest.raises(Failure) as failure:
        engine.run(image_request(), RunContext())
    assert failure.value.code == "INTERNAL"
    assert "gen4_image" in failure.value.message and str(missing) in failure.value.message
    with pytest.raises(Failure, match="KandinskyPipeline"):
        engine.run(image_request(model="gemini_2.5_flash"), RunContext())

    engines = {
        "gen4_image": "diffusers-image",
        "gemini_2.5_flash": "diffusers-image",
        "gen4.5": "diffusers-image",
    }
    problems = startup_problems(engines, {**weights, "gen4.5": folders["wan"], "veo3": folders["ltx"]})
    assert any("gen4_image" in p and str(missing) in p for p in problems)
    assert any("gemini_2.5_flash" in p and "KandinskyPipeline" in p for p in problems)
    assert any("gen4.5" in p and "videos, not images" in p for p in problems)
    assert any("veo3" in p and "no diffusers engine" in p for p in problems)
    assert len(problems) == 4
    assert startup_problems({"gen4_image": "diffusers-image"}, {"gen4_image": folders["flux"]}) == []


# ---- videos -----------------------------------------------------------------------------------------


def test_video_lasts_the_duration_at_24_fps_and_follows_the_seed(folders: dict[str, Path]) -> None:
    engine = DiffusersVideoEngine(runtime({"gen4.5": small(folders["wan"]), "veo3.1": small(folders["ltx"])}))
    seen: list[float] = []
    [artifact] = engine.run(video_request(), RunContext(on_progress=seen.append))
    info = probe_video(artifact.data)
    assert (info.width, info.height, info.frame_count, info.fps) == (1280, 720, 48, 24.0)
    assert info.duration == pytest.approx(2.0)
    assert artifact.seconds == pytest.approx(2.0)
    assert seen == sorted(seen) and seen[-1] == 1.0
    assert engine.run(video_request(), RunContext())[0].data == artifact.data
    assert engine.run(video_request(seed=4), RunContext())[0].data != artifact.data

    body = {"promptText": "a city", "ratio": "720:1280", "duration": 4}
    ltx = EngineRequest("task", "text_to_video", "veo3.1", body, 1)
    info = probe_video(engine.run(ltx, RunContext())[0].data)
    assert (info.width, info.height, info.frame_count) == (720, 1280, 96)


def test_first_and_last_keyframes_drive_image_to_video(folders: dict[str, Path]) -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (300, 200), (200, 40, 30)).save(buffer, "PNG")
    uri = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()
    keyframes = [{"uri": uri, "position": "first"}, {"uri": uri, "position": "last"}]
    weights: dict[str, Path | WeightsEntry] = {
        "image_to_video/gen4.5": small(folders["wan_i2v"]),
        "gen4.5": small(folders["wan"]),
    }
    engine = DiffusersVideoEngine(runtime(weights))
    request = EngineRequest(
        "task",
        "image_to_video",
        "gen4.5",
        {"promptText": "a dog", "ratio": "960:960", "duration": 2, "promptImage": keyframes},
        5,
        assets={uri: buffer.getvalue()},
    )
    info = probe_video(engine.run(request, RunContext())[0].data)
    assert (info.width, info.height, info.frame_count) == (960, 960, 48)

    text_only = DiffusersVideoEngine(runtime({"gen4.5": small(folders["wan"])}))
    with pytest.raises(Failure, match="cannot start from an image") as failure:
        text_only.run(request, RunContext())
    assert failure.value.code == "INTERNAL"


# ---- accelerations and warm-up ----------------------------------------------------------------------


def test_fused_projections_keep_the_output(folders: dict[str, Path]) -> None:
    weights: dict[str, Path | WeightsEntry] = {"gen4_image": small(folders["flux"])}
    plain = DiffusersImageEngine(runtime(weights)).run(image_request(), RunContext())[0].data
    fused_runtime = runtime(weights, accelerations=Accelerations(fuse_projections=True))
    fused = DiffusersImageEngine(fused_runtime).run(image_request(), RunContext())[0].data
    [resident] = fused_runtime.cache.snapshot()
    assert all(
        module.fused_projections
        for module in resident.pipe.transformer.modules()
        if hasattr(module, "to_qkv")
    )
    difference = np.abs(pixels(plain).astype(int) - pixels(fused).astype(int))
    assert difference.max() <= 2  # the same products summed in another order


def test_first_block_cache_is_opt_in_and_skips_blocks(folders: dict[str, Path]) -> None:
    """Lossy: with a threshold nothing stays under, every step after the first reuses the cached blocks."""

    def last_block_calls(accelerations: Accelerations) -> int:
        shared = runtime({"gen4_image": small(folders["flux"], steps=4)}, accelerations=accelerations)
        engine = DiffusersImageEngine(shared)
        engine.run(image_request(), RunContext())  # loads
        [resident] = shared.cache.snapshot()
        calls: list[int] = []
        # Inside the block: a skipped block is still called, but returns the cached residual at once.
        layer = resident.pipe.transformer.single_transformer_blocks[-1].proj_out
        layer.register_forward_hook(lambda *_: calls.append(1))
        engine.run(image_request(), RunContext())
        return len(calls)

    assert last_block_calls(Accelerations()) == 4
    assert last_block_calls(Accelerations(first_block_cache=1e9)) == 1
    assert "first-block cache 0.05 (lossy)" in Accelerations(first_block_cache=0.05).describe()
    with pytest.raises(ValueError, match="downloads kernels"):
        Accelerations(attention_backend="flash_hub")


def test_warm_up_runs_each_model_at_its_request_shapes(folders: dict[str, Path], tmp_path: Path) -> None:
    weights: dict[str, Path | WeightsEntry] = {
        "gen4_image": small(folders["flux"]),
        "gen4.5": small(folders["wan"]),
        "image_to_video/gen4.5": small(folders["wan_i2v"]),
        "gemini_2.5_flash": tmp_path / "absent",  # reported at start-up; nothing to warm
    }
    engines = {
        "gen4_image": "diffusers-image",
        "gen4.5": "diffusers-video",
        "gemini_2.5_flash": "diffusers-image",
    }
    accelerations = Accelerations(fuse_projections=True)
    shared = runtime(weights, state_file=tmp_path / "state.json", accelerations=accelerations)
    warmup.warm_up(shared, engines)
    residents = {resident.info.path: resident for resident in shared.cache.snapshot()}
    assert set(residents) == {folders["flux"], folders["wan"], folders["wan_i2v"]}
    assert all(resident.warm and not resident.warming for resident in residents.values())
    state = json.loads((tmp_path / "state.json").read_text())["resident"]
    assert all(entry["warm"] for entry in state.values())
    listed = describe(weights, "text_to_image", "gen4_image", "diffusers-image", tmp_path / "state.json")
    assert listed == f"{folders['flux']} (FluxPipeline, resident, warm; fused QKV)"

    DiffusersImageEngine(shared).run(image_request(), RunContext())
    DiffusersVideoEngine(shared).run(video_request(), RunContext())
    assert shared.cache.loads == 3  # requests found their pipelines loaded

    [target] = [t for t in warmup.targets(shared, engines) if t.model.id == "gen4_image"]
    uncompiled = warmup.shapes(target, 16, compiled=False, max_batch=4)
    compiled = warmup.shapes(target, 16, compiled=True, max_batch=4)
    assert len(uncompiled) == 1 and {shape.batch for shape in compiled} == {1, 4}
    assert len({shape.size for shape in compiled}) > 1  # every size the ratios map to
    [video] = [t for t in warmup.targets(shared, engines) if t.endpoint == "text_to_video"]
    uncapped = dataclasses.replace(video, weights=WeightsEntry(path=folders["wan"], max_area=SMALL))
    assert len({shape.frames for shape in warmup.shapes(uncapped, 16, compiled=True, max_batch=4)}) == 2


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_loads_bf16_and_compiles(folders: dict[str, Path], tmp_path: Path) -> None:
    shared = DiffusersRuntime(
        RuntimeOptions(
            weights={"gen4_image": small(folders["flux"])},
            device="cuda",
            accelerations=Accelerations(compile=True, attention_backend="_native_cudnn"),
            compile_cache=tmp_path / "compile",
            batch_window_seconds=0.0,
        )
    )
    engine = DiffusersImageEngine(shared)
    first = engine.run(image_request(), RunContext())[0].data
    [resident] = shared.cache.snapshot()
    assert resident.pipe.transformer.dtype == torch.bfloat16
    assert resident.compiled and resident.warm
    assert engine.run(image_request(), RunContext())[0].data == first
    assert (tmp_path / "compile").exists()


# ---- through the API, with the official SDK ---------------------------------------------------------


@pytest.fixture
def gpu_server(
    make_server: Callable[..., Server], folders: dict[str, Path], tmp_path: Path
) -> Iterator[Server]:
    weights = {
        "gen4_image": {"path": str(folders["flux"]), "steps": 2, "max_area": SMALL},
        "gen4.5": {"path": str(folders["wan"]), "steps": 2, "max_area": SMALL, "max_frames": 9},
        # Slow enough to be cancelled while it runs: many steps at a larger size.
        "veo3.1": {"path": str(folders["wan"]), "steps": 200, "max_area": 128 * 128, "max_frames": 17},
        "gemini_2.5_flash": str(tmp_path / "absent"),
    }
    engines = dict.fromkeys(("gen4_image", "gemini_2.5_flash"), "diffusers-image")
    engines.update(dict.fromkeys(("gen4.5", "veo3.1"), "diffusers-video"))
    yield make_server(
        TAXIWAY_ENGINES=json.dumps(engines),
        TAXIWAY_WEIGHTS=json.dumps(weights),
        TAXIWAY_LOG_LEVEL="info",
        TAXIWAY_WORKERS="2",
        TAXIWAY_DIFFUSERS_WARMUP="true",
    )


def download(url: str) -> bytes:
    import httpx

    response = httpx.get(url, timeout=30)
    response.raise_for_status()
    return response.content


def test_sdk_flow_generates_cancels_and_reports(gpu_server: Server, folders: dict[str, Path]) -> None:
    client = sdk(gpu_server)
    image = client.text_to_image.create(model="gen4_image", prompt_text="a red cat", ratio="1080:1920")
    video = client.text_to_video.create(model="gen4.5", prompt_text="the sea", ratio="720:1280", duration=3)
    done = image.wait_for_task_output(timeout=120)
    assert done.status == "SUCCEEDED"
    assert png_size(download(done.output[0])) == (1080, 1920)
    done = video.wait_for_task_output(timeout=120)
    info = probe_video(download(done.output[0]))
    assert (info.width, info.height, info.frame_count) == (720, 1280, 72)
    assert info.duration == pytest.approx(3.0)

    slow = client.text_to_video.create(
        model="veo3.1", prompt_text="a slow city", ratio="1280:720", duration=4
    )
    deadline = time.monotonic() + 60
    while client.tasks.retrieve(slow.id).status != "RUNNING":
        assert time.monotonic() < deadline, "the slow task never ran"
        time.sleep(0.05)
    client.tasks.delete(slow.id)
    with pytest.raises(NotFoundError):
        client.tasks.retrieve(slow.id)
    deadline = time.monotonic() + 60
    while f"task {slow.id} stopped" not in gpu_server.log():
        assert time.monotonic() < deadline, gpu_server.log()
        time.sleep(0.1)
    assert not list((gpu_server.data_dir / "blobs").glob(f"tasks/{slow.id}/*"))

    broken = client.text_to_image.create(model="gemini_2.5_flash", prompt_text="a cat", ratio="1024:1024")
    with pytest.raises(TaskFailedError) as failure:
        broken.wait_for_task_output(timeout=60)
    assert failure.value.task_details.failure_code == "INTERNAL"
    assert "gemini_2.5_flash" in gpu_server.log() and "absent" in gpu_server.log()  # reported at start-up

    listing = subprocess.run(
        [sys.executable, "-m", "taxiway", "models"],
        env={**gpu_server.full_env(), "COLUMNS": "400"},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    # Columns are separated by runs of spaces; the model is the second.
    cells = [re.split(r"\s{2,}", line.strip()) for line in listing.splitlines()]
    rows = {row[1]: "  ".join(row) for row in cells if len(row) > 5 and row[0].startswith("/v1/")}
    assert "diffusers-image" in rows["gen4_image"] and "FluxPipeline, resident, warm" in rows["gen4_image"]
    assert f"warmed {folders['wan']}" in gpu_server.log()  # at start-up, before any request
    assert "missing" in rows["gemini_2.5_flash"]
    assert str(folders["wan"]) in rows["gen4.5"]
    assert os.fspath(folders["flux"]) in rows["gen4_image"]


def test_serve_data_dir_holds_what_the_engines_write(
    folders: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`taxiway serve --data-dir X` with another data dir in the environment: the diffusers state and the
    compile cache go to X, as everything else does (engines get the server's settings, not the env's)."""
    from fastapi.testclient import TestClient
    from typer.testing import CliRunner

    from taxiway import cli

    chosen, environment = tmp_path / "chosen", tmp_path / "environment"
    monkeypatch.delenv("TAXIWAY_CACHE_DIR", raising=False)
    monkeypatch.setenv("TAXIWAY_DATA_DIR", str(environment))
    engines = {"gen4_image": "diffusers-image", "gen4.5": "diffusers-video"}
    weights = {"gen4_image": small(folders["flux"]).model_dump(mode="json")}
    monkeypatch.setenv("TAXIWAY_ENGINES", json.dumps(engines))
    monkeypatch.setenv("TAXIWAY_WEIGHTS", json.dumps(weights))
    monkeypatch.setenv("TAXIWAY_DIFFUSERS_DEVICE", "cpu")
    monkeypatch.setenv("TAXIWAY_DIFFUSERS_BATCH_WINDOW_MS", "0")
    served: list[Any] = []
    monkeypatch.setattr(
        "taxiway.serving.GreetingServer.run", lambda server, sockets: served.append(server.config.app)
    )
    # Leave this process's logging alone: the runner's streams close when it returns, and later tests
    # of the worker would log into them.
    monkeypatch.setattr("logging.config.dictConfig", lambda config: None)
    result = CliRunner().invoke(cli.app, ["serve", "--data-dir", str(chosen), "--port", "0"])
    assert result.exit_code == 0, result.output

    with TestClient(served[0]) as client:
        services = client.app.state.taxiway
        engine = services.engines.get("text_to_image", "gen4_image")
        options = engine.runtime.options
        assert options.state_file == chosen / "diffusers-state.json"
        assert options.compile_cache == chosen / "torch-compile"
        assert services.settings.engine_cache_dir == chosen / "cache"
        assert services.engines.get("text_to_video", "gen4.5").runtime is engine.runtime  # one runtime
        engine.run(image_request(), RunContext())
    assert json.loads((chosen / "diffusers-state.json").read_text())["device"] == "cpu"
    assert (chosen / "taxiway.db").exists()
    assert not environment.exists()
