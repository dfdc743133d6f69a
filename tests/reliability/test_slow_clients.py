"""Slowloris: silent connections, requests sent a byte at a time and trickling bodies are cut off with a
408 after the configured time, open connections are capped, and other clients are served throughout."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from contextlib import ExitStack

import httpx
import pytest

from support.server import READY_TIMEOUT, Server

# Generous: the server answers within seconds; this only bounds a test whose server never closes.
CLOSE_WAIT = 120.0
LIMITS = {
    "TAXIWAY_REQUEST_HEADER_TIMEOUT_SECONDS": "2",
    "TAXIWAY_REQUEST_BODY_TIMEOUT_SECONDS": "2",
    "TAXIWAY_REQUEST_BODY_MIN_BYTES_PER_SECOND": "4096",
    "TAXIWAY_MAX_CONNECTIONS": "40",
}


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = Server(tmp_path_factory.mktemp("guarded"), env=LIMITS).start()
    yield server
    server.stop()


def connect(server: Server, stack: ExitStack, first: bytes = b"") -> socket.socket:
    sock = stack.enter_context(socket.create_connection(("127.0.0.1", server.port), timeout=READY_TIMEOUT))
    if first:
        sock.sendall(first)
    return sock


def closed_by_server(sock: socket.socket) -> bytes:
    """Everything the server sent until it closed the connection (fails if it never does)."""
    sock.settimeout(CLOSE_WAIT)
    received = b""
    try:
        while chunk := sock.recv(4096):
            received += chunk
    except ConnectionResetError:
        pass
    return received


def test_slow_requests_are_cut_off_and_others_are_served(guarded: Server) -> None:
    partial_body = (
        b"POST /v1/text_to_image HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        + f"Authorization: Bearer {guarded.key}\r\nX-Runway-Version: 2024-11-06\r\n".encode()
        + b"Content-Length: 10000\r\n\r\n{"
    )
    with ExitStack() as stack:
        silent = [connect(guarded, stack) for _ in range(5)]
        request_line = [connect(guarded, stack, b"GET /heal") for _ in range(5)]
        headers = [connect(guarded, stack, b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: 1") for _ in range(5)]
        bodies = [connect(guarded, stack, partial_body) for _ in range(5)]
        # Meanwhile, the server answers others.
        assert httpx.get(f"{guarded.base_url}/healthz", timeout=READY_TIMEOUT).status_code == 200
        for sock in silent + request_line + headers + bodies:
            assert closed_by_server(sock).startswith(b"HTTP/1.1 408 ")
    assert "Traceback" not in guarded.log()


def test_a_trickling_body_is_cut_off(guarded: Server) -> None:
    """2 KB/s never catches up with the 4 KB/s minimum once the 2 s grace is over."""
    with ExitStack() as stack:
        sock = connect(
            guarded,
            stack,
            b"POST /v1/uploads HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + f"Authorization: Bearer {guarded.key}\r\nX-Runway-Version: 2024-11-06\r\n".encode()
            + b"Content-Length: 1000000\r\n\r\n",
        )
        started = time.monotonic()
        try:
            while time.monotonic() - started < CLOSE_WAIT:
                sock.sendall(b" " * 512)
                time.sleep(0.25)
        except (BrokenPipeError, ConnectionResetError):
            pass
        assert time.monotonic() - started < CLOSE_WAIT, "the server kept reading a 2 KB/s body"
        assert closed_by_server(sock).startswith(b"HTTP/1.1 408 ")


def test_connections_past_the_cap_are_closed_at_once(guarded: Server) -> None:
    with ExitStack() as stack:
        held = [connect(guarded, stack) for _ in range(60)]
        for sock in held:  # 40 at their header deadline, the others on arrival
            answer = closed_by_server(sock)
            assert answer == b"" or answer.startswith(b"HTTP/1.1 408 ")
        assert guarded.log().count("Too many open connections") >= 20
    # Once the slow ones are gone, every client is served again.
    assert httpx.get(f"{guarded.base_url}/healthz", timeout=READY_TIMEOUT).status_code == 200
