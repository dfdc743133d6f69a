"""HMAC-signed, expiring URLs for stored blobs; verification is constant-time."""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import quote


class UrlSigner:
    def __init__(self, secret: bytes) -> None:
        if len(secret) < 16:
            raise ValueError("signing secret must be at least 16 bytes")
        self._secret = secret

    def signature(self, key: str, expires: int) -> str:
        message = f"{key}\n{expires}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()

    def query(self, key: str, expires: int) -> str:
        return f"exp={expires}&sig={self.signature(key, expires)}"

    def path(self, key: str, expires: int) -> str:
        return f"/outputs/{quote(key)}?{self.query(key, expires)}"

    def verify(self, key: str, expires: int, signature: str, now: float) -> bool:
        """True only for an untampered signature whose expiry is still in the future."""
        if expires <= now:
            return False
        return hmac.compare_digest(self.signature(key, expires), signature)
