"""avatar_videos (`gwm1_avatars`): an MP4 of an avatar speaking, drawn as realtime sessions draw it.

The voice is the given `speech.audio`, or `speech.text` spoken by the offline text-to-speech in the
chosen voice (`speech.voice`, else the avatar's own: a live preset, or a custom voice's stored preset).
The face is the custom avatar's processed reference image, or the drawn portrait for presets, animated
by `avatar_animation`: per frame, the loudness of the voice under that frame opens the mouth (with the
realtime worker's attack and release), over a slow breathing sway. 1088x704 (the avatar image's frame),
24 fps, H.264 with the voice as AAC; as long as the speech, at most two minutes.

The persona (image key, voice) was resolved when the task was accepted (`tasks.references`), so the
video is made with the avatar as it was then.
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import numpy.typing as npt
from PIL import Image

from taxiway.catalog.media_models import MAX_SPEECH_SECONDS
from taxiway.engines.audio import codec
from taxiway.engines.audio.voices import Preset
from taxiway.engines.base import Artifact, EngineRequest, RunContext
from taxiway.engines.fields import Persona
from taxiway.engines.offline.avatar_animation import AvatarAnimator, MouthEnvelope, rms
from taxiway.engines.offline.video_common import render_video
from taxiway.engines.offline.video_encode import FPS, SAMPLE_RATE
from taxiway.errors import Failure

SIZE = (1088, 704)


def speaking_voice(persona: Persona) -> str | Preset:
    if persona.voice.custom is not None:
        return Preset.from_json(persona.voice.custom)
    return persona.voice.preset or "clara"


def speech_clip(request: EngineRequest, persona: Persona, cache: Path) -> codec.Clip:
    speech = request.fields.speech
    if speech is None:
        raise Failure("INPUT.INVALID", "speech: is required")
    if speech.type == "audio":
        return codec.decode(request.asset(speech.audio or ""), SAMPLE_RATE, "speech.audio")
    from taxiway.engines.audio import tts  # loaded with the first script, not at server start

    try:
        return tts.synthesize(speech.text or "", speaking_voice(persona), cache=cache).at(SAMPLE_RATE)
    except (ValueError, KeyError) as error:  # UnsupportedLanguage is a ValueError too
        raise Failure("INPUT.INVALID", f"speech.text: could not be spoken ({error})") from error


def face(request: EngineRequest, persona: Persona) -> Image.Image | None:
    if not persona.image:
        return None
    try:
        with Image.open(io.BytesIO(request.asset(persona.image))) as opened:
            return opened.convert("RGB")
    except OSError as error:
        raise Failure("ASSET.INVALID", "avatar.avatarId: the avatar's image could not be read") from error


class TalkingAvatarEngine:
    name = "talking-avatar"

    def __init__(self, cache: Path) -> None:
        self.cache = cache  # the engine cache dir, where the speech models are assembled on first use

    def run(self, request: EngineRequest, context: RunContext) -> list[Artifact]:
        persona = request.fields.persona or Persona()
        clip = speech_clip(request, persona, self.cache)
        if clip.seconds > MAX_SPEECH_SECONDS + 0.05:
            speech = request.fields.speech
            field = "speech.audio" if speech is not None and speech.type == "audio" else "speech.text"
            limit = f"avatar videos are at most {MAX_SPEECH_SECONDS:g} s"
            raise Failure("ASSET.INVALID", f"{field}: the speech runs {clip.seconds:.1f} s; {limit}")
        context.progress(0.3)
        animator = AvatarAnimator(face(request, persona), SIZE[0], SIZE[1], FPS)
        count = max(1, math.ceil(clip.seconds * FPS - 1e-6))
        per_frame = SAMPLE_RATE // FPS
        envelope = MouthEnvelope()
        samples = clip.samples

        def frames() -> Iterator[npt.NDArray[np.uint8]]:
            for index in range(count):
                chunk = samples[index * per_frame : (index + 1) * per_frame]
                yield animator.render(index, envelope.update(rms(chunk)))[:, :, :3]

        audio = np.asarray(samples, np.float32).reshape(1, -1)
        return render_video(request, frames(), SIZE, count, context, audio=audio, start=0.3)
