"""Small copies of image works for the gallery's cards (issue #7, item 1).

A gallery page shows two dozen images; sending each at full size (up to the upload limit)
would make the page slow on a phone. A thumbnail is at most ``SIZE`` pixels on its longest
side, turned upright by its EXIF orientation and saved as WebP without the original's metadata
(a photograph's location stays in the certified file only). It is made once per blob and kept
under ``<home>/cache/thumbnails``; a blob never changes under its key, so a cached thumbnail
never goes stale, and deleting the folder only costs the time to make them again.
"""

from __future__ import annotations

import io
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from PIL import Image, ImageOps

from hallmark.errors import NotFoundError
from hallmark.services.instance import Instance
from hallmark.storage.models import Work
from hallmark.storage.spool import stored_content

logger = logging.getLogger(__name__)

#: Longest side in pixels: a card is about 240 CSS pixels wide, twice that on dense screens.
SIZE = 480
MEDIA_TYPE = "image/webp"
#: Part of every file name and ETag, so a change in how thumbnails are drawn reaches caches.
VERSION = "1"


@dataclass(frozen=True)
class Thumbnail:
    data: bytes
    media_type: str
    etag: str


def cache_folder(inst: Instance) -> Path:
    return inst.settings.home / "cache" / "thumbnails"


def make_thumbnail(data: bytes | IO[bytes], size: int = SIZE) -> bytes:
    """The WebP thumbnail of an image, given as bytes or a seekable file (the first frame of
    an animation)."""
    with Image.open(io.BytesIO(data) if isinstance(data, bytes) else data) as image:
        # JPEG decodes straight to a smaller scale, which is much faster for large photos.
        image.draft("RGB", (size, size))
        upright = ImageOps.exif_transpose(image)
        upright.thumbnail((size, size), Image.Resampling.LANCZOS)
        has_alpha = upright.mode in ("RGBA", "LA", "PA") or "transparency" in upright.info
        small = upright.convert("RGBA" if has_alpha else "RGB")
        out = io.BytesIO()
        small.save(out, "WEBP", quality=80, method=4)
    return out.getvalue()


def _store(path: Path, data: bytes) -> None:
    """Write atomically, so another process never reads half a thumbnail."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def thumbnail(inst: Instance, work: Work) -> Thumbnail:
    """The thumbnail of an image work, from the cache or made now (the caller has checked
    that the viewer may see the work)."""
    if work.kind != "image":
        raise NotFoundError(f"The work '{work.id}' is not an image, so it has no thumbnail.")
    name = f"{work.blob_key}-{SIZE}-v{VERSION}.webp"
    path = cache_folder(inst) / work.blob_key[:2] / name
    etag = f'"{work.blob_key[:32]}-{SIZE}-v{VERSION}"'
    try:
        return Thumbnail(path.read_bytes(), MEDIA_TYPE, etag)
    except FileNotFoundError:
        pass
    try:
        with stored_content(inst.blobs, work.blob_key) as content:
            data = make_thumbnail(content.stream())
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        # The image was fully checked at upload, so this is a damaged blob or a changed limit.
        logger.warning("no thumbnail for work %s: %s", work.id, exc)
        raise NotFoundError(f"The work '{work.id}' has no thumbnail.") from None
    try:
        _store(path, data)
    except OSError as exc:
        # A read-only or full disk costs speed, not the picture.
        logger.warning("thumbnail of work %s not cached: %s", work.id, exc)
    return Thumbnail(data, MEDIA_TYPE, etag)
