"""Offline verification: every kind of tampering is rejected, each with its own reason."""

from __future__ import annotations

import base64
import copy
import json
from pathlib import Path
from typing import Any

import pytest

from hallmark.core.bundle import Bundle
from hallmark.core.verify import verify_bundle
from hallmark.crypto.keys import private_key_from_seed
from hallmark.errors import InputError
from hallmark.ledger.checkpoint import Checkpoint, sign_checkpoint
from hallmark.services import accounts, registry
from hallmark.services.instance import Instance
from tests.services.helpers import golden_instance

TEXT = b"Two lines of a poem\nthat nobody else wrote.\n"


@pytest.fixture
def setup(tmp_path: Path) -> tuple[Instance, dict[str, Any], str]:
    inst = golden_instance(tmp_path / "home")
    with inst.db.session() as session:
        creator_id = accounts.create_user(inst, session, "ines").id
    reg = registry.register_work(
        inst, creator_id=creator_id, data=TEXT, title="Lines", declare="human-made"
    )
    # A second work, so the first one's proof is not empty and can be tampered with.
    registry.register_work(
        inst, creator_id=creator_id, data=b"another work", title="Other", declare="human-made"
    )
    with inst.db.session() as session:
        cert = registry.find_certificate(session, reg.certificate_id)
        bundle = registry.build_bundle(session, cert).to_json()
    return inst, bundle, reg.certificate_id


def _verify(inst: Instance, content: bytes | None, doc: dict[str, Any]) -> str:
    result = verify_bundle(content, Bundle.from_json(json.loads(json.dumps(doc))), inst.verifier)
    return result.reason


def _flip(b64: str) -> str:
    raw = bytearray(base64.b64decode(b64))
    raw[0] ^= 0x01
    return base64.b64encode(bytes(raw)).decode()


def test_untouched_bundle_is_valid(setup: tuple[Instance, dict[str, Any], str]) -> None:
    inst, doc, _ = setup
    assert _verify(inst, TEXT, doc) == "valid"
    assert _verify(inst, None, doc) == "valid"


def test_one_byte_of_the_work(setup: tuple[Instance, dict[str, Any], str]) -> None:
    inst, doc, _ = setup
    changed = bytearray(TEXT)
    changed[0] ^= 0x20
    assert _verify(inst, bytes(changed), doc) == "content-changed"


def test_resaved_text_matches_the_normalized_digest(
    setup: tuple[Instance, dict[str, Any], str],
) -> None:
    inst, doc, _ = setup
    result = verify_bundle(TEXT.replace(b"\n", b"  \r\n"), Bundle.from_json(doc), inst.verifier)
    assert result.valid and result.matched == "normalized-text"


@pytest.mark.parametrize(
    "field", [("label", "ai-generated"), ("ai_share", 40), ("issued_at", "2020-01-01T00:00:00Z")]
)
def test_one_field_of_the_certificate(
    setup: tuple[Instance, dict[str, Any], str], field: tuple[str, Any]
) -> None:
    inst, doc, _ = setup
    forged = copy.deepcopy(doc)
    forged["certificate"][field[0]] = field[1]
    assert _verify(inst, TEXT, forged) == "bad-signature"


def test_certificate_pointing_at_other_content(setup: tuple[Instance, dict[str, Any], str]) -> None:
    inst, doc, _ = setup
    forged = copy.deepcopy(doc)
    forged["certificate"]["work"]["sha256"] = "0" * 64
    assert _verify(inst, b"forged", forged) == "bad-signature"


def test_one_bit_of_the_signature(setup: tuple[Instance, dict[str, Any], str]) -> None:
    inst, doc, _ = setup
    forged = copy.deepcopy(doc)
    forged["signature"] = _flip(doc["signature"])
    assert _verify(inst, TEXT, forged) == "bad-signature"


def test_one_hash_of_the_proof(setup: tuple[Instance, dict[str, Any], str]) -> None:
    inst, doc, _ = setup
    forged = copy.deepcopy(doc)
    forged["inclusion_proof"]["hashes"][0] = _flip(doc["inclusion_proof"]["hashes"][0])
    assert _verify(inst, TEXT, forged) == "proof-mismatch"


def test_a_proof_for_another_index(setup: tuple[Instance, dict[str, Any], str]) -> None:
    inst, doc, _ = setup
    forged = copy.deepcopy(doc)
    forged["inclusion_proof"]["log_index"] = 1
    assert _verify(inst, TEXT, forged) == "proof-mismatch"


def test_a_checkpoint_from_another_key(setup: tuple[Instance, dict[str, Any], str]) -> None:
    inst, doc, _ = setup
    original = doc["checkpoint"].split("\n\n")[0] + "\n"
    lines = original.splitlines()
    other = sign_checkpoint(
        Checkpoint(lines[0], int(lines[1]), base64.b64decode(lines[2])),
        lines[0],
        private_key_from_seed(b"\x07" * 32),
    )
    forged = copy.deepcopy(doc)
    forged["checkpoint"] = other
    assert _verify(inst, TEXT, forged) == "bad-checkpoint-signature"


def test_a_checkpoint_with_another_root(setup: tuple[Instance, dict[str, Any], str]) -> None:
    inst, doc, _ = setup
    forged = copy.deepcopy(doc)
    # Same key, honest signature, but a root that the proof does not reach: e.g. a checkpoint
    # of a rewritten log. The proof check must catch it.
    lines = doc["checkpoint"].split("\n\n")[0].splitlines()
    forged["checkpoint"] = sign_checkpoint(
        Checkpoint(lines[0], int(lines[1]), b"\x11" * 32), lines[0], inst.signer
    )
    assert _verify(inst, TEXT, forged) == "proof-mismatch"


def test_the_wrong_verifier_key(
    tmp_path: Path, setup: tuple[Instance, dict[str, Any], str]
) -> None:
    _, doc, _ = setup
    stranger = golden_instance(tmp_path / "other", seed=b"\x09" * 32)
    result = verify_bundle(TEXT, Bundle.from_json(doc), stranger.verifier)
    assert result.reason == "bad-signature"


def test_revocation_in_the_bundle(setup: tuple[Instance, dict[str, Any], str]) -> None:
    inst, _, cert_id = setup
    registry.revoke(inst, certificate_id=cert_id, reason="registered by mistake", actor=None)
    with inst.db.session() as session:
        doc = registry.build_bundle(session, registry.find_certificate(session, cert_id)).to_json()
    result = verify_bundle(TEXT, Bundle.from_json(doc), inst.verifier)
    assert result.reason == "revoked"
    assert "registered by mistake" in result.detail


def test_a_forged_revocation_is_ignored(setup: tuple[Instance, dict[str, Any], str]) -> None:
    inst, _, cert_id = setup
    registry.revoke(inst, certificate_id=cert_id, reason="real", actor=None)
    with inst.db.session() as session:
        revoked = registry.build_bundle(
            session, registry.find_certificate(session, cert_id)
        ).to_json()
    forged = copy.deepcopy(revoked)
    forged["revocation"]["signature"] = _flip(revoked["revocation"]["signature"])
    assert _verify(inst, TEXT, forged) == "valid"


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.update(version=2), "version 2"),
        (lambda d: d.update(media_type="x"), "not a Hallmark bundle"),
        (lambda d: d.pop("checkpoint"), "no checkpoint"),
        (lambda d: d.update(signature="***"), "base64"),
        (lambda d: d["certificate"].update(version=9), "Certificate version 9"),
        (lambda d: d["inclusion_proof"].update(tree_size=-1), "impossible"),
    ],
)
def test_malformed_bundles_are_input_errors(
    setup: tuple[Instance, dict[str, Any], str], mutate: Any, message: str
) -> None:
    _, doc, _ = setup
    bad = copy.deepcopy(doc)
    mutate(bad)
    with pytest.raises(InputError, match=message):
        Bundle.from_json(bad)


def test_malformed_json_is_an_input_error() -> None:
    with pytest.raises(InputError, match="not valid JSON"):
        Bundle.parse(b'{"media_type": ')
    with pytest.raises(InputError, match="empty"):
        Bundle.parse(b"  ")
