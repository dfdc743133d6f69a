"""Seconds of compute per second of 1280:720 video, per offline engine, on this machine (and seconds per
image for the image engines).

Each engine renders the same 5 s clip twice (best run counts); the baseline measured in the same
run is encoding 5 s of plain frames with the same H.264 settings, so the ratio shows what each
engine adds over the encoder alone.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from conformance.media import mp4, png, wav
from taxiway.config import Settings
from taxiway.engines.base import EngineRequest, EngineSetup, RunContext
from taxiway.engines.offline.video_encode import encode_mp4
from taxiway.engines.registry import BUILTIN

SECONDS = 5
CASES: list[tuple[str, str, dict[str, Any]]] = [
    ("procedural-video", "text_to_video", {"model": "gen4.5", "promptText": "a red desert at dusk"}),
    ("camera-move-video", "image_to_video",
     {"model": "gen4.5", "promptImage": "IMG", "promptText": "push in"}),
    ("restyle-video", "video_to_video", {"model": "gen4_aleph", "videoUri": "VID", "promptText": "neon"}),
    ("performance-transfer", "character_performance",
     {"model": "act_two", "character": {"type": "image", "uri": "IMG"},
      "reference": {"type": "video", "uri": "VID"}}),
    ("lanczos-upscale", "video_upscale", {"model": "upscale_v1", "videoUri": "SMALL"}),
    ("inverse-tone-map", "video_to_hdr", {"model": "ruby", "videoUri": "VID"}),
    ("creative-video-upscale", "video_upscale",
     {"model": "magnific_video_upscaler_creative", "videoUri": "SMALL", "resolution": "720p"}),
    ("motion-interpolation", "video_upscale",
     {"model": "enhance_frame_rate", "videoUri": "VID", "targetFramerate": "48"}),
    ("motion-foley", "video_to_audio", {"model": "mirelo_sfx_2_0", "videoUri": "VID", "duration": SECONDS}),
    ("talking-avatar", "avatar_videos",
     {"model": "gwm1_avatars", "avatar": {"type": "runway-preset", "presetId": "influencer"},
      "speech": {"type": "audio", "audio": "VOICE"}, "__persona": {"voice": {"preset": "summer"}}}),
]  # fmt: skip
# Images: seconds per upscale of a 640x360 picture by 2 (Real-ESRGAN's compact model, then finishing), per
# 1920:1080 procedural picture, per SVG.
IMAGE_PROMPT = "a red lighthouse on a cliff at sunset over the ocean"
IMAGE_CASES: list[tuple[str, str, dict[str, Any]]] = [
    ("precision-upscale", "image_upscale",
     {"model": "magnific_precision_upscaler_v2", "imageUri": "PHOTO", "scaleFactor": 2}),
    ("procedural-image", "text_to_image",
     {"model": "gen4_image", "promptText": IMAGE_PROMPT, "ratio": "1920:1080"}),
    ("procedural-vector", "text_to_image",
     {"model": "recraft_v4_1_vector", "promptText": IMAGE_PROMPT, "ratio": "1344:768"}),
]  # fmt: skip


def _substitute(value: Any, media: dict[str, str]) -> Any:
    if isinstance(value, str):
        return media.get(value, value)
    if isinstance(value, list):
        return [_substitute(v, media) for v in value]
    if isinstance(value, dict):
        return {k: _substitute(v, media) for k, v in value.items()}
    return value


def _decode(uri: str) -> bytes:
    import base64

    return base64.b64decode(uri.split(",", 1)[1])


def best_of(runs: int, work: Any) -> float:
    times = []
    for _ in range(runs):
        start = time.process_time()
        work()
        times.append(time.process_time() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    media = {
        "IMG": png(1280, 720), "VID": mp4(1280, 720, SECONDS), "SMALL": mp4(320, 180, SECONDS),
        "VOICE": wav(SECONDS), "PHOTO": png(640, 360),
    }  # fmt: skip
    assets = {uri: _decode(uri) for uri in media.values()}

    frame = np.full((720, 1280, 3), 128, np.uint8)
    baseline = best_of(args.runs, lambda: encode_mp4(iter([frame] * 120), 1280, 720, 24 * SECONDS)) / SECONDS
    figures: dict[str, float] = {"h264-encode-only": baseline}
    setup = EngineSetup(Settings())
    for engine_name, endpoint, params in CASES:
        engine = BUILTIN[engine_name](setup)
        body = _substitute({**params, "ratio": "1280:720", "duration": SECONDS}, media)
        if endpoint in (
            "video_to_video",
            "character_performance",
            "video_upscale",
            "video_to_hdr",
            "avatar_videos",
        ):
            body.pop("duration")
        request = EngineRequest("bench", endpoint, body["model"], body, seed=7, assets=assets)
        seconds = best_of(args.runs, lambda e=engine, r=request: e.run(r, RunContext()))
        figures[engine_name] = seconds / SECONDS
    for engine_name, endpoint, params in IMAGE_CASES:
        engine = BUILTIN[engine_name]()
        request = EngineRequest("bench", endpoint, params["model"], _substitute(params, media), 7, assets)
        figures[f"{engine_name} (s/image)"] = best_of(
            args.runs, lambda e=engine, r=request: e.run(r, RunContext())
        )
    if args.json:
        print(json.dumps(figures))
        return
    print(f"compute seconds per second of 1280:720 video (best of {args.runs}, CPU time, one worker;")
    print("the talking avatar's video is 1088x704, sound for a video is per second of audio)")
    print(f"{'engine':24} {'s/s':>6} {'x encode-only':>14}")
    for name, value in figures.items():
        print(f"{name:24} {value:6.2f} {value / baseline:14.2f}")


if __name__ == "__main__":
    main()
