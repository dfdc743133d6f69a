"""`tasks.admission.AdmissionQueue`: creates of one organization and model beyond CREATES_IN_FLIGHT wait
without a database connection; other pairs are not held up; nothing is kept once they are done."""

from __future__ import annotations

import asyncio

from taxiway.tasks.admission import CREATES_IN_FLIGHT, AdmissionQueue


async def test_creates_of_one_pair_beyond_the_limit_wait_and_others_do_not() -> None:
    queue = AdmissionQueue()
    inside: list[str] = []
    release = asyncio.Event()

    async def create(organization: str, model: str) -> None:
        async with queue.turn(organization, model):
            inside.append(f"{organization}/{model}")
            await release.wait()

    jobs = [asyncio.create_task(create("org", "gen4_image")) for _ in range(CREATES_IN_FLIGHT + 3)]
    jobs.append(asyncio.create_task(create("org", "gen4_turbo")))
    jobs.append(asyncio.create_task(create("other", "gen4_image")))
    for _ in range(10):
        await asyncio.sleep(0)
    assert inside.count("org/gen4_image") == CREATES_IN_FLIGHT
    assert {"org/gen4_turbo", "other/gen4_image"} <= set(inside)
    release.set()
    async with asyncio.timeout(60):
        await asyncio.gather(*jobs)
    assert inside.count("org/gen4_image") == CREATES_IN_FLIGHT + 3
    assert not queue._slots and not queue._users  # nothing kept per pair once its creates are done
