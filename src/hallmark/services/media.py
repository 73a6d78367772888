"""Inspecting uploads: what kind of work a file is, whether it is safe, and its digests.

Accepted: UTF-8 text (plain or Markdown) and images (PNG, JPEG, WebP, GIF). The file's own
bytes decide the type, never its name or the declared content type alone. Images are fully
decoded once under a pixel limit, so decompression bombs and truncated files are refused
before anything is stored.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import imagehash
from PIL import Image, UnidentifiedImageError

from hallmark.core.certificate import WorkDigests
from hallmark.core.digests import decode_text, normalize_text, sha256_hex
from hallmark.errors import InputError, TooLargeError, UnsupportedMediaError
from hallmark.storage.spool import Content, as_content

IMAGE_TYPES = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp", "GIF": "image/gif"}
TEXT_TYPES = {"text/plain", "text/markdown"}
_IMAGE_MAGIC = (b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"RIFF")
_BINARY_MAGIC = (b"%PDF", b"PK\x03\x04", b"\x7fELF", b"MZ", b"\x1f\x8b")


@dataclass(frozen=True)
class MediaInfo:
    kind: str
    media_type: str
    size: int
    digests: WorkDigests
    width: int | None = None
    height: int | None = None


def inspect(
    data: bytes | Content,
    *,
    filename: str | None = None,
    max_bytes: int,
    max_pixels: int,
    max_text_chars: int,
) -> MediaInfo:
    """What ``data`` is, checked; an image is decoded from its (possibly on-disk) content."""
    content = as_content(data)
    if content.size > max_bytes:
        raise TooLargeError(
            f"The file is {content.size:,} bytes; the limit is {max_bytes:,} bytes.",
            hint="Upload a smaller file, or ask the operator to raise max_upload_bytes.",
        )
    head = content.head(8)
    if head.startswith(_IMAGE_MAGIC):
        return _inspect_image(content, max_pixels=max_pixels)
    if head.startswith(_BINARY_MAGIC):
        raise UnsupportedMediaError(
            "This file type is not supported.",
            hint="Hallmark registers UTF-8 text and PNG, JPEG, WebP or GIF images.",
        )
    # A text is decoded whole; max_text_chars keeps texts small.
    return _inspect_text(content.read(), filename=filename, max_chars=max_text_chars)


def _inspect_text(data: bytes, *, filename: str | None, max_chars: int) -> MediaInfo:
    if not data.strip():
        raise InputError("The file is empty.", hint="Choose a file with content.")
    text = decode_text(data)
    if len(text) > max_chars:
        raise TooLargeError(f"The text has {len(text):,} characters; the limit is {max_chars:,}.")
    normalized = normalize_text(text)
    if not normalized:
        raise InputError("The text is empty once whitespace is removed.")
    is_markdown = bool(filename) and str(filename).lower().endswith((".md", ".markdown"))
    return MediaInfo(
        kind="text",
        media_type="text/markdown" if is_markdown else "text/plain",
        size=len(data),
        digests=WorkDigests(
            sha256=sha256_hex(data),
            normalized_text_sha256=sha256_hex(normalized.encode("utf-8")),
        ),
    )


def _inspect_image(content: Content, *, max_pixels: int) -> MediaInfo:
    with warnings.catch_warnings():
        # Pillow warns between max_pixels and twice that; treat the warning as the error too.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        previous = Image.MAX_IMAGE_PIXELS
        Image.MAX_IMAGE_PIXELS = max_pixels
        try:
            with Image.open(content.stream()) as probe:
                fmt = probe.format or ""
                width, height = probe.size
                if fmt not in IMAGE_TYPES:
                    raise UnsupportedMediaError(
                        f"{fmt or 'This'} images are not supported.",
                        hint="Use PNG, JPEG, WebP or GIF.",
                    )
                if width * height > max_pixels:
                    raise TooLargeError(
                        f"The image is {width}x{height} pixels; the limit is {max_pixels:,} pixels."
                    )
                probe.load()
                phash = str(imagehash.phash(probe.convert("RGB")))
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise TooLargeError(
                "The image would expand to too many pixels (a decompression bomb?).",
                hint="Upload the image at a normal size.",
            ) from None
        except UnidentifiedImageError:
            raise UnsupportedMediaError(
                "The file looks like an image but cannot be read."
            ) from None
        except (OSError, SyntaxError, ValueError) as exc:
            raise InputError(
                f"The image is corrupt or truncated ({exc}).", hint="Export it again and retry."
            ) from None
        finally:
            Image.MAX_IMAGE_PIXELS = previous
    return MediaInfo(
        kind="image",
        media_type=IMAGE_TYPES[fmt],
        size=content.size,
        digests=WorkDigests(sha256=content.sha256, perceptual_hash=f"phash:{phash}"),
        width=width,
        height=height,
    )
