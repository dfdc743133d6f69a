"""Serves stored outputs behind HMAC-signed, expiring URLs (not under /v1: clients fetch them bare).

The bytes come through the blob store, so any replica serves any output, from a local directory or an
S3 bucket alike; one byte range per request (players seek in videos with them).
"""

from __future__ import annotations

import re
from email.utils import formatdate
from pathlib import PurePosixPath

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response, StreamingResponse

from taxiway.api.auth import State
from taxiway.api.errors import ApiError
from taxiway.clock import utcnow

router = APIRouter(tags=["outputs"], include_in_schema=False)

_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".webp": "image/webp",
    ".svg": "image/svg+xml",
    ".mp4": "video/mp4",
    ".mp3": "audio/mpeg",
    ".wav": "audio/wav",
    ".ogg": "audio/ogg",
    ".flac": "audio/flac",
    ".mov": "video/quicktime",
    ".zip": "application/zip",
}
_RANGE = re.compile(r"bytes=(\d*)-(\d*)")


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """[start, end) asked by a `Range` header; None to send everything (no header, several ranges or a
    unit other than bytes, which a server may ignore). ValueError when no byte of it exists."""
    if header is None:
        return None
    match = _RANGE.fullmatch(header.strip())
    if match is None:
        return None
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:  # the last N bytes
        start, end = max(0, size - int(last)), size
    else:
        start, end = int(first), size if not last else min(size, int(last) + 1)
    if start >= size or start >= end:
        raise ValueError(header)
    return start, end


@router.get("/outputs/{key:path}")
async def download(
    key: str, request: Request, state: State, exp: int = Query(...), sig: str = Query(..., max_length=128)
) -> Response:
    if not state.signer.verify(key, exp, sig, now=utcnow().timestamp()):
        raise ApiError(403, "This URL is invalid or has expired. Fetch the task again for a fresh one.")
    try:
        info = await state.store.stat(key)
    except ValueError:  # not a key the store could hold
        info = None
    if info is None:
        raise ApiError(404, "Not found")
    headers = {
        "Cache-Control": "private, max-age=3600",
        "Accept-Ranges": "bytes",
        "Last-Modified": formatdate(info.modified, usegmt=True),
    }
    suffix = PurePosixPath(key).suffix
    if suffix == ".svg":  # a document a browser would run scripts in: nothing but its own styles
        headers["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'; sandbox"
    try:
        chosen = byte_range(request.headers.get("range"), info.size)
    except ValueError:
        return Response(status_code=416, headers={**headers, "Content-Range": f"bytes */{info.size}"})
    start, end = chosen or (0, info.size)
    headers["Content-Length"] = str(end - start)
    if chosen is not None:
        headers["Content-Range"] = f"bytes {start}-{end - 1}/{info.size}"
    return StreamingResponse(
        state.store.stream(key, start, end),
        status_code=206 if chosen is not None else 200,
        media_type=_TYPES.get(suffix, "application/octet-stream"),
        headers=headers,
    )
