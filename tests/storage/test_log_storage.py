"""The storage suite: the same tests on SQLite and PostgreSQL (fixture ``any_instance``).

Covers the log's persistence (nodes, proofs, checkpoints, audit), concurrent appends from
threads and from separate processes, and the rule that a certificate exists if and only if its
log entry does, even when the process is killed mid-registration.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from hallmark.ledger import merkle
from hallmark.ledger.checkpoint import open_checkpoint
from hallmark.services import log as log_service
from hallmark.services import registry
from hallmark.services.instance import Instance
from hallmark.storage.blobs import LocalBlobStore
from hallmark.storage.log_store import LogStore
from hallmark.storage.models import Certificate, CheckpointRow, LogEntry, Work
from tests.conftest import add_user


def _register(
    inst: Instance, creator_id: str, n: int, tag: str = ""
) -> list[registry.Registration]:
    return [
        registry.register_work(
            inst,
            creator_id=creator_id,
            data=f"work {tag}{i}: a short original text".encode(),
            title=f"Work {tag}{i}",
            declare="human-made",
        )
        for i in range(n)
    ]


def test_proofs_from_storage_verify(any_instance: Instance) -> None:
    inst = any_instance
    creator = add_user(inst, "ana")
    regs = _register(inst, creator, 13)
    assert [r.log_index for r in regs] == list(range(13))
    with inst.db.session() as session:
        store = LogStore(session)
        assert store.size() == 13
        memory = merkle.MemoryTree()
        for digest in session.scalars(select(LogEntry.statement_sha256).order_by(LogEntry.idx)):
            body = session.scalar(
                select(Certificate.body).where(Certificate.statement_sha256 == digest)
            )
            assert body is not None
            from hallmark.core.certificate import leaf_input

            memory.append(leaf_input(log_service.statement_json(body)))
        for size in range(1, 14):
            root = store.root(size)
            assert root == memory.root(size)
            for index in range(size):
                proof = store.inclusion_proof(index, size)
                assert proof == memory.inclusion_proof(index, size)
            for old in range(0, size + 1):
                proof = store.consistency_proof(old, size)
                merkle.verify_consistency(old, size, store.root(old), root, proof)


def test_every_append_publishes_a_signed_checkpoint(any_instance: Instance) -> None:
    inst = any_instance
    creator = add_user(inst, "ben")
    _register(inst, creator, 3)
    with inst.db.session() as session:
        rows = list(session.scalars(select(CheckpointRow).order_by(CheckpointRow.size)))
        assert [row.size for row in rows] == [1, 2, 3]
        for row in rows:
            checkpoint = open_checkpoint(row.note, inst.verifier)
            assert checkpoint.root_hash == LogStore(session).root(row.size)
    assert log_service.audit(inst).ok


def test_audit_finds_a_rewritten_node(any_instance: Instance) -> None:
    inst = any_instance
    creator = add_user(inst, "cyd")
    _register(inst, creator, 4)
    with inst.db.session() as session:
        session.execute(
            text("UPDATE log_nodes SET hash = :h WHERE level = 1 AND idx = 0"), {"h": b"\0" * 32}
        )
    report = log_service.audit(inst)
    assert not report.ok
    assert any("node (1, 0)" in problem for problem in report.problems)


def test_audit_finds_a_rewritten_certificate(any_instance: Instance) -> None:
    inst = any_instance
    creator = add_user(inst, "dee")
    regs = _register(inst, creator, 2)
    with inst.db.session() as session:
        cert = session.get(Certificate, regs[0].certificate_id)
        assert cert is not None
        cert.body = cert.body.replace("human-made", "ai-assisted")
    report = log_service.audit(inst)
    assert not report.ok


@pytest.fixture
def logged(any_instance: Instance, monkeypatch: pytest.MonkeyPatch) -> Instance:
    """Ten registrations and a revocation, audited three entries at a time so that every
    check crosses batch boundaries."""
    inst = any_instance
    regs = _register(inst, add_user(inst, "aud"), 10)
    registry.revoke(inst, certificate_id=regs[2].certificate_id, reason="duplicate", actor=None)
    monkeypatch.setattr(log_service, "AUDIT_BATCH", 3)
    return inst


@pytest.mark.parametrize("batch", [1, 2, 4, 10, 11, 12, 10_000])
def test_a_sound_log_passes_whatever_the_batch(
    logged: Instance, monkeypatch: pytest.MonkeyPatch, batch: int
) -> None:
    monkeypatch.setattr(log_service, "AUDIT_BATCH", batch)
    report = log_service.audit(logged)
    assert report.ok, report.problems
    assert (report.size, report.checkpoints) == (11, 11)


def _tamper(inst: Instance, sql: str, **values: object) -> list[str]:
    with inst.db.session() as session:
        session.execute(text(sql), values)
    report = log_service.audit(inst)
    assert report.size == 11 and report.checkpoints == 11
    return report.problems


def test_audit_in_batches_reports_progress_and_passes(logged: Instance) -> None:
    seen: list[tuple[int, int]] = []
    report = log_service.audit(logged, progress=lambda done, total: seen.append((done, total)))
    assert report.ok, report.problems
    assert (report.size, report.checkpoints) == (11, 11)
    assert seen == [(3, 11), (6, 11), (9, 11), (11, 11)]


def test_audit_checks_the_log_as_it_was_when_it_began(logged: Instance) -> None:
    """Registrations go on during an audit; it reads one snapshot, so it neither trips over
    them nor half-counts them."""
    creator = add_user(logged, "late")
    added: list[int] = []

    def register_meanwhile(done: int, total: int) -> None:
        if done < total:
            added.append(_register(logged, creator, 1, tag=f"late{done}-")[0].log_index)

    report = log_service.audit(logged, progress=register_meanwhile)
    assert added == [11, 12, 13]
    assert report.ok, report.problems
    assert (report.size, report.checkpoints) == (11, 11)
    assert log_service.audit(logged).size == 14


def test_audit_finds_a_missing_entry(logged: Instance) -> None:
    problems = _tamper(logged, "DELETE FROM log_entries WHERE idx = 4")
    assert problems[0] == "log entry 4 is missing (next stored is 5)"
    assert "stored node (0, 4) does not match the recomputed tree" in problems
    # The entries and checkpoints after the gap cannot be recomputed, and each says so.
    assert "checkpoint 5: root does not match the stored leaves" in problems
    assert "checkpoint 11: root does not match the stored leaves" in problems


def test_audit_finds_a_missing_a_rewritten_and_an_extra_node(logged: Instance) -> None:
    problems = _tamper(logged, "DELETE FROM log_nodes WHERE level = 1 AND idx = 2")
    assert problems[-1] == "1 tree node(s) are missing from storage"
    # The proofs that would need it fail too.
    assert "checkpoints 6 -> 7 are not consistent" in problems[0]
    problems = _tamper(
        logged, "UPDATE log_nodes SET hash = :h WHERE level = 0 AND idx = 7", h=b"\1" * 32
    )
    assert "stored node (0, 7) does not match the recomputed tree" in problems
    problems = _tamper(
        logged, "INSERT INTO log_nodes (level, idx, hash) VALUES (2, 9, :h)", h=b"\2" * 32
    )
    # Named, though a node is missing at another level.
    assert "stored node (2, 9) does not match the recomputed tree" in problems
    problems = _tamper(logged, "DELETE FROM log_nodes WHERE level = 2 AND idx = 0")
    # A missing node at the same level does not hide the extra one.
    assert "stored node (2, 9) does not match the recomputed tree" in problems
    assert "2 tree node(s) are missing from storage" in problems


def test_audit_lists_the_first_problems_and_counts_the_rest(
    logged: Instance, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(log_service, "LISTED_PROBLEMS", 2)
    with logged.db.session() as session:
        session.execute(text("UPDATE log_nodes SET hash = :h WHERE level = 0"), {"h": b"\4" * 32})
    report = log_service.audit(logged)
    assert not report.ok and len(report.problems) == 2 and report.unlisted > 0
    assert report.problems[0] == "stored node (0, 0) does not match the recomputed tree"
    assert report.count == 2 + report.unlisted


def test_audit_finds_a_lost_statement_once(logged: Instance) -> None:
    problems = _tamper(
        logged,
        "UPDATE certificates SET statement_sha256 = :s WHERE log_index = 6",
        s="0" * 64,
    )
    # The stored leaf stands in for it, so the rest of the tree still checks out.
    assert problems == ["entry 6: no certificate or revocation with this digest"]


def test_audit_finds_a_checkpoint_with_another_root(logged: Instance) -> None:
    problems = _tamper(logged, "UPDATE checkpoints SET root_hash = :h WHERE size = 7", h=b"\3" * 32)
    assert problems == ["checkpoint 7: note and stored row disagree"]


def test_revocation_is_logged_and_shown(any_instance: Instance) -> None:
    inst = any_instance
    creator = add_user(inst, "eve")
    (reg,) = _register(inst, creator, 1)
    registry.revoke(inst, certificate_id=reg.certificate_id, reason="duplicate", actor=None)
    with inst.db.session() as session:
        assert LogStore(session).size() == 2
        cert = registry.find_certificate(session, reg.certificate_id)
        bundle = registry.build_bundle(session, cert)
        assert bundle.revocation is not None
        assert bundle.revocation.statement["certificate_id"] == reg.certificate_id
    assert log_service.audit(inst).ok


def test_concurrent_registrations_get_distinct_contiguous_indices(any_instance: Instance) -> None:
    inst = any_instance
    creators = [add_user(inst, f"writer{i}") for i in range(4)]
    errors: list[BaseException] = []

    def worker(i: int) -> None:
        try:
            _register(inst, creators[i], 5, tag=f"t{i}-")
        except BaseException as exc:  # surfaced below; a thread cannot fail the test itself
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    with inst.db.session() as session:
        indices = sorted(session.scalars(select(Certificate.log_index)))
    assert indices == list(range(20))
    assert log_service.audit(inst).ok


_CHILD = textwrap.dedent(
    """
    import os, signal, sys
    from hallmark.settings import Settings
    from hallmark.services.instance import open_instance
    from hallmark.services import registry
    from hallmark.services import log as log_service
    import hallmark.storage.log_store as log_store

    mode, home, creator, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    inst = open_instance(Settings.load(home))
    if mode == "after-append":
        # Die after the certificate row and the log nodes are written, before the commit.
        original = log_service.publish_checkpoint
        def dying(*args, **kwargs):
            original(*args, **kwargs)
            os.kill(os.getpid(), signal.SIGKILL)
        log_service.publish_checkpoint = dying
    for i in range(count):
        registry.register_work(
            inst, creator_id=creator, data=f"{mode} {os.getpid()} {i}".encode(),
            title=f"Crash {i}", declare="human-made",
        )
        print(i, flush=True)
    """
)


def _child(inst: Instance, mode: str, creator: str, count: int) -> subprocess.Popen[str]:
    env = dict(os.environ)
    if inst.settings.database_url:
        env["HALLMARK_DATABASE_URL"] = inst.settings.database_url
    return subprocess.Popen(
        [sys.executable, "-c", _CHILD, mode, str(inst.settings.home), creator, str(count)],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )


def _assert_certificates_match_log(inst: Instance) -> int:
    with inst.db.session() as session:
        certs = session.scalar(select(func.count()).select_from(Certificate)) or 0
        works = session.scalar(select(func.count()).select_from(Work)) or 0
        entries = session.scalar(select(func.count()).select_from(LogEntry)) or 0
        logged = set(session.scalars(select(LogEntry.statement_sha256)))
        signed = set(session.scalars(select(Certificate.statement_sha256)))
    assert certs == works == entries
    assert logged == signed
    report = log_service.audit(inst)
    assert report.ok, report.problems
    return certs


def test_killed_after_append_before_commit_leaves_nothing(any_instance: Instance) -> None:
    inst = any_instance
    creator = add_user(inst, "kit")
    _register(inst, creator, 2)
    child = _child(inst, "after-append", creator, 1)
    child.wait(timeout=120)
    assert child.returncode == -signal.SIGKILL
    assert _assert_certificates_match_log(inst) == 2
    # The log is still writable, and the next entry takes the next index.
    (reg,) = _register(inst, creator, 1, tag="after-")
    assert reg.log_index == 2


def test_killed_at_random_moments_never_splits_certificate_and_log(any_instance: Instance) -> None:
    inst = any_instance
    creator = add_user(inst, "lee")
    for round_ in range(3):
        child = _child(inst, f"random{round_}", creator, 1000)
        assert child.stdout is not None
        # Let it register a few works, then kill it wherever it happens to be.
        for _ in range(3 + round_):
            child.stdout.readline()
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=60)
    assert _assert_certificates_match_log(inst) >= 3 + 4 + 5


def test_concurrent_processes_serialize_appends(any_instance: Instance) -> None:
    inst = any_instance
    creator = add_user(inst, "max")
    children = [_child(inst, f"proc{i}", creator, 8) for i in range(3)]
    for child in children:
        child.wait(timeout=300)
        assert child.returncode == 0
    assert _assert_certificates_match_log(inst) == 24


def test_blob_store_refuses_path_tricks(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    key = store.put(b"hello")
    assert store.get(key) == b"hello"
    from hallmark.errors import InputError

    for bad in ("../../etc/passwd", key[:-1] + "/", "A" * 64):
        with pytest.raises(InputError):
            store.get(bad)
