"""Ephemeral uploads without server-side state: `runway://` URIs and upload policies are signed tokens.

A `runway://` URI is, as on the real API, `runway://` followed by an HS256 JWT; it names the
organization, the blob key and the expiry (24 h), so checking one needs the secret and nothing else.
The upload form carries a second, shorter-lived token (the "policy", as in an S3 presigned POST)
that authorises writing that one blob. Both are signed with a key derived from the server's
signing secret, so neither can stand in for the other nor for a signed output URL.

A blob's key carries its URI's expiry (`uploads/<org>/<expires>-<id>/file.<ext>`), so the sweeper
(`assets.sweeper`) can tell expired uploads from their keys alone, again without server-side state.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import IO, Any

from taxiway import clock as server_clock
from taxiway.assets.errors import EXPIRED_UPLOAD_URI, INVALID_UPLOAD_URI, AssetError
from taxiway.assets.kinds import MIB, AssetKind
from taxiway.storage.blobs import BlobStore
from taxiway.storage.signing import UrlSigner

SCHEME = "runway://"
UPLOADS_PREFIX = "uploads"
URI_TTL_SECONDS = 24 * 3600
POLICY_TTL_SECONDS = 3600
MIN_UPLOAD_BYTES = 512
MAX_UPLOAD_BYTES = 200 * MIB
MAX_URI_LENGTH = 5000
MAX_FILENAME_LENGTH = 255
ISSUER = "taxiway"

INVALID_POLICY = "Invalid upload policy."
_URI_TYPE = "ephemeral"
_POLICY_TYPE = "upload-policy"
_HEADER = {"alg": "HS256", "typ": "JWT"}
_SAFE_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
# Keys written before expiries were part of them lack the `<expires>-` part; their URIs still verify.
_KEY = re.compile(r"uploads/[A-Za-z0-9_-]{1,64}/(?:[0-9]{1,12}-)?[0-9a-f]{32}/file\.[a-z0-9]{1,8}")
_UPLOAD_DIR = re.compile(r"(?:([0-9]{1,12})-)?[0-9a-f]{32}")


class UploadTokenError(AssetError):
    """A token that is malformed, forged, expired, of another organization or of the wrong type."""


@dataclass(frozen=True)
class UploadClaims:
    organization_id: str
    key: str
    kind: AssetKind
    media_type: str
    issued_at: int
    expires_at: int


@dataclass(frozen=True)
class UploadGrant:
    """What `POST /v1/uploads` hands out: the form fields for the storage POST and the final URI."""

    claims: UploadClaims
    runway_uri: str
    fields: dict[str, str]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _json(value: dict[str, Any]) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def _unb64(text: str) -> bytes:
    if not re.fullmatch(r"[A-Za-z0-9_-]*", text):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _any_case(text: str) -> str:
    return "".join(f"[{c.upper()}{c.lower()}]" if c.isalpha() else re.escape(c) for c in text)


# `upload_kind`'s rule as a JSON-schema pattern (ECMA and Python alike): the last path part (either
# slash; trailing slashes and `.` parts do not count) is a name, a dot and a known extension, any case.
FILENAME_PATTERN = (
    r"^(?:[\s\S]*[/\\])?[^/\\]+\.(?:"
    + "|".join(_any_case(ext) for kind in AssetKind for ext in kind.rules.extensions)
    + r")(?:[/\\]+\.?)*$"
)


def upload_kind(filename: str) -> tuple[AssetKind, str, str] | None:
    """Kind, media type and extension that a filename declares; None for unsupported extensions."""
    suffix = PurePosixPath(filename.replace("\\", "/")).suffix.lower().lstrip(".")
    found = AssetKind.for_extension(suffix) if suffix else None
    return None if found is None else (found[0], found[1], suffix)


class UploadTokens:
    """Issues and checks the signed tokens; `clock` is injectable so expiry can be tested."""

    def __init__(
        self,
        secret: bytes,
        *,
        clock: Callable[[], float] = server_clock.timestamp,
        uri_ttl_seconds: int = URI_TTL_SECONDS,
        policy_ttl_seconds: int = POLICY_TTL_SECONDS,
    ) -> None:
        if len(secret) < 16:
            raise ValueError("upload signing secret must be at least 16 bytes")
        self._secret = secret
        self._clock = clock
        self.uri_ttl_seconds = uri_ttl_seconds
        self.policy_ttl_seconds = policy_ttl_seconds

    @classmethod
    def from_signer(cls, signer: UrlSigner, **options: Any) -> UploadTokens:
        """Derive the upload key from the output-URL signer's secret (HMAC of a fixed label)."""
        return cls(bytes.fromhex(signer.signature("taxiway:upload-tokens", 0)), **options)

    def grant(self, organization_id: str, filename: str) -> UploadGrant:
        """A fresh blob key and both tokens; ValueError if the filename's extension is unsupported."""
        declared = upload_kind(filename)
        if declared is None:
            raise ValueError(f"unsupported file extension: {filename!r}")
        kind, media_type, extension = declared
        now = int(self._clock())
        expires_at = now + self.uri_ttl_seconds
        folder = f"{UPLOADS_PREFIX}/{_path_safe(organization_id)}/{expires_at}-{uuid.uuid4().hex}"
        claims = UploadClaims(
            organization_id=organization_id,
            key=f"{folder}/file.{extension}",
            kind=kind,
            media_type=media_type,
            issued_at=now,
            expires_at=expires_at,
        )
        policy = self._sign(_POLICY_TYPE, claims, min(claims.expires_at, now + self.policy_ttl_seconds))
        fields = {"key": claims.key, "policy": policy}
        uri = SCHEME + self._sign(_URI_TYPE, claims, claims.expires_at)
        return UploadGrant(claims=claims, runway_uri=uri, fields=fields)

    def verify_uri(self, uri: str, organization_id: str, *, leeway_seconds: float = 0) -> UploadClaims:
        """The claims of a `runway://` URI issued to this organization and not yet expired.

        Another organization's URI is refused exactly like a forged one, so it reveals nothing.
        """
        if len(uri) > MAX_URI_LENGTH or uri[: len(SCHEME)].lower() != SCHEME:
            raise UploadTokenError(INVALID_UPLOAD_URI)
        claims = self._verify(uri[len(SCHEME) :], _URI_TYPE)
        if not hmac.compare_digest(claims.organization_id.encode(), organization_id.encode()):
            raise UploadTokenError(INVALID_UPLOAD_URI)
        if claims.expires_at + leeway_seconds <= self._clock():
            raise UploadTokenError(EXPIRED_UPLOAD_URI)
        return claims

    def verify_fields(self, fields: Mapping[str, str]) -> UploadClaims:
        """The claims of an upload form's policy, which must match its `key` field and be unexpired."""
        claims = self._verify(fields.get("policy", ""), _POLICY_TYPE)
        if fields.get("key") != claims.key:
            raise UploadTokenError("The upload key does not match its policy.")
        return claims

    def _sign(self, token_type: str, claims: UploadClaims, expires_at: int) -> str:
        payload = {
            "organizationId": claims.organization_id,
            "uploadKey": claims.key,
            "type": token_type,
            "contentType": claims.media_type,
            "iat": claims.issued_at,
            "exp": expires_at,
            "iss": ISSUER,
        }
        signing_input = f"{_b64(_json(_HEADER))}.{_b64(_json(payload))}"
        return f"{signing_input}.{_b64(self._mac(signing_input))}"

    def _mac(self, signing_input: str) -> bytes:
        return hmac.new(self._secret, signing_input.encode("ascii"), hashlib.sha256).digest()

    def _verify(self, token: str, token_type: str) -> UploadClaims:
        invalid = UploadTokenError(
            INVALID_UPLOAD_URI if token_type == _URI_TYPE else "Invalid upload policy."
        )
        parts = token.split(".")
        if len(parts) != 3 or len(token) > MAX_URI_LENGTH:
            raise invalid
        header_b64, payload_b64, signature_b64 = parts
        try:
            signature = _unb64(signature_b64)
            if not hmac.compare_digest(signature, self._mac(f"{header_b64}.{payload_b64}")):
                raise invalid
            header = json.loads(_unb64(header_b64))
            payload = json.loads(_unb64(payload_b64))
        except (ValueError, UnicodeError, binascii.Error):
            raise invalid from None
        # Only tokens this server signed get this far; the checks below catch type confusion.
        if not isinstance(header, dict) or header.get("alg") != "HS256" or not isinstance(payload, dict):
            raise invalid
        claims = _claims(payload, token_type)
        if claims is None:
            raise invalid
        if token_type == _POLICY_TYPE and payload["exp"] <= self._clock():
            raise UploadTokenError("The upload policy has expired. Request a new upload.")
        return claims


def _claims(payload: dict[str, Any], token_type: str) -> UploadClaims | None:
    organization_id, key = payload.get("organizationId"), payload.get("uploadKey")
    media_type, issued, expires = payload.get("contentType"), payload.get("iat"), payload.get("exp")
    if payload.get("type") != token_type or not isinstance(organization_id, str) or not isinstance(key, str):
        return None
    if not isinstance(media_type, str) or not isinstance(issued, int) or not isinstance(expires, int):
        return None
    declared = upload_kind(key)
    if not _KEY.fullmatch(key) or declared is None or declared[1] != media_type:
        return None
    return UploadClaims(organization_id, key, declared[0], media_type, issued, expires)


def upload_folder(key: str) -> tuple[str, int | None] | None:
    """The folder of the upload a blob key lies in, and the URI expiry its name records.

    The expiry is None for folders named before expiries were recorded; the whole result is None
    for keys outside any upload's folder.
    """
    parts = key.split("/")
    if len(parts) < 4 or parts[0] != UPLOADS_PREFIX or not _SAFE_ID.fullmatch(parts[1]):
        return None
    match = _UPLOAD_DIR.fullmatch(parts[2])
    if match is None:
        return None
    return "/".join(parts[:3]), None if match[1] is None else int(match[1])


def _path_safe(organization_id: str) -> str:
    """The organization id as one path segment; ids that are not already safe are hashed."""
    if _SAFE_ID.fullmatch(organization_id):
        return organization_id
    return hashlib.sha256(organization_id.encode()).hexdigest()[:32]


async def store_upload(store: BlobStore, key: str, source: IO[bytes]) -> None:
    """Write an uploaded file to the store from its spooled copy, in chunks, never whole in memory."""
    source.seek(0)
    await store.put_file(key, source)
