"""`POST /v1/voices/preview` costs seconds of CPU and no credits: per organization at most two run at
once and twenty a minute; past that a 429 in the API's shape, with Retry-After. Others keep being served."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from runwayml import RateLimitError

from support.clients import sdk
from support.server import READY_TIMEOUT, Server
from taxiway.api.errors import ApiError
from taxiway.api.rate_limits import SlidingWindow
from taxiway.voices import processing

PROMPT = "a calm, warm voice of a woman, speaking slowly"


def test_concurrent_previews_beyond_two_are_429s(server: Server) -> None:
    client = sdk(server, timeout=READY_TIMEOUT)

    def preview(_: int) -> object:
        try:
            return client.voices.preview(prompt=PROMPT, model="eleven_ttv_v3")
        except RateLimitError as refused:
            return refused

    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(preview, range(6)))
    refused = [answer for answer in answers if isinstance(answer, RateLimitError)]
    served = [answer for answer in answers if not isinstance(answer, RateLimitError)]
    assert len(served) >= 1 and refused, answers
    for refusal in refused:
        assert isinstance(refusal.body, dict) and set(refusal.body) == {"error"}
        assert refusal.response.headers["retry-after"] == "1"
    # Once those are done, the organization is served again.
    assert client.voices.preview(prompt=PROMPT, model="eleven_ttv_v3").duration_secs > 0


def test_the_window_counts_per_organization() -> None:
    now = [0.0]
    window = SlidingWindow(limit=3, seconds=60, concurrent=2, what="previews", clock=lambda: now[0])
    for _ in range(3):
        window.acquire("a")
        window.release("a")
    with pytest.raises(ApiError) as refused:
        window.acquire("a")
    assert refused.value.status == 429 and refused.value.headers == {"Retry-After": "60"}
    window.acquire("b")  # another organization has its own count
    window.acquire("b")
    with pytest.raises(ApiError):
        window.acquire("b")  # two at once is the most
    now[0] = 60.0
    window.acquire("a")


async def test_a_preview_never_waits_behind_voices_being_made(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Its client waits for it: with every background slot taken (voices queued behind), it still runs."""
    monkeypatch.setattr(processing, "speak", lambda preset, cache: processing.Preview(b"mp3", 1.5))
    voices = processing.VoiceProcessor(None, None, None, cache=tmp_path, concurrency=1)  # type: ignore[arg-type]
    async with voices._slots:  # a voice being made holds the only background slot
        made = await asyncio.wait_for(voices.preview(PROMPT), timeout=READY_TIMEOUT)
    assert made.seconds == 1.5
