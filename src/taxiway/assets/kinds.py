"""The three kinds of media an asset field takes, and each kind's documented limits, kept as data."""

from __future__ import annotations

import enum
from dataclasses import dataclass

MIB = 1024 * 1024


@dataclass(frozen=True)
class KindRules:
    """What the real API accepts for one kind. Media types are lower-case, without parameters."""

    # Largest body fetched from an HTTPS URL, and longest data URI (the whole string, encoded).
    url_max_bytes: int
    data_uri_max_chars: int
    # Media types accepted as a URL's Content-Type or a data URI's declared type. The declared type
    # only has to name the right kind of media: the bytes are probed and the probe decides.
    media_types: frozenset[str]
    # Upload file extensions (lower-case, no dot) and the media type each one declares.
    extensions: dict[str, str]
    # What the probe accepts: Pillow format names (images), or FFmpeg demuxer names and codec ids.
    formats: frozenset[str]
    codecs: frozenset[str]


class AssetKind(enum.StrEnum):
    IMAGE = "image"
    VIDEO = "video"
    AUDIO = "audio"

    @property
    def rules(self) -> KindRules:
        return RULES[self]

    def accepts_media_type(self, media_type: str) -> bool:
        return media_type.lower() in self.rules.media_types

    @classmethod
    def for_extension(cls, extension: str) -> tuple[AssetKind, str] | None:
        """The kind and media type an upload's file extension declares, or None when unsupported."""
        extension = extension.lower().lstrip(".")
        for kind in cls:
            media_type = kind.rules.extensions.get(extension)
            if media_type is not None:
                return kind, media_type
        return None


RULES: dict[AssetKind, KindRules] = {
    AssetKind.IMAGE: KindRules(
        url_max_bytes=16 * MIB,
        data_uri_max_chars=5 * MIB,
        media_types=frozenset({"image/jpeg", "image/jpg", "image/pjpeg", "image/png", "image/webp"}),
        extensions={"jpg": "image/jpeg", "jpeg": "image/jpeg", "png": "image/png", "webp": "image/webp"},
        # MPO is the multi-picture JPEG that many phone cameras write.
        formats=frozenset({"JPEG", "MPO", "PNG", "WEBP"}),
        codecs=frozenset(),
    ),
    AssetKind.VIDEO: KindRules(
        url_max_bytes=32 * MIB,
        data_uri_max_chars=16 * MIB,
        media_types=frozenset(
            {
                "video/mp4",
                "video/quicktime",
                "video/webm",
                "video/x-matroska",
                "video/matroska",
                "video/ogg",
                "video/x-m4v",
                "video/x-msvideo",
                "video/avi",
                "video/mp2t",
                "video/mxf",
                "application/mxf",
            }
        ),
        extensions={
            "mp4": "video/mp4",
            "m4v": "video/x-m4v",
            "mov": "video/quicktime",
            "webm": "video/webm",
            "mkv": "video/x-matroska",
            "ogv": "video/ogg",
            "avi": "video/x-msvideo",
        },
        formats=frozenset({"mov", "matroska", "ogg", "avi", "mpegts", "mxf"}),
        codecs=frozenset({"h264", "hevc", "av1", "vp8", "vp9", "prores", "theora"}),
    ),
    AssetKind.AUDIO: KindRules(
        url_max_bytes=32 * MIB,
        data_uri_max_chars=16 * MIB,
        media_types=frozenset(
            {
                "audio/mpeg",
                "audio/mp3",
                "audio/mp4",
                "audio/m4a",
                "audio/x-m4a",
                "audio/aac",
                "audio/x-aac",
                "audio/aacp",
                "audio/flac",
                "audio/x-flac",
                "audio/wav",
                "audio/x-wav",
                "audio/wave",
                "audio/vnd.wave",
                "audio/aiff",
                "audio/x-aiff",
                "audio/ogg",
                "audio/x-caf",
            }
        ),
        extensions={
            "mp3": "audio/mpeg",
            "m4a": "audio/mp4",
            "aac": "audio/aac",
            "flac": "audio/flac",
            "wav": "audio/wav",
            "aif": "audio/aiff",
            "aiff": "audio/aiff",
            "caf": "audio/x-caf",
        },
        formats=frozenset({"mp3", "wav", "w64", "flac", "aac", "mov", "aiff", "ogg", "caf"}),
        # PCM codecs are matched by prefix (`pcm_s16le`, `pcm_f32le`, ...), see `accepts_audio_codec`.
        codecs=frozenset({"mp3", "aac", "flac", "alac"}),
    ),
}


def accepts_audio_codec(codec: str) -> bool:
    return codec in RULES[AssetKind.AUDIO].codecs or codec.startswith("pcm_")


def kind_of_media_type(media_type: str) -> AssetKind | None:
    """The kind whose accepted media types include this one, if any."""
    for kind in AssetKind:
        if kind.accepts_media_type(media_type):
            return kind
    return None
