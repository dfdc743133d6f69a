"""Asset fields end to end: 400s naming the field at submission, ASSET.INVALID task failures at run time."""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
import trustme

from support.https_assets import AssetServer, Route, audio_bytes, client_context, image_bytes, video_bytes
from taxiway.assets.fetch import static_resolver
from taxiway.assets.intake import AssetIntake, AssetPolicy, AssetRejected, LoadedAsset
from taxiway.assets.kinds import MIB, AssetKind
from taxiway.assets.uploads import store_upload
from taxiway.config import Settings
from taxiway.errors import Failure
from taxiway.storage.blobs import LocalBlobStore
from taxiway.storage.signing import UrlSigner

PNG = image_bytes("PNG", (128, 128))
GIF = image_bytes("GIF", (128, 128))
MP4 = video_bytes()
WAV = audio_bytes()
HOSTS = {"assets.test": "127.0.0.1", "evil.test": "10.0.0.1"}


def data_uri(data: bytes, media_type: str) -> str:
    return f"data:{media_type};base64,{base64.b64encode(data).decode()}"


class Clock:
    now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def server(ca: trustme.CA) -> Iterator[AssetServer]:
    srv = AssetServer(ca).start()
    srv.routes.update(
        {
            "/photo.png": Route(PNG),
            "/clip.mp4": Route(MP4, content_type="video/mp4"),
            "/voice.wav": Route(WAV, content_type="audio/wav"),
            "/gif-as-png.png": Route(GIF),
            "/truncated.mp4": Route(MP4[: len(MP4) // 2], content_type="video/mp4"),
            "/redirect.png": Route(PNG, status=301, headers={"Location": "/photo.png"}),
            "/slow.png": Route(PNG, chunk_size=8, chunk_delay=0.3),
        }
    )
    yield srv
    srv.stop()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def intake(tmp_path: Path, ca: trustme.CA, clock: Clock) -> AssetIntake:
    return AssetIntake.create(
        LocalBlobStore(tmp_path / "blobs"),
        UrlSigner(b"intake-test-secret-0123456789"),
        # Long enough for a loaded machine to fetch the good assets; /slow.png takes far longer still.
        AssetPolicy(allow_private_networks=True, fetch_timeout_seconds=8.0),
        resolver=static_resolver(HOSTS, fallback=None),
        ssl_context=client_context(ca),
        clock=clock,
    )


async def rejected(intake: AssetIntake, uri: str, kind: AssetKind, path: list[str | int]) -> AssetRejected:
    with pytest.raises(AssetRejected) as caught:
        await intake.check_at_submission(uri, kind, path, "org-a")
    return caught.value


async def failure(intake: AssetIntake, uri: str, kind: AssetKind, path: list[str | int]) -> Failure:
    with pytest.raises(Failure) as caught:
        await intake.resolve(uri, kind, path, "org-a")
    assert caught.value.code == "ASSET.INVALID"
    return caught.value


async def uploaded(intake: AssetIntake, name: str, data: bytes, org: str = "org-a") -> str:
    grant = intake.tokens.grant(org, name)
    await store_upload(intake.store, grant.claims.key, io.BytesIO(data))
    return grant.runway_uri


# --- at submission ---------------------------------------------------------------------------------


async def test_good_inputs_pass_submission(intake: AssetIntake, server: AssetServer) -> None:
    for uri, kind in [
        (data_uri(PNG, "image/png"), AssetKind.IMAGE),
        (data_uri(MP4, "video/mp4"), AssetKind.VIDEO),
        (data_uri(WAV, "audio/wav"), AssetKind.AUDIO),
        (server.url("/photo.png"), AssetKind.IMAGE),
        # Only syntax is judged at submission: the fetch comes when the task runs.
        (server.url("/missing.png"), AssetKind.IMAGE),
        (await uploaded(intake, "a.png", PNG), AssetKind.IMAGE),
        (await uploaded(intake, "b.mp4", MP4), AssetKind.VIDEO),
    ]:
        await intake.check_at_submission(uri, kind, ["x"], "org-a")


@pytest.mark.parametrize(
    ("uri", "kind", "message"),
    [
        ("data:image/png;base64,@@@@", AssetKind.IMAGE, "Invalid data URI. The payload is not valid base64."),
        (data_uri(GIF, "image/gif"), AssetKind.IMAGE, "Unsupported asset type. image/gif is not a supported"),
        (data_uri(GIF, "image/png"), AssetKind.IMAGE, "Unsupported asset type. GIF images are not supported"),
        (data_uri(WAV, "video/mp4"), AssetKind.VIDEO, "Unsupported asset type. This is audio, not video."),
        (data_uri(MP4[:500], "video/mp4"), AssetKind.VIDEO, "Unsupported asset type. The file is truncated"),
        ("http://assets.test/a.png", AssetKind.IMAGE, "Only HTTPS URLs are allowed."),
        ("ftp://assets.test/a.png", AssetKind.IMAGE, "Only HTTPS URLs are allowed."),
        ("https://10.0.0.1/a.png", AssetKind.IMAGE, "URLs must be hosted on a domain."),
        (
            "https://a.test/" + "x" * 2040,
            AssetKind.IMAGE,
            "Invalid URL. URLs must be at most 2048 characters",
        ),
        ("photo.png", AssetKind.IMAGE, "Invalid URL."),
        ("", AssetKind.IMAGE, "Invalid URL."),
        ("runway://nonsense", AssetKind.IMAGE, "Invalid runway:// URI."),
    ],
)
async def test_submission_refusals_name_the_field(
    intake: AssetIntake, uri: str, kind: AssetKind, message: str
) -> None:
    got = await rejected(intake, uri, kind, ["promptImage", 0, "uri"])
    assert got.field == "promptImage.0.uri"
    assert got.message.startswith(f"promptImage.0.uri: {message}")
    assert got.issue == {"code": "custom", "path": ["promptImage", 0, "uri"], "message": got.message}


async def test_data_uri_limits_are_the_real_ones(intake: AssetIntake) -> None:
    prefix = "data:image/png;base64,"
    too_long = prefix + "A" * (5 * MIB - len(prefix) + 1)
    got = await rejected(intake, too_long, AssetKind.IMAGE, ["promptImage"])
    assert got.message.startswith("promptImage: Invalid data URI. It is 5242881 characters long")
    # The same length is fine for video, whose limit is 16 MB (the bytes then fail the probe).
    video = "data:video/mp4;base64," + "A" * (5 * MIB)
    got = await rejected(intake, video, AssetKind.VIDEO, ["videoUri"])
    assert "Invalid data URI" not in got.message


async def test_runway_uris_at_submission(intake: AssetIntake, clock: Clock) -> None:
    uri = await uploaded(intake, "a.png", PNG)
    other_org = await uploaded(intake, "b.png", PNG, org="org-b")
    assert (await rejected(intake, other_org, AssetKind.IMAGE, ["promptImage"])).message == (
        "promptImage: Invalid runway:// URI."
    )
    assert (await rejected(intake, uri, AssetKind.AUDIO, ["audioUri"])).message == (
        "audioUri: Unsupported asset type. The upload is image, not audio."
    )
    assert (await rejected(intake, uri + "x" * 5000, AssetKind.IMAGE, ["promptImage"])).message == (
        "promptImage: Invalid runway:// URI."
    )
    clock.now += 24 * 3600
    assert (await rejected(intake, uri, AssetKind.IMAGE, ["promptImage"])).message == (
        "promptImage: The runway:// URI has expired. Upload the file again."
    )


# --- at run time -----------------------------------------------------------------------------------


async def test_resolve_loads_each_kind_of_input(intake: AssetIntake, server: AssetServer) -> None:
    cases = [
        (server.url("/photo.png"), AssetKind.IMAGE, PNG, "image/png"),
        (server.url("/clip.mp4"), AssetKind.VIDEO, MP4, "video/mp4"),
        (server.url("/voice.wav"), AssetKind.AUDIO, WAV, "audio/wav"),
        (data_uri(PNG, "image/jpeg"), AssetKind.IMAGE, PNG, "image/png"),  # the probe, not the label
        (await uploaded(intake, "clip.mp4", MP4), AssetKind.VIDEO, MP4, "video/mp4"),
    ]
    for uri, kind, data, media_type in cases:
        loaded = await intake.resolve(uri, kind, ["x"], "org-a")
        assert isinstance(loaded, LoadedAsset)
        assert (loaded.data, loaded.media_type, loaded.info.kind) == (data, media_type, kind)


@pytest.mark.parametrize(
    ("path", "kind", "message"),
    [
        ("/missing.png", AssetKind.IMAGE, 'Failed to fetch asset. Received HTTP response code "404".'),
        ("/redirect.png", AssetKind.IMAGE, 'Failed to fetch asset. Received HTTP response code "301".'),
        ("/gif-as-png.png", AssetKind.IMAGE, "Unsupported asset type. GIF images are not supported"),
        ("/truncated.mp4", AssetKind.VIDEO, "Unsupported asset type. The file is truncated or corrupt."),
        ("/photo.png", AssetKind.VIDEO, "Unsupported asset type. image/png is not a supported video type."),
        ("/slow.png", AssetKind.IMAGE, "Timeout while fetching asset."),
    ],
)
async def test_run_time_failures_are_asset_invalid(
    intake: AssetIntake, server: AssetServer, path: str, kind: AssetKind, message: str
) -> None:
    got = await failure(intake, server.url(path), kind, ["promptImage"])
    assert got.message.startswith(f"promptImage: {message}")


async def test_private_networks_are_refused_by_default(
    tmp_path: Path, ca: trustme.CA, server: AssetServer
) -> None:
    strict = AssetIntake.create(
        LocalBlobStore(tmp_path),
        UrlSigner(b"intake-test-secret-0123456789"),
        resolver=static_resolver(HOSTS, fallback=None),
        ssl_context=client_context(ca),
    )
    for host in ("assets.test", "evil.test"):
        got = await failure(strict, server.url("/photo.png", host=host), AssetKind.IMAGE, ["promptImage"])
        assert got.message == (
            "promptImage: Failed to fetch asset. The host resolves to a private or reserved address."
        )


async def test_runway_uri_at_run_time(intake: AssetIntake, clock: Clock) -> None:
    uri = await uploaded(intake, "a.png", PNG)
    # Accepted work gets its input however long it waited: the sweeper keeps the file it names.
    clock.now += 3 * 24 * 3600
    assert (await intake.resolve(uri, AssetKind.IMAGE, ["promptImage"], "org-a")).data == PNG
    gone = intake.tokens.grant("org-a", "gone.png").runway_uri
    got = await failure(intake, gone, AssetKind.IMAGE, ["promptImage"])
    assert got.message == "promptImage: Invalid runway:// URI. The uploaded file is no longer available."
    other = await uploaded(intake, "b.png", PNG, org="org-b")
    assert (await failure(intake, other, AssetKind.IMAGE, ["promptImage"])).message == (
        "promptImage: Invalid runway:// URI."
    )


def test_policy_from_settings(tmp_path: Path) -> None:
    """Today's Settings has no asset fields: defaults. Fields named as reported are picked up."""
    assert AssetPolicy.from_settings(Settings(data_dir=tmp_path)) == AssetPolicy()
    configured = SimpleNamespace(
        allow_private_networks=True,
        asset_fetch_timeout_seconds=5,
        asset_fetch_min_bytes_per_second=1000,
        asset_host_overrides={"assets.test": "127.0.0.1"},
        asset_ca_bundle=str(tmp_path / "ca.pem"),
    )
    policy = AssetPolicy.from_settings(configured)
    assert policy == AssetPolicy(
        allow_private_networks=True,
        fetch_timeout_seconds=5.0,
        fetch_min_bytes_per_second=1000.0,
        host_overrides={"assets.test": "127.0.0.1"},
        ca_bundle=tmp_path / "ca.pem",
    )
    assert policy.fetch_policy().timeout_seconds == 5.0


async def test_configured_host_overrides_and_ca_bundle(
    tmp_path: Path, ca: trustme.CA, server: AssetServer
) -> None:
    """The way an operator (or an integration test's server) configures a test CA and test names."""
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    policy = AssetPolicy(allow_private_networks=True, host_overrides=HOSTS, ca_bundle=bundle)
    intake = AssetIntake.create(LocalBlobStore(tmp_path / "b"), UrlSigner(b"x" * 32), policy)
    assert (await intake.resolve(server.url("/photo.png"), AssetKind.IMAGE, ["p"], "org-a")).data == PNG


async def test_kind_may_be_any_string_enum(intake: AssetIntake) -> None:
    """The catalog has an AssetKind of its own; its members (or plain strings) work the same."""
    from taxiway.catalog import AssetKind as CatalogKind

    await intake.check_at_submission(data_uri(PNG, "image/png"), CatalogKind.IMAGE, ["p"], "org-a")
    await intake.check_at_submission(data_uri(WAV, "audio/wav"), "audio", ["p"], "org-a")
    loaded = await intake.resolve(data_uri(PNG, "image/png"), CatalogKind.IMAGE, ["p"], "org-a")
    assert loaded.info.kind == CatalogKind.IMAGE
