"""kill -9: the server's children die with it, and what it had accepted is neither lost nor paid twice."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from support.clients import balance, sdk
from support.server import READY_TIMEOUT, Server

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="reads /proc; PDEATHSIG is Linux's"
)

PARENT = """
import subprocess, sys, time
from taxiway import processes
start = processes.popen if sys.argv[1] == "guarded" else subprocess.Popen
child = start([sys.executable, "-c", "import time; time.sleep(600)"])
print(child.pid, flush=True)
time.sleep(600)
"""


def alive(pid: int) -> bool:
    """Running (a zombie, or a process of another pid generation, does not count)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def gone_within(pid: int, seconds: float = READY_TIMEOUT) -> bool:
    deadline = time.monotonic() + seconds
    while alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def children(pid: int) -> set[int]:
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        found.update(int(child) for child in (task / "children").read_text().split())
    return found


@pytest.mark.parametrize("start", ["plain", "guarded"])
def test_a_child_dies_with_its_killed_parent(start: str) -> None:
    parent = subprocess.Popen([sys.executable, "-c", PARENT, start], stdout=subprocess.PIPE, text=True)
    assert parent.stdout is not None
    child = int(parent.stdout.readline())
    try:
        parent.kill()
        parent.wait()
        if start == "plain":  # what the server's children did before: orphaned, still running
            time.sleep(1)
            assert alive(child)
        else:
            assert gone_within(child)
    finally:
        if alive(child):
            subprocess.run(["kill", "-9", str(child)], check=False)


def test_the_killed_server_takes_its_children_and_loses_nothing(make_server: Callable[..., Server]) -> None:
    server = make_server()
    client = sdk(server)
    before = balance(server)
    # Speech starts the espeak-ng phonemizer, a long-lived child process.
    speech = client.text_to_speech.create(
        model="eleven_multilingual_v2",
        prompt_text="Hello there.",
        voice={"type": "runway-preset", "preset_id": "Mark"},
    ).wait_for_task_output(timeout=READY_TIMEOUT)
    assert server.process is not None
    spawned = children(server.process.pid)
    assert spawned, "the server started no child process"
    in_flight = [
        client.text_to_image.create(model="gen4_image", prompt_text=f"lighthouse {n}", ratio="1920:1080").id
        for n in range(6)
    ]
    server.kill()
    assert all(gone_within(pid) for pid in spawned)
    server.start()
    costs = []
    for task_id in in_flight:
        task = client.tasks.retrieve(task_id)
        while task.status not in ("SUCCEEDED", "FAILED", "CANCELLED"):
            time.sleep(0.2)
            task = client.tasks.retrieve(task_id)
        costs.append(task.cost.credits)
    assert balance(server) == before - speech.cost.credits - sum(costs)
