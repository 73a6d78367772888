"""Tests for :mod:`hallmark.web.api.certificates`: who may revoke, and what revoking answers."""

from __future__ import annotations

import pytest

from tests.web.conftest import Web


@pytest.mark.parametrize("handle", ["alice", "root"])
def test_the_creator_or_an_admin_may_revoke(web: Web, handle: str) -> None:
    registered = web.register("alice")
    response = web.client.post(
        f"/api/v1/certificates/{registered['certificate_id']}/revoke",
        headers=web.auth(handle),
        json={"reason": "Wrong file."},
    )
    assert response.status_code == 200
    body = response.json()
    assert body["revoked"] is True
    assert body["revocation"]["certificate_id"] == registered["certificate_id"]
    assert body["revocation"]["reason"] == "Wrong file."
    assert body["log_index"] == registered["log_index"] + 1
    work = web.client.get(f"/api/v1/works/{registered['work_id']}").json()
    assert work["revoked"] is True


def test_another_creator_may_not_revoke(web: Web) -> None:
    registered = web.register("alice")
    response = web.client.post(
        f"/api/v1/certificates/{registered['certificate_id']}/revoke",
        headers=web.auth("bruno"),
        json={"reason": "Mine now."},
    )
    assert response.status_code == 403
    assert response.json()["detail"] == "Only the work's creator or an admin may revoke it."


def test_another_creator_does_not_learn_a_private_certificate_exists(web: Web) -> None:
    registered = web.register("alice", visibility="private")
    response = web.client.post(
        f"/api/v1/certificates/{registered['certificate_id']}/revoke",
        headers=web.auth("bruno"),
        json={"reason": "Mine now."},
    )
    assert response.status_code == 404


def test_anonymous_may_not_revoke(web: Web) -> None:
    registered = web.register("alice")
    response = web.client.post(
        f"/api/v1/certificates/{registered['certificate_id']}/revoke", json={"reason": "x"}
    )
    assert response.status_code == 401


def test_revoking_twice_is_a_conflict(web: Web) -> None:
    certificate_id = web.register("alice")["certificate_id"]
    path = f"/api/v1/certificates/{certificate_id}/revoke"
    first = web.client.post(path, headers=web.auth("alice"), json={"reason": "Once."})
    assert first.status_code == 200
    second = web.client.post(path, headers=web.auth("alice"), json={"reason": "Twice."})
    assert second.status_code == 409
    assert second.json()["detail"] == "This certificate is already revoked."


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({}, "'reason' is required"),
        ({"reason": ""}, "'reason' string should have at least 1 character"),
        ({"reason": "   "}, "A reason is required to revoke a certificate."),
        ({"reason": "r" * 501}, "'reason' string should have at most 500 characters"),
        ({"reason": 5}, "'reason' should be a valid string"),
    ],
)
def test_bad_revocation_requests_are_400(web: Web, body: object, detail: str) -> None:
    certificate_id = web.register("alice")["certificate_id"]
    response = web.client.post(
        f"/api/v1/certificates/{certificate_id}/revoke", headers=web.auth("alice"), json=body
    )
    assert response.status_code == 400, response.text
    assert detail in response.json()["detail"]


def test_malformed_json_is_400(web: Web) -> None:
    certificate_id = web.register("alice")["certificate_id"]
    response = web.client.post(
        f"/api/v1/certificates/{certificate_id}/revoke",
        headers={**web.auth("alice"), "Content-Type": "application/json"},
        content=b"{reason: oops",
    )
    assert response.status_code == 400
    assert response.json()["detail"] == "'body' is not valid JSON."


def test_unknown_certificate_is_404(web: Web) -> None:
    response = web.client.post(
        "/api/v1/certificates/c_nope/revoke", headers=web.auth("alice"), json={"reason": "x"}
    )
    assert response.status_code == 404
