"""What routing knows besides the catalog, as data: which endpoints serve each modality, the named
aspect ratios and resolution tiers of the generic inputs, router defaults, providers and the built-in
quality ranking (operators replace it with `TAXIWAY_ROUTER_QUALITY_RANKING`)."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum


class Modality(StrEnum):
    IMAGE = "image"
    VIDEO = "video"
    AUDIO = "audio"


# The catalog endpoints a generate call may become, per modality. Which one a request takes follows its
# inputs (a source video: video_to_video; a first or last frame: image_to_video; `type: speech`: TTS).
ENDPOINTS: Mapping[Modality, tuple[str, ...]] = {
    Modality.IMAGE: ("text_to_image",),
    Modality.VIDEO: ("text_to_video", "image_to_video", "video_to_video"),
    Modality.AUDIO: ("text_to_speech", "sound_effect"),
}

# The generic inputs' aspect ratios (width / height). A model's ratio matches one within 3%: Gemini's
# 1184:864 is its 4:3, Gen-4's 1808:768 its 21:9.
ASPECTS: Mapping[str, float] = {
    "16:9": 16 / 9, "9:16": 9 / 16, "1:1": 1.0, "4:3": 4 / 3, "3:4": 3 / 4, "21:9": 21 / 9,
    "2:3": 2 / 3, "3:2": 3 / 2, "4:5": 4 / 5, "5:4": 5 / 4,
}  # fmt: skip
ASPECT_TOLERANCE = 0.03
DEFAULT_ASPECT = "16:9"

# Resolution tiers. An image's by its long side: (name, upper bound, the side best for the tier). A
# video's by its pixels, the tier whose size is nearest (a 640:640 clip is 480p): (name, pixels).
IMAGE_TIERS: tuple[tuple[str, int, int], ...] = (
    ("1k", 1600, 1024), ("2k", 3200, 2048), ("4k", 1 << 30, 4096),
)  # fmt: skip
VIDEO_TIERS: tuple[tuple[str, int], ...] = (
    ("480p", 854 * 480), ("720p", 1280 * 720), ("1080p", 1920 * 1080), ("4k", 3840 * 2160),
)  # fmt: skip
# The tier a ratio is chosen at when the request names none.
DEFAULT_TIER: Mapping[Modality, str] = {Modality.IMAGE: "1k", Modality.VIDEO: "720p"}

# Seconds asked of a model whose request needs a duration when the generic input gives none.
DEFAULT_SECONDS = 5
# How fast speech is spoken, to guess a script's length for latency ranking.
SPEECH_CHARACTERS_PER_SECOND = 15.0

# The provider of a model, by the start of its id; Runway's own models otherwise.
PROVIDERS: tuple[tuple[str, str], ...] = (
    ("veo", "google"), ("gemini", "google"), ("nano_banana", "google"), ("seedance", "bytedance"),
    ("seedream", "bytedance"), ("seed_audio", "bytedance"), ("eleven", "elevenlabs"),
    ("gpt_image", "openai"), ("kling", "kuaishou"), ("hailuo", "minimax"), ("grok", "xai"),
    ("wan", "alibaba"), ("happyhorse", "alibaba"), ("ideogram", "ideogram"), ("recraft", "recraft"),
    ("bria", "bria"), ("mirelo", "mirelo"), ("magnific", "magnific"),
)  # fmt: skip


def provider(model: str) -> str:
    return next((name for prefix, name in PROVIDERS if model.startswith(prefix)), "runway")


# Best first; models not listed rank after those listed, in catalog order. Media of the same prompt
# judged side by side on the real API; an operator who serves some models on GPUs ranks them instead.
QUALITY_RANKING: tuple[str, ...] = (
    "veo3.1", "gen4.5", "seedance2", "veo3.1_fast", "gen4_turbo",
    "gen4_image", "gemini_2.5_flash", "gen4_image_turbo",
    "eleven_multilingual_v2", "eleven_text_to_sound_v2",
)  # fmt: skip
