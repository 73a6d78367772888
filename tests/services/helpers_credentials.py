"""Test helpers for Content Credentials: images in each format, reading a signed copy back, and
damaging the image data of a signed copy."""

from __future__ import annotations

import io
import json
import random
from typing import Any

from c2pa import Context, Reader, Settings
from PIL import Image

FORMATS = {"image/png": "PNG", "image/jpeg": "JPEG", "image/webp": "WEBP", "image/gif": "GIF"}
EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp", "image/gif": "gif"}
IPTC = "http://cv.iptc.org/newscodes/digitalsourcetype/"


def image_bytes(media_type: str, seed: int = 0, size: tuple[int, int] = (64, 48)) -> bytes:
    """A small noisy image (so every seed gives different bytes) in the given format."""
    rng = random.Random(seed)
    pixels = bytes(rng.randrange(256) for _ in range(size[0] * size[1] * 3))
    image = Image.frombytes("RGB", size, pixels)
    out = io.BytesIO()
    image.save(out, FORMATS[media_type])
    return out.getvalue()


def read(data: bytes, media_type: str, root_pem: str | bytes | None) -> tuple[str, dict[str, Any]]:
    """The validation state and the manifest store JSON of ``data``, with ``root_pem`` as the
    only trust anchor (or none)."""
    values: dict[str, Any] = {"verify": {"verify_trust": True, "ocsp_fetch": False}}
    if root_pem:
        anchors = root_pem.decode("ascii") if isinstance(root_pem, bytes) else root_pem
        values["trust"] = {"trust_anchors": anchors}
    with Reader(media_type, io.BytesIO(data), context=Context(Settings.from_dict(values))) as r:
        return str(r.get_validation_state()), json.loads(r.json())


def active(store: dict[str, Any]) -> dict[str, Any]:
    manifest: dict[str, Any] = store["manifests"][store["active_manifest"]]
    return manifest


def assertion(manifest: dict[str, Any], prefix: str) -> dict[str, Any]:
    """The data of the one assertion whose label starts with ``prefix``."""
    found = [a for a in manifest["assertions"] if str(a["label"]).startswith(prefix)]
    assert len(found) == 1, [a["label"] for a in manifest["assertions"]]
    data: dict[str, Any] = found[0]["data"]
    return data


def failures(store: dict[str, Any]) -> list[str]:
    results = store["validation_results"]["activeManifest"]
    return [str(f["code"]) for f in results.get("failure") or []]


def flip_image_byte(signed: bytes, original: bytes) -> bytes:
    """``signed`` with one bit changed inside the image data it shares with ``original``.

    The tail of the original (pixel data, just before the format's end marker) is found in
    the signed file, so the change hits the image, never the manifest.
    """
    needle = original[-40:-12]
    at = signed.find(needle)
    assert at >= 0, "the image data is not in the signed copy"
    position = next(i for i in range(at, at + len(needle)) if signed[i] not in (0xFE, 0xFF))
    damaged = bytearray(signed)
    damaged[position] ^= 0x01
    return bytes(damaged)
