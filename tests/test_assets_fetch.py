"""The HTTPS fetcher against a local TLS server serving good and bad assets: the real API's answers."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator, Sequence

import pytest
import trustme

from support.https_assets import AssetServer, Route, client_context, image_bytes, video_bytes, wait_until
from taxiway.assets.errors import AssetError
from taxiway.assets.fetch import (
    AssetFetcher,
    FetchPolicy,
    is_public_address,
    parse_https_url,
    static_resolver,
)
from taxiway.assets.kinds import MIB, AssetKind

PNG = image_bytes("PNG", (200, 100))
MP4 = video_bytes()
FAILED = "Failed to fetch asset."
HOSTS = {"assets.test": "127.0.0.1", "other.test": "127.0.0.1", "evil.test": "10.0.0.1"}


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def server(ca: trustme.CA) -> Iterator[AssetServer]:
    srv = AssetServer(ca).start()
    srv.routes.update(
        {
            "/good.png": Route(PNG),
            "/good.jpg": Route(image_bytes("JPEG"), content_type="image/jpeg"),
            "/good.mp4": Route(MP4, content_type="video/mp4; codecs=avc1"),
            "/redirect.png": Route(PNG, status=302, headers={"Location": "/good.png"}),
            "/html.png": Route(PNG, content_type="text/html"),
            "/octet.png": Route(PNG, content_type="application/octet-stream"),
            "/untyped.png": Route(PNG, content_type=None),
            "/gif-typed.gif": Route(image_bytes("GIF"), content_type="image/gif"),
            "/video-typed.png": Route(PNG, content_type="video/mp4"),
            "/no-length.png": Route(PNG, omit_length=True),
            "/oversized.png": Route(PNG, head_length=16 * MIB + 1),
            "/lying.png": Route(PNG, head_length=len(PNG), endless=256 * MIB),
            "/longer-get.png": Route(PNG, get_length=len(PNG) + 10, head_length=len(PNG) - 10),
            "/short-body.png": Route(PNG, head_length=len(PNG) + 100, get_length=len(PNG) + 100),
            "/slow.png": Route(PNG, chunk_size=16, chunk_delay=0.2),
            "/head-405.png": Route(PNG, head_status=405),
            "/gzip.png": Route(PNG, headers={"Content-Encoding": "gzip"}),
            "/chunked.png": Route(PNG, chunked=True),
        }
    )
    yield srv
    srv.stop()


def fetcher(
    ca: trustme.CA,
    resolver_hosts: dict[str, str] | None = None,
    **policy: object,
) -> AssetFetcher:
    options: dict[str, object] = {"allow_private_networks": True, "timeout_seconds": 5.0}
    options.update(policy)
    return AssetFetcher(
        FetchPolicy(**options),  # type: ignore[arg-type]
        resolver=static_resolver(resolver_hosts or HOSTS, fallback=None),
        ssl_context=client_context(ca),
    )


async def reason(fetch: AssetFetcher, url: str, kind: AssetKind = AssetKind.IMAGE, **kw: int) -> str:
    with pytest.raises(AssetError) as caught:
        await fetch.fetch(url, kind, **kw)
    return caught.value.reason


async def test_good_assets_are_fetched_with_the_real_user_agent(ca: trustme.CA, server: AssetServer) -> None:
    fetch = fetcher(ca)
    got = await fetch.fetch(server.url("/good.png"), AssetKind.IMAGE)
    assert got.data == PNG and got.media_type == "image/png"
    assert (await fetch.fetch(server.url("/good.jpg"), AssetKind.IMAGE)).media_type == "image/jpeg"
    video = await fetch.fetch(server.url("/good.mp4"), AssetKind.VIDEO)
    assert video.data == MP4 and video.media_type == "video/mp4"
    assert (await fetch.fetch(server.url("/chunked.png"), AssetKind.IMAGE)).data == PNG
    seen = [s for s in server.seen if s.path == "/good.png"]
    assert [s.method for s in seen] == ["HEAD", "GET"]
    for request in seen:
        assert request.headers["user-agent"].startswith("RunwayML API/")
        assert request.headers["host"] == f"assets.test:{server.port}"
    assert "assets.test" in server.sni


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/missing.png", 'Failed to fetch asset. Received HTTP response code "404".'),
        ("/redirect.png", 'Failed to fetch asset. Received HTTP response code "302".'),
        ("/head-405.png", 'Failed to fetch asset. Received HTTP response code "405".'),
        ("/html.png", "Unsupported asset type. text/html is not a supported image type."),
        ("/octet.png", "Unsupported asset type. application/octet-stream is not a supported image type."),
        ("/untyped.png", "Unsupported asset type. The server sent no Content-Type."),
        ("/gif-typed.gif", "Unsupported asset type. image/gif is not a supported image type."),
        ("/video-typed.png", "Unsupported asset type. video/mp4 is not a supported image type."),
        ("/no-length.png", "Failed to fetch asset. The server sent no valid Content-Length."),
        (
            "/oversized.png",
            "Failed to fetch asset. The asset is 16777217 bytes; image URLs are limited to 16 MB.",
        ),
        ("/gzip.png", "Failed to fetch asset. The server sent a compressed body."),
        ("/longer-get.png", "Failed to fetch asset. The body is longer than the Content-Length of the HEAD."),
        ("/short-body.png", "Failed to fetch asset."),
    ],
)
async def test_bad_answers_get_the_real_reasons(
    ca: trustme.CA, server: AssetServer, path: str, expected: str
) -> None:
    assert await reason(fetcher(ca), server.url(path)) == expected


async def test_redirects_are_not_followed(ca: trustme.CA, server: AssetServer) -> None:
    before = len(server.requests_for("/good.png"))
    await reason(fetcher(ca), server.url("/redirect.png"))
    assert len(server.requests_for("/good.png")) == before
    assert server.requests_for("/redirect.png")[-1] == "HEAD"


async def test_oversized_is_refused_from_the_head_without_a_get(ca: trustme.CA, server: AssetServer) -> None:
    await reason(fetcher(ca), server.url("/oversized.png"))
    assert "GET" not in server.requests_for("/oversized.png")


async def test_lying_length_is_cut_off_while_streaming(ca: trustme.CA, server: AssetServer) -> None:
    """HEAD declares a small file, GET streams 256 MB: the fetch stops right after the declared length."""
    started = time.monotonic()
    got = await reason(fetcher(ca), server.url("/lying.png"))
    assert got == "Failed to fetch asset. The body is longer than the Content-Length of the HEAD."
    assert time.monotonic() - started < 3
    # The server's writes fail soon after the client hangs up; only socket buffers' worth went out.
    assert wait_until(lambda: server.sent.get("/lying.png", 0) > 0)
    await asyncio.sleep(0.2)
    assert server.sent["/lying.png"] < 32 * MIB


async def test_the_kind_limit_caps_the_declared_length(ca: trustme.CA, server: AssetServer) -> None:
    got = await reason(fetcher(ca), server.url("/good.png"), max_bytes=len(PNG) - 1)
    assert got == f"{FAILED} The asset is {len(PNG)} bytes; image URLs are limited to {len(PNG) - 1} bytes."
    assert await fetcher(ca).fetch(server.url("/good.png"), AssetKind.IMAGE, max_bytes=len(PNG))


async def test_slow_body_times_out(ca: trustme.CA, server: AssetServer) -> None:
    started = time.monotonic()
    assert await reason(fetcher(ca, timeout_seconds=0.8), server.url("/slow.png")) == (
        "Timeout while fetching asset."
    )
    assert time.monotonic() - started < 2


async def test_slow_body_is_refused_by_the_throughput_guard(ca: trustme.CA, server: AssetServer) -> None:
    fetch = fetcher(ca, timeout_seconds=20.0, slow_grace_seconds=0.3, min_bytes_per_second=10_000)
    started = time.monotonic()
    got = await reason(fetch, server.url("/slow.png"))
    assert got == "Timeout while fetching asset. The server sends too slowly."
    assert time.monotonic() - started < 2


async def test_private_addresses_are_refused_by_default(ca: trustme.CA, server: AssetServer) -> None:
    strict = fetcher(ca, allow_private_networks=False)
    expected = "Failed to fetch asset. The host resolves to a private or reserved address."
    before = len(server.seen)
    assert await reason(strict, server.url("/good.png")) == expected  # 127.0.0.1
    assert await reason(strict, server.url("/good.png", host="evil.test")) == expected  # 10.0.0.1
    assert len(server.seen) == before  # nothing was even connected to


async def test_a_name_with_any_private_address_is_refused(ca: trustme.CA, server: AssetServer) -> None:
    async def mixed(host: str, port: int) -> Sequence[str]:
        return ["8.8.8.8", "127.0.0.1"]

    fetch = AssetFetcher(FetchPolicy(), resolver=mixed, ssl_context=client_context(ca))
    got = await reason(fetch, server.url("/good.png"))
    assert got == "Failed to fetch asset. The host resolves to a private or reserved address."


async def test_dns_is_resolved_once_and_pinned(ca: trustme.CA, server: AssetServer) -> None:
    """A rebinding name answers loopback first and a private address after: only the first is used."""
    answers = ["127.0.0.1", "10.0.0.1"]
    calls: list[str] = []

    async def rebinding(host: str, port: int) -> Sequence[str]:
        calls.append(host)
        return [answers[min(len(calls) - 1, 1)]]

    fetch = AssetFetcher(
        FetchPolicy(allow_private_networks=True, timeout_seconds=5),
        resolver=rebinding,
        ssl_context=client_context(ca),
    )
    assert (await fetch.fetch(server.url("/good.png"), AssetKind.IMAGE)).data == PNG
    assert calls == ["assets.test"]


async def test_unresolvable_names_fail(ca: trustme.CA, server: AssetServer) -> None:
    got = await reason(fetcher(ca), server.url("/good.png", host="nowhere.test"))
    assert got == "Failed to fetch asset. The host name does not resolve."


async def test_certificate_is_verified_against_the_host_name(ca: trustme.CA, server: AssetServer) -> None:
    """Connecting by pinned IP must still check the certificate names the host: other.test is not on it."""
    assert await reason(fetcher(ca), server.url("/good.png", host="other.test")) == "Failed to fetch asset."
    untrusted = AssetFetcher(
        FetchPolicy(allow_private_networks=True, timeout_seconds=5),
        resolver=static_resolver(HOSTS, fallback=None),
        ssl_context=client_context(trustme.CA()),
    )
    assert await reason(untrusted, server.url("/good.png")) == "Failed to fetch asset."


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://assets.test/a.png", "Only HTTPS URLs are allowed."),
        ("ftp://assets.test/a.png", "Only HTTPS URLs are allowed."),
        ("HTTP://assets.test/a.png", "Only HTTPS URLs are allowed."),
        ("https://127.0.0.1/a.png", "URLs must be hosted on a domain."),
        ("https://[::1]/a.png", "URLs must be hosted on a domain."),
        ("https://[::ffff:10.0.0.1]:8443/a.png", "URLs must be hosted on a domain."),
        ("https://2130706433/a.png", "URLs must be hosted on a domain."),
        ("https://127.1/a.png", "URLs must be hosted on a domain."),
        ("https://0x7f.0x1/a.png", "URLs must be hosted on a domain."),
        ("https://user:pw@assets.test/a.png", "Invalid URL. URLs must not contain credentials."),
        ("https://", "Invalid URL."),
        ("https:assets.test/a.png", "Invalid URL."),
        ("https://exa mple.com/a.png", "Invalid URL."),
        ("not a url", "Invalid URL."),
        ("https://assets.test/" + "a" * 2030, "Invalid URL. URLs must be at most 2048 characters long."),
    ],
)
def test_url_rules(url: str, expected: str) -> None:
    with pytest.raises(AssetError) as caught:
        parse_https_url(url)
    assert caught.value.reason == expected


def test_url_rules_accept_ordinary_urls() -> None:
    target = parse_https_url("https://CDN.Example.com:8443/path/img.png?sig=a%2Fb#frag")
    assert (target.host, target.port, target.target) == ("cdn.example.com", 8443, b"/path/img.png?sig=a%2Fb")
    assert target.host_header == "cdn.example.com:8443"
    assert parse_https_url("https://bücher.example/x").host == "xn--bcher-kva.example"
    assert len(parse_https_url("https://a.test/" + "a" * (2048 - 15)).url) == 2048


@pytest.mark.parametrize(
    "address",
    [
        "10.0.0.1",
        "172.16.5.4",
        "192.168.1.1",
        "127.0.0.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",
        "224.0.0.1",
        "255.255.255.255",
        "::1",
        "::",
        "fe80::1",
        "fc00::1",
        "fec0::1",
        "ff02::1",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "64:ff9b::a00:1",
        "2002:0a00:0001::1",
        "fe80::1%eth0",
        "not-an-ip",
    ],
)
def test_non_public_addresses(address: str) -> None:
    assert not is_public_address(address)


@pytest.mark.parametrize("address", ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "::ffff:8.8.8.8"])
def test_public_addresses(address: str) -> None:
    assert is_public_address(address)
