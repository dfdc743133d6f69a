"""Conformance variants of the media endpoints the current SDKs added: image_upscale, the Magnific and
frame-rate video upscalers, video_to_audio and avatar_videos (preset avatars; custom ones need an avatar
first and are driven in tests/test_media_endpoints.py)."""

from __future__ import annotations

import math

from conformance.media import mp4, png, wav
from conformance.variants import Variant
from support.server import ENGINE_CACHE

SCRIPT = "Hello there, this is a short avatar video."


def script_seconds(text: str, voice: str) -> float:
    """How long the avatar video of `text` runs: its speech, in whole 24 fps frames."""
    from taxiway.engines.audio import tts

    clip = tts.synthesize(text, voice, cache=ENGINE_CACHE).at(48_000)
    return math.ceil(clip.seconds * 24 - 1e-6) / 24


def media_variants() -> list[Variant]:
    image = png(300, 300)
    clip = mp4(320, 180, 1.0)
    scene = mp4(320, 180, 2.0)
    tone = wav(2.5)
    spoken = script_seconds(SCRIPT, "clara")
    preset = {"type": "runway-preset", "presetId": "influencer"}
    return [
        Variant("image_upscale", {"model": "magnific_precision_upscaler_v2", "imageUri": image}, 600, 600, 25, 25),
        Variant("image_upscale", {"model": "magnific_precision_upscaler_v2", "imageUri": image, "scaleFactor": 4,
                                  "flavor": "sublime", "sharpen": 40, "smartGrain": 0, "ultraDetail": 80},
                1200, 1200, 25, 25, label="x4"),
        Variant("video_upscale", {"model": "magnific_video_upscaler_creative", "videoUri": clip, "resolution": "720p"},
                1280, 720, 17, 17, 1.0),
        Variant("video_upscale", {"model": "enhance_frame_rate", "videoUri": clip, "targetFramerate": "30"},
                320, 180, 2, 2, 1.0, fps=30),
        Variant("video_to_audio", {"model": "mirelo_sfx_2_0", "videoUri": scene, "duration": 3, "promptText": "footsteps"},
                0, 0, 1, 1, 3.0, sound=True, node_path="/v1/video_to_audio"),
        Variant("video_to_audio", {"model": "mirelo_sfx_2_0", "videoUri": scene, "duration": 2.5, "format": "wav",
                                   "numVariants": 2, "negativePrompt": "music", "seed": 9, "preserveSpeech": False},
                0, 0, 1, 1, 2.5, sound=True, audio_format="wav", outputs=2, label="wav", node_path="/v1/video_to_audio"),
        Variant("avatar_videos", {"model": "gwm1_avatars", "avatar": preset, "speech": {"type": "audio", "audio": tone}},
                1088, 704, 1, 1, 2.5, audio=True),
        Variant("avatar_videos", {"model": "gwm1_avatars", "avatar": preset,
                                  "speech": {"type": "text", "text": SCRIPT, "voice": {"type": "preset", "presetId": "clara"}}},
                1088, 704, math.ceil((len(SCRIPT) / 8 + 1) / 3), math.ceil(spoken / 3), spoken, audio=True, label="text"),
    ]  # fmt: skip
