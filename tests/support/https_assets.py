"""Test media made at test time, and a local HTTPS server (trustme certificates) that serves it well or badly.

The server listens on 127.0.0.1; tests reach it through names such as `assets.test` that their
resolver override maps there, so the fetcher's rules about names, SNI and certificates apply.
"""

from __future__ import annotations

import io
import ssl
import struct
import threading
import time
import zlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import av
import numpy as np
import trustme
from PIL import Image

# --- media -----------------------------------------------------------------------------------------


def image_bytes(fmt: str, size: tuple[int, int] = (64, 48), mode: str = "RGB") -> bytes:
    """A small gradient image in a Pillow format (PNG, JPEG, WEBP, GIF, BMP, TIFF)."""
    width, height = size
    gradient = np.linspace(0, 255, width * height * 3, dtype=np.float64).reshape(height, width, 3)
    image = Image.fromarray(gradient.astype(np.uint8), "RGB").convert(mode)
    out = io.BytesIO()
    image.save(out, format=fmt)
    return out.getvalue()


def png_header_only(width: int, height: int) -> bytes:
    """A PNG signature and IHDR claiming huge dimensions, then IEND: a decompression-bomb stand-in."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def video_bytes(container: str = "mp4", codec: str = "libx264", **options: Any) -> bytes:
    """A short synthetic clip encoded by PyAV (1 s of 64x64 H.264 in MP4 by default).

    Encoded on a throwaway thread: SVT-AV1 raises the thread that opens it to SCHED_FIFO 99 when run
    as root, and a real-time main thread starves everything else on a small machine.
    """
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(_encode_video, container, codec, **options).result()


def _encode_video(
    container: str = "mp4",
    codec: str = "libx264",
    *,
    seconds: float = 1.0,
    size: int = 64,
    rate: int = 12,
    pix_fmt: str = "yuv420p",
    with_audio: bool = False,
) -> bytes:
    out = io.BytesIO()
    with av.open(out, "w", format=container) as output:
        stream = output.add_stream(codec, rate=rate)
        stream.width = size
        stream.height = size
        stream.pix_fmt = pix_fmt
        audio = output.add_stream("aac", rate=44100) if with_audio else None
        frames = max(1, int(seconds * rate))
        for index in range(frames):
            pixels = np.full((size, size, 3), (index * 17) % 256, np.uint8)
            pixels[:, : size // 2, 1] = 255 - pixels[:, : size // 2, 1]
            frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
            output.mux(stream.encode(frame))
        output.mux(stream.encode(None))
        if audio is not None:
            _encode_tone(output, audio, seconds, 44100)
    return out.getvalue()


def audio_bytes(
    container: str = "wav", codec: str = "pcm_s16le", *, seconds: float = 0.5, rate: int = 44100
) -> bytes:
    """A short sine tone encoded by PyAV (WAV, MP3, FLAC, ADTS AAC, ALAC in M4A, Opus in Ogg, ...)."""
    out = io.BytesIO()
    with av.open(out, "w", format=container) as output:
        stream = output.add_stream(codec, rate=rate)
        stream.layout = "mono"
        _encode_tone(output, stream, seconds, rate)
    return out.getvalue()


def _encode_tone(output: Any, stream: Any, seconds: float, rate: int) -> None:
    samples = int(seconds * rate)
    tone = (np.sin(np.arange(samples) * 2 * np.pi * 440 / rate) * 8000).astype(np.int16)
    block = 1024
    for start in range(0, samples, block):
        chunk = tone[start : start + block].reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(chunk, format="s16", layout="mono")
        frame.sample_rate = rate
        frame.pts = start
        output.mux(stream.encode(frame))
    output.mux(stream.encode(None))


# --- the HTTPS server ------------------------------------------------------------------------------


@dataclass
class Route:
    """How one path answers. HEAD and GET share it, so they can be made to disagree."""

    body: bytes = b""
    content_type: str | None = "image/png"
    status: int = 200
    head_status: int | None = None
    # Content-Length sent with HEAD; None = the body's length.
    head_length: int | None = None
    # Content-Length sent with GET; None = the body's length.
    get_length: int | None = None
    # No Content-Length at all (GET is then chunked).
    omit_length: bool = False
    # GET body sent with chunked encoding instead of a Content-Length.
    chunked: bool = False
    # GET sends this many filler bytes (chunked) instead of `body`.
    endless: int = 0
    chunk_size: int = 64 * 1024
    chunk_delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_HEAD(self) -> None:
        self._serve(head=True)

    def do_GET(self) -> None:
        self._serve(head=False)

    def _serve(self, head: bool) -> None:
        path = self.path.split("?", 1)[0]
        self.server.seen.append(Seen(self.command, path, {k.lower(): v for k, v in self.headers.items()}))
        route = self.server.routes.get(path)
        try:
            if route is None:
                self._plain(404, b"not found")
                return
            self._respond(route, head)
        except (OSError, ssl.SSLError):
            pass  # the client gave up, as the fetcher is meant to
        finally:
            self.close_connection = True

    def _plain(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _respond(self, route: Route, head: bool) -> None:
        status = route.head_status if head and route.head_status is not None else route.status
        self.send_response(status)
        if route.content_type is not None:
            self.send_header("Content-Type", route.content_type)
        for name, value in route.headers.items():
            self.send_header(name, value)
        self.send_header("Connection", "close")
        chunked = not head and (route.chunked or route.endless > 0 or route.omit_length)
        if head and not route.omit_length:
            length = len(route.body) if route.head_length is None else route.head_length
            self.send_header("Content-Length", str(length))
        elif not head and not chunked:
            length = len(route.body) if route.get_length is None else route.get_length
            self.send_header("Content-Length", str(length))
        elif chunked:
            self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        if head:
            return
        sent = 0
        for piece in self._pieces(route):
            if chunked:
                self.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
            else:
                self.wfile.write(piece)
            self.wfile.flush()
            sent += len(piece)
            self.server.sent[self.path] = sent
            if route.chunk_delay:
                time.sleep(route.chunk_delay)
        if chunked:
            self.wfile.write(b"0\r\n\r\n")

    @staticmethod
    def _pieces(route: Route) -> Any:
        if route.endless:
            filler = b"\0" * route.chunk_size
            for _ in range(0, route.endless, route.chunk_size):
                yield filler
            return
        for start in range(0, len(route.body), route.chunk_size):
            yield route.body[start : start + route.chunk_size]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, context: ssl.SSLContext) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        # The handshake happens in each handler's thread, on first read.
        self.socket = context.wrap_socket(self.socket, server_side=True, do_handshake_on_connect=False)
        self.routes: dict[str, Route] = {}
        self.seen: list[Seen] = []
        self.sent: dict[str, int] = {}
        self.sni: list[str | None] = []


class AssetServer:
    """An HTTPS server on 127.0.0.1 whose certificate names `hostnames`, issued by `ca`."""

    def __init__(self, ca: trustme.CA, hostnames: tuple[str, ...] = ("assets.test",)) -> None:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert(*hostnames).configure_cert(context)
        self._server = _Server(context)
        context.sni_callback = self._record_sni
        self._thread = threading.Thread(target=self._server.serve_forever, name="asset-server", daemon=True)

    def _record_sni(self, sock: Any, name: str | None, context: ssl.SSLContext) -> None:
        self._server.sni.append(name)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def routes(self) -> dict[str, Route]:
        return self._server.routes

    @property
    def seen(self) -> list[Seen]:
        return self._server.seen

    @property
    def sent(self) -> dict[str, int]:
        return self._server.sent

    @property
    def sni(self) -> list[str | None]:
        return self._server.sni

    def url(self, path: str, host: str = "assets.test") -> str:
        return f"https://{host}:{self.port}{path}"

    def requests_for(self, path: str) -> list[str]:
        return [seen.method for seen in self.seen if seen.path == path]

    def start(self) -> AssetServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def client_context(ca: trustme.CA) -> ssl.SSLContext:
    """What the fetcher trusts in tests: only the test CA."""
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context


def wait_until(condition: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()
