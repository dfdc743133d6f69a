"""Serves stored outputs behind HMAC-signed, expiring URLs (not under /v1: clients fetch them bare)."""

from __future__ import annotations

from fastapi import APIRouter, Query
from fastapi.responses import FileResponse

from taxiway.api.auth import State
from taxiway.api.errors import ApiError
from taxiway.clock import utcnow

router = APIRouter(tags=["outputs"], include_in_schema=False)

_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".webp": "image/webp",
    ".mp4": "video/mp4",
    ".mp3": "audio/mpeg",
    ".wav": "audio/wav",
    ".mov": "video/quicktime",
    ".zip": "application/zip",
}


@router.get("/outputs/{key:path}")
async def download(
    key: str, state: State, exp: int = Query(...), sig: str = Query(..., max_length=128)
) -> FileResponse:
    if not state.signer.verify(key, exp, sig, now=utcnow().timestamp()):
        raise ApiError(403, "This URL is invalid or has expired. Fetch the task again for a fresh one.")
    path = state.store.local_path(key)
    if path is None:
        raise ApiError(404, "Not found")
    return FileResponse(
        path,
        media_type=_TYPES.get(path.suffix, "application/octet-stream"),
        headers={"Cache-Control": "private, max-age=3600"},
    )
