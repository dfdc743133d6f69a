"""The audio endpoints' contract: both request shapes, validation that names the field, and the bill.

Engine quality (intelligibility, SNR, F0, loop seams) is tested per engine; here the API around them.
"""

from __future__ import annotations

import base64

import httpx
import pytest
from runwayml import BadRequestError, RunwayML

from conformance.media import speech
from support.clients import balance
from support.server import Server
from taxiway.catalog.audio_models import TTS_LANGUAGES

HEADERS = {"X-Runway-Version": "2024-11-06"}


def post(server: Server, endpoint: str, body: dict[str, object]) -> httpx.Response:
    return httpx.post(
        f"{server.base_url}/v1/{endpoint}",
        json=body,
        headers={**HEADERS, "Authorization": f"Bearer {server.key}"},
        timeout=30,
    )


def issue_paths(response: httpx.Response) -> list[list[str | int]]:
    assert response.status_code == 400, response.text
    return [issue["path"] for issue in response.json()["issues"]]


def test_seed_text_and_sdk_prompt_text_cost_the_same(server: Server) -> None:
    voice = {"type": "runway-preset", "presetId": "clara"}
    text = "x" * 101  # 101 characters: 3 credits at 1 per 50
    seed = post(server, "text_to_speech", {"model": "eleven_multilingual_v2", "text": text, "voice": voice})
    sdk = post(
        server, "text_to_speech", {"model": "eleven_multilingual_v2", "promptText": text, "voice": voice}
    )
    assert seed.status_code == sdk.status_code == 200, (seed.text, sdk.text)
    assert seed.json()["estimatedCost"] == sdk.json()["estimatedCost"] == {"credits": 3}


def test_text_given_twice_is_refused(server: Server) -> None:
    body = {
        "model": "eleven_multilingual_v2",
        "text": "hi",
        "promptText": "hi",
        "voice": {"type": "runway-preset", "presetId": "Maya"},
    }
    assert ["text"] in issue_paths(post(server, "text_to_speech", body))


def test_unsupported_language_lists_the_supported_ones(server: Server) -> None:
    body = {
        "model": "eleven_multilingual_v2",
        "promptText": "annyeong",
        "voice": {"type": "runway-preset", "presetId": "Maya"},
        "languageCode": "ko",
    }
    response = post(server, "text_to_speech", body)
    assert ["languageCode"] in issue_paths(response)
    message = response.json()["issues"][0]["message"]
    assert all(code in message for code in TTS_LANGUAGES)


def test_voice_preset_is_case_sensitive(server: Server) -> None:
    body = {
        "model": "eleven_multilingual_v2",
        "promptText": "hi",
        "voice": {"type": "runway-preset", "presetId": "maggie"},
    }
    assert ["voice", "presetId"] in issue_paths(post(server, "text_to_speech", body))


def test_seed_dubbing_and_speech_to_speech_shapes_are_accepted(server: Server) -> None:
    audio = speech(seconds=6.0)
    dub = post(
        server, "voice_dubbing", {"model": "eleven_voice_dubbing", "audioUri": audio, "targetLanguage": "es"}
    )
    sts = post(
        server,
        "speech_to_speech",
        {
            "model": "eleven_multilingual_sts_v2",
            "audioUri": audio,
            "voice": {"type": "runway-preset", "presetId": "victoria"},
        },
    )
    # Priced on the measured input: 6 s at 1 credit per 2 s, and per 3 s.
    assert dub.json() == {"id": dub.json()["id"], "estimatedCost": {"credits": 3}}
    assert sts.json()["estimatedCost"] == {"credits": 2}


def test_isolation_input_must_be_longer_than_4_6_seconds(client: RunwayML) -> None:
    with pytest.raises(BadRequestError) as info:
        client.voice_isolation.create(model="eleven_voice_isolation", audio_uri=speech(seconds=4.0))
    issue = info.value.body["issues"][0]
    assert issue["path"] == ["audioUri"]
    assert "longer than 4.6 seconds" in issue["message"]


def test_isolation_refuses_what_is_not_audio(client: RunwayML) -> None:
    not_audio = "data:audio/mpeg;base64," + base64.b64encode(b"this is not audio at all" * 50).decode()
    with pytest.raises(BadRequestError) as info:
        client.voice_isolation.create(model="eleven_voice_isolation", audio_uri=not_audio)
    assert info.value.body["issues"][0]["path"] == ["audioUri"]


def test_dubbing_target_must_be_an_sdk_language(server: Server) -> None:
    body = {"model": "eleven_voice_dubbing", "audioUri": speech(seconds=6.0), "targetLang": "xx"}
    assert ["targetLang"] in issue_paths(post(server, "voice_dubbing", body))


def test_sound_effect_duration_bounds(server: Server) -> None:
    for duration in (0.4, 30.5):
        body = {"model": "eleven_text_to_sound_v2", "promptText": "beep", "duration": duration}
        assert ["duration"] in issue_paths(post(server, "sound_effect", body))


def test_sound_effect_without_duration_is_held_at_most_and_billed_on_output(
    server: Server, client: RunwayML
) -> None:
    before = balance(server)
    created = client.sound_effect.create(model="eleven_text_to_sound_v2", prompt_text="a short beep")
    assert created.estimated_cost.credits == 2
    task = created.wait_for_task_output(timeout=600)
    assert task.status == "SUCCEEDED"
    assert task.cost.credits == 1  # a one-shot beep is well under 15 s
    assert balance(server) == before - 1


def test_upload_is_measured_and_priced_at_submission(server: Server, client: RunwayML) -> None:
    """`runway://` uploads are local too: priced on their real length, not the 1 h maximum."""
    import io

    audio = base64.b64decode(speech(seconds=6.0).split(",", 1)[1])
    upload = client.uploads.create_ephemeral(file=("speech.mp3", io.BytesIO(audio), "audio/mpeg"))
    created = client.voice_isolation.create(model="eleven_voice_isolation", audio_uri=upload.uri)
    assert created.estimated_cost.credits == 1  # 6 s at 1 credit per 6 s


def test_the_catalog_languages_are_the_ones_the_voices_speak() -> None:
    """The 400 at submission and the engine must agree, or a request passes and then fails."""
    from taxiway.engines.audio import tts

    assert tuple(tts.SUPPORTED_LANGUAGES) == TTS_LANGUAGES


def test_dubbing_input_over_ten_minutes_is_refused(server: Server) -> None:
    """A long data URI is measured at submission: 601 s of quiet audio, 8 kb/s MP3 (about 600 kB)."""
    import io

    import av
    import numpy as np

    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp3") as container:
        stream = container.add_stream("mp3", rate=8000)
        stream.layout = "mono"
        stream.bit_rate = 8000
        block = np.zeros((1, 8000 * 60), np.float32)
        for minute in range(11):
            frame = av.AudioFrame.from_ndarray(
                block[:, : 8000 if minute == 10 else None], format="fltp", layout="mono"
            )
            frame.sample_rate = 8000
            for packet in stream.encode(frame):
                container.mux(packet)
        container.mux(stream.encode(None))
    uri = "data:audio/mpeg;base64," + base64.b64encode(buffer.getvalue()).decode()
    response = post(
        server, "voice_dubbing", {"model": "eleven_voice_dubbing", "audioUri": uri, "targetLang": "en"}
    )
    assert ["audioUri"] in issue_paths(response)
    assert "at most 600 seconds" in response.json()["issues"][0]["message"]
