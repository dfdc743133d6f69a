"""One request per model variant the catalog serves (every overload of the SDKs' `create`, plus the
seed's legacy models), with what the output must be and what it must cost.

Inputs here are data URIs, which are measured at submission: models priced on an input's length
estimate that length exactly instead of holding their maximum."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from conformance.media import mp4, noisy_speech, png, speech, speech_video


@dataclass(frozen=True)
class Variant:
    endpoint: str
    params: dict[str, Any]
    width: int
    height: int
    estimated: int
    cost: int
    seconds: float | None = None
    audio: bool = False
    label: str = ""
    node: bool = True  # the Node SDK can express it (legacy models are raw-HTTP only there too)
    extra: dict[str, Any] = field(default_factory=dict)
    # Audio outputs (MP3): `seconds` is their exact length, or None where only the engine knows it.
    sound: bool = False
    raw: bool = False  # the seeds' older shape: posted as raw JSON, not through an SDK method
    picture: tuple[str, str] = ("h264", "yuv420p")  # a video output's codec and pixel format
    fps: float = 24  # a video output's frame rate
    outputs: int = 1  # how many files the task delivers (`numVariants`)
    audio_format: str = "mp3"  # an audio output's container (video_to_audio's `format`)
    node_path: str = ""  # posted by the Node SDK's raw `post` where it has no method (video_to_audio)

    @property
    def id(self) -> str:
        return "-".join(filter(None, [self.endpoint, self.params["model"], self.label]))

    @property
    def resource(self) -> str:
        return self.endpoint

    @property
    def node_resource(self) -> str:
        return re.sub(r"_(\w)", lambda m: m.group(1).upper(), self.endpoint)

    def sdk_kwargs(self) -> dict[str, Any]:
        """Top-level camelCase keys in the Python SDK's snake_case spelling."""
        return {re.sub(r"([A-Z])", lambda m: "_" + m.group(1).lower(), k): v for k, v in self.params.items()}


def variants() -> list[Variant]:
    image = png()
    last = png(color=(20, 60, 220))
    clip = mp4()
    hd_clip = mp4(1280, 720, 2.0)
    performance = mp4(320, 180, 3.0)
    short = mp4(320, 180, 1.0)
    prompt = "a slow push in on a lighthouse at dusk, waves below"
    return [
        Variant("text_to_image", {"model": "gen4_image", "promptText": prompt, "ratio": "1920:1080"}, 1920, 1080, 8, 8),
        Variant("text_to_image", {"model": "gen4_image", "promptText": prompt, "ratio": "720:1280", "seed": 3}, 720, 1280, 5, 5, label="720p"),
        Variant("text_to_image", {"model": "gen4_image_turbo", "promptText": "@subject at dawn", "ratio": "1024:1024",
                                  "referenceImages": [{"uri": image, "tag": "subject"}]}, 1024, 1024, 2, 2),
        Variant("text_to_image", {"model": "gemini_2.5_flash", "promptText": prompt, "ratio": "1344:768"}, 1344, 768, 5, 5),
        Variant("text_to_video", {"model": "gen4.5", "promptText": prompt, "ratio": "1280:720", "duration": 2}, 1280, 720, 24, 24, 2),
        Variant("text_to_video", {"model": "veo3.1", "promptText": prompt, "ratio": "1280:720", "duration": 4, "audio": False}, 1280, 720, 80, 80, 4),
        Variant("text_to_video", {"model": "veo3.1", "promptText": prompt, "ratio": "720:1280", "duration": 4}, 720, 1280, 160, 160, 4, audio=True, label="audio"),
        Variant("text_to_video", {"model": "veo3.1_fast", "promptText": prompt, "ratio": "720:1280", "duration": 4, "audio": False}, 720, 1280, 40, 40, 4),
        Variant("text_to_video", {"model": "seedance2", "promptText": prompt, "ratio": "640:640", "duration": 4}, 640, 640, 144, 144, 4),
        Variant("text_to_video", {"model": "seedance2", "promptText": prompt, "ratio": "864:496", "duration": "auto"}, 864, 496, 540, 180, 5, label="auto"),
        Variant("text_to_video", {"model": "veo3", "promptText": prompt, "ratio": "1280:720", "duration": 8}, 1280, 720, 320, 320, 8, audio=True, node=False),
        Variant("image_to_video", {"model": "gen4.5", "promptImage": image, "promptText": prompt, "ratio": "1280:720", "duration": 2}, 1280, 720, 24, 24, 2),
        Variant("image_to_video", {"model": "gen4_turbo", "promptImage": [{"uri": image, "position": "first"}], "ratio": "960:960", "duration": 2}, 960, 960, 10, 10, 2),
        Variant("image_to_video", {"model": "veo3.1", "promptImage": [{"uri": image, "position": "first"}, {"uri": last, "position": "last"}],
                                   "ratio": "1280:720", "duration": 4, "audio": False}, 1280, 720, 80, 80, 4, label="keyframes"),
        Variant("image_to_video", {"model": "veo3.1_fast", "promptImage": image, "ratio": "720:1280", "duration": 4, "audio": False}, 720, 1280, 40, 40, 4),
        Variant("image_to_video", {"model": "seedance2", "promptImage": [{"uri": image}, {"uri": last}], "ratio": "640:640", "duration": 4}, 640, 640, 144, 144, 4, label="references"),
        Variant("image_to_video", {"model": "veo3", "promptImage": image, "ratio": "1280:720", "duration": 8}, 1280, 720, 320, 320, 8, audio=True, node=False),
        Variant("image_to_video", {"model": "gen3a_turbo", "promptImage": image, "promptText": prompt, "ratio": "768:1280", "duration": 5}, 768, 1280, 25, 25, 5, node=False),
        Variant("video_to_video", {"model": "seedance2", "promptVideo": hd_clip, "promptText": "make it neon", "ratio": "640:640"}, 640, 640, 72, 72, 2),
        Variant("video_to_video", {"model": "gen4_aleph", "videoUri": clip, "promptText": "film noir"}, 320, 180, 30, 30, 2, node=False),
        Variant("character_performance", {"model": "act_two", "character": {"type": "image", "uri": image},
                                          "reference": {"type": "video", "uri": performance}}, 1280, 720, 15, 15, 3),
        Variant("video_upscale", {"model": "upscale_v1", "videoUri": short}, 1280, 720, 2, 2, 1, node=False),
        Variant("video_to_hdr", {"model": "ruby", "videoUri": clip}, 320, 180, 40, 40, 2, picture=("hevc", "yuv420p10le")),
        *audio_variants(),
        *_media_variants(),
    ]  # fmt: skip


def _media_variants() -> list[Variant]:
    from conformance.media_variants import media_variants  # it builds on Variant, defined here

    return media_variants()


def audio_variants() -> list[Variant]:
    """The five audio endpoints: SDK shapes, plus the seeds' older shapes where they differ (§21)."""
    mark = {"type": "runway-preset", "presetId": "Mark"}
    line = "Hello, welcome to Runway. Today we talk about offline speech."  # 61 characters: 2 credits
    return [
        Variant("text_to_speech", {"model": "eleven_multilingual_v2", "promptText": line, "voice": mark}, 0, 0, 2, 2, sound=True),
        Variant("text_to_speech", {"model": "eleven_multilingual_v2", "text": "Hola, bienvenidos a Runway.",
                                   "voice": {"type": "runway-preset", "presetId": "clara"}, "languageCode": "es"},
                0, 0, 1, 1, sound=True, node=False, raw=True, label="seed"),
        Variant("sound_effect", {"model": "eleven_text_to_sound_v2", "promptText": "Thunderclap followed by heavy rain", "duration": 5},
                0, 0, 1, 1, 5.0, sound=True),
        Variant("sound_effect", {"model": "eleven_text_to_sound_v2", "promptText": "rain on a tin roof", "duration": 20.5, "loop": True},
                0, 0, 2, 2, 20.5, sound=True, label="loop"),
        Variant("voice_isolation", {"model": "eleven_voice_isolation", "audioUri": noisy_speech(7.0)}, 0, 0, 2, 2, 7.0, sound=True),
        Variant("voice_dubbing", {"model": "eleven_voice_dubbing", "audioUri": speech(seconds=6.0), "targetLang": "es"},
                0, 0, 3, 3, 6.0, sound=True),
        Variant("voice_dubbing", {"model": "eleven_voice_dubbing", "audioUri": speech(seconds=6.0), "targetLanguage": "es"},
                0, 0, 3, 3, 6.0, sound=True, node=False, raw=True, label="seed"),
        Variant("speech_to_speech", {"model": "eleven_multilingual_sts_v2", "media": {"type": "audio", "uri": speech(seconds=6.0)},
                                     "voice": {"type": "runway-preset", "presetId": "Rachel"}}, 0, 0, 2, 2, 6.0, sound=True),
        Variant("speech_to_speech", {"model": "eleven_multilingual_sts_v2", "media": {"type": "video", "uri": speech_video(4.0)},
                                     "voice": {"type": "runway-preset", "presetId": "Monster"}, "removeBackgroundNoise": True},
                0, 0, 2, 2, 4.0, sound=True, label="video"),
        Variant("speech_to_speech", {"model": "eleven_multilingual_sts_v2", "audioUri": speech(seconds=6.0),
                                     "voice": {"type": "runway-preset", "presetId": "victoria"}},
                0, 0, 2, 2, 6.0, sound=True, node=False, raw=True, label="seed"),
    ]  # fmt: skip
