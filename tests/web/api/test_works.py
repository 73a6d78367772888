"""Tests for :mod:`hallmark.web.api.works`: registering and reading works through the API.

Covers the happy path on both databases, every kind of bad upload (each a specific 4xx with
nothing stored), and the visibility rules for private and unlisted works.
"""

from __future__ import annotations

import base64
import io
import struct
import zlib

import pytest
from PIL import Image

from hallmark.core.bundle import BUNDLE_MEDIA_TYPE, Bundle
from hallmark.core.certificate import signature_valid
from tests.web.conftest import POEM, Web


def png(width: int = 8, height: int = 8) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (180, 40, 60)).save(buffer, "PNG")
    return buffer.getvalue()


def noisy_png() -> bytes:
    """A PNG that does not compress well, so cutting it short loses pixel data."""
    buffer = io.BytesIO()
    Image.effect_noise((64, 64), 80).save(buffer, "PNG")
    return buffer.getvalue()


def damaged_png() -> bytes:
    data = bytearray(png(64, 64))
    data[60:70] = b"\xff" * 10  # inside the compressed pixel data
    return bytes(data)


def png_bomb(side: int = 30_000) -> bytes:
    """A small, valid 1-bit PNG that decodes to ``side`` x ``side`` pixels (900M by default)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    row = b"\x00" * (1 + side // 8)
    packer = zlib.compressobj(9)
    compressed = b"".join(packer.compress(row * 1_000) for _ in range(side // 1_000))
    compressed += packer.flush()
    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", compressed)
        + chunk(b"IEND", b"")
    )


def test_register_round_trip(any_web: Web) -> None:
    response = any_web.upload("alice", title="Harbour", visibility="public")
    assert response.status_code == 201
    body = response.json()
    assert {"work_id", "certificate_id", "label", "level", "log_index", "bundle"} <= set(body)
    assert body["label"] == "human-made" and body["level"] == "declared"
    assert response.headers["location"] == f"/api/v1/works/{body['work_id']}"
    bundle = Bundle.from_json(body["bundle"])
    assert bundle.certificate.id == body["certificate_id"]

    work = any_web.client.get(f"/api/v1/works/{body['work_id']}").json()
    assert work["title"] == "Harbour" and work["creator"] == "alice"
    assert work["log_index"] == body["log_index"] and work["revoked"] is False


def test_ai_assisted_with_share(web: Web) -> None:
    body = web.register("alice", declare="ai-assisted", ai_share="12.5")
    assert body["label"] == "ai-assisted" and body["ai_share"] == 12.5


def test_certificate_is_the_signed_statement(web: Web) -> None:
    work_id = web.register("alice")["work_id"]
    response = web.client.get(f"/api/v1/works/{work_id}/certificate")
    assert response.status_code == 200
    body = response.json()
    signature = base64.b64decode(body["signature"])
    assert signature_valid(body["certificate"], signature, web.inst.verifier.public_key)
    assert body["certificate"]["work"]["id"] == work_id


def test_bundle_is_an_attachment(web: Web) -> None:
    work_id = web.register("alice")["work_id"]
    response = web.client.get(f"/api/v1/works/{work_id}/bundle")
    assert response.status_code == 200
    assert response.headers["content-type"] == BUNDLE_MEDIA_TYPE
    expected = f'attachment; filename="{work_id}.hallmark.json"'
    assert response.headers["content-disposition"] == expected
    assert Bundle.parse(response.content).certificate.work["id"] == work_id


def test_text_file_is_served_as_an_attachment(web: Web) -> None:
    work_id = web.register("alice", b"<script>alert(1)</script> is not run\n")["work_id"]
    response = web.client.get(f"/api/v1/works/{work_id}/file")
    assert response.status_code == 200
    assert response.content == b"<script>alert(1)</script> is not run\n"
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.headers["content-disposition"].startswith("attachment;")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in response.headers["content-security-policy"]


def test_image_file_is_inline(web: Web) -> None:
    work_id = web.register("alice", png(), filename="dot.png")["work_id"]
    response = web.client.get(f"/api/v1/works/{work_id}/file")
    assert response.headers["content-type"] == "image/png"
    assert response.headers["content-disposition"].startswith("inline;")


BAD_UPLOADS = [
    pytest.param(b"", {}, 400, "The file is empty.", id="empty-file"),
    pytest.param(b"   \n\t ", {}, 400, "The file is empty.", id="blank-file"),
    pytest.param(b"caf\xe9 au lait\n", {}, 400, "not valid UTF-8", id="not-utf8"),
    pytest.param(damaged_png(), {}, 400, "corrupt or truncated", id="corrupt-png"),
    pytest.param(noisy_png()[:2_000], {}, 400, "corrupt or truncated", id="truncated-png"),
    pytest.param(png()[:40], {}, 415, "cannot be read", id="png-header-only"),
    pytest.param(png_bomb(), {}, 413, "too many pixels", id="decompression-bomb"),
    pytest.param(b"%PDF-1.7\n%\xe2\xe3\n1 0 obj\n", {}, 415, "not supported", id="pdf"),
    pytest.param(POEM, {"ai_share": "abc"}, 400, "'abc' is not a number", id="ai-share-text"),
    pytest.param(POEM, {"ai_share": "-5"}, 400, "not between 0 and 100", id="ai-share-neg"),
    pytest.param(POEM, {"ai_share": "nan"}, 400, "not between 0 and 100", id="ai-share-nan"),
    pytest.param(POEM, {"ai_share": "30"}, 400, "no AI-generated share", id="ai-share-human-made"),
    pytest.param(POEM, {"declare": "robot-made"}, 400, "not an origin label", id="bad-label"),
    pytest.param(POEM, {"visibility": "secret"}, 400, "not a visibility", id="bad-visibility"),
    pytest.param(POEM, {"title": "   "}, 400, "A title is required.", id="blank-title"),
    pytest.param(POEM, {"title": "t" * 301}, 400, "longer than 300", id="long-title"),
    pytest.param(POEM, {"consent": "maybe"}, 400, "not a consent choice", id="bad-consent"),
]


@pytest.mark.parametrize(("data", "fields", "status", "detail"), BAD_UPLOADS)
def test_bad_uploads_are_refused_and_nothing_is_stored(
    web: Web, data: bytes, fields: dict[str, str], status: int, detail: str
) -> None:
    before = web.work_count()
    response = web.upload("alice", data, **fields)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert detail in response.json()["detail"]
    assert web.work_count() == before
    # The blob store keeps nothing from a refused upload either.
    assert not any(path.is_file() for path in web.inst.settings.blob_path.rglob("*"))


def test_ai_assisted_needs_a_share(web: Web) -> None:
    response = web.upload("alice", declare="ai-assisted")
    assert response.status_code == 400
    assert response.json()["detail"] == "An ai-assisted work must state its AI share."


def test_the_same_content_twice_is_a_conflict(web: Web) -> None:
    web.register("alice")
    response = web.upload("bruno", POEM.replace(b"\n", b"\r\n"))
    assert response.status_code == 409
    assert "already registered by another creator" in response.json()["detail"]
    assert web.work_count() == 1


def test_file_sent_as_a_plain_field_is_a_clear_400(web: Web) -> None:
    response = web.client.post(
        "/api/v1/works",
        headers=web.auth("alice"),
        data={"file": "not a file", "title": "t", "declare": "human-made"},
    )
    assert response.status_code == 400
    assert response.json()["detail"] == (
        "'file' must be sent as a file (a multipart part with a filename)."
    )


def test_not_multipart_is_a_clear_400(web: Web) -> None:
    response = web.client.post(
        "/api/v1/works", headers={**web.auth("alice"), "Content-Type": "text/plain"}, content=b"hi"
    )
    assert response.status_code == 400
    assert response.json()["type"] == "/problems/invalid-input"


# Authorization ------------------------------------------------------------------------------


def test_anonymous_cannot_register(web: Web) -> None:
    response = web.client.post(
        "/api/v1/works",
        files={"file": ("poem.txt", POEM)},
        data={"title": "t", "declare": "human-made"},
    )
    assert response.status_code == 401
    assert web.work_count() == 0


@pytest.mark.parametrize("suffix", ["", "/certificate", "/bundle", "/file"])
def test_a_private_work_is_not_found_for_others(any_web: Web, suffix: str) -> None:
    work_id = any_web.register("alice", visibility="private")["work_id"]
    path = f"/api/v1/works/{work_id}{suffix}"
    for headers in ({}, any_web.auth("bruno")):
        response = any_web.client.get(path, headers=headers)
        assert response.status_code == 404
        assert response.json()["detail"] == f"There is no work '{work_id}'."
    assert any_web.client.get(path, headers=any_web.auth("alice")).status_code == 200
    assert any_web.client.get(path, headers=any_web.auth("root")).status_code == 200


def test_listings_show_public_works_only(any_web: Web) -> None:
    public = any_web.register("alice", b"public poem\n", title="Public")["work_id"]
    unlisted = any_web.register("alice", b"unlisted poem\n", visibility="unlisted")["work_id"]
    private = any_web.register("alice", b"private poem\n", visibility="private")["work_id"]

    def listed(headers: dict[str, str] | None = None, **params: str) -> set[str]:
        response = any_web.client.get("/api/v1/works", params=params, headers=headers or {})
        assert response.status_code == 200
        return {work["work_id"] for work in response.json()}

    assert listed() == {public}
    assert listed(any_web.auth("bruno"), creator="alice") == {public}
    assert listed(any_web.auth("alice"), creator="alice") == {public, unlisted, private}
    # Unlisted works are reachable by id, though not listed.
    assert any_web.client.get(f"/api/v1/works/{unlisted}").status_code == 200
    assert any_web.client.get(f"/api/v1/works/{private}").status_code == 404


def test_listing_an_unknown_creator_is_404(web: Web) -> None:
    assert web.client.get("/api/v1/works", params={"creator": "nobody"}).status_code == 404


@pytest.mark.parametrize("limit", ["0", "-1", "201", "ten"])
def test_listing_limit_is_checked(web: Web, limit: str) -> None:
    response = web.client.get("/api/v1/works", params={"limit": limit})
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "limit"


def test_a_very_long_work_id_is_just_not_found(web: Web) -> None:
    assert web.client.get("/api/v1/works/" + "w" * 5_000).status_code == 404
