"""Why an asset was refused, in the words of the real API's troubleshooting guide."""

from __future__ import annotations

# The reasons the real API documents; a detail may follow after a space.
INVALID_DATA_URI = "Invalid data URI."
UNSUPPORTED_ASSET_TYPE = "Unsupported asset type."
INVALID_URL = "Invalid URL."
ONLY_HTTPS = "Only HTTPS URLs are allowed."
DOMAIN_REQUIRED = "URLs must be hosted on a domain."
FETCH_FAILED = "Failed to fetch asset."
FETCH_TIMEOUT = "Timeout while fetching asset."
INVALID_UPLOAD_URI = "Invalid runway:// URI."
EXPIRED_UPLOAD_URI = "The runway:// URI has expired. Upload the file again."


def http_status_reason(status: int) -> str:
    return f'{FETCH_FAILED} Received HTTP response code "{status}".'


class AssetError(ValueError):
    """An asset that cannot be used; `reason` is a short sentence meant for the API client."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ProbeError(AssetError):
    """The bytes are not media of a supported format, or cannot be decoded."""
