"""The transparency log's storage: leaves, perfect-subtree nodes and checkpoints in the database.

Appends keep the tree's right frontier (a compact range, at most log2(n) nodes) and write every
node they complete, so the database always holds each perfect aligned subtree hash once. A
proof then needs only a handful of those nodes, read in one query (docs/ledger.md). Callers
must hold the log write lock (:meth:`hallmark.storage.database.Database.log_writer`) to append.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import and_, func, insert, or_, select
from sqlalchemy.orm import Session

from hallmark.errors import LedgerError
from hallmark.ledger import merkle
from hallmark.storage.models import CheckpointRow, LogEntry, LogNode

# Bound the size of one "IN (...)" list, which some drivers and SQLite limit.
_FETCH_CHUNK = 400


class LogStore:
    def __init__(self, session: Session) -> None:
        self.session = session

    def size(self) -> int:
        value = self.session.scalar(select(func.max(LogEntry.idx)))
        return 0 if value is None else int(value) + 1

    def nodes(self, ids: Iterable[merkle.NodeId]) -> dict[merkle.NodeId, bytes]:
        """Fetch stored nodes in one round trip per chunk; raise if any is missing."""
        wanted = sorted(set(ids))
        found: dict[merkle.NodeId, bytes] = {}
        for start in range(0, len(wanted), _FETCH_CHUNK):
            chunk = wanted[start : start + _FETCH_CHUNK]
            by_level: dict[int, list[int]] = {}
            for level, idx in chunk:
                by_level.setdefault(level, []).append(idx)
            # One "level = L AND idx IN (...)" term per level rather than a row-value IN:
            # both SQLite and PostgreSQL then use the primary-key index for every term.
            condition = or_(
                *(
                    and_(LogNode.level == level, LogNode.idx.in_(idxs))
                    for level, idxs in by_level.items()
                )
            )
            rows = self.session.execute(
                select(LogNode.level, LogNode.idx, LogNode.hash).where(condition)
            )
            for level, idx, digest in rows:
                found[(int(level), int(idx))] = bytes(digest)
        missing = [node for node in wanted if node not in found]
        if missing:
            raise LedgerError(
                f"The log is missing {len(missing)} stored node(s), e.g. {missing[0]}."
            )
        return found

    def frontier(self, size: int | None = None) -> merkle.CompactRange:
        size = self.size() if size is None else size
        ids = merkle.CompactRange.frontier_ids(size)
        stored = self.nodes(ids)
        return merkle.CompactRange(size, [stored[node] for node in ids])

    def append(
        self, entries: Sequence[tuple[str, str, bytes]], now: datetime
    ) -> tuple[int, merkle.CompactRange]:
        """Append ``(kind, statement_sha256, leaf_input)`` entries; return the first index.

        The caller holds the log lock, so nobody else appends between reading the frontier and
        writing the new nodes.
        """
        tree = self.frontier()
        first = tree.size
        new_nodes: list[dict[str, object]] = []
        rows: list[dict[str, object]] = []
        for offset, (kind, statement_sha256, data) in enumerate(entries):
            rows.append(
                {
                    "idx": first + offset,
                    "kind": kind,
                    "statement_sha256": statement_sha256,
                    "created_at": now,
                }
            )
            for (level, idx), digest in tree.append(merkle.leaf_hash(data)):
                new_nodes.append({"level": level, "idx": idx, "hash": digest})
        if rows:
            self.session.execute(insert(LogEntry), rows)
            self.session.execute(insert(LogNode), new_nodes)
        return first, tree

    def root(self, size: int) -> bytes:
        self._check_size(size)
        return merkle.root(size, self.nodes(merkle.root_nodes(size)))

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        self._check_size(size)
        if not 0 <= index < size:
            raise LedgerError(f"Index {index} is not in a tree of size {size}.")
        return merkle.inclusion_proof(index, size, self.nodes(merkle.inclusion_nodes(index, size)))

    def consistency_proof(self, old: int, new: int) -> list[bytes]:
        self._check_size(new)
        if not 0 <= old <= new:
            raise LedgerError(f"No consistency proof from size {old} to size {new}.")
        return merkle.consistency_proof(old, new, self.nodes(merkle.consistency_nodes(old, new)))

    def _check_size(self, size: int) -> None:
        current = self.size()
        if not 0 <= size <= current:
            raise LedgerError(f"The log has {current} entries; size {size} is out of range.")

    # Checkpoints -----------------------------------------------------------------------

    def latest_checkpoint(self) -> CheckpointRow | None:
        return self.session.scalar(
            select(CheckpointRow).order_by(CheckpointRow.size.desc()).limit(1)
        )

    def checkpoint_at(self, size: int) -> CheckpointRow | None:
        return self.session.get(CheckpointRow, size)

    def store_checkpoint(self, size: int, root_hash: bytes, note: str, now: datetime) -> None:
        if self.session.get(CheckpointRow, size) is None:
            self.session.add(
                CheckpointRow(size=size, root_hash=root_hash, note=note, created_at=now)
            )
