"""One request per model variant the catalog serves (every overload of the SDKs' `create`, plus the
seed's legacy models), with what the output must be and what it must cost.

Inputs here are data URIs, which are measured at submission: models priced on an input's length
estimate that length exactly instead of holding their maximum."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from conformance.media import mp4, noisy_speech, png, speech, speech_video, wav


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
    # The output's file type: "png" (images) and "mp4" (videos) unless named; audio: `audio_format`.
    kind: str = ""
    alpha: bool = False  # an image with an alpha channel (`background: transparent`)
    rate: int = 44100  # an audio output's sample rate
    # False: created through both SDKs (strict), priced, then deleted, while its size and bill are checked
    # in-process (`test_sdk_flows.test_brief_variants_frame_and_bill_as_declared`). For models that differ
    # from another variant's only in catalog data (sizes, tiers, prices) on an engine path run in full.
    full: bool = True

    @property
    def file_type(self) -> str:
        if self.sound:
            return self.audio_format
        return self.kind or ("png" if self.seconds is None else "mp4")

    @property
    def id(self) -> str:
        return "-".join(filter(None, [self.endpoint, self.params["model"], self.label]))

    @property
    def path(self) -> str:
        return f"/v1/{self.endpoint}"

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
        *image_variants(image),
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
        # Act-Two keeps the performance's own sound.
        Variant("character_performance", {"model": "act_two", "character": {"type": "image", "uri": image},
                                          "reference": {"type": "video", "uri": speech_video(3.0)}}, 1280, 720, 15, 15, 3, audio=True, label="sound"),
        *video_variants(image, last, clip, hd_clip, short),
        *audio_variants(),
        *_media_variants(),
    ]  # fmt: skip


def _media_variants() -> list[Variant]:
    from conformance.media_variants import media_variants  # it builds on Variant, defined here

    return media_variants()


def video_variants(image: str, last: str, clip: str, hd_clip: str, short: str) -> list[Variant]:
    """One request per newer video model at its smallest size and shortest length, each trying something
    the others do not: multishot segments, aspects with tiers, frames that set the aspect, drafts, modes."""
    prompt = "a slow push in on a lighthouse at dusk, waves below"
    first_last = [{"uri": image, "position": "first"}, {"uri": last, "position": "last"}]
    tall = png(320, 256)  # h3_max wants 256 px on each side
    ttv, itv, v2v = "text_to_video", "image_to_video", "video_to_video"
    return [
        # text_to_video
        Variant(ttv, {"model": "kling3.0_standard", "ratio": "1280:720", "providerSettings": {"multiPrompt": [
            {"prompt": "the lighthouse at dusk", "duration": 2}, {"prompt": "the beam sweeps the sea", "duration": 1}]}},
                1280, 720, 30, 30, 3, label="multishot"),
        Variant(ttv, {"model": "kling3.0_pro", "promptText": prompt, "ratio": "1440:1440", "duration": 3, "cfgScale": 0.3}, 1440, 1440, 42, 42, 3, full=False),
        Variant(ttv, {"model": "kling3.0_4k", "promptText": prompt, "ratio": "2160:3840", "duration": 3, "audio": True}, 2160, 3840, 120, 120, 3, audio=True, full=False),
        Variant(ttv, {"model": "klingO3_standard", "promptText": prompt, "ratio": "960:960", "duration": 3}, 960, 960, 36, 36, 3, full=False),
        Variant(ttv, {"model": "klingO3_pro", "promptText": prompt, "ratio": "1920:1080", "duration": 3}, 1920, 1080, 48, 48, 3, full=False),
        Variant(ttv, {"model": "klingO3_4k", "promptText": prompt, "ratio": "3840:2160", "duration": 3}, 3840, 2160, 102, 102, 3, full=False),
        Variant(ttv, {"model": "kling2.5_turbo_pro", "promptText": prompt, "ratio": "720:720"}, 720, 720, 35, 35, 5, full=False),
        # auto_720p frames like the first reference image (16:10).
        Variant(ttv, {"model": "kling_4", "promptText": prompt, "ratio": "auto_720p", "duration": 3, "references": [{"uri": image}]},
                1152, 720, 45, 45, 3),
        Variant(ttv, {"model": "hailuo3", "promptText": prompt, "ratio": "21:9", "resolution": "768p", "duration": 6}, 1792, 768, 60, 60, 6, full=False),
        Variant(ttv, {"model": "happyhorse_1_0", "promptText": prompt, "ratio": "1280:720", "duration": 3}, 1280, 720, 24, 24, 3, full=False),
        Variant(ttv, {"model": "seedance2_fast", "promptText": prompt, "ratio": "640:640", "duration": 4}, 640, 640, 80, 80, 4, full=False),
        Variant(ttv, {"model": "seedance2_mini", "promptText": prompt, "ratio": "864:496", "duration": "auto"}, 864, 496, 150, 50, 5, label="auto", full=False),
        # A draft is the ratio's 480p size; its sound is on by default.
        Variant(ttv, {"model": "seedance2_5", "promptText": prompt, "ratio": "1280:720", "duration": 4, "draft": True}, 854, 480, 48, 48, 4,
                audio=True, label="draft"),
        Variant(ttv, {"model": "gemini_omni_flash", "promptText": prompt, "ratio": "720:1280", "duration": 3}, 720, 1280, 45, 45, 3, full=False),
        Variant(ttv, {"model": "gemini_omni_flash_1.1", "promptText": prompt, "ratio": "640:360", "duration": 3}, 640, 360, 24, 24, 3, full=False),
        Variant(ttv, {"model": "grok_imagine_1_5", "promptText": prompt, "ratio": "1:1", "resolution": "480p", "duration": 2}, 480, 480, 10, 10, 2),
        Variant(ttv, {"model": "grok_imagine_1_5_lite", "promptText": prompt, "ratio": "480:480", "duration": 2}, 480, 480, 6, 6, 2, full=False),
        Variant(ttv, {"model": "wan3", "promptText": prompt, "ratio": "832:480", "duration": 2, "audio": True}, 832, 480, 10, 10, 2, audio=True),
        Variant(ttv, {"model": "wan3_prime", "promptText": prompt, "ratio": "624:624", "duration": 2}, 624, 624, 16, 16, 2, full=False),
        Variant(ttv, {"model": "h3_max", "promptText": prompt, "resolution": "480p", "duration": 6, "promptExpansionMode": "disabled", "seed": 4},
                852, 480, 48, 48, 6, full=False),
        # image_to_video
        Variant(itv, {"model": "kling3.0_standard", "promptImage": first_last, "ratio": "1280:720", "duration": 3}, 1152, 720, 30, 30, 3,
                label="keyframes"),
        Variant(itv, {"model": "kling3.0_pro", "promptImage": image, "ratio": "1080:1920", "duration": 3}, 1080, 1920, 42, 42, 3, full=False),
        Variant(itv, {"model": "kling3.0_4k", "promptImage": image, "ratio": "2880:2880", "duration": 3}, 2880, 2880, 90, 90, 3, full=False),
        Variant(itv, {"model": "klingO3_standard", "promptImage": image, "ratio": "720:1280", "duration": 3}, 720, 1280, 36, 36, 3, full=False),
        # No ratio: the model's size nearest the first frame's aspect.
        Variant(itv, {"model": "klingO3_pro", "promptImage": image, "duration": 3, "references": [{"uri": last}]}, 1920, 1080, 48, 48, 3, full=False),
        Variant(itv, {"model": "klingO3_4k", "promptImage": [{"uri": image, "position": "first"}], "duration": 3}, 3840, 2160, 102, 102, 3, full=False),
        Variant(itv, {"model": "kling2.5_turbo_pro", "promptImage": image, "promptText": prompt}, 1728, 1080, 35, 35, 5, full=False),
        Variant(itv, {"model": "kling_4", "promptImage": [{"uri": image, "position": "first"}, {"uri": last, "position": "middle"},
                                                          {"uri": image, "position": "last"}], "duration": 3}, 1152, 720, 45, 45, 3),
        # Reference mode (no positions) and `adaptive` (the default): the first image's aspect at 768p.
        Variant(itv, {"model": "hailuo3", "promptImage": [{"uri": image}, {"uri": last}], "promptText": prompt, "duration": 6}, 1228, 768, 60, 60, 6, full=False),
        Variant(itv, {"model": "happyhorse_1_0", "promptImage": image, "resolution": "720p", "duration": 3}, 1152, 720, 24, 24, 3, full=False),
        Variant(itv, {"model": "seedance2_fast", "promptImage": image, "ratio": "640:640", "duration": 4}, 640, 640, 80, 80, 4, full=False),
        Variant(itv, {"model": "seedance2_mini", "promptImage": image, "duration": 4}, 1280, 720, 40, 40, 4, full=False),
        Variant(itv, {"model": "seedance2_5", "promptImage": image, "ratio": "640:640", "duration": 4, "outputFormat": "mov"}, 640, 640, 116, 116, 4,
                audio=True, kind="mov", picture=("prores", "yuv422p10le"), label="mov"),
        Variant(itv, {"model": "gemini_omni_flash", "promptImage": image, "duration": 3}, 1280, 720, 45, 45, 3, full=False),
        Variant(itv, {"model": "gemini_omni_flash_1.1", "promptImage": first_last, "promptText": prompt, "ratio": "640:360", "duration": "auto"},
                640, 360, 80, 40, 5),
        Variant(itv, {"model": "grok_imagine_1_5", "promptImage": image, "resolution": "480p", "duration": 2}, 768, 480, 10, 10, 2),
        Variant(itv, {"model": "grok_imagine_1_5_lite", "promptImage": image, "ratio": "auto_480p", "duration": 2}, 768, 480, 6, 6, 2),
        Variant(itv, {"model": "wan3", "promptImage": first_last, "promptText": prompt, "ratio": "auto_480p", "duration": 2}, 768, 480, 10, 10, 2),
        Variant(itv, {"model": "wan3_prime", "promptImage": image, "promptText": prompt, "ratio": "480:832", "duration": 2}, 480, 832, 16, 16, 2),
        Variant(itv, {"model": "h3_max", "promptImage": tall, "promptText": prompt, "duration": 6}, 960, 768, 84, 84, 6, full=False),
        # video_to_video
        # aleph2 keeps the input's length and sound; `targetAspectRatio` letterboxes it.
        Variant(v2v, {"model": "aleph2", "videoUri": speech_video(2.0), "promptText": "film noir", "targetAspectRatio": "1:1",
                      "keyframes": [{"uri": image, "seconds": 0.5}]}, 320, 320, 56, 56, 2, audio=True),
        Variant(v2v, {"model": "klingO3_standard", "promptVideo": speech_video(2.0), "promptText": "make it neon"}, 1280, 720, 24, 24, 2,
                audio=True, label="sound"),
        Variant(v2v, {"model": "klingO3_pro", "promptVideo": speech_video(2.0), "promptText": "make it neon",
                      "providerSettings": {"keepOriginalSound": False}}, 1920, 1080, 32, 32, 2, full=False),
        Variant(v2v, {"model": "klingO3_4k", "promptVideo": short, "promptText": "make it neon"}, 3840, 2160, 34, 34, 1, full=False),
        Variant(v2v, {"model": "hailuo3", "promptVideo": clip, "promptText": "make it neon", "duration": 6}, 1364, 768, 60, 60, 6, full=False),
        Variant(v2v, {"model": "seedance2_fast", "promptVideo": hd_clip, "ratio": "640:640"}, 640, 640, 40, 40, 2),
        Variant(v2v, {"model": "seedance2_mini", "promptVideo": hd_clip, "duration": 4}, 1280, 720, 40, 40, 4),
        # edit keeps the input's length and size; the sound (on by default) is generated.
        Variant(v2v, {"model": "seedance2_5", "promptVideo": clip, "mode": "edit", "promptText": "make it neon", "duration": "auto"},
                320, 180, 72, 72, 2, audio=True, label="edit"),
        Variant(v2v, {"model": "gemini_omni_flash", "videoUri": clip, "promptText": "make it neon"}, 1280, 720, 30, 30, 2, full=False),
        # extend adds `duration` seconds after the input, and bills them only.
        Variant(v2v, {"model": "gemini_omni_flash_1.1", "videoUri": clip, "promptText": "the camera keeps flying", "mode": "extend",
                      "duration": 3, "ratio": "640:360"}, 640, 360, 24, 24, 5, label="extend"),
        Variant(v2v, {"model": "kling_4", "videoUri": clip, "promptText": "make it neon", "ratio": "auto_1080p"}, 1920, 1080, 44, 44, 2, full=False),
    ]  # fmt: skip


def image_variants(image: str) -> list[Variant]:
    """One request per newer image model, at its smallest size, each trying what the others do not:
    `auto` framing, counts, formats, transparency, edits, masks, colour hints."""
    mask = png(256, 160, (255, 255, 255))
    lighthouse = "a lighthouse on a cliff at dusk"
    return [
        # "portrait" picks the 9:16 size with the fewest pixels among gpt_image_2's.
        Variant("text_to_image", {"model": "gpt_image_2", "promptText": "a portrait of a lighthouse keeper", "ratio": "auto", "quality": "low"}, 1440, 2560, 2, 2),
        Variant("text_to_image", {"model": "gpt_image_2_5_flare", "promptText": "@keeper at the lamp", "ratio": "2048:880", "quality": "low",
                                  "referenceImages": [{"uri": image, "tag": "keeper"}]}, 2048, 880, 3, 3),
        Variant("text_to_image", {"model": "gpt_image_2_5_sunburst", "promptText": "a red kite", "ratio": "1920:1088", "background": "transparent",
                                  "outputCount": 2, "quality": "medium"}, 1920, 1088, 10, 10, outputs=2, alpha=True),
        Variant("text_to_image", {"model": "gemini_image3.1_flash", "promptText": lighthouse, "ratio": "512:512", "outputCount": 4}, 512, 512, 20, 20, outputs=4),
        Variant("text_to_image", {"model": "gemini_image3.1_flash_lite", "promptText": lighthouse, "ratio": "1024:1024",
                                  "referenceImages": [{"uri": image, "subject": "human", "tag": "keeper"}]}, 1024, 1024, 2, 2),
        Variant("text_to_image", {"model": "gemini_image3_pro", "promptText": lighthouse, "ratio": "1344:768"}, 1344, 768, 10, 10),
        Variant("text_to_image", {"model": "nano_banana_2.1", "promptText": lighthouse, "ratio": "1024:1024", "thinkingLevel": "minimal"}, 1024, 1024, 5, 5),
        Variant("text_to_image", {"model": "muse_image", "promptText": lighthouse, "ratio": "2016:1152", "outputFormat": "jpeg"}, 2016, 1152, 1, 1, kind="jpeg"),
        # auto_1k and "wide": the 1 MP size nearest 16:9.
        Variant("text_to_image", {"model": "seedream5_pro", "promptText": "a wide view of " + lighthouse, "ratio": "auto_1k"}, 1376, 768, 5, 5),
        Variant("text_to_image", {"model": "seedream5_lite", "promptText": lighthouse, "ratio": "2560:1440", "grounding": False}, 2560, 1440, 4, 4),
        Variant("text_to_image", {"model": "seedream5_flash", "promptText": lighthouse, "ratio": "1248:832", "outputCount": 2}, 1248, 832, 4, 4, outputs=2),
        Variant("text_to_image", {"model": "grok_imagine_image_2", "promptText": "make the sky stormy", "ratio": "1024:1024", "quality": "low",
                                  "edit": True, "referenceImages": [{"uri": image}]}, 1024, 1024, 5, 5),
        Variant("text_to_image", {"model": "bria_fibo_1_5", "promptText": lighthouse, "ratio": "1024:576", "outputFormat": "jpeg", "seed": 9}, 1024, 576, 5, 5, kind="jpeg"),
        # No ratio: the first reference's framing (16:10), as the listed size nearest it.
        Variant("text_to_image", {"model": "bria_fibo_edit_1_5", "promptText": "paint it teal", "referenceImages": [{"uri": image}]}, 1152, 768, 5, 5),
        Variant("text_to_image", {"model": "ideogram_4_0", "promptText": lighthouse, "quality": "low"}, 2048, 2048, 4, 4),
        # A mask keeps the edited image's own size; medium quality by default with references.
        Variant("text_to_image", {"model": "ideogram_4_5", "promptText": "a gold moon", "referenceImages": [{"uri": image}], "maskUri": mask},
                256, 160, 8, 8),
        Variant("text_to_image", {"model": "recraft_v4_1_flash", "promptText": lighthouse, "ratio": "1024:1024", "colors": ["#FF8800", "1a2b3c"],
                                  "backgroundColor": "#102030"}, 1024, 1024, 2, 2, kind="webp"),
        Variant("text_to_image", {"model": "recraft_v4_1_vector", "promptText": lighthouse}, 1024, 1024, 8, 8, kind="svg"),
    ]  # fmt: skip


LONG_SPEECH = (
    "The quick brown fox jumps over the lazy dog. Please call me back when you are ready. "
    "I will be waiting by the phone all afternoon, so take your time."
)


def newer_audio_variants() -> list[Variant]:
    """The newer speech and sound models: voice settings, a cloned voice, formats and rates, variants."""
    rachel = {"type": "runway-preset", "presetId": "Rachel"}
    return [
        Variant("text_to_speech", {"model": "eleven_v3", "promptText": "[whispers] Hello there. Welcome to Runway.",
                                   "voice": {"type": "runway-preset", "presetId": "Mark"}, "speed": 1.1, "stability": 0.3,
                                   "applyTextNormalization": "on", "languageCode": "en", "seed": 5}, 0, 0, 1, 1, sound=True),
        Variant("text_to_speech", {"model": "eleven_v4", "promptText": "And that is the whole story.", "voice": rachel,
                                   "previousText": "Once upon a time.", "nextText": "The end.", "speed": 0.9,
                                   "useSpeakerBoost": True}, 0, 0, 1, 1, sound=True, full=False),
        # A voice cloned from 12 s of speech, faster, lower and louder, as 16 kHz WAV.
        Variant("text_to_speech", {"model": "seed_audio", "promptText": "Hello from a cloned voice.",
                                   "voice": {"type": "reference-audio", "audioUri": speech(text=LONG_SPEECH, seconds=12.0)},
                                   "outputFormat": "wav", "sampleRate": 16000, "speechRate": 20, "pitchRate": -2, "loudnessRate": 10},
                0, 0, 1, 1, sound=True, audio_format="wav", rate=16000),
        # No duration: the rain's natural 10 s, held at 30 s; Opus plays at 48 kHz.
        Variant("sound_effect", {"model": "seed_audio", "promptText": "rain on a tin roof, then @Audio1", "referenceAudios": [wav(2.0)],
                                 "outputFormat": "ogg_opus"}, 0, 0, 4, 2, 10.0, sound=True, audio_format="ogg", rate=48000),
        Variant("sound_effect", {"model": "mirelo_sfx_2_0", "promptText": "footsteps on gravel and birds", "negativePrompt": "birds",
                                 "duration": 3, "numVariants": 2, "format": "flac"}, 0, 0, 4, 4, 3.0, sound=True, audio_format="flac", outputs=2),
    ]  # fmt: skip


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
        *newer_audio_variants(),
        Variant("speech_to_speech", {"model": "eleven_multilingual_sts_v2", "audioUri": speech(seconds=6.0),
                                     "voice": {"type": "runway-preset", "presetId": "victoria"}},
                0, 0, 2, 2, 6.0, sound=True, node=False, raw=True, label="seed"),
    ]  # fmt: skip
