"""Upload inspection: the file's own bytes decide its type, and hostile files are refused."""

from __future__ import annotations

import io
import zlib

import pytest
from PIL import Image

from hallmark.errors import InputError, TooLargeError, UnsupportedMediaError
from hallmark.services.media import inspect

LIMITS = {"max_bytes": 1_000_000, "max_pixels": 1_000_000, "max_text_chars": 10_000}


def _png(size: tuple[int, int] = (32, 24), color: str = "teal") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, "PNG")
    return buffer.getvalue()


def _bomb_png(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims a huge image: IDAT compresses rows of zeros."""
    import struct

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    rows = zlib.compress(b"\x00" * (width + 1) * 16)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")
    )


def test_text_gets_both_digests() -> None:
    info = inspect(b"A line.\r\n", filename="a.txt", **LIMITS)
    assert info.kind == "text" and info.media_type == "text/plain"
    assert info.digests.normalized_text_sha256 is not None


def test_markdown_by_name() -> None:
    assert inspect(b"# Title\n", filename="a.md", **LIMITS).media_type == "text/markdown"


def test_image_gets_a_perceptual_hash() -> None:
    info = inspect(_png(), filename="x.txt", **LIMITS)  # the name does not decide the type
    assert info.kind == "image" and info.media_type == "image/png"
    assert info.digests.perceptual_hash and info.digests.perceptual_hash.startswith("phash:")
    assert (info.width, info.height) == (32, 24)


@pytest.mark.parametrize(
    ("data", "error", "message"),
    [
        (b"", InputError, "empty"),
        (b"   \n\t", InputError, "empty"),
        (b"caf\xe9", InputError, "not valid UTF-8"),
        (b"%PDF-1.7 ...", UnsupportedMediaError, "not supported"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, InputError, "image"),
        (_png()[:60], InputError, "corrupt or truncated"),
        (b"x" * 1_000_001, TooLargeError, "limit is 1,000,000 bytes"),
        ("é".encode() * 10_001, TooLargeError, "characters"),
    ],
)
def test_bad_files_are_refused_specifically(data: bytes, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        inspect(data, filename="f", **LIMITS)


def test_decompression_bomb_is_refused_before_decoding() -> None:
    with pytest.raises(TooLargeError, match="pixels"):
        inspect(_bomb_png(50_000, 50_000), filename="bomb.png", **LIMITS)


def test_image_over_the_pixel_limit_is_refused() -> None:
    with pytest.raises(TooLargeError, match="pixels"):
        inspect(_png((1200, 1000)), filename="big.png", **LIMITS)
