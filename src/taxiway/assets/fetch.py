"""Fetching asset URLs the way the real API does, without becoming a proxy into the operator's network.

The host name is resolved once; every address it resolves to must be public (unless the operator
allows private networks), and the connection goes to that pinned address while TLS still verifies
the certificate against the host name (SNI), so DNS rebinding cannot redirect the fetch. A HEAD
must succeed with a fitting Content-Type and Content-Length; the GET is streamed and abandoned as
soon as it passes the size limit or the declared length, or arrives too slowly. Redirects are
never followed and no proxy from the environment is used.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import re
import socket
import ssl
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

from taxiway import __version__
from taxiway.assets.errors import (
    DOMAIN_REQUIRED,
    FETCH_FAILED,
    FETCH_TIMEOUT,
    INVALID_URL,
    ONLY_HTTPS,
    UNSUPPORTED_ASSET_TYPE,
    AssetError,
    http_status_reason,
)
from taxiway.assets.kinds import MIB, AssetKind

MAX_URL_LENGTH = 2048
DEFAULT_PORTS = {"https": 443, "wss": 443, "http": 80, "ws": 80}
# The real fetcher's User-Agent starts with `RunwayML API/`; servers allowlist that prefix.
USER_AGENT = f"RunwayML API/taxiway-{__version__}"

# Given a host name and port, the addresses it resolves to (IP literals, best first).
Resolver = Callable[[str, int], Awaitable[Sequence[str]]]

_LONGER_THAN_DECLARED = f"{FETCH_FAILED} The body is longer than the Content-Length of the HEAD."
_LABEL = re.compile(r"(?!-)[a-z0-9_-]{1,63}(?<!-)")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


async def system_resolver(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(
        host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
    )
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def static_resolver(hosts: Mapping[str, str], fallback: Resolver | None = system_resolver) -> Resolver:
    """Fixed addresses for some names, like /etc/hosts (tests, split-horizon setups); others go on."""
    table = {name.lower().rstrip("."): address for name, address in hosts.items()}

    async def resolve(host: str, port: int) -> Sequence[str]:
        address = table.get(host.lower())
        if address is not None:
            return [address]
        if fallback is None:
            raise socket.gaierror(socket.EAI_NONAME, f"no address for {host}")
        return await fallback(host, port)

    return resolve


@functools.cache
def default_ssl_context() -> ssl.SSLContext:
    """The public CA bundle httpx uses, ignoring SSL_CERT_FILE and friends from the environment."""
    context: ssl.SSLContext = httpx.create_ssl_context(trust_env=False)
    return context


def trust_store(extra_ca: Path | None = None) -> ssl.SSLContext:
    """The public CAs, plus an operator's own CA bundle (PEM) when given."""
    if extra_ca is None:
        return default_ssl_context()
    context = httpx.create_ssl_context(trust_env=False)
    context.load_verify_locations(cafile=str(extra_ca))
    return context


@dataclass(frozen=True)
class FetchPolicy:
    allow_private_networks: bool = False
    # The whole fetch, DNS to last byte.
    timeout_seconds: float = 30.0
    connect_timeout_seconds: float = 10.0
    # Longest silence while waiting for the next bytes.
    idle_timeout_seconds: float = 10.0
    # After the grace period the body must have averaged at least this rate.
    min_bytes_per_second: float = 64 * 1024
    slow_grace_seconds: float = 5.0
    user_agent: str = USER_AGENT


@dataclass(frozen=True)
class HttpsTarget:
    """A URL that passed the syntax rules: what to connect to and what to ask for."""

    url: str
    host: str  # lower-case ASCII (IDNA) host name, no trailing dot
    port: int
    target: bytes  # raw path and query

    @property
    def host_header(self) -> str:
        return self.host if self.port == 443 else f"{self.host}:{self.port}"


@dataclass(frozen=True)
class FetchedAsset:
    data: bytes
    media_type: str


def parse_https_url(url: str) -> HttpsTarget:
    """Check the rules that need no network: length, scheme, no credentials, a domain name."""
    return parse_url(url, ("https",))


def parse_url(
    url: str, schemes: Mapping[str, int] | Sequence[str], allow_addresses: bool = False
) -> HttpsTarget:
    """`parse_https_url` for other schemes (`schemes` maps each to its default port, or names https/wss/
    http/ws); IP literals pass only with `allow_addresses` (an operator who allows private networks)."""
    ports = schemes if isinstance(schemes, Mapping) else {name: DEFAULT_PORTS[name] for name in schemes}
    if len(url) > MAX_URL_LENGTH:
        raise AssetError(f"{INVALID_URL} URLs must be at most {MAX_URL_LENGTH} characters long.")
    scheme, colon, _ = url.partition(":")
    if not colon or not re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]*", scheme):
        raise AssetError(INVALID_URL)
    if scheme.lower() not in ports:
        raise AssetError(ONLY_HTTPS if list(ports) == ["https"] else f"{INVALID_URL} Use {_schemes(ports)}.")
    try:
        parsed = httpx.URL(url)
        host = parsed.raw_host.decode("ascii").lower().rstrip(".")
    except (httpx.InvalidURL, ValueError, UnicodeError):
        raise AssetError(INVALID_URL) from None
    if not host or not url[len(scheme) :].startswith("://"):
        raise AssetError(INVALID_URL)
    if parsed.userinfo:
        raise AssetError(f"{INVALID_URL} URLs must not contain credentials.")
    port = parsed.port or ports[scheme.lower()]
    if _looks_like_address(host):
        if not allow_addresses:
            raise AssetError(DOMAIN_REQUIRED)
        try:
            return HttpsTarget(
                url=url, host=str(ipaddress.ip_address(host.strip("[]"))), port=port, target=parsed.raw_path
            )
        except ValueError:
            raise AssetError(DOMAIN_REQUIRED) from None
    labels = host.split(".")
    if len(host) > 253 or not all(_LABEL.fullmatch(label) for label in labels):
        raise AssetError(INVALID_URL)
    return HttpsTarget(url=url, host=host, port=port, target=parsed.raw_path)


def _schemes(ports: Mapping[str, int]) -> str:
    return " or ".join(f"{name}://" for name in ports)


def _looks_like_address(host: str) -> bool:
    """IP literals, and the numeric shorthands (`127.1`, `0x7f.1`, `2130706433`) resolvers accept."""
    try:
        ipaddress.ip_address(host.strip("[]"))
        return True
    except ValueError:
        pass
    last = host.rsplit(".", 1)[-1]
    return bool(re.fullmatch(r"[0-9]+|0x[0-9a-f]*", last))


def is_public_address(address: str) -> bool:
    """True for globally routable unicast addresses; IPv4 embedded in IPv6 is judged as IPv4."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return is_public_address(str(ip.ipv4_mapped))
        embedded = ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if ip in _NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None and not is_public_address(str(embedded)):
            return False
        if ip.is_site_local:
            return False
    return ip.is_global and not (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_reserved
        or ip.is_multicast
        or ip.is_unspecified
    )


def _media_type(response: httpx.Response) -> str:
    value: str = response.headers.get("content-type", "")
    return value.split(";", 1)[0].strip().lower()


def _content_length(response: httpx.Response) -> int | None:
    value = response.headers.get("content-length")
    return int(value) if value is not None and value.strip().isdigit() else None


def _size_text(size: int) -> str:
    return f"{size // MIB} MB" if size >= MIB and size % MIB == 0 else f"{size} bytes"


def _check_response(response: httpx.Response, kind: AssetKind) -> None:
    """A 200 whose Content-Type names a media type of the expected kind."""
    if response.status_code != 200:
        raise AssetError(http_status_reason(response.status_code))
    media_type = _media_type(response)
    if not media_type:
        raise AssetError(f"{UNSUPPORTED_ASSET_TYPE} The server sent no Content-Type.")
    if not kind.accepts_media_type(media_type):
        raise AssetError(f"{UNSUPPORTED_ASSET_TYPE} {media_type} is not a supported {kind.value} type.")


class AssetFetcher:
    """Downloads one asset per call; holds no connections between calls."""

    def __init__(
        self,
        policy: FetchPolicy | None = None,
        *,
        resolver: Resolver | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.policy = policy or FetchPolicy()
        self._resolver = resolver or system_resolver
        self._ssl_context = ssl_context

    async def fetch(self, url: str, kind: AssetKind, *, max_bytes: int | None = None) -> FetchedAsset:
        """The asset's bytes and declared media type; AssetError with the real API's reason otherwise."""
        target = parse_https_url(url)
        limit = kind.rules.url_max_bytes if max_bytes is None else max_bytes
        try:
            async with asyncio.timeout(self.policy.timeout_seconds):
                address = await self.pin(target)
                return await self._download(target, address, kind, limit)
        except (TimeoutError, httpx.TimeoutException):
            raise AssetError(FETCH_TIMEOUT) from None
        except (httpx.HTTPError, ssl.SSLError, OSError) as exc:
            raise AssetError(FETCH_FAILED) from exc

    async def pin(self, target: HttpsTarget) -> str:
        """Resolve once; the one address returned is the only one a connection may go to.

        Every address the name resolves to must be public unless the policy allows private networks
        (an IP literal, which only such a policy lets `parse_url` pass, is its own answer). This is the
        check for every URL a client chose that the server connects to, not only asset URLs.
        """
        if _looks_like_address(target.host):
            found: Sequence[str] = [target.host]
        else:
            try:
                found = await self._resolver(target.host, target.port)
            except OSError:
                raise AssetError(f"{FETCH_FAILED} The host name does not resolve.") from None
        try:
            addresses = [str(ipaddress.ip_address(a.split("%", 1)[0])) for a in found]
        except ValueError:
            raise AssetError(f"{FETCH_FAILED} The host name does not resolve.") from None
        if not addresses:
            raise AssetError(f"{FETCH_FAILED} The host name does not resolve.")
        if not self.policy.allow_private_networks and not all(map(is_public_address, addresses)):
            raise AssetError(f"{FETCH_FAILED} The host resolves to a private or reserved address.")
        return addresses[0]

    async def _download(self, target: HttpsTarget, address: str, kind: AssetKind, limit: int) -> FetchedAsset:
        policy = self.policy
        url = httpx.URL(scheme="https", host=address, port=target.port, raw_path=target.target)
        headers = {
            "Host": target.host_header,
            "User-Agent": policy.user_agent,
            "Accept": f"{kind.value}/*",
            "Accept-Encoding": "identity",
        }
        # Connect to the pinned address, but send SNI for and verify the certificate of the host name.
        extensions = {"sni_hostname": target.host}
        timeout = httpx.Timeout(policy.idle_timeout_seconds, connect=policy.connect_timeout_seconds)
        async with httpx.AsyncClient(
            verify=self._ssl_context or default_ssl_context(),
            trust_env=False,
            follow_redirects=False,
            timeout=timeout,
        ) as client:
            head = await client.head(url, headers=headers, extensions=extensions)
            _check_response(head, kind)
            declared = _content_length(head)
            if declared is None:
                raise AssetError(f"{FETCH_FAILED} The server sent no valid Content-Length.")
            if declared > limit:
                raise AssetError(
                    f"{FETCH_FAILED} The asset is {declared} bytes; {kind.value} URLs are limited to"
                    f" {_size_text(limit)}."
                )
            async with client.stream("GET", url, headers=headers, extensions=extensions) as response:
                _check_response(response, kind)
                if response.headers.get("content-encoding", "identity").lower() != "identity":
                    raise AssetError(f"{FETCH_FAILED} The server sent a compressed body.")
                length = _content_length(response)
                if length is not None and length > declared:
                    raise AssetError(_LONGER_THAN_DECLARED)
                data = await self._read_body(response, declared)
        return FetchedAsset(data, _media_type(head))

    async def _read_body(self, response: httpx.Response, cap: int) -> bytes:
        """The body, abandoned as soon as it passes `cap` or falls below the minimum rate."""
        policy = self.policy
        loop = asyncio.get_running_loop()
        started = loop.time()
        body = bytearray()
        async for chunk in response.aiter_raw():
            if len(body) + len(chunk) > cap:
                raise AssetError(_LONGER_THAN_DECLARED)
            body += chunk
            elapsed = loop.time() - started
            if elapsed > policy.slow_grace_seconds and len(body) < policy.min_bytes_per_second * elapsed:
                raise AssetError(f"{FETCH_TIMEOUT} The server sends too slowly.")
        return bytes(body)
