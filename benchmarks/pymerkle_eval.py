"""Does pymerkle meet the log's aims? Measure it beside Hallmark's own Merkle code.

The issue asked to try ``pymerkle`` (RFC 9162 hashing and proofs) before writing tree code, and
to use it if it meets the speed aims: 1,000,000 appends in under 5 minutes, and inclusion and
consistency proofs in under 2 ms at that size. The log must also live in the project's own
database (SQLite or PostgreSQL, through SQLAlchemy), appended in the same transaction as the
certificate row. Run by hand, never in CI; the results are written up in docs/ledger.md.

    .venv/bin/python benchmarks/pymerkle_eval.py [--leaves 1000000] [--budget 120]

Each append phase stops at ``--budget`` seconds; a phase that stops early reports how far it
got and the rate it held. What is measured, at the full size:

- appends per second: pymerkle's ``InmemoryTree`` and ``SqliteTree`` (one transaction per
  append, as a registry does, and its bulk ``append_entries``); Hallmark's ``CompactRange``,
  ``MemoryTree``, and a SQLite prototype of the node table the storage layer uses;
- proof times: pymerkle cold (empty subroot cache, as in a fresh worker process) and warm;
  Hallmark's from memory and from the node table with one batched query;
- whether pymerkle's roots and proof hashes equal RFC 9162's (Hallmark's).
"""

from __future__ import annotations

import argparse
import hashlib
import platform
import random
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pymerkle

from hallmark.ledger import merkle
from hallmark.ledger.merkle import CompactRange, MemoryTree, NodeId


def entries(start: int, stop: int) -> Iterator[bytes]:
    """Log entries shaped like Hallmark's: the 32-byte hash of a certificate."""
    for i in range(start, stop):
        yield hashlib.sha256(i.to_bytes(8, "big")).digest()


def rss_mb() -> float:
    """Resident memory now, from /proc (Linux only; 0 elsewhere)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


class Timed:
    """The outcome of one append phase."""

    def __init__(self, name: str, done: int, seconds: float, target: int) -> None:
        self.name, self.done, self.seconds, self.target = name, done, seconds, target

    @property
    def rate(self) -> float:
        return self.done / self.seconds if self.seconds else 0.0

    def row(self) -> str:
        projected = self.target / self.rate if self.rate else float("inf")
        reached = "all" if self.done >= self.target else f"stopped at {self.done:,}"
        return (
            f"| {self.name} | {self.rate:,.0f} /s | {reached} in {self.seconds:.1f} s | "
            f"{projected:,.0f} s |"
        )


def run_appends(
    name: str, append: Callable[[bytes], object], target: int, budget: float, start: int = 0
) -> Timed:
    """Append entries one at a time until ``target`` leaves or ``budget`` seconds."""
    began = time.perf_counter()
    done = start
    deadline = began + budget
    for data in entries(start, target):
        append(data)
        done += 1
        # Checking the clock every 1,000 appends keeps its cost out of the figure.
        if done % 1000 == 0 and time.perf_counter() > deadline:
            break
    return Timed(name, done - start, time.perf_counter() - began, target - start)


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def time_calls(call: Callable[[], object], count: int) -> list[float]:
    samples = []
    for _ in range(count):
        t0 = time.perf_counter()
        call()
        samples.append(time.perf_counter() - t0)
    return samples


# --- A prototype of the node table: the schema and queries the storage layer uses ---------------


class NodeTable:
    """The log as rows ``(level, idx, hash)`` in SQLite, appended and proven as designed."""

    def __init__(self, path: Path) -> None:
        self.con = sqlite3.connect(path, isolation_level=None)
        self.con.execute(
            "CREATE TABLE log_node (level INTEGER NOT NULL, idx INTEGER NOT NULL, "
            "hash BLOB NOT NULL, PRIMARY KEY (level, idx)) WITHOUT ROWID"
        )

    def fetch(self, ids: Iterable[NodeId]) -> dict[NodeId, bytes]:
        """Every node asked for, in one query.

        Written as ``(level = ? AND idx = ?) OR ...``, which SQLite answers with one primary-key
        search per node. The row-value form ``(level, idx) IN (VALUES ...)``, which is what
        SQLAlchemy's ``tuple_(...).in_(...)`` renders on SQLite, scans the whole table instead:
        about 30 ms at 200,000 leaves against 0.03 ms, measured while writing this.
        """
        wanted = list(ids)
        if not wanted:
            return {}
        where = " OR ".join("(level = ? AND idx = ?)" for _ in wanted)
        params = [part for node in wanted for part in node]
        rows = self.con.execute(f"SELECT level, idx, hash FROM log_node WHERE {where}", params)
        return {(level, idx): value for level, idx, value in rows}

    def size(self) -> int:
        row = self.con.execute("SELECT COALESCE(MAX(idx) + 1, 0) FROM log_node WHERE level = 0")
        return int(row.fetchone()[0])

    def append_batch(self, leaf_hashes: list[bytes]) -> None:
        """One transaction: read the frontier, append, insert the completed nodes."""
        self.con.execute("BEGIN IMMEDIATE")
        size = self.size()
        ids = CompactRange.frontier_ids(size)
        found = self.fetch(ids)
        frontier = CompactRange(size, [found[node] for node in ids])
        rows: list[tuple[int, int, bytes]] = []
        for value in leaf_hashes:
            rows.extend((level, idx, node) for (level, idx), node in frontier.append(value))
        self.con.executemany("INSERT INTO log_node VALUES (?, ?, ?)", rows)
        self.con.execute("COMMIT")

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        return merkle.inclusion_proof(index, size, self.fetch(merkle.inclusion_nodes(index, size)))

    def consistency_proof(self, old: int, new: int) -> list[bytes]:
        return merkle.consistency_proof(old, new, self.fetch(merkle.consistency_nodes(old, new)))

    def root(self, size: int) -> bytes:
        return merkle.root(size, self.fetch(merkle.root_nodes(size)))


# --- The evaluation -------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--leaves", type=int, default=1_000_000)
    parser.add_argument("--budget", type=float, default=120.0, help="seconds per append phase")
    parser.add_argument(
        "--per-commit-budget",
        type=float,
        default=10.0,
        help="seconds for the one-transaction-per-append phases",
    )
    parser.add_argument("--samples", type=int, default=300)
    args = parser.parse_args()
    n: int = args.leaves
    rng = random.Random(2026)
    workdir = Path(tempfile.mkdtemp(prefix="pymerkle-eval-"))
    timings: list[Timed] = []
    lines: list[str] = []

    def say(text: str) -> None:
        print(text, flush=True)
        lines.append(text)

    say(f"# pymerkle {pymerkle.__version__} against hallmark.ledger.merkle, {n:,} leaves")
    say(
        f"{datetime.now(UTC):%Y-%m-%d}, Python {platform.python_version()}, "
        f"SQLite {sqlite3.sqlite_version}, {platform.machine()}, files in {workdir}"
    )

    # Hallmark: the frontier alone, then the whole tree in memory.
    compact = CompactRange()
    timings.append(
        run_appends(
            "hallmark CompactRange", lambda d: compact.append(merkle.leaf_hash(d)), n, args.budget
        )
    )
    rss0 = rss_mb()
    ours = MemoryTree()
    timings.append(run_appends("hallmark MemoryTree", ours.append, n, args.budget))
    ours_mb = rss_mb() - rss0
    size = ours.size
    if compact.size == size:
        assert compact.root() == ours.root(), "CompactRange and MemoryTree disagree"

    # Hallmark: the node-table prototype, one transaction per append and then batched.
    table = NodeTable(workdir / "nodes.sqlite")
    per_commit = run_appends(
        "hallmark node table, 1 transaction per append",
        lambda d: table.append_batch([merkle.leaf_hash(d)]),
        n,
        args.per_commit_budget,
    )
    timings.append(per_commit)
    began = time.perf_counter()
    done = per_commit.done
    batch: list[bytes] = []
    for data in entries(done, n):
        batch.append(merkle.leaf_hash(data))
        if len(batch) == 1000:
            table.append_batch(batch)
            done += len(batch)
            batch = []
            if time.perf_counter() - began > args.budget:
                break
    if batch:
        table.append_batch(batch)
        done += len(batch)
    timings.append(
        Timed(
            "hallmark node table, 1 transaction per 1,000",
            done - per_commit.done,
            time.perf_counter() - began,
            n - per_commit.done,
        )
    )
    table_size = table.size()

    # pymerkle in memory.
    rss0 = rss_mb()
    theirs = pymerkle.InmemoryTree(algorithm="sha256")
    timings.append(run_appends("pymerkle InmemoryTree", theirs.append_entry, n, args.budget))
    theirs_mb = rss_mb() - rss0
    theirs_size = theirs.get_size()

    # pymerkle on SQLite: per-append commits (its append_entry), then its bulk call.
    sqlite_tree = pymerkle.SqliteTree(str(workdir / "pymerkle.sqlite"), algorithm="sha256")
    per_entry = run_appends(
        "pymerkle SqliteTree.append_entry (1 transaction each)",
        sqlite_tree.append_entry,
        n,
        args.per_commit_budget,
    )
    timings.append(per_entry)
    began = time.perf_counter()
    bulk_done = per_entry.done
    for chunk_start in range(per_entry.done, n, 100_000):
        chunk_stop = min(chunk_start + 100_000, n)
        sqlite_tree.append_entries(entries(chunk_start, chunk_stop))
        bulk_done = chunk_stop
        if time.perf_counter() - began > args.budget:
            break
    timings.append(
        Timed(
            "pymerkle SqliteTree.append_entries (bulk, 100k per transaction)",
            bulk_done - per_entry.done,
            time.perf_counter() - began,
            n - per_entry.done,
        )
    )
    sqlite_size = sqlite_tree.get_size()

    say("")
    say(f"## Appends (aim: {n:,} in under 300 s)")
    say("")
    say(f"| what | rate | progress | projected for {n:,} |")
    say("| --- | --- | --- | --- |")
    for timed in timings:
        say(timed.row())
    say("")
    say(
        f"Memory for the whole tree: hallmark MemoryTree ~{ours_mb:,.0f} MB at {size:,} leaves, "
        f"pymerkle InmemoryTree ~{theirs_mb:,.0f} MB at {theirs_size:,} leaves."
    )

    # --- Proofs ---------------------------------------------------------------------------------
    say("")
    say("## Proofs (aim: under 2 ms each at the full size; medians)")
    say("")
    say("| what | size | inclusion | consistency |")
    say("| --- | --- | --- | --- |")

    def ours_row(
        name: str, at: int, incl: Callable[[int, int], Any], cons: Callable[..., Any]
    ) -> None:
        inc = time_calls(lambda: incl(rng.randrange(at), at), args.samples)
        con = time_calls(lambda: cons(rng.randrange(1, at), at), args.samples)
        say(f"| {name} | {at:,} | {median_ms(inc):.3f} ms | {median_ms(con):.3f} ms |")

    ours_row("hallmark MemoryTree", size, ours.inclusion_proof, ours.consistency_proof)
    ours_row(
        "hallmark node table (1 query)",
        table_size,
        table.inclusion_proof,
        table.consistency_proof,
    )
    index = rng.randrange(size)
    proof = ours.inclusion_proof(index, size)
    root = ours.root()
    verify = time_calls(
        lambda: merkle.verify_inclusion(ours.leaf_hash(index), index, size, proof, root),
        args.samples,
    )
    say(f"| hallmark verify_inclusion | {size:,} | {median_ms(verify):.3f} ms | |")

    def pymerkle_rows(name: str, tree: Any, at: int, cold_samples: int) -> None:
        tree.cache_clear()
        t0 = time.perf_counter()
        tree.prove_inclusion(rng.randrange(1, at + 1), at)
        first_inc = time.perf_counter() - t0
        tree.cache_clear()
        t0 = time.perf_counter()
        tree.prove_consistency(rng.randrange(1, at), at)
        first_con = time.perf_counter() - t0
        cold_inc: list[float] = []
        cold_con: list[float] = []
        for _ in range(cold_samples):
            tree.cache_clear()
            cold_inc += time_calls(lambda: tree.prove_inclusion(rng.randrange(1, at + 1), at), 1)
            tree.cache_clear()
            cold_con += time_calls(lambda: tree.prove_consistency(rng.randrange(1, at), at), 1)
        cold_inc_ms = median_ms([first_inc, *cold_inc])
        cold_con_ms = median_ms([first_con, *cold_con])
        say(
            f"| {name}, cold cache (first proof after start) | {at:,} | "
            f"{cold_inc_ms:.1f} ms | {cold_con_ms:.1f} ms |"
        )
        # Warm: the subroot cache filled by a pass of proofs, as a long-running process would.
        for _ in range(50):
            tree.prove_inclusion(rng.randrange(1, at + 1), at)
            tree.prove_consistency(rng.randrange(1, at), at)
        inc = time_calls(lambda: tree.prove_inclusion(rng.randrange(1, at + 1), at), args.samples)
        con = time_calls(lambda: tree.prove_consistency(rng.randrange(1, at), at), args.samples)
        say(f"| {name}, warm cache | {at:,} | {median_ms(inc):.3f} ms | {median_ms(con):.3f} ms |")

    pymerkle_rows("pymerkle InmemoryTree", theirs, theirs_size, 3)
    pymerkle_rows("pymerkle SqliteTree", sqlite_tree, sqlite_size, 3)
    sqlite_tree.close()

    # A new worker process opens the same file: nothing is cached.
    reopened = pymerkle.SqliteTree(str(workdir / "pymerkle.sqlite"), algorithm="sha256")
    t0 = time.perf_counter()
    reopened.get_root(sqlite_size)
    reopen_root = time.perf_counter() - t0
    say("")
    say(
        f"Root hash from a freshly opened pymerkle SqliteTree at {sqlite_size:,} leaves: "
        f"{reopen_root * 1000:,.0f} ms (it reads and rehashes every leaf)."
    )

    # --- Agreement with RFC 9162 ----------------------------------------------------------------
    common = min(size, theirs_size)
    same_root = theirs.get_root(common) == ours.root(common)
    same_paths = True
    same_consistency = True
    for _ in range(50):
        i = rng.randrange(common)
        their_proof = theirs.prove_inclusion(i + 1, common)
        # pymerkle's path starts with the leaf itself; the rest should be RFC 9162's PATH.
        if list(their_proof.path[1:]) != ours.inclusion_proof(i, common):
            same_paths = False
        old = rng.randrange(1, common)
        their_cons = theirs.prove_consistency(old, common)
        if list(their_cons.path) != ours.consistency_proof(old, common):
            same_consistency = False
    reopened.close()
    say("")
    say(f"pymerkle root equals RFC 9162 root at {common:,}: {same_root}")
    say(f"pymerkle inclusion path (after its leaf) equals RFC 9162 PATH: {same_paths}")
    say(f"pymerkle consistency path equals RFC 9162 PROOF as is: {same_consistency}")

    out = workdir / "results.md"
    out.write_text("\n".join(lines) + "\n")
    print(f"\nWritten to {out}")


if __name__ == "__main__":
    main()
