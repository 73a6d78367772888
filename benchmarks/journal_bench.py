"""Benchmark the process journal (issue #3): run by hand, never in CI.

Two figures from the issue, on a fresh instance (SQLite in a temporary folder by default):

1. Server-side ingestion: a 200,000-event journal sent through ``drafts.append_events`` in
   batches of 1,000, as the API would (ownership check, resend check, validation, hash chain,
   one transaction per batch). Aim: over 20,000 events a second.
2. Replay and attribution of that journal loaded from the database. Aim: under 1 s. Loading,
   replay with attribution and flags, and recomputing the root hash are timed separately,
   each the median of several runs.

The journal is synthetic but shaped like writing: key-by-key typing at log-normal intervals
where the cursor is, backspaces and word deletions (about 6% of events), the cursor moving back
a little now and then and, rarely, anywhere in the text; a few pastes and muse suggestions.
Prints a Markdown table to paste into benchmarks/README.md.

    .venv/bin/python benchmarks/journal_bench.py [--events 200000] [--batch 1000] [--runs 5]
"""

from __future__ import annotations

import argparse
import math
import platform
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

from hallmark.core import journal
from hallmark.services import accounts, drafts
from hallmark.services.instance import init_instance, open_instance
from hallmark.settings import Settings
from hallmark.storage.models import User

console = Console()
WORDS = [
    "the",
    "tide",
    "goes",
    "out",
    "and",
    "gulls",
    "come",
    "in",
    "while",
    "harbour",
    "keeps",
    "its",
    "counsel",
]


def writing(count: int, seed: int = 1) -> list[dict[str, Any]]:
    """A journal of ``count`` events shaped like someone drafting a long text."""
    rng = random.Random(seed)
    events: list[dict[str, Any]] = []
    length = cursor = 0
    t = 1_764_331_200_000
    while len(events) < count:
        seq = len(events)
        t += int(rng.lognormvariate(math.log(170), 0.5)) + 1
        r = rng.random()
        # Moving the cursor makes no event; the next edit happens at the new place.
        if r < 0.001 and length:
            cursor = rng.randint(0, length)
            continue
        if r < 0.004 and length:
            cursor = max(0, length - rng.randint(0, 2_000))
            continue
        if r < 0.01:
            cursor = length
            continue
        if r < 0.06 and cursor > 0:
            events.append(
                {"seq": seq, "t": t, "op": "delete", "pos": cursor - 1, "len": 1, "src": "key"}
            )
            cursor, length = cursor - 1, length - 1
            continue
        if r < 0.065 and cursor > 5:
            size = rng.randint(2, 5)
            events.append({"seq": seq, "t": t, "op": "delete", "pos": cursor - size, "len": size})
            cursor, length = cursor - size, length - size
            continue
        if r < 0.066:
            text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(5, 40)))
            event = {"seq": seq, "t": t, "op": "paste", "pos": cursor, "text": text}
        elif r < 0.0665:
            text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 15)))
            event = {"seq": seq, "t": t, "op": "muse", "pos": cursor, "text": text}
            event["ref"] = f"s_{seq}"
        else:
            text = rng.choice("etaoinshrdlucmfw      .,")
            event = {"seq": seq, "t": t, "op": "insert", "pos": cursor, "text": text}
            event["src"] = "key"
        events.append(event)
        cursor, length = cursor + len(text), length + len(text)
    return events


def median(samples: list[float]) -> float:
    return statistics.median(samples)


def ingest(inst: Any, owner: User, events: list[dict[str, Any]], batch: int) -> tuple[str, float]:
    """Send the journal to a new draft; return the draft's id and the seconds it took."""
    draft_id = drafts.start_draft(inst, owner.id, "Bench").draft_id
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task("ingesting events", total=len(events))
        start = time.perf_counter()
        for offset in range(0, len(events), batch):
            drafts.append_events(inst, draft_id, owner, events[offset : offset + batch])
            progress.update(task, completed=offset + batch)
        seconds = time.perf_counter() - start
    return draft_id, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=1_000)
    parser.add_argument("--runs", type=int, default=5, help="replays to take the median of")
    parser.add_argument("--ingest-runs", type=int, default=3, help="drafts to ingest into")
    parser.add_argument("--database-url", default=None, help="default: SQLite in a temp folder")
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="hallmark-journal-bench-"))
    init_instance(home, database_url=args.database_url)
    inst = open_instance(Settings.load(home))
    with inst.db.session() as session:
        owner = accounts.create_user(inst, session, "bench")

    events = writing(args.events)
    ingest_seconds: list[float] = []
    draft_id = ""
    for _ in range(args.ingest_runs):
        draft_id, seconds = ingest(inst, owner, events, args.batch)
        ingest_seconds.append(seconds)

    load, replay, root, total = [], [], [], []
    for _ in range(args.runs):
        t0 = time.perf_counter()
        with inst.db.session() as session:
            loaded = drafts.load_events(session, draft_id)
        t1 = time.perf_counter()
        report = journal.replay(loaded)
        t2 = time.perf_counter()
        head = journal.journal_root(loaded, draft_id=draft_id)
        t3 = time.perf_counter()
        load.append(t1 - t0)
        replay.append(t2 - t1)
        root.append(t3 - t2)
        total.append(t2 - t0)
    view = drafts.get_draft(inst, draft_id, owner, stats=False)
    # Spot-check that what was timed is right.
    assert loaded == events and report.text == view.text and head.hex() == view.head

    t0 = time.perf_counter()
    submission = drafts.submit_draft(
        inst, draft_id, owner, title="Bench", declare="human-made", text=view.text
    )
    submit_seconds = time.perf_counter() - t0

    rate = args.events / median(ingest_seconds)
    console.print(
        f"\n## Journal of {args.events:,} events on {inst.db.dialect}\n\n"
        f"Machine: {platform.machine()}, Python {platform.python_version()}. Final text: "
        f"{len(report.text):,} code points; shares {report.shares}; "
        f"flags {[flag['code'] for flag in report.flags]}; "
        f"level {submission.registration.level}.\n"
    )
    console.print("| measure | figure | aim |")
    console.print("| --- | --- | --- |")
    console.print(
        f"| ingest {args.events:,} events through append_events, batches of {args.batch:,} "
        f"(median of {args.ingest_runs}) | {median(ingest_seconds):.2f} s "
        f"({rate:,.0f} events/s) | > 20,000 events/s |"
    )
    console.print(
        f"| load + replay + attribution (median of {args.runs}) | "
        f"{median(total) * 1000:,.0f} ms | < 1 s |"
    )
    console.print(f"| load the events from the database | {median(load) * 1000:,.0f} ms | |")
    console.print(f"| replay + attribution + flags | {median(replay) * 1000:,.0f} ms | |")
    console.print(f"| recompute the root hash | {median(root) * 1000:,.0f} ms | |")
    console.print(
        f"| submit (load, root, replay, compare, register) | {submit_seconds * 1000:,.0f} ms | |"
    )
    inst.close()


if __name__ == "__main__":
    main()
