"""Tests for :mod:`hallmark.web.api.log`: checkpoints, proofs and the verifier key.

Proofs from the API are checked with the offline verifier in :mod:`hallmark.ledger.merkle`
against the signed checkpoint, as a monitor would.
"""

from __future__ import annotations

import base64

import pytest

from hallmark.core.certificate import leaf_input
from hallmark.ledger import merkle
from hallmark.ledger.checkpoint import open_checkpoint
from hallmark.ledger.note import parse_verifier_key
from tests.web.conftest import Web


def _b64(values: list[str]) -> list[bytes]:
    return [base64.b64decode(value) for value in values]


def _register_three(web: Web) -> list[dict[str, object]]:
    return [web.register("alice", f"poem number {n}\n".encode(), title=f"P{n}") for n in range(3)]


def test_checkpoint_is_the_signed_note(web: Web) -> None:
    _register_three(web)
    response = web.client.get("/api/v1/log/checkpoint")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    verifier = parse_verifier_key(web.client.get("/api/v1/keys/public").text.strip())
    checkpoint = open_checkpoint(response.text, verifier)
    assert checkpoint.size == 3


def test_empty_log_has_a_checkpoint(web: Web) -> None:
    response = web.client.get("/api/v1/log/checkpoint")
    assert response.status_code == 200
    assert response.text.splitlines()[1] == "0"


def test_inclusion_proof_verifies_against_the_checkpoint(web: Web) -> None:
    registered = _register_three(web)
    checkpoint = open_checkpoint(web.client.get("/api/v1/log/checkpoint").text, web.inst.verifier)
    bundle = registered[1]["bundle"]
    assert isinstance(bundle, dict)
    response = web.client.get("/api/v1/log/proof/inclusion", params={"index": 1, "size": 3})
    assert response.status_code == 200
    proof = response.json()
    assert proof["log_index"] == 1 and proof["tree_size"] == 3
    assert base64.b64decode(proof["root_hash"]) == checkpoint.root_hash
    leaf = merkle.leaf_hash(leaf_input(bundle["certificate"]))
    merkle.verify_inclusion(leaf, 1, 3, _b64(proof["hashes"]), checkpoint.root_hash)


def test_inclusion_size_defaults_to_the_latest(web: Web) -> None:
    _register_three(web)
    proof = web.client.get("/api/v1/log/proof/inclusion", params={"index": 0}).json()
    assert proof["tree_size"] == 3


def test_consistency_proof_verifies(web: Web) -> None:
    _register_three(web)
    response = web.client.get("/api/v1/log/proof/consistency", params={"old": 1, "new": 3})
    assert response.status_code == 200
    proof = response.json()
    merkle.verify_consistency(
        1,
        3,
        base64.b64decode(proof["old_root"]),
        base64.b64decode(proof["new_root"]),
        _b64(proof["hashes"]),
    )


@pytest.mark.parametrize(
    ("path", "params", "detail"),
    [
        ("inclusion", {"index": "-1", "size": "3"}, "'index' should be greater than"),
        ("inclusion", {"index": "1", "size": "-3"}, "'size' should be greater than"),
        ("inclusion", {"index": "abc"}, "'index' should be a valid integer"),
        ("inclusion", {}, "'index' is required"),
        ("inclusion", {"index": "3", "size": "3"}, "Index 3 is not in a tree of size 3."),
        ("inclusion", {"index": "0", "size": "99"}, "size 99 is out of range"),
        ("inclusion", {"index": "0", "size": str(10**30)}, "is out of range"),
        ("consistency", {"old": "3", "new": "1"}, "No consistency proof from size 3 to size 1."),
        ("consistency", {"old": "1", "new": "50"}, "size 50 is out of range"),
        ("consistency", {"old": "x", "new": "1"}, "'old' should be a valid integer"),
    ],
)
def test_bad_proof_requests_are_400(
    web: Web, path: str, params: dict[str, str], detail: str
) -> None:
    _register_three(web)
    response = web.client.get(f"/api/v1/log/proof/{path}", params=params)
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert detail in response.json()["detail"]


def test_public_key_is_the_verifier_key(web: Web) -> None:
    response = web.client.get("/api/v1/keys/public")
    assert response.status_code == 200
    assert response.text.strip() == web.inst.verifier_key
    assert parse_verifier_key(response.text.strip()).name == web.inst.origin
