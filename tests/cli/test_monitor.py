"""``hallmark monitor``: following a real instance over HTTP, catching a rewritten log, co-signing.

The instance is served by uvicorn in a thread on a free port, so the monitor speaks real HTTP
to the real API. Tampering edits the instance's database behind its back, as a dishonest
operator would, and re-signs the result with the instance's own key: only the monitor's memory
of earlier checkpoints can tell.
"""

from __future__ import annotations

import base64
import hashlib
import json
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import delete
from typer.testing import CliRunner, Result

from hallmark.cli.main import app
from hallmark.crypto.keys import private_key_from_seed, public_raw, save_private_key
from hallmark.ledger import merkle
from hallmark.ledger.checkpoint import open_checkpoint
from hallmark.ledger.cosignature import CosignerKey
from hallmark.services.accounts import ensure_creator
from hallmark.services.instance import Instance
from hallmark.services.log import publish_checkpoint
from hallmark.services.registry import register_work
from hallmark.services.witness import add_cosignatures
from hallmark.storage.log_store import LogStore
from hallmark.storage.models import CheckpointRow, LogEntry, LogNode
from tests.conftest import make_instance
from tests.web.test_browser import serve_in_thread

WITNESS_NAME = "witness.example.org/w1"
WITNESS_SEED = bytes(range(32))


@dataclass
class Served:
    inst: Instance
    url: str


def _witness_key() -> Ed25519PrivateKey:
    return private_key_from_seed(WITNESS_SEED)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    """An instance that accepts the test witness, served over HTTP on a free local port."""
    vkey = CosignerKey.from_public_key(WITNESS_NAME, _witness_key().public_key()).vkey()
    inst = make_instance(tmp_path / "home", witnesses=[vkey])
    try:
        with serve_in_thread(inst) as url:
            yield Served(inst, url)
    finally:
        inst.close()


def register(inst: Instance, n: int) -> None:
    with inst.db.session() as session:
        creator = ensure_creator(inst, session, "mara").id
    register_work(
        inst,
        creator_id=creator,
        data=f"Poem number {n}\nabout the harbour at dawn.\n".encode(),
        title=f"Poem {n}",
        declare="human-made",
    )


def monitor(folder: Path, url: str, *args: str) -> Result:
    return CliRunner().invoke(app, ["monitor", url, "--dir", str(folder), *args])


def rebuild_log(inst: Instance, leaves: list[bytes]) -> None:
    """Replace the whole log by ``leaves``, re-signed with the instance's key, checkpoint at
    every size: what an operator rewriting history would publish."""
    with inst.db.log_writer() as session:
        session.execute(delete(CheckpointRow))
        session.execute(delete(LogNode))
        session.execute(delete(LogEntry))
        store = LogStore(session)
        for leaf in leaves:
            sha = hashlib.sha256(leaf).hexdigest()
            _, tree = store.append([("certificate", sha, leaf)], inst.clock())
            publish_checkpoint(inst, store, tree.size, tree.root())


def stored_leaves(inst: Instance) -> list[bytes]:
    """The leaf inputs of the current log, recomputed from the stored certificates."""
    from hallmark.core.certificate import leaf_input
    from hallmark.services.log import statement_json
    from hallmark.storage.models import Certificate

    with inst.db.session() as session:
        bodies = session.query(Certificate.body).order_by(Certificate.log_index).all()
        return [leaf_input(statement_json(body)) for (body,) in bodies]


def test_monitor_pins_the_key_then_sees_consistent_growth(served: Served, tmp_path: Path) -> None:
    folder = tmp_path / "monitor"
    register(served.inst, 1)
    first = monitor(folder, served.url, "--once")
    assert first.exit_code == 0, first.output
    assert "First contact: 1 entry" in first.stdout
    assert served.inst.verifier_key in first.stdout  # the key it pinned, shown to compare
    (state_file,) = folder.glob("*.json")
    state = json.loads(state_file.read_text())
    assert state["verifier_key"] == served.inst.verifier_key

    for n in range(2, 5):
        register(served.inst, n)
    grown = monitor(folder, served.url, "--once")
    assert grown.exit_code == 0, grown.output
    assert "Grew from 1 to 4 entries" in grown.stdout
    assert "consistency proof verifies" in grown.stdout

    same = monitor(folder, served.url, "--once")
    assert same.exit_code == 0 and "Unchanged: 4 entries" in same.stdout


def test_a_log_rebuilt_with_a_different_entry_is_caught(served: Served, tmp_path: Path) -> None:
    folder = tmp_path / "monitor"
    for n in range(3):
        register(served.inst, n)
    assert monitor(folder, served.url, "--once").exit_code == 0
    leaves = stored_leaves(served.inst)
    # The operator swaps the first entry for another and keeps growing, re-signing it all.
    rebuild_log(served.inst, [b"a different first entry", *leaves[1:], b"one more entry"])

    result = monitor(folder, served.url, "--once")
    assert result.exit_code == 1
    assert "REWRITTEN or forked" in result.stderr
    assert "size 4 is not an extension of the one of size 3" in result.stderr
    (evidence,) = folder.glob("*.alert-*.txt")
    saved = evidence.read_text()
    # Both checkpoints verify with the instance's key: together they prove the rewrite.
    seen, served_now = saved.split("--- the checkpoint served now ---\n")
    seen = seen.split("--- the checkpoint seen before ---\n")[1].rstrip("\n") + "\n"
    assert open_checkpoint(seen, served.inst.verifier).size == 3
    assert open_checkpoint(served_now, served.inst.verifier).size == 4
    # The state keeps the last good checkpoint, so the alarm does not go quiet next time.
    again = monitor(folder, served.url, "--once")
    assert again.exit_code == 1 and "REWRITTEN" in again.stderr


def test_a_truncated_log_is_caught(served: Served, tmp_path: Path) -> None:
    folder = tmp_path / "monitor"
    for n in range(3):
        register(served.inst, n)
    assert monitor(folder, served.url, "--once").exit_code == 0
    rebuild_log(served.inst, stored_leaves(served.inst)[:2])

    result = monitor(folder, served.url, "--once")
    assert result.exit_code == 1
    assert "was REWRITTEN: its signed checkpoint now has 2 entries, fewer than the 3" in (
        result.stderr
    )


def test_a_different_root_at_the_same_size_is_a_fork(served: Served, tmp_path: Path) -> None:
    folder = tmp_path / "monitor"
    for n in range(2):
        register(served.inst, n)
    assert monitor(folder, served.url, "--once").exit_code == 0
    rebuild_log(served.inst, [b"first", b"second"])
    result = monitor(folder, served.url, "--once")
    assert result.exit_code == 1
    assert "two different root hashes for the same size 2" in result.stderr


def test_polling_stops_with_exit_1_at_the_first_alert(served: Served, tmp_path: Path) -> None:
    folder = tmp_path / "monitor"
    register(served.inst, 1)
    assert monitor(folder, served.url, "--once").exit_code == 0
    rebuild_log(served.inst, [])
    result = monitor(folder, served.url, "--interval", "1")
    assert result.exit_code == 1
    assert "REWRITTEN" in result.stderr


def test_a_checkpoint_signed_by_another_key_is_an_alert(served: Served, tmp_path: Path) -> None:
    folder = tmp_path / "monitor"
    register(served.inst, 1)
    other = private_key_from_seed(b"\x07" * 32)
    from hallmark.ledger.note import verifier_key

    key_file = tmp_path / "other.pub"
    key_file.write_text(verifier_key(served.inst.origin, other.public_key()) + "\n")
    result = monitor(folder, served.url, "--once", "--key", str(key_file))
    assert result.exit_code == 1
    assert "does not verify with the pinned key" in result.stderr


def test_an_unreachable_instance_is_exit_2_not_an_alert(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = monitor(tmp_path / "m", f"http://127.0.0.1:{port}", "--once")
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: Cannot reach") and "Traceback" not in result.output


def _independent_check(note: str, name: str, public: bytes) -> int:
    """Check a witness line the way the C2SP tlog-cosignature text reads, without Hallmark:
    key hash SHA-256(name || 0x0A || 0x04 || key)[:4], then an 8-byte big-endian timestamp,
    then an Ed25519 signature over "cosignature/v1\\ntime <t>\\n" and the checkpoint body."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    body, signatures = note.split("\n\n", 1)
    body += "\n"
    lines = [line for line in signatures.splitlines() if line.startswith(f"\u2014 {name} ")]
    assert len(lines) == 1
    raw = base64.b64decode(lines[0].split(" ")[2], validate=True)
    assert len(raw) == 4 + 8 + 64
    assert raw[:4] == hashlib.sha256(name.encode() + b"\n\x04" + public).digest()[:4]
    timestamp = int.from_bytes(raw[4:12], "big")
    message = b"cosignature/v1\ntime " + str(timestamp).encode() + b"\n" + body.encode()
    Ed25519PublicKey.from_public_bytes(public).verify(raw[12:], message)
    return timestamp


def test_the_witness_cosignature_round_trip(served: Served, tmp_path: Path) -> None:
    folder = tmp_path / "monitor"
    key_file = tmp_path / "witness.pem"
    save_private_key(_witness_key(), key_file)
    for n in range(2):
        register(served.inst, n)
    witness = ("--witness-key", str(key_file), "--witness-name", WITNESS_NAME)

    result = monitor(folder, served.url, "--once", *witness)
    assert result.exit_code == 0, result.output
    assert "Co-signed and posted to the instance." in result.stdout

    from hallmark.services.log import latest_checkpoint

    note = latest_checkpoint(served.inst).note
    # The log's own signature still verifies and comes first; the witness line follows.
    assert open_checkpoint(note, served.inst.verifier).size == 2
    assert note.split("\n\n")[1].startswith(f"\u2014 {served.inst.origin} ")
    public = public_raw(_witness_key().public_key())
    before = time.time()
    timestamp = _independent_check(note, WITNESS_NAME, public)
    assert before - 120 < timestamp <= before + 1

    # Served with the checkpoint, as published over HTTP too.
    import urllib.request

    with urllib.request.urlopen(served.url + "/api/v1/log/checkpoint") as response:
        assert response.read().decode() == note

    # Unchanged and already cosigned: nothing is posted again.
    again = monitor(folder, served.url, "--once", *witness)
    assert again.exit_code == 0 and "already carries this witness's cosignature" in again.stdout
    # After growth, the new checkpoint is cosigned too.
    register(served.inst, 3)
    grown = monitor(folder, served.url, "--once", *witness)
    assert grown.exit_code == 0 and "Co-signed" in grown.stdout
    _independent_check(latest_checkpoint(served.inst).note, WITNESS_NAME, public)


def test_the_instance_refuses_unknown_witnesses_and_forks(served: Served, tmp_path: Path) -> None:
    from hallmark.errors import (
        ConflictError,
        InputError,
        NotFoundError,
        PermissionDeniedError,
        VerificationError,
    )
    from hallmark.ledger.cosignature import cosign
    from hallmark.services.log import latest_checkpoint

    register(served.inst, 1)
    note = latest_checkpoint(served.inst).note
    stranger = private_key_from_seed(b"\x09" * 32)
    with pytest.raises(PermissionDeniedError, match="None of the signatures is by a witness"):
        add_cosignatures(served.inst, cosign(note, "stranger.example/w", stranger, 1))
    good = cosign(note, WITNESS_NAME, _witness_key(), int(time.time()))
    tampered = good[:-10] + ("A" if good[-10] != "A" else "B") + good[-9:]
    with pytest.raises(VerificationError, match="does not verify"):
        add_cosignatures(served.inst, tampered)
    # A checkpoint of the same size with another root: what a witness sees of a fork.
    forked_text = f"{served.inst.origin}\n1\n{base64.b64encode(merkle.leaf_hash(b'x')).decode()}\n"
    from hallmark.ledger.note import sign_note

    forked = sign_note(forked_text, served.inst.origin, served.inst.signer)
    with pytest.raises(ConflictError, match="not the checkpoint this instance published"):
        add_cosignatures(served.inst, cosign(forked, WITNESS_NAME, _witness_key(), 1))
    with pytest.raises(InputError, match="malformed"):
        add_cosignatures(served.inst, "not a checkpoint\n")
    with pytest.raises(NotFoundError, match="no checkpoint at size 7"):
        add_cosignatures(
            served.inst,
            cosign(
                sign_note(
                    forked_text.replace("\n1\n", "\n7\n"), served.inst.origin, served.inst.signer
                ),
                WITNESS_NAME,
                _witness_key(),
                1,
            ),
        )
    # Over HTTP the same refusals are problem documents.
    import urllib.error
    import urllib.request

    request = urllib.request.Request(
        served.url + "/api/v1/log/cosignatures",
        data=cosign(note, "stranger.example/w", stranger, 1).encode(),
        headers={"Content-Type": "text/plain"},
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request)
    assert refused.value.code == 403
    assert refused.value.headers["Content-Type"].startswith("application/problem+json")


def test_keys_witness_makes_a_key_the_instance_accepts(tmp_path: Path) -> None:
    out = tmp_path / "w.pem"
    result = CliRunner().invoke(app, ["keys", "witness", WITNESS_NAME, "--out", str(out)])
    assert result.exit_code == 0, result.output
    vkey = result.stdout.strip()
    assert vkey.startswith(WITNESS_NAME + "+")
    assert out.stat().st_mode & 0o777 == 0o600
    from hallmark.settings import Settings

    assert Settings.load(tmp_path / "none", witnesses=[vkey]).witnesses == [vkey]
    again = CliRunner().invoke(app, ["keys", "witness", WITNESS_NAME, "--out", str(out)])
    assert again.exit_code == 2 and "never overwritten" in again.stderr
