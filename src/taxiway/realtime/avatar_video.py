"""The avatar's video in a realtime session: the shared animator (`engines.offline.avatar_animation`),
its frames handed to LiveKit."""

from __future__ import annotations

from livekit import rtc

from taxiway.engines.offline.avatar_animation import (
    FULL_OPEN_DBFS,
    SILENCE_DBFS,
    FaceLayout,
    MouthEnvelope,
    drawn_portrait,
    openness_for,
    rms,
)
from taxiway.engines.offline.avatar_animation import AvatarAnimator as _Animator

__all__ = [
    "FULL_OPEN_DBFS",
    "SILENCE_DBFS",
    "AvatarAnimator",
    "FaceLayout",
    "MouthEnvelope",
    "drawn_portrait",
    "openness_for",
    "rms",
]


class AvatarAnimator(_Animator):
    def video_frame(self, index: int, openness: float) -> rtc.VideoFrame:
        pixels = self.render(index, openness)
        return rtc.VideoFrame(self.width, self.height, rtc.VideoBufferType.RGBA, pixels.tobytes())
