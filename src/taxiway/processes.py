"""Child processes that die with the server, even when it is killed with SIGKILL.

A child normally outlives a killed parent: it is reparented and keeps running (a phonemizer waiting on
its pipe, a translation finishing its input). On Linux every child the server starts asks the kernel
for SIGKILL when its parent dies (`prctl(PR_SET_PDEATHSIG)`), set between fork and exec so no
instant is left uncovered; a parent already gone by then kills the child at once. The signal follows
the thread that started the child, so a child started by a thread that exits dies with that thread:
long-lived children must be restartable (the phonemizer is). Other systems start children as usual.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Sequence
from typing import Any

_PR_SET_PDEATHSIG = 1


def _prctl() -> Callable[..., int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    except OSError:
        return None
    function: Callable[..., int] = libc.prctl
    return function


# Looked up once, in the parent: the child only calls it (no imports or allocation after fork).
_PRCTL = _prctl()


def _die_with(parent: int) -> Callable[[], None] | None:
    prctl = _PRCTL
    if prctl is None:
        return None

    def in_child() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before the request took effect
            os.kill(os.getpid(), signal.SIGKILL)

    return in_child


def popen(args: Sequence[str], **options: Any) -> subprocess.Popen[Any]:
    """`subprocess.Popen` for a child that must not outlive this process."""
    return subprocess.Popen(args, preexec_fn=_die_with(os.getpid()), **options)


def run(args: Sequence[str], **options: Any) -> subprocess.CompletedProcess[Any]:
    """`subprocess.run` for a child that must not outlive this process."""
    return subprocess.run(args, preexec_fn=_die_with(os.getpid()), **options)
