"""Data URIs: strict parsing, the kinds' limits on the encoded length, and fuzzing."""

from __future__ import annotations

import base64
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from support.https_assets import image_bytes
from taxiway.assets.datauri import DataUri, is_data_uri, parse_data_uri
from taxiway.assets.errors import AssetError
from taxiway.assets.kinds import MIB, AssetKind

PNG = image_bytes("PNG")


def data_uri(data: bytes, media_type: str = "image/png") -> str:
    return f"data:{media_type};base64,{base64.b64encode(data).decode()}"


def reason(uri: str, kind: AssetKind = AssetKind.IMAGE, **kw: int) -> str:
    with pytest.raises(AssetError) as caught:
        parse_data_uri(uri, kind, **kw)
    return caught.value.reason


def test_valid_data_uris_decode() -> None:
    assert parse_data_uri(data_uri(PNG), AssetKind.IMAGE) == DataUri("image/png", PNG)
    assert parse_data_uri(data_uri(PNG, "IMAGE/JPG"), AssetKind.IMAGE).media_type == "image/jpg"
    with_params = f"data:image/png;name=a.png;charset=binary;BASE64,{base64.b64encode(PNG).decode()}"
    assert parse_data_uri(with_params, AssetKind.IMAGE).data == PNG
    assert parse_data_uri(data_uri(b"x", "video/mp4"), AssetKind.VIDEO).media_type == "video/mp4"
    assert parse_data_uri(data_uri(b"x", "audio/mpeg"), AssetKind.AUDIO).media_type == "audio/mpeg"
    assert is_data_uri("DATA:image/png;base64,") and not is_data_uri("https://x")


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("data:image/png,abc", "Invalid data URI. Only base64-encoded data URIs are accepted."),
        ("data:image/png;base64", "Invalid data URI."),
        ("data:;base64,AAAA", "Invalid data URI. It must start with data:<media type>;base64,"),
        ("data:image;base64,AAAA", "Invalid data URI. It must start with data:<media type>;base64,"),
        ("data:image/png;x;base64,AAAA", "Invalid data URI. It must start with data:<media type>;base64,"),
        ("data:image/png;base64,", "Invalid data URI. It carries no data."),
        ("data:image/png;base64,AAA", "Invalid data URI. The payload is not valid base64."),
        ("data:image/png;base64,AA AA", "Invalid data URI. The payload is not valid base64."),
        ("data:image/png;base64,AA-_", "Invalid data URI. The payload is not valid base64."),
        ("data:image/png;base64,ÄÄÄÄ", "Invalid data URI. The payload is not valid base64."),
        ("data:image/gif;base64,AAAA", "Unsupported asset type. image/gif is not a supported image type."),
        ("data:video/mp4;base64,AAAA", "Unsupported asset type. video/mp4 is not a supported image type."),
        (
            "data:application/octet-stream;base64,AAAA",
            "Unsupported asset type. application/octet-stream is not a supported image type.",
        ),
        ("image/png;base64,AAAA", "Invalid data URI."),
    ],
)
def test_malformed_data_uris(uri: str, expected: str) -> None:
    assert reason(uri) == expected


@pytest.mark.parametrize(
    ("kind", "limit"),
    [(AssetKind.IMAGE, 5 * MIB), (AssetKind.VIDEO, 16 * MIB), (AssetKind.AUDIO, 16 * MIB)],
)
def test_real_limits_apply_to_the_encoded_length(kind: AssetKind, limit: int) -> None:
    media_type = {"image": "image/png", "video": "video/mp4", "audio": "audio/wav"}[kind.value]
    prefix = f"data:{media_type};base64,"
    fits = prefix + "A" * ((limit - len(prefix)) // 4 * 4)
    assert len(parse_data_uri(fits, kind).data) == (limit - len(prefix)) // 4 * 3
    too_long = prefix + "A" * (limit - len(prefix) + 1)
    assert len(too_long) == limit + 1
    assert reason(too_long, kind) == (
        f"Invalid data URI. It is {limit + 1} characters long; {kind.value} data URIs are limited to"
        f" {limit} characters. Upload the file instead."
    )


def test_limit_is_checked_before_decoding() -> None:
    """Garbage past the limit is refused for its length, never decoded."""
    assert reason("data:image/png;base64," + "!" * 100, max_chars=50).startswith(
        "Invalid data URI. It is 122"
    )


@settings(max_examples=150, deadline=timedelta(milliseconds=500))
@given(st.text(max_size=300))
def test_fuzz_arbitrary_text(text: str) -> None:
    for candidate in (text, "data:" + text, "data:image/png;base64," + text):
        try:
            parsed = parse_data_uri(candidate, AssetKind.IMAGE)
        except AssetError:
            continue
        assert isinstance(parsed.data, bytes)


@settings(max_examples=100, deadline=timedelta(milliseconds=500))
@given(
    st.binary(max_size=2000),
    st.sampled_from(["image/png", "image/jpeg", "image/webp", "Image/PNG"]),
    st.sampled_from(["", ";charset=utf-8", ";name=x.png"]),
)
def test_fuzz_round_trip(data: bytes, media_type: str, params: str) -> None:
    uri = f"data:{media_type}{params};base64,{base64.b64encode(data).decode()}"
    if not data:
        assert reason(uri) == "Invalid data URI. It carries no data."
        return
    parsed = parse_data_uri(uri, AssetKind.IMAGE)
    assert parsed == DataUri(media_type.lower(), data)
