"""Log use cases: append statements with a fresh signed checkpoint, proofs, and the audit.

Every append happens inside the caller's log-writer transaction and stores a new signed
checkpoint at the new size in the same transaction, so a certificate, its log entry and a
checkpoint covering it are committed together or not at all.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import BigInteger, and_, func, literal, select
from sqlalchemy.orm import Session, aliased

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
    #: The first :data:`LISTED_PROBLEMS` problems, in the order found.
    problems: list[str] = field(default_factory=list)
    #: How many more were found: a log broken everywhere is not listed line by line.
    unlisted: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems and not self.unlisted

    @property
    def count(self) -> int:
        return len(self.problems) + self.unlisted

    def add(self, problem: str) -> None:
        if len(self.problems) < LISTED_PROBLEMS:
            self.problems.append(problem)
        else:
            self.unlisted += 1


#: Problems an audit report lists one by one; past these it only counts them.
LISTED_PROBLEMS = 1_000


#: Log entries the audit reads, checks and compares with the stored tree at a time. Holding
#: one batch's entries, nodes and checkpoints, it needs the same memory for any size of log.
AUDIT_BATCH = 10_000
#: Extra stored nodes named one by one in the report; beyond this, they are counted.
_NAMED_EXTRAS = 20


def audit(inst: Instance, progress: Callable[[int, int], None] | None = None) -> AuditReport:
    """Recompute the whole tree from the stored leaves and check everything stored against it.

    Checks, for every entry: its statement exists and hashes to the stored leaf; every stored
    node equals the recomputed one, and none is missing or left over; every stored checkpoint
    is signed by this instance, has the recomputed root at its size, and is consistent with the
    previous checkpoint. The log is read :data:`AUDIT_BATCH` entries at a time.
    """
    report = AuditReport()
    # One snapshot throughout: registrations may go on while the log is audited.
    with inst.db.snapshot() as session:
        check = _Audit(inst, LogStore(session), report)
        report.size = check.store.size()
        report.checkpoints = session.scalar(select(func.count()).select_from(CheckpointRow)) or 0
        check.checkpoints(0, 0, {0: merkle.EMPTY_ROOT})
        while check.tree.size < report.size and check.batch(check.tree.size + AUDIT_BATCH):
            if progress:
                progress(check.tree.size, report.size)
        check.leftovers()
        if progress:
            progress(report.size, report.size)
    return report


class _Audit:
    """One audit between batches: the recomputed tree's right frontier, the last checkpoint."""

    def __init__(self, inst: Instance, store: LogStore, report: AuditReport) -> None:
        self.inst = inst
        self.store = store
        self.session = store.session
        self.report = report
        self.tree = merkle.CompactRange()
        self.previous: Checkpoint | None = None
        self.missing_nodes = 0

    def batch(self, end: int) -> bool:
        """Check the entries from the tree's size up to ``end``; False when one is missing."""
        start = self.tree.size
        wanted = self._checkpoint_sizes(start + 1, end)
        leaf = aliased(LogNode)
        rows = self.session.execute(
            select(LogEntry.idx, Certificate.body, Revocation.body, leaf.hash)
            .outerjoin(Certificate, Certificate.statement_sha256 == LogEntry.statement_sha256)
            .outerjoin(Revocation, Revocation.statement_sha256 == LogEntry.statement_sha256)
            .outerjoin(leaf, and_(leaf.level == 0, leaf.idx == LogEntry.idx))
            .where(LogEntry.idx >= start, LogEntry.idx < end)
            .order_by(LogEntry.idx)
        ).all()
        expected: dict[merkle.NodeId, bytes] = {}
        roots: dict[int, bytes] = {}
        for idx, certificate, revocation, stored_leaf in rows:
            if idx != self.tree.size:
                self.report.add(f"log entry {self.tree.size} is missing (next stored is {idx})")
                break
            statement = certificate or revocation
            expected.update(self.tree.append(self._leaf(idx, statement, stored_leaf)))
            if self.tree.size in wanted:
                roots[self.tree.size] = self.tree.root()
        self._compare_nodes(expected)
        self.checkpoints(start + 1, self.tree.size, roots)
        return self.tree.size == end

    def _leaf(self, idx: int, statement: str | None, stored: bytes | None) -> bytes:
        """The leaf hash the entry's statement gives (the stored one when it has none, so one
        lost statement is one problem, not a tree of them)."""
        if statement is None:
            self.report.add(f"entry {idx}: no certificate or revocation with this digest")
            return bytes(stored) if stored is not None else bytes(merkle.HASH_SIZE)
        body = loads(statement, what="stored statement")
        if body.get("log", {}).get("index") != idx:
            self.report.add(f"entry {idx}: its statement names another log index")
        return merkle.leaf_hash(leaf_input(body))

    def _compare_nodes(self, expected: dict[merkle.NodeId, bytes]) -> None:
        """Compare the nodes one batch completed with the stored ones, a range per level.

        The nodes a run of leaves completes at one level have consecutive indices, so each
        level is one indexed range query.
        """
        by_level: dict[int, list[int]] = {}
        for level, idx in expected:
            by_level.setdefault(level, []).append(idx)
        for level, indices in sorted(by_level.items()):
            stored = self.session.execute(
                select(LogNode.idx, LogNode.hash).where(
                    LogNode.level == level,
                    LogNode.idx >= min(indices),
                    LogNode.idx <= max(indices),
                )
            )
            for idx, digest in stored:
                if expected.pop((level, int(idx)), None) != bytes(digest):
                    self.report.add(
                        f"stored node {(level, int(idx))} does not match the recomputed tree"
                    )
        self.missing_nodes += len(expected)

    def _checkpoint_sizes(self, low: int, high: int) -> set[int]:
        query = select(CheckpointRow.size).where(CheckpointRow.size.between(low, high))
        return set(self.session.scalars(query))

    def checkpoints(self, low: int, high: int, roots: dict[int, bytes]) -> None:
        """Check the stored checkpoints of sizes ``low`` to ``high`` against ``roots``."""
        rows = self.session.scalars(
            select(CheckpointRow)
            .where(CheckpointRow.size.between(low, high))
            .order_by(CheckpointRow.size)
        )
        for row in rows:
            self._checkpoint(row, roots.get(row.size))

    def _checkpoint(self, row: CheckpointRow, root: bytes | None) -> None:
        try:
            checkpoint = open_checkpoint(row.note, self.inst.verifier)
        except VerificationError as exc:
            self.report.add(f"checkpoint {row.size}: {exc.detail}")
            return
        if checkpoint.size != row.size or checkpoint.root_hash != bytes(row.root_hash):
            self.report.add(f"checkpoint {row.size}: note and stored row disagree")
        if root != checkpoint.root_hash:
            self.report.add(f"checkpoint {row.size}: root does not match the stored leaves")
            return
        previous = self.previous
        if previous is not None:
            try:
                merkle.verify_consistency(
                    previous.size,
                    checkpoint.size,
                    previous.root_hash,
                    checkpoint.root_hash,
                    self.store.consistency_proof(previous.size, checkpoint.size),
                )
            except (ProofError, LedgerError) as exc:
                self.report.add(
                    f"checkpoints {previous.size} -> {row.size} are not consistent: {exc.detail}"
                )
        self.previous = checkpoint

    def leftovers(self) -> None:
        """What is stored beyond the recomputed tree: nodes, and checkpoints of sizes the
        stored entries do not reach (read in batches, like the entries)."""
        if self.missing_nodes:
            self.report.add(f"{self.missing_nodes} tree node(s) are missing from storage")
        size = self.tree.size
        # A tree of `size` leaves has size >> level complete nodes at each level.
        beyond = LogNode.idx >= literal(size, BigInteger).op(">>")(LogNode.level)
        counts = self.session.execute(
            select(LogNode.level, func.count())
            .where(beyond)
            .group_by(LogNode.level)
            .order_by(LogNode.level)
        )
        for level, count in counts.all():
            extra = int(count)
            named = self.session.scalars(
                select(LogNode.idx)
                .where(LogNode.level == level, beyond)
                .order_by(LogNode.idx)
                .limit(_NAMED_EXTRAS)
            )
            for idx in named:
                self.report.add(
                    f"stored node {(int(level), int(idx))} does not match the recomputed tree"
                )
            if extra > _NAMED_EXTRAS:
                self.report.add(
                    f"{extra - _NAMED_EXTRAS} more stored node(s) at level {level} lie outside it"
                )
        low = size + 1
        while True:
            rows = self.session.scalars(
                select(CheckpointRow)
                .where(CheckpointRow.size >= low)
                .order_by(CheckpointRow.size)
                .limit(AUDIT_BATCH)
            ).all()
            for row in rows:
                self._checkpoint(row, None)
            if len(rows) < AUDIT_BATCH:
                break
            low = rows[-1].size + 1


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
