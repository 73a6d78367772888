"""Benchmark the transparency log at scale (issue #2): run by hand, never in CI.

Appends N leaves (default 1,000,000) to a fresh instance's log in batches, then measures, as
medians over many random samples: inclusion-proof and consistency-proof generation from the
database at full size, and offline verification of a real bundle (signature, checkpoint, proof,
content digest). Prints a Markdown table to paste into benchmarks/README.md.

    .venv/bin/python benchmarks/log_bench.py [--leaves 1000000] [--database-url URL]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

from hallmark.core.bundle import Bundle
from hallmark.core.verify import verify_bundle
from hallmark.ledger import merkle
from hallmark.services import accounts, registry
from hallmark.services.instance import init_instance, open_instance
from hallmark.settings import Settings
from hallmark.storage.log_store import LogStore

console = Console()


#: The ``hallmark`` command, which writes its peak resident memory to stderr as it exits.
_PEAK_REPORTING_CLI = """
import atexit, sys
from hallmark.cli.main import main
def peak():
    status = open("/proc/self/status").read()
    print(next(l for l in status.splitlines() if l.startswith("VmHWM:")), file=sys.stderr)
atexit.register(peak)
sys.argv[0] = "hallmark"
main()
"""


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leaves", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=20_000)
    parser.add_argument("--samples", type=int, default=500)
    parser.add_argument("--database-url", default=None, help="default: SQLite in a temp folder")
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="hallmark-bench-"))
    init_instance(home, database_url=args.database_url)
    inst = open_instance(Settings.load(home))
    now = datetime.now(UTC)

    start = time.perf_counter()
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        task = progress.add_task("appending leaves", total=args.leaves)
        done = 0
        while done < args.leaves:
            count = min(args.batch, args.leaves - done)
            entries = []
            for i in range(done, done + count):
                digest = hashlib.sha256(i.to_bytes(8, "big")).hexdigest()
                entries.append(("bench", digest, bytes.fromhex(digest)))
            with inst.db.log_writer() as session:
                LogStore(session).append(entries, now)
            done += count
            progress.update(task, completed=done)
    append_seconds = time.perf_counter() - start

    # One real certificate at the end of the big log, for the bundle verification figure.
    with inst.db.session() as session:
        creator = accounts.create_user(inst, session, "bench").id
    content = b"A benchmark poem, short and plain.\n"
    reg = registry.register_work(
        inst, creator_id=creator, data=content, title="Bench", declare="human-made"
    )
    size = reg.log_index + 1

    rng = random.Random(7)
    inclusion: list[float] = []
    consistency: list[float] = []
    with inst.db.session() as session:
        store = LogStore(session)
        root = store.root(size)
        for _ in range(args.samples):
            index = rng.randrange(size)
            t0 = time.perf_counter()
            proof = store.inclusion_proof(index, size)
            inclusion.append(time.perf_counter() - t0)
            old = rng.randrange(1, size)
            t0 = time.perf_counter()
            cproof = store.consistency_proof(old, size)
            consistency.append(time.perf_counter() - t0)
        # Spot-check that what was timed is right.
        merkle.verify_consistency(old, size, store.root(old), root, cproof)
        assert proof

    bundle_bytes = Bundle.from_json(reg.bundle)
    verify_times: list[float] = []
    for _ in range(args.samples):
        t0 = time.perf_counter()
        result = verify_bundle(content, bundle_bytes, inst.verifier)
        verify_times.append(time.perf_counter() - t0)
    assert result.valid, result.detail

    # The audit runs as an operator runs it, in its own process. Its peak memory is read by
    # the process itself (VmHWM, which starts afresh at exec): the child's ru_maxrss would
    # include this benchmark's own size, inherited at the fork.
    t0 = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", _PEAK_REPORTING_CLI, "--home", str(home), "log", "audit", "--json"],
        capture_output=True,
        text=True,
        check=False,
    )
    audit_seconds = time.perf_counter() - t0
    audit_peak_mb = int(done.stderr.rsplit("VmHWM:", 1)[1].split()[0]) / 1024
    report = json.loads(done.stdout)

    backend = inst.db.dialect
    console.print(f"\n## {args.leaves:,} leaves on {backend}, {datetime.now(UTC):%Y-%m-%d}\n")
    console.print(
        f"Machine: {platform.machine()}, {platform.processor() or 'cpu'}, "
        f"Python {platform.python_version()}\n"
    )
    console.print("| measure | figure | aim |")
    console.print("| --- | --- | --- |")
    console.print(
        f"| append {args.leaves:,} leaves | {append_seconds:.1f} s "
        f"({args.leaves / append_seconds:,.0f} appends/s) | < 300 s |"
    )
    console.print(
        f"| inclusion proof at {size:,} (median) | {median_ms(inclusion):.3f} ms | < 2 ms |"
    )
    console.print(
        f"| consistency proof at {size:,} (median) | {median_ms(consistency):.3f} ms | < 2 ms |"
    )
    console.print(
        f"| offline bundle verification (median) | {median_ms(verify_times):.3f} ms | < 5 ms |"
    )
    # Synthetic leaves have no certificate rows, so the audit finds each (listing the first
    # 1,000); time and memory are what count.
    console.print(
        f"| full audit (`hallmark log audit`, {report['checkpoints']} checkpoints, "
        f"{len(report['problems']) + report['unlisted_problems']:,} leaves without a "
        f"statement) | {audit_seconds:.1f} s, peak {audit_peak_mb:,.0f} MB | |"
    )
    inst.close()


if __name__ == "__main__":
    main()
