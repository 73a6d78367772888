"""``GET /api/v1/works/{id}/file?credentials=c2pa``: the credentialed copy over the API, with
the same visibility rules as the file itself (issue #6, item 6)."""

from __future__ import annotations

import httpx
import pytest

from hallmark.services.instance import c2pa_chain_files
from tests.services.helpers_credentials import EXTENSIONS, active, assertion, image_bytes, read
from tests.web.conftest import Web


def _root(web: Web) -> str:
    return c2pa_chain_files(web.inst.settings).root_certificate.read_text("ascii")


@pytest.mark.parametrize("media_type", ["image/png", "image/jpeg", "image/webp"])
def test_the_api_serves_a_trusted_credentialed_copy(web: Web, media_type: str) -> None:
    data = image_bytes(media_type, seed=21)
    registration = web.register(
        "alice", data, filename=f"shore.{EXTENSIONS[media_type]}", consent="allowed"
    )
    work_id = registration["work_id"]
    response = web.client.get(f"/api/v1/works/{work_id}/file?credentials=c2pa")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == media_type
    assert response.headers["x-content-type-options"] == "nosniff"
    disposition = response.headers["content-disposition"]
    assert disposition == f'attachment; filename="{work_id}.c2pa.{EXTENSIONS[media_type]}"'
    assert response.content != data

    state, store = read(response.content, media_type, _root(web))
    assert state == "Trusted"
    manifest = active(store)
    hallmark = assertion(manifest, "org.hallmark.certificate")
    assert hallmark["certificate_id"] == registration["certificate_id"]
    assert hallmark["log_index"] == registration["log_index"]
    entries = assertion(manifest, "cawg.training-mining")["entries"]
    assert {e["use"] for e in entries.values()} == {"allowed"}


def test_without_the_parameter_the_certified_bytes_are_served(web: Web) -> None:
    data = image_bytes("image/png", seed=22)
    work_id = web.register("alice", data, filename="shore.png")["work_id"]
    assert web.client.get(f"/api/v1/works/{work_id}/file").content == data


def _problem(response: httpx.Response, status: int) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, object] = response.json()
    assert body["status"] == status and body["detail"] and body.get("hint")
    return body


def test_a_text_work_is_a_clear_400(web: Web) -> None:
    work_id = web.register("alice")["work_id"]
    body = _problem(web.client.get(f"/api/v1/works/{work_id}/file?credentials=c2pa"), 400)
    assert "images only" in str(body["detail"])


def test_an_unknown_kind_of_credentials_is_a_clear_400(web: Web) -> None:
    work_id = web.register("alice", image_bytes("image/png", seed=23), filename="a.png")["work_id"]
    body = _problem(web.client.get(f"/api/v1/works/{work_id}/file?credentials=jpeg-xl"), 400)
    assert "credentials=c2pa" in str(body["hint"])


def test_a_revoked_work_is_a_409(web: Web) -> None:
    registration = web.register("alice", image_bytes("image/png", seed=24), filename="a.png")
    revoked = web.client.post(
        f"/api/v1/certificates/{registration['certificate_id']}/revoke",
        headers=web.auth("alice"),
        json={"reason": "registered the wrong file"},
    )
    assert revoked.status_code == 200, revoked.text
    url = f"/api/v1/works/{registration['work_id']}/file?credentials=c2pa"
    body = _problem(web.client.get(url), 409)
    assert "revoked" in str(body["detail"])


def test_a_private_work_is_credentialed_for_its_creator_only(web: Web) -> None:
    work_id = web.register(
        "alice", image_bytes("image/png", seed=25), filename="a.png", visibility="private"
    )["work_id"]
    url = f"/api/v1/works/{work_id}/file?credentials=c2pa"
    assert web.client.get(url).status_code == 404
    assert web.client.get(url, headers=web.auth("bruno")).status_code == 404
    own = web.client.get(url, headers=web.auth("alice"))
    assert own.status_code == 200
    assert own.headers["cache-control"] == "private, no-store"
    assert read(own.content, "image/png", _root(web))[0] == "Trusted"
