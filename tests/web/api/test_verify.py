"""Tests for :mod:`hallmark.web.api.verify`: verdicts are 200 answers, bad input is a 400.

The register -> verify -> revoke -> verify round trip runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from hallmark.storage import spool
from tests.web.conftest import POEM, Web
from tests.web.pages.test_stages import noise_png


def verify(web: Web, file: bytes | None = None, bundle: bytes | None = None) -> Any:
    files: dict[str, tuple[str, bytes]] = {}
    if file is not None:
        files["file"] = ("work.txt", file)
    if bundle is not None:
        files["bundle"] = ("work.hallmark.json", bundle)
    return web.client.post("/api/v1/verify", files=files)


def test_register_verify_revoke_round_trip(any_web: Web) -> None:
    registered = any_web.register("alice")
    bundle = json.dumps(registered["bundle"]).encode()

    result = verify(any_web, POEM, bundle).json()
    assert result["valid"] is True and result["reason"] == "valid"
    assert result["matched"] == "sha256"
    assert result["certificate_id"] == registered["certificate_id"]
    assert result["label"] == "human-made" and result["level"] == "declared"

    revoked = any_web.client.post(
        f"/api/v1/certificates/{registered['certificate_id']}/revoke",
        headers=any_web.auth("alice"),
        json={"reason": "Registered the wrong draft."},
    )
    assert revoked.status_code == 200, revoked.text

    # The bundle from before the revocation still verifies offline; this instance knows better.
    response = verify(any_web, POEM, bundle)
    assert response.status_code == 200
    result = response.json()
    assert result["valid"] is False and result["reason"] == "revoked"
    assert "Registered the wrong draft." in result["detail"]


def test_a_file_alone_is_looked_up_by_digest(web: Web) -> None:
    registered = web.register("alice")
    result = verify(web, POEM.replace(b"\n", b"\r\n")).json()
    assert result["valid"] is True
    assert result["matched"] == "normalized-text"
    assert result["work_id"] == registered["work_id"]


def test_a_bundle_alone_checks_the_certificate(web: Web) -> None:
    bundle = json.dumps(web.register("alice")["bundle"]).encode()
    result = verify(web, bundle=bundle).json()
    assert result["valid"] is True and result["matched"] is None


def test_an_unknown_file_is_not_valid_not_an_error(web: Web) -> None:
    response = verify(web, b"Nobody registered this.\n")
    assert response.status_code == 200
    assert response.json()["valid"] is False
    assert response.json()["reason"] == "not-registered"


def test_a_changed_file_is_not_valid(web: Web) -> None:
    bundle = json.dumps(web.register("alice")["bundle"]).encode()
    result = verify(web, POEM.replace(b"gulls", b"crows"), bundle).json()
    assert result["valid"] is False and result["reason"] == "content-changed"


def test_a_tampered_certificate_is_not_valid(web: Web) -> None:
    doc = web.register("alice")["bundle"]
    doc["certificate"]["label"] = "ai-generated"
    result = verify(web, POEM, json.dumps(doc).encode()).json()
    assert result["valid"] is False and result["reason"] == "bad-signature"


def test_a_private_work_is_not_found_by_lookup(web: Web) -> None:
    web.register("alice", visibility="private")
    assert verify(web, POEM).json()["reason"] == "not-registered"


BAD_INPUT = [
    pytest.param(None, None, "Send a file, a bundle, or both.", id="nothing"),
    pytest.param(b"", None, "The file is empty.", id="empty-file"),
    pytest.param(POEM, b"{not json", "not valid JSON", id="malformed-json"),
    pytest.param(POEM, b"   ", "The bundle file is empty.", id="blank-bundle"),
    pytest.param(POEM, b"[1, 2]", "not a JSON object", id="json-array"),
    pytest.param(POEM, b'{"a": 1, "a": 2}', "the key 'a' twice", id="duplicate-key"),
    pytest.param(POEM, b"\xff\xfe{}", "not UTF-8", id="bundle-not-utf8"),
    pytest.param(POEM, b'{"media_type": "x"}', "not a Hallmark bundle", id="not-a-bundle"),
]


@pytest.mark.parametrize(("file", "bundle", "detail"), BAD_INPUT)
def test_bad_input_is_a_400_problem(
    web: Web, file: bytes | None, bundle: bytes | None, detail: str
) -> None:
    response = verify(web, file, bundle)
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert detail in response.json()["detail"]


def test_a_bundle_of_another_version_is_a_400(web: Web) -> None:
    doc = web.register("alice")["bundle"]
    doc["version"] = 2
    response = verify(web, POEM, json.dumps(doc).encode())
    assert response.status_code == 400
    assert response.json()["detail"] == "Bundle version 2 is not supported."
    assert response.json()["hint"] == "This Hallmark reads bundle version 1."


def test_a_huge_bundle_is_refused(web: Web) -> None:
    response = verify(web, POEM, b" " * 1_000_001)
    assert response.status_code == 413
    assert "bundle is larger than the limit" in response.json()["detail"]


def test_a_large_image_is_verified_from_its_spool(web: Web) -> None:
    image = noise_png(3)
    assert len(image) > spool.IN_MEMORY_BYTES  # received into a temporary file
    registered = web.register("alice", image, filename="noise.png")
    alone = verify(web, image).json()
    assert alone["valid"] is True and alone["matched"] == "sha256"
    assert alone["certificate_id"] == registered["certificate_id"]
    with_bundle = verify(web, image, json.dumps(registered["bundle"]).encode()).json()
    assert with_bundle["valid"] is True and with_bundle["matched"] == "sha256"
    # One byte changed: the bundle's certificate no longer matches the file.
    changed = verify(
        web, image[:-1] + bytes([image[-1] ^ 1]), json.dumps(registered["bundle"]).encode()
    )
    assert changed.json()["valid"] is False and changed.json()["reason"] == "content-changed"


def test_a_text_is_still_matched_by_its_normalized_digest(web: Web) -> None:
    registered = web.register("alice")
    # Windows line ends and trailing spaces: the same text once normalized.
    reflowed = POEM.replace(b"\n", b"  \r\n") + b"\n\n"
    result = verify(web, reflowed, json.dumps(registered["bundle"]).encode()).json()
    assert result["valid"] is True and result["matched"] == "normalized-text"
