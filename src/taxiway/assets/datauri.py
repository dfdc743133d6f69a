"""Strict parsing of `data:<media type>;base64,<payload>` assets.

The length limit is checked on the encoded string before anything is decoded, so an oversized URI
costs nothing but the request body that carried it.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass

from taxiway.assets.errors import INVALID_DATA_URI, UNSUPPORTED_ASSET_TYPE, AssetError
from taxiway.assets.kinds import AssetKind

# RFC 6838 restricted names for the type, the subtype and parameter names.
_TOKEN = r"[a-z0-9][a-z0-9!#$&^_.+-]{0,126}"
_MEDIA_TYPE = re.compile(rf"{_TOKEN}/{_TOKEN}")
_PARAMETER = re.compile(rf"{_TOKEN}=[^;,\s]{{0,256}}")
# Longest `data:...;base64,` header looked at; real ones are a few dozen characters.
_MAX_HEADER = 512


@dataclass(frozen=True)
class DataUri:
    media_type: str
    data: bytes


def is_data_uri(uri: str) -> bool:
    return uri[:5].lower() == "data:"


def parse_data_uri(uri: str, kind: AssetKind, *, max_chars: int | None = None) -> DataUri:
    """Decode a base64 data URI whose declared media type is one of `kind`'s; AssetError otherwise."""
    limit = kind.rules.data_uri_max_chars if max_chars is None else max_chars
    if len(uri) > limit:
        raise AssetError(
            f"{INVALID_DATA_URI} It is {len(uri)} characters long; {kind.value} data URIs are limited"
            f" to {limit} characters. Upload the file instead."
        )
    if not is_data_uri(uri):
        raise AssetError(INVALID_DATA_URI)
    comma = uri.find(",", 5, 5 + _MAX_HEADER)
    if comma < 0:
        raise AssetError(INVALID_DATA_URI)
    media_type, *parameters = uri[5:comma].lower().split(";")
    if not parameters or parameters[-1] != "base64":
        raise AssetError(f"{INVALID_DATA_URI} Only base64-encoded data URIs are accepted.")
    if not _MEDIA_TYPE.fullmatch(media_type) or not all(_PARAMETER.fullmatch(p) for p in parameters[:-1]):
        raise AssetError(f"{INVALID_DATA_URI} It must start with data:<media type>;base64,")
    if not kind.accepts_media_type(media_type):
        raise AssetError(f"{UNSUPPORTED_ASSET_TYPE} {media_type} is not a supported {kind.value} type.")
    payload = uri[comma + 1 :]
    if not payload:
        raise AssetError(f"{INVALID_DATA_URI} It carries no data.")
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise AssetError(f"{INVALID_DATA_URI} The payload is not valid base64.") from None
    return DataUri(media_type, data)
