"""Log use cases: append statements with a fresh signed checkpoint, proofs, and the audit.

Every append happens inside the caller's log-writer transaction and stores a new signed
checkpoint at the new size in the same transaction, so a certificate, its log entry and a
checkpoint covering it are committed together or not at all.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hallmark.core.canonical import loads
from hallmark.core.certificate import b64, leaf_input
from hallmark.errors import LedgerError, ProofError, VerificationError
from hallmark.ledger import merkle
from hallmark.ledger.checkpoint import Checkpoint, open_checkpoint, sign_checkpoint
from hallmark.services.instance import Instance
from hallmark.storage.log_store import LogStore
from hallmark.storage.models import Certificate, CheckpointRow, LogEntry, LogNode, Revocation

logger = logging.getLogger(__name__)


def append_statement(inst: Instance, session: Session, kind: str, sha: str, data: bytes) -> int:
    """Append one statement's leaf and checkpoint the new tree; return its log index."""
    store = LogStore(session)
    now = inst.clock()
    index, tree = store.append([(kind, sha, data)], now)
    publish_checkpoint(inst, store, tree.size, tree.root())
    return index


def next_index(session: Session) -> int:
    return LogStore(session).size()


def publish_checkpoint(inst: Instance, store: LogStore, size: int, root: bytes) -> str:
    note = sign_checkpoint(Checkpoint(inst.origin, size, root), inst.origin, inst.signer)
    store.store_checkpoint(size, root, note, inst.clock())
    return note


def latest_checkpoint(inst: Instance) -> CheckpointRow:
    """The newest signed checkpoint, publishing one for an empty log if there is none."""
    with inst.db.session() as session:
        row = LogStore(session).latest_checkpoint()
        if row is not None:
            return row
    with inst.db.log_writer() as session:
        store = LogStore(session)
        row = store.latest_checkpoint()
        if row is None:
            publish_checkpoint(inst, store, 0, merkle.EMPTY_ROOT)
            row = store.latest_checkpoint()
        assert row is not None
        return row


@dataclass
class AuditReport:
    size: int = 0
    checkpoints: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _statements(session: Session) -> dict[str, tuple[str, str]]:
    """Map statement digest -> (type, canonical body) for every certificate and revocation."""
    found: dict[str, tuple[str, str]] = {}
    for sha, body in session.execute(select(Certificate.statement_sha256, Certificate.body)):
        found[sha] = ("certificate", body)
    for sha, body in session.execute(select(Revocation.statement_sha256, Revocation.body)):
        found[sha] = ("revocation", body)
    return found


def audit(inst: Instance, progress: Callable[[int, int], None] | None = None) -> AuditReport:
    """Recompute the whole tree from the stored leaves and check everything stored against it.

    Checks, for every entry: its statement exists and hashes to the stored leaf; every stored
    node equals the recomputed one; every stored checkpoint is signed by this instance, has the
    recomputed root at its size, and is consistent with the previous checkpoint.
    """
    report = AuditReport()
    with inst.db.session() as session:
        store = LogStore(session)
        size = store.size()
        report.size = size
        statements = _statements(session)
        checkpoints = {
            row.size: row
            for row in session.scalars(select(CheckpointRow).order_by(CheckpointRow.size))
        }
        report.checkpoints = len(checkpoints)
        stored_nodes = _iter_nodes(session)
        expected_nodes: dict[tuple[int, int], bytes] = {}
        tree = merkle.CompactRange(0, [])
        roots: dict[int, bytes] = {0: merkle.EMPTY_ROOT}
        entries = session.execute(
            select(LogEntry.idx, LogEntry.statement_sha256).order_by(LogEntry.idx)
        )
        for position, (idx, sha) in enumerate(entries):
            if idx != position:
                report.problems.append(f"log entry {position} is missing (next stored is {idx})")
                break
            statement = statements.get(sha)
            if statement is None:
                report.problems.append(
                    f"entry {idx}: no certificate or revocation with this digest"
                )
                continue
            body = loads(statement[1], what="stored statement")
            if body.get("log", {}).get("index") != idx:
                report.problems.append(f"entry {idx}: its statement names another log index")
            for node, digest in tree.append(merkle.leaf_hash(leaf_input(body))):
                expected_nodes[node] = digest
            if tree.size in checkpoints:
                roots[tree.size] = tree.root()
            if progress and (idx + 1) % 1000 == 0:
                progress(idx + 1, size)
        for node, digest in stored_nodes:
            want = expected_nodes.pop(node, None)
            if want != digest:
                report.problems.append(f"stored node {node} does not match the recomputed tree")
        if expected_nodes:
            report.problems.append(f"{len(expected_nodes)} tree node(s) are missing from storage")
        previous: Checkpoint | None = None
        for cp_size, row in checkpoints.items():
            try:
                checkpoint = open_checkpoint(row.note, inst.verifier)
            except VerificationError as exc:
                report.problems.append(f"checkpoint {cp_size}: {exc.detail}")
                continue
            if checkpoint.size != cp_size or checkpoint.root_hash != bytes(row.root_hash):
                report.problems.append(f"checkpoint {cp_size}: note and stored row disagree")
            if roots.get(cp_size) != checkpoint.root_hash:
                report.problems.append(
                    f"checkpoint {cp_size}: root does not match the stored leaves"
                )
                continue
            if previous is not None and cp_size <= size:
                try:
                    merkle.verify_consistency(
                        previous.size,
                        checkpoint.size,
                        previous.root_hash,
                        checkpoint.root_hash,
                        store.consistency_proof(previous.size, checkpoint.size),
                    )
                except (ProofError, LedgerError) as exc:
                    report.problems.append(
                        f"checkpoints {previous.size} -> {cp_size} are not consistent: {exc.detail}"
                    )
            previous = checkpoint
        if progress:
            progress(size, size)
    return report


def _iter_nodes(session: Session) -> Iterator[tuple[tuple[int, int], bytes]]:
    rows = session.execute(select(LogNode.level, LogNode.idx, LogNode.hash))
    return (((int(level), int(idx)), bytes(digest)) for level, idx, digest in rows.all())


def statement_json(body: str) -> dict[str, Any]:
    value = loads(body, what="stored statement")
    assert isinstance(value, dict)
    return value


# Proof documents: one shape for the CLI's --json and the API ----------------------------------


def _signed_root(inst: Instance, store: LogStore, size: int) -> tuple[bytes, str | None]:
    """The root at ``size`` from storage, checked against the signed checkpoint of that size.

    Returns the root and the checkpoint note (None when no checkpoint was published at that
    size, as for sizes passed over by a batch).
    """
    root = store.root(size)
    row = store.checkpoint_at(size)
    if row is None:
        return root, None
    if open_checkpoint(row.note, inst.verifier).root_hash != root:
        raise ProofError(
            f"The stored tree at size {size} does not match the signed checkpoint of that size.",
            hint="Run 'hallmark log audit' to find what was changed.",
        )
    return root, row.note


def _entry_leaf_hash(session: Session, index: int) -> bytes:
    """The leaf hash of entry ``index``, recomputed from its stored statement."""
    entry = session.get(LogEntry, index)
    if entry is None:
        raise LedgerError(f"The log has no entry {index}.")
    table: Any = Revocation if entry.kind == "revocation" else Certificate
    body = session.scalar(
        select(table.body).where(table.statement_sha256 == entry.statement_sha256)
    )
    if body is None:
        raise ProofError(f"Log entry {index} names a statement that is not stored.")
    return merkle.leaf_hash(leaf_input(statement_json(body)))


def _latest_size(store: LogStore) -> int:
    row = store.latest_checkpoint()
    if row is None or row.size == 0:
        raise LedgerError("The log is empty: there is nothing to prove yet.")
    return int(row.size)


def inclusion_document(inst: Instance, index: int, size: int | None = None) -> dict[str, Any]:
    """An inclusion proof for entry ``index`` at ``size`` (default: latest), verified first.

    Never hands out a proof that does not verify against the signed checkpoint of that size.
    """
    with inst.db.session() as session:
        store = LogStore(session)
        tree_size = size if size is not None else _latest_size(store)
        hashes = store.inclusion_proof(index, tree_size)
        root, note = _signed_root(inst, store, tree_size)
        leaf = _entry_leaf_hash(session, index)
    merkle.verify_inclusion(leaf, index, tree_size, hashes, root)
    return {
        "log_index": index,
        "tree_size": tree_size,
        "leaf_hash": b64(leaf),
        "hashes": [b64(h) for h in hashes],
        "root_hash": b64(root),
        "checkpoint": note,
    }


def consistency_document(inst: Instance, old: int, new: int | None = None) -> dict[str, Any]:
    """A consistency proof from size ``old`` to ``new`` (default: latest), verified first."""
    with inst.db.session() as session:
        store = LogStore(session)
        new_size = new if new is not None else _latest_size(store)
        hashes = store.consistency_proof(old, new_size)
        old_root, old_note = _signed_root(inst, store, old)
        new_root, new_note = _signed_root(inst, store, new_size)
    merkle.verify_consistency(old, new_size, old_root, new_root, hashes)
    return {
        "old_size": old,
        "new_size": new_size,
        "old_root": b64(old_root),
        "new_root": b64(new_root),
        "hashes": [b64(h) for h in hashes],
        "old_checkpoint": old_note,
        "new_checkpoint": new_note,
    }
