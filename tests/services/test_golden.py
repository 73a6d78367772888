"""Golden vectors: a certificate, its bundle and the checkpoint are byte-exact.

With the key, clock and ids passed in, registering the same work must give the same bytes
forever; a change to the wire format shows up here first. Set HALLMARK_REGEN_GOLDEN=1 to
rewrite the files after a deliberate format change (and say so in the commit).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from hallmark.core.bundle import Bundle
from hallmark.core.canonical import canonical_bytes
from hallmark.core.verify import verify_bundle
from hallmark.services import accounts, registry
from tests.services.helpers import golden_instance

GOLDEN = Path(__file__).parent / "golden"
POEM = b"Salt on the window,\r\nthe harbour still asleep;\r\ngulls rehearse the day.\r\n"


def _check(name: str, actual: bytes) -> None:
    path = GOLDEN / name
    if os.environ.get("HALLMARK_REGEN_GOLDEN") == "1":
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(actual)
    assert path.exists(), f"golden file {name} is missing; run with HALLMARK_REGEN_GOLDEN=1"
    assert actual == path.read_bytes(), f"{name} changed"


@pytest.fixture
def registered(tmp_path: Path) -> tuple[object, registry.Registration]:
    inst = golden_instance(tmp_path / "home")
    with inst.db.session() as session:
        creator = accounts.create_user(inst, session, "mara")
    reg = registry.register_work(
        inst, creator_id=creator.id, data=POEM, title="Harbour, early", declare="human-made"
    )
    return inst, reg


def test_certificate_is_byte_exact(registered: tuple[object, registry.Registration]) -> None:
    _, reg = registered
    _check("certificate_text_v1.json", canonical_bytes(reg.bundle["certificate"]))


def test_bundle_is_byte_exact(registered: tuple[object, registry.Registration]) -> None:
    _, reg = registered
    _check("bundle_text_v1.hallmark.json", canonical_bytes(reg.bundle))


def test_checkpoint_is_byte_exact(registered: tuple[object, registry.Registration]) -> None:
    _, reg = registered
    _check("checkpoint_size1.txt", reg.bundle["checkpoint"].encode())


def test_golden_bundle_verifies_offline(registered: tuple[object, registry.Registration]) -> None:
    inst, _ = registered
    bundle = Bundle.parse((GOLDEN / "bundle_text_v1.hallmark.json").read_bytes())
    result = verify_bundle(POEM, bundle, inst.verifier)  # type: ignore[attr-defined]
    assert result.valid, result.detail
    assert result.matched == "sha256"
    body = json.loads((GOLDEN / "certificate_text_v1.json").read_bytes())
    assert body["label"] == "human-made"
    assert body["digital_source_type"].endswith("/digitalCreation")
    assert body["level"] == "declared"
    assert body["log"] == {"index": 0}
