"""What a blob of media really is, judged from its bytes and never from its name or declared type.

Images go through Pillow, everything else through FFmpeg (PyAV). Both read from memory or a file
object, so garbage ends at its own end of file; sizes are checked before anything is decoded, and
decoding stops at the first frame, which is enough to prove that the stream decodes.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import IO

import av
import av.container
from av.stream import Disposition
from PIL import (
    BmpImagePlugin,
    GifImagePlugin,
    Image,
    JpegImagePlugin,
    PngImagePlugin,
    TiffImagePlugin,
    UnidentifiedImageError,
    WebPImagePlugin,
)

from taxiway.assets.errors import UNSUPPORTED_ASSET_TYPE, ProbeError
from taxiway.assets.kinds import MIB, RULES, AssetKind, accepts_audio_codec

_NOPE = UNSUPPORTED_ASSET_TYPE
# Nothing larger is probed: the largest accepted asset is an upload of 200 MB.
MAX_PROBE_BYTES = 256 * MIB
# Pixels per image (8K is 33 Mpx) and per video frame (4096x4096): they bound the memory one probe
# takes, about 200 MB for the largest RGBA image; video decoders hold several frames at once.
MAX_PIXELS = 50_000_000
MAX_VIDEO_PIXELS = 4096 * 4096
# Demuxed packets tried before giving up on finding a decodable frame.
MAX_PACKETS = 512
# Packets demuxed (not decoded) to check that the file is complete: hours of 60 fps video.
MAX_DEMUXED_PACKETS = 1_000_000

# Importing the plugins registers them; `Image.open(formats=...)` only knows registered ones.
_PLUGINS = (
    BmpImagePlugin,
    GifImagePlugin,
    JpegImagePlugin,
    PngImagePlugin,
    TiffImagePlugin,
    WebPImagePlugin,
)
# Formats Pillow may identify (MPO comes through the JPEG plugin). GIF, BMP and TIFF are here only
# so that the refusal can name them; anything else is left to FFmpeg.
_PILLOW_FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF")
_W64_GUID = b"riff\x2e\x91\xcf\x11\xa5\xd6\x28\xdb\x04\xc1\x00\x00"
_IMAGE_MEDIA_TYPES = {"JPEG": "image/jpeg", "MPO": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
_VIDEO_MEDIA_TYPES = {
    "ogg": "video/ogg",
    "avi": "video/x-msvideo",
    "mpegts": "video/mp2t",
    "mxf": "application/mxf",
}
_AUDIO_MEDIA_TYPES = {
    "mp3": "audio/mpeg",
    "wav": "audio/wav",
    "w64": "audio/wav",
    "flac": "audio/flac",
    "aac": "audio/aac",
    "aiff": "audio/aiff",
    "ogg": "audio/ogg",
    "caf": "audio/x-caf",
}


@dataclass(frozen=True)
class MediaInfo:
    kind: AssetKind
    # Pillow's format name for images (`PNG`), FFmpeg's demuxer name otherwise (`mov`, `matroska`).
    format: str
    # `png`/`jpeg`/`webp` for images; FFmpeg's codec id (`h264`, `pcm_s16le`) otherwise.
    codec: str
    # The media type the bytes really are, whatever was declared.
    media_type: str
    width: int | None = None
    height: int | None = None
    duration: float | None = None
    fps: float | None = None
    has_audio: bool = False
    sample_rate: int | None = None
    channels: int | None = None


def probe(
    source: bytes | IO[bytes],
    *,
    max_bytes: int = MAX_PROBE_BYTES,
    max_pixels: int = MAX_PIXELS,
    max_video_pixels: int = MAX_VIDEO_PIXELS,
    max_packets: int = MAX_PACKETS,
) -> MediaInfo:
    """Identify and test-decode media; raises ProbeError for anything unreadable or unsupported."""
    fp: IO[bytes] = io.BytesIO(source) if isinstance(source, bytes) else source
    try:
        size = fp.seek(0, io.SEEK_END)
        fp.seek(0)
    except (OSError, ValueError) as exc:
        raise ProbeError(f"{_NOPE} The file cannot be read.") from exc
    if size == 0:
        raise ProbeError(f"{_NOPE} The file is empty.")
    if size > max_bytes:
        raise ProbeError(f"{_NOPE} The file is larger than {max_bytes} bytes.")
    image = _probe_image(fp, max_pixels)
    if image is not None:
        return image
    return _probe_av(fp, max_video_pixels, max_packets)


def _probe_image(fp: IO[bytes], max_pixels: int) -> MediaInfo | None:
    """MediaInfo for an image; None when Pillow does not recognise the bytes as one."""
    fp.seek(0)
    try:
        image = Image.open(fp, formats=_PILLOW_FORMATS)
    except UnidentifiedImageError:
        return None
    except Image.DecompressionBombError as exc:
        raise ProbeError(f"{_NOPE} The image has too many pixels.") from exc
    except Exception as exc:  # DecompressionBombError, and whatever a broken header makes Pillow raise
        raise ProbeError(f"{_NOPE} The image is truncated or corrupt.") from exc
    with image:
        name = str(image.format)
        media_type = _IMAGE_MEDIA_TYPES.get(name)
        if media_type is None or name not in RULES[AssetKind.IMAGE].formats:
            raise ProbeError(
                f"{UNSUPPORTED_ASSET_TYPE} {name} images are not supported; use JPEG, PNG or WebP."
            )
        width, height = image.size
        if width <= 0 or height <= 0 or width * height > max_pixels:
            raise ProbeError(f"{_NOPE} The image is {width}x{height}, too many pixels.")
        try:
            if name in ("JPEG", "MPO"):
                # Decoding at 1/8 scale proves the whole file decodes, at 1/64 of the memory.
                image.draft(None, (max(1, width // 8), max(1, height // 8)))
            image.load()
        except Exception as exc:  # truncated or corrupt data
            raise ProbeError(f"{_NOPE} The image is truncated or corrupt.") from exc
        codec = "jpeg" if media_type == "image/jpeg" else name.lower()
        return MediaInfo(AssetKind.IMAGE, name, codec, media_type, width=width, height=height)


def _probe_av(fp: IO[bytes], max_pixels: int, max_packets: int) -> MediaInfo:
    demuxer = _sniff_container(fp)
    if demuxer is None:
        raise ProbeError(f"{_NOPE} The file is not a supported image, video or audio file.")
    fp.seek(0)
    head = fp.read(12)
    fp.seek(0)
    # Reading stream parameters may decode a frame: bound its size and keep it to one thread.
    options = {"max_pixels": str(max_pixels), "threads": "1"}
    try:
        container = av.open(fp, mode="r", format=demuxer, options=options)
    except Exception as exc:  # av.FFmpegError and friends: not what the magic bytes promised
        raise ProbeError(f"{_NOPE} The file is truncated or corrupt.") from exc
    try:
        with container:
            return _inspect(container, head, max_pixels, max_packets)
    except ProbeError:
        raise
    except Exception as exc:  # demuxing or decoding errors on broken files
        raise ProbeError(f"{_NOPE} The file is truncated or corrupt.") from exc


def _sniff_container(fp: IO[bytes]) -> str | None:
    """The FFmpeg demuxer for a whitelisted container, judged by its magic bytes; None for others.

    Opening with that one demuxer keeps FFmpeg's other parsers (image pipes, raw streams, exotic
    formats) away from untrusted bytes.
    """
    fp.seek(0)
    head = fp.read(512)
    if head[:3] == b"ID3" and len(head) >= 10:
        # An ID3v2 tag (often with cover art) may precede MP3, ADTS AAC or FLAC data.
        size = (head[6] & 0x7F) << 21 | (head[7] & 0x7F) << 14 | (head[8] & 0x7F) << 7 | (head[9] & 0x7F)
        fp.seek(10 + size + (10 if head[5] & 0x10 else 0))
        after = fp.read(4)
        if after[:4] == b"fLaC":
            return "flac"
        return "aac" if len(after) >= 2 and after[0] == 0xFF and after[1] & 0xF6 == 0xF0 else "mp3"
    if head[4:8] in (b"ftyp", b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"):
        return "mov"
    if head[:4] in (b"RIFF", b"RF64"):
        return {b"AVI ": "avi", b"WAVE": "wav"}.get(head[8:12])
    if head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
        return "aiff"
    if head[:16] == _W64_GUID:
        return "w64"
    magic = {
        b"\x1a\x45\xdf\xa3": "matroska",
        b"OggS": "ogg",
        b"fLaC": "flac",
        b"caff": "caf",
        b"\x06\x0e\x2b\x34": "mxf",
    }.get(head[:4])
    if magic is not None:
        return magic
    if len(head) > 196 and (head[0] == head[188] == 0x47 or head[4] == head[196] == 0x47):
        return "mpegts"
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0:
        # Frame sync: layer bits 00 mean ADTS AAC, anything else MPEG audio.
        return "aac" if head[1] & 0x06 == 0 else "mp3"
    return None


def _inspect(
    container: av.container.InputContainer, head: bytes, max_pixels: int, max_packets: int
) -> MediaInfo:
    name = container.format.name
    videos = [s for s in container.streams.video if not s.disposition & Disposition.attached_pic]
    audios = list(container.streams.audio)
    duration = container.duration / 1_000_000 if container.duration and container.duration > 0 else None
    if videos:
        stream = videos[0]
        rules = RULES[AssetKind.VIDEO]
        codec = stream.codec.canonical_name
        if name not in rules.formats:
            raise ProbeError(
                f"{UNSUPPORTED_ASSET_TYPE} The {name} format is not a supported video container."
            )
        if codec not in rules.codecs:
            raise ProbeError(f"{_NOPE} The {codec} video codec is not supported.")
        width, height = stream.codec_context.width, stream.codec_context.height
        if width <= 0 or height <= 0 or width * height > max_pixels:
            raise ProbeError(f"{_NOPE} The video is {width}x{height}, too many pixels.")
        _decode_first_frame(container, stream, max_packets)
        rate = stream.average_rate or stream.guessed_rate
        return MediaInfo(
            AssetKind.VIDEO,
            name,
            codec,
            _video_media_type(name, codec, head),
            width=width,
            height=height,
            duration=duration or _stream_duration(stream),
            fps=float(rate) if rate else None,
            has_audio=bool(audios),
        )
    if audios:
        stream_a = audios[0]
        codec = stream_a.codec.canonical_name
        if name not in RULES[AssetKind.AUDIO].formats:
            raise ProbeError(
                f"{UNSUPPORTED_ASSET_TYPE} The {name} format is not a supported audio container."
            )
        if not accepts_audio_codec(codec):
            raise ProbeError(f"{_NOPE} The {codec} audio codec is not supported.")
        _decode_first_frame(container, stream_a, max_packets)
        return MediaInfo(
            AssetKind.AUDIO,
            name,
            codec,
            _AUDIO_MEDIA_TYPES.get(name, "audio/mp4"),
            duration=duration or _stream_duration(stream_a),
            has_audio=True,
            sample_rate=stream_a.codec_context.sample_rate or None,
            channels=stream_a.codec_context.channels or None,
        )
    raise ProbeError(f"{_NOPE} The file has no video or audio stream.")


def _decode_first_frame(
    container: av.container.InputContainer, stream: av.VideoStream | av.AudioStream, max_packets: int
) -> None:
    """Decode until one frame comes out, then demux (without decoding) to the end of the file.

    Where the container's index says how many packets there are (MP4, MOV), fewer of them on disk
    means the file was cut short.
    """
    stream.codec_context.thread_count = 1
    decoded = False
    packets = 0
    for packet in container.demux(stream):
        if packet.size == 0:  # the flush packet at the end: delayed frames come out here
            decoded = decoded or bool(packet.decode())
            continue
        packets += 1
        if not decoded:
            if packets > max_packets:
                break
            decoded = bool(packet.decode())
        elif packets > MAX_DEMUXED_PACKETS:
            break
    if not decoded:
        raise ProbeError(f"{_NOPE} The file has no decodable {stream.type} frames.")
    if 0 < packets < stream.frames:
        raise ProbeError(f"{_NOPE} The file is truncated.")


def _stream_duration(stream: av.VideoStream | av.AudioStream) -> float | None:
    if stream.duration and stream.duration > 0 and stream.time_base:
        return float(stream.duration * stream.time_base)
    return None


def _video_media_type(container: str, codec: str, head: bytes) -> str:
    if container in _VIDEO_MEDIA_TYPES:
        return _VIDEO_MEDIA_TYPES[container]
    if container.startswith("matroska"):
        return "video/webm" if codec in ("vp8", "vp9", "av1") else "video/x-matroska"
    return "video/quicktime" if head[4:12] == b"ftypqt  " else "video/mp4"
