"""The two moments an asset field is looked at, for every endpoint that takes media.

At submission only what is cheap and certain is checked (syntax, data URIs in full, upload tokens),
and a failure is a 400 naming the field, so no task is created. What only fetching can reveal is
found when the task runs, and fails the task with the real API's code for unusable assets.
"""

from __future__ import annotations

import asyncio
import math
import re
import ssl
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from taxiway import clock as server_clock
from taxiway.assets.datauri import is_data_uri, parse_data_uri
from taxiway.assets.errors import (
    INVALID_UPLOAD_URI,
    INVALID_URL,
    ONLY_HTTPS,
    UNSUPPORTED_ASSET_TYPE,
    AssetError,
)
from taxiway.assets.fetch import AssetFetcher, FetchPolicy, Resolver, parse_https_url, trust_store
from taxiway.assets.fetch import static_resolver as make_static_resolver
from taxiway.assets.kinds import AssetKind
from taxiway.assets.probe import MediaInfo, probe
from taxiway.assets.uploads import SCHEME as RUNWAY_SCHEME
from taxiway.assets.uploads import UploadTokens
from taxiway.errors import ASSET_INVALID, Failure
from taxiway.storage.blobs import BlobStore
from taxiway.storage.signing import UrlSigner

_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*")
# Accepted work keeps its runway:// inputs however long it waits: the URI was unexpired when the task
# or avatar was accepted, and the upload sweeper keeps the files that unfinished work names.
RUN_TIME_GRACE_SECONDS = math.inf


@dataclass(frozen=True)
class LoadedAsset:
    data: bytes
    # The media type the bytes really are (probed), not the declared one.
    media_type: str
    info: MediaInfo


class AssetRejected(Exception):
    """An asset refused at submission; the API answers 400 with `issue` in `issues`."""

    def __init__(self, path: Sequence[str | int], reason: str) -> None:
        self.path = list(path)
        self.reason = reason
        self.field = ".".join(str(part) for part in self.path) or "body"
        self.message = f"{self.field}: {reason}"
        super().__init__(self.message)

    @property
    def issue(self) -> dict[str, Any]:
        return {"code": "custom", "path": self.path, "message": self.message}


@dataclass(frozen=True)
class AssetPolicy:
    """Operator configuration for asset intake."""

    allow_private_networks: bool = False
    fetch_timeout_seconds: float = 30.0
    fetch_min_bytes_per_second: float = 64 * 1024
    # Fixed DNS answers (name -> IP), e.g. for tests or split-horizon DNS.
    host_overrides: Mapping[str, str] = field(default_factory=dict)
    # Extra CA certificates (PEM) trusted for asset URLs, besides the public ones.
    ca_bundle: Path | None = None

    @classmethod
    def from_settings(cls, settings: object) -> AssetPolicy:
        """Read the `asset_*` / `allow_private_networks` settings, with defaults where a field is absent."""
        defaults = cls()
        ca_bundle = getattr(settings, "asset_ca_bundle", None)
        return cls(
            allow_private_networks=bool(getattr(settings, "allow_private_networks", False)),
            fetch_timeout_seconds=float(
                getattr(settings, "asset_fetch_timeout_seconds", defaults.fetch_timeout_seconds)
            ),
            fetch_min_bytes_per_second=float(
                getattr(settings, "asset_fetch_min_bytes_per_second", defaults.fetch_min_bytes_per_second)
            ),
            host_overrides=dict(getattr(settings, "asset_host_overrides", None) or {}),
            ca_bundle=Path(ca_bundle) if ca_bundle else None,
        )

    def fetch_policy(self) -> FetchPolicy:
        return FetchPolicy(
            allow_private_networks=self.allow_private_networks,
            timeout_seconds=self.fetch_timeout_seconds,
            min_bytes_per_second=self.fetch_min_bytes_per_second,
        )

    def ssl_context(self) -> ssl.SSLContext:
        return trust_store(self.ca_bundle)

    def fetcher(
        self, *, resolver: Resolver | None = None, ssl_context: ssl.SSLContext | None = None
    ) -> AssetFetcher:
        """The one network policy for every URL a client gives the server (assets, realtime rooms)."""
        if resolver is None and self.host_overrides:
            resolver = make_static_resolver(self.host_overrides)
        return AssetFetcher(
            self.fetch_policy(), resolver=resolver, ssl_context=ssl_context or self.ssl_context()
        )


def _scheme(uri: str) -> str:
    """`data`, `runway` or `https`; AssetError with the real API's reason for anything else."""
    if is_data_uri(uri):
        return "data"
    if uri[: len(RUNWAY_SCHEME)].lower() == RUNWAY_SCHEME:
        return "runway"
    scheme, colon, _ = uri.partition(":")
    if not colon or not _SCHEME.fullmatch(scheme):
        raise AssetError(INVALID_URL)
    if scheme.lower() != "https":
        raise AssetError(ONLY_HTTPS)
    return "https"


def _require_kind(info: MediaInfo, kind: AssetKind) -> None:
    if info.kind != kind:
        raise AssetError(f"{UNSUPPORTED_ASSET_TYPE} This is {info.kind.value}, not {kind.value}.")


class AssetIntake:
    """Checks and loads assets given as HTTPS URLs, data URIs or `runway://` upload URIs."""

    def __init__(self, store: BlobStore, tokens: UploadTokens, fetcher: AssetFetcher) -> None:
        self.store = store
        self.tokens = tokens
        self.fetcher = fetcher

    @classmethod
    def create(
        cls,
        store: BlobStore,
        signer: UrlSigner,
        policy: AssetPolicy | None = None,
        *,
        resolver: Resolver | None = None,
        ssl_context: ssl.SSLContext | None = None,
        clock: Callable[[], float] = server_clock.timestamp,
    ) -> AssetIntake:
        """Intake for the running server: upload tokens keyed from `signer`, fetching per `policy`."""
        fetcher = (policy or AssetPolicy()).fetcher(resolver=resolver, ssl_context=ssl_context)
        return cls(store, UploadTokens.from_signer(signer, clock=clock), fetcher)

    async def check_at_submission(
        self, uri: str, kind: AssetKind | str, path: Sequence[str | int], organization_id: str
    ) -> MediaInfo | None:
        """Everything that can be judged without fetching; AssetRejected names the field otherwise.

        Returns the probe of data URIs and uploads (local bytes, so their length can be priced and
        checked now); None for HTTPS URLs, which are only fetched when the task runs.
        `kind` may be any string enum with the values `image`, `video`, `audio`.
        """
        kind = AssetKind(kind)
        try:
            scheme = _scheme(uri)
            if scheme == "data":
                info = await asyncio.to_thread(probe, parse_data_uri(uri, kind).data)
                _require_kind(info, kind)
                return info
            if scheme == "https":
                parse_https_url(uri)
                return None
            claims = self.tokens.verify_uri(uri, organization_id)
            if claims.kind != kind:
                raise AssetError(
                    f"{UNSUPPORTED_ASSET_TYPE} The upload is {claims.kind.value}, not {kind.value}."
                )
            data = await self.store.read(claims.key)
            if data is None:
                raise AssetError(f"{INVALID_UPLOAD_URI} No file was uploaded for it.")
            info = await asyncio.to_thread(probe, data)
            _require_kind(info, kind)
            return info
        except AssetError as exc:
            raise AssetRejected(path, exc.reason) from None

    async def resolve(
        self, uri: str, kind: AssetKind | str, path: Sequence[str | int], organization_id: str
    ) -> LoadedAsset:
        """The asset's bytes, probed; Failure(ASSET.INVALID) naming the field otherwise."""
        kind = AssetKind(kind)
        try:
            data = await self._load(uri, kind, organization_id)
            info = await asyncio.to_thread(probe, data)
            _require_kind(info, kind)
        except AssetError as exc:
            field_name = ".".join(str(part) for part in path) or "body"
            raise Failure(ASSET_INVALID, f"{field_name}: {exc.reason}") from None
        return LoadedAsset(data, info.media_type, info)

    async def read_stored(self, key: str, what: str) -> bytes:
        """A blob the server stored itself (e.g. an avatar's processed image); ASSET.INVALID once gone."""
        data = await self.store.read(key)
        if data is None:
            message = f"{what} is no longer available (deleted or replaced since the task was accepted)"
            raise Failure(ASSET_INVALID, message)
        return data

    async def _load(self, uri: str, kind: AssetKind, organization_id: str) -> bytes:
        scheme = _scheme(uri)
        if scheme == "data":
            return parse_data_uri(uri, kind).data
        if scheme == "https":
            return (await self.fetcher.fetch(uri, kind)).data
        claims = self.tokens.verify_uri(uri, organization_id, leeway_seconds=RUN_TIME_GRACE_SECONDS)
        data = await self.store.read(claims.key)
        if data is None:
            raise AssetError(f"{INVALID_UPLOAD_URI} The uploaded file is no longer available.")
        return data
