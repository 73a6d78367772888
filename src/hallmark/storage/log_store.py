"""The transparency log's storage: leaves, perfect-subtree nodes and checkpoints in the database.

Appends keep the tree's right frontier (a compact range, at most log2(n) nodes) and write every
node they complete, so the database always holds each perfect aligned subtree hash once. A
proof then needs only a handful of those nodes, read in one query (docs/ledger.md). Callers
must hold the log write lock (:meth:`hallmark.storage.database.Database.log_writer`) to append.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import func, insert, select, text
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
            by_level: dict[int, list[str]] = {}
            for level, idx in wanted[start : start + _FETCH_CHUNK]:
                by_level.setdefault(int(level), []).append(str(int(idx)))
            # One "level = L AND idx IN (...)" term per level, so SQLite and PostgreSQL both
            # use the primary key for every term. The values are integers computed here, never
            # user text, so they are written inline: building the equivalent SQLAlchemy
            # expression tree cost more than the query itself (docs/ledger.md, benchmarks).
            where = " OR ".join(
                f"(level = {level} AND idx IN ({', '.join(idxs)}))"
                for level, idxs in by_level.items()
            )
            rows = self.session.execute(
                text(f"SELECT level, idx, hash FROM log_nodes WHERE {where}")
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
        return merkle.root(size, self._nodes_within(size, merkle.root_nodes(size)))

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        if not 0 <= index < size:
            raise LedgerError(f"Index {index} is not in a tree of size {size}.")
        needed = merkle.inclusion_nodes(index, size)
        return merkle.inclusion_proof(index, size, self._nodes_within(size, needed))

    def consistency_proof(self, old: int, new: int) -> list[bytes]:
        if not 0 <= old <= new:
            raise LedgerError(f"No consistency proof from size {old} to size {new}.")
        needed = merkle.consistency_nodes(old, new)
        return merkle.consistency_proof(old, new, self._nodes_within(size=new, ids=needed))

    def _nodes_within(self, size: int, ids: Iterable[merkle.NodeId]) -> dict[merkle.NodeId, bytes]:
        """Nodes for a proof at ``size``. A size beyond the log shows up as missing nodes; only
        then is the size read, so the common case costs a single query."""
        if size < 0:
            raise LedgerError(f"Size {size} is out of range.")
        try:
            return self.nodes(ids)
        except LedgerError:
            current = self.size()
            if size > current:
                raise LedgerError(
                    f"The log has {current} entries; size {size} is out of range."
                ) from None
            raise

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
