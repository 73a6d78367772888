"""Benchmark the gallery, its keyset pages and search at scale (issue #7): run by hand, never
in CI.

Seeds N works (default 100,000) straight into a fresh instance's database, with certificates
(1% revoked), a mix of labels, levels, kinds, visibilities and consents, and the search index
filled as ``hallmark.services.search.index_work`` fills it (titles, creators and ~60-word texts
drawn from a Zipf-distributed vocabulary). Then measures median latencies of the first page, a
deep page reached by its cursor, filtered pages and searches, through the services and through
the web app (``GET /gallery``, ``/search``, rendered HTML). Prints a Markdown table.

    .venv/bin/python benchmarks/gallery_bench.py [--works 100000] [--samples 30]
    .venv/bin/python benchmarks/gallery_bench.py --postgres postgresql://postgres@127.0.0.1/test

With ``--postgres ADMIN_URL`` a fresh database is created on that server and dropped afterwards.
Blobs are not written, so cards have no excerpts or thumbnails: the figures are the database's.
"""

from __future__ import annotations

import argparse
import itertools
import platform
import random
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn
from sqlalchemy import insert, select, text

from hallmark.services import gallery, listing
from hallmark.services.instance import Instance, init_instance, open_instance
from hallmark.settings import Settings
from hallmark.storage.models import Certificate, Revocation, User, Work
from hallmark.web.app import create_app

# The scratch PostgreSQL database helper is shared with the tests' fixtures.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.scratch_db import postgres_database

console = Console()

LABELS = (("human-made", 0.6), ("ai-assisted", 0.3), ("ai-generated", 0.1))
LEVELS = (("declared", 0.5), ("analyzed", 0.35), ("process-verified", 0.12), ("reviewed", 0.03))
VISIBILITIES = (("public", 0.9), ("unlisted", 0.05), ("private", 0.05))
CONSENTS = (("not-allowed", 0.7), ("allowed", 0.2), ("constrained", 0.1))
VOCABULARY = 20_000
TEXT_WORDS = 60
BATCH = 5_000


def pick(rng: random.Random, table: tuple[tuple[str, float], ...]) -> str:
    return rng.choices([name for name, _ in table], weights=[w for _, w in table])[0]


def make_words(rng: random.Random) -> list[str]:
    letters = "abcdefghijklmnopqrstuvwxyz"
    words: set[str] = set()
    while len(words) < VOCABULARY:
        words.add("".join(rng.choice(letters) for _ in range(rng.randint(3, 9))))
    return sorted(words)


def zipf_cumulative() -> list[float]:
    """Cumulative Zipf weights: ``choices`` then bisects instead of summing 20,000 weights."""
    return list(itertools.accumulate(1 / (rank + 1) for rank in range(VOCABULARY)))


@contextmanager
def database(admin_url: str | None) -> Iterator[str | None]:
    """None for SQLite in the instance folder, or a fresh PostgreSQL database, dropped after."""
    if admin_url is None:
        yield None
        return
    with postgres_database(admin_url, "hallmark_bench") as url:
        yield url


def seed(inst: Instance, total: int, rng: random.Random) -> dict[str, Any]:
    """Insert users, works, certificates, revocations and the search index in batches."""
    words = make_words(rng)
    weights = zipf_cumulative()
    start = datetime(2025, 1, 1, tzinfo=UTC)
    creators = [f"creator{n:04d}" for n in range(max(1, total // 100))]
    dialect = inst.db.dialect
    with inst.db.session() as session:
        session.execute(
            insert(User),
            [
                {
                    "id": f"u_{n:014d}",
                    "handle": handle,
                    "display_name": f"{words[n].title()} {words[-n - 1].title()}",
                    "role": "creator",
                    "failed_logins": 0,
                    "created_at": start,
                    "consent_default": "not-allowed",
                }
                for n, handle in enumerate(creators)
            ],
        )
    user_rows = {f"u_{n:014d}": (handle, n) for n, handle in enumerate(creators)}
    moment = start
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        task = progress.add_task("seeding works", total=total)
        for first in range(0, total, BATCH):
            works: list[dict[str, Any]] = []
            certificates: list[dict[str, Any]] = []
            revocations: list[dict[str, Any]] = []
            index: list[dict[str, Any]] = []
            for n in range(first, min(first + BATCH, total)):
                # Some works share a timestamp, so the cursor's tie-break on id is exercised.
                if rng.random() > 0.05:
                    moment += timedelta(seconds=rng.randint(1, 600), microseconds=n % 997)
                creator_id = f"u_{rng.randrange(len(creators)):014d}"
                work_id = f"w_{n:014d}"
                body = " ".join(rng.choices(words, cum_weights=weights, k=TEXT_WORDS))
                title = " ".join(
                    rng.choices(words, cum_weights=weights, k=rng.randint(1, 4))
                ).title()
                kind = "image" if rng.random() < 0.2 else "text"
                visibility = pick(rng, VISIBILITIES)
                works.append(
                    {
                        "id": work_id,
                        "creator_id": creator_id,
                        "title": title,
                        "kind": kind,
                        "media_type": "image/png" if kind == "image" else "text/plain",
                        "size": 1000,
                        "sha256": f"{n:064x}",
                        "blob_key": f"{n:064x}",
                        "visibility": visibility,
                        "label": pick(rng, LABELS),
                        "level": pick(rng, LEVELS),
                        "ai_share": 0.0,
                        "declaration": {},
                        "review_status": "none",
                        "created_at": moment,
                        "consent": pick(rng, CONSENTS),
                    }
                )
                certificates.append(
                    {
                        "id": f"c_{n:014d}",
                        "work_id": work_id,
                        "superseded": False,
                        "body": "{}",
                        "signature": b"\0" * 64,
                        "statement_sha256": f"c{n:063x}",
                        "log_index": n,
                        "issued_at": moment,
                    }
                )
                revoked = rng.random() < 0.01
                if revoked:
                    revocations.append(
                        {
                            "id": f"r_{n:014d}",
                            "certificate_id": f"c_{n:014d}",
                            "body": "{}",
                            "signature": b"\0" * 64,
                            "statement_sha256": f"r{n:063x}",
                            "log_index": total + n,
                            "reason": "bench",
                            "created_at": moment,
                        }
                    )
                if visibility == "public" and not revoked:
                    handle, number = user_rows[creator_id]
                    index.append(
                        {
                            "id": work_id,
                            "row": n + 1,
                            "title": title,
                            "creator": f"{handle} {words[number].title()} "
                            f"{words[-number - 1].title()}",
                            "body": body if kind == "text" else "",
                        }
                    )
            with inst.db.session() as session:
                session.execute(insert(Work), works)
                session.execute(insert(Certificate), certificates)
                if revocations:
                    session.execute(insert(Revocation), revocations)
                fill_index(session, dialect, index)
            progress.update(task, completed=min(first + BATCH, total))
    with inst.db.session() as session:
        session.execute(text("ANALYZE"))
    return {"words": words, "creators": creators}


def fill_index(session: Any, dialect: str, rows: list[dict[str, Any]]) -> None:
    """What ``search.index_work`` writes, for many works at once."""
    if not rows:
        return
    if dialect == "postgresql":
        session.execute(
            text(
                "INSERT INTO work_search (work_id, document) VALUES (:id,"
                " to_tsvector('simple', CAST(:title AS text))"
                " || to_tsvector('simple', CAST(:creator AS text))"
                " || to_tsvector('simple', CAST(:body AS text)))"
            ),
            rows,
        )
        return
    session.execute(text("INSERT INTO work_search_rows (id, work_id) VALUES (:row, :id)"), rows)
    session.execute(
        text(
            "INSERT INTO work_search (rowid, title, creator, body)"
            " VALUES (:row, :title, :creator, :body)"
        ),
        rows,
    )


def timed(samples: int, action: Callable[[], object]) -> float:
    """Median milliseconds of ``action``, after one warm-up call."""
    action()
    durations = []
    for _ in range(samples):
        start = time.perf_counter()
        action()
        durations.append(time.perf_counter() - start)
    return statistics.median(durations) * 1000


def cursor_at(inst: Instance, depth: int, label: str | None) -> listing.Cursor:
    """The cursor of the work ``depth`` places down the listing: built once with OFFSET, so
    the measured call is the one a visitor following "older works" that far would make."""
    query = select(Work).where(listing.listed())
    if label is not None:
        query = query.where(Work.label == label)
    query = query.order_by(Work.created_at.desc(), Work.id.desc()).offset(depth).limit(1)
    with inst.db.session() as session:
        work = session.scalars(query).one()
        return listing.Cursor.after(work)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--works", type=int, default=100_000)
    parser.add_argument("--samples", type=int, default=30)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--postgres", metavar="ADMIN_URL", default=None, help="default: SQLite in a temp folder"
    )
    args = parser.parse_args()
    rng = random.Random(args.seed)

    with database(args.postgres) as url:
        home = Path(tempfile.mkdtemp(prefix="hallmark-gallery-bench-"))
        init_instance(home, database_url=url)
        inst = open_instance(Settings.load(home, detectors=[], similarity_index=""))
        start = time.perf_counter()
        vocabulary = seed(inst, args.works, rng)
        seed_seconds = time.perf_counter() - start
        try:
            rows = measure(inst, args.samples, vocabulary)
        finally:
            inst.close()

    console.print(
        f"\n{args.works:,} works seeded in {seed_seconds:.0f} s on {inst.db.dialect} "
        f"({platform.processor() or platform.machine()}, Python {platform.python_version()}); "
        f"medians of {args.samples} calls, milliseconds.\n"
    )
    print("| what | through the service | GET (rendered page) |")
    print("| --- | ---: | ---: |")
    for name, service_ms, page_ms in rows:
        page = f"{page_ms:.1f}" if page_ms is not None else "-"
        print(f"| {name} | {service_ms:.1f} | {page} |")


def measure(
    inst: Instance, samples: int, vocabulary: dict[str, Any]
) -> list[tuple[str, float, float | None]]:
    words: list[str] = vocabulary["words"]
    creator: str = vocabulary["creators"][3]
    common, middling, rare = words[0], words[300], words[15_000]
    human = listing.Filters.parse()
    every = listing.Filters.parse(label="all")
    deep_all = cursor_at(inst, 50_000, None)
    deep_human = cursor_at(inst, 30_000, "human-made")
    rows: list[tuple[str, float, float | None]] = []

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient

        client = TestClient(create_app(inst.settings, instance=inst))
    html = {"Accept": "text/html"}

    def both(name: str, service: Callable[[], object], url: str | None) -> None:
        page_ms = None
        if url is not None:

            def get() -> None:
                answer = client.get(url, headers=html)
                assert answer.status_code == 200, (url, answer.status_code)

            page_ms = timed(samples, get)
        rows.append((name, timed(samples, service), page_ms))
        console.print(f"measured: {name}")

    both("first page, human-made (default)", lambda: gallery.browse(inst, human), "/gallery")
    both("first page, all labels", lambda: gallery.browse(inst, every), "/gallery?label=all")
    both(
        "deep page (50,000 works down), all labels",
        lambda: gallery.browse(inst, every, after=deep_all),
        f"/gallery?label=all&cursor={deep_all}",
    )
    both(
        "deep page (30,000 human-made works down)",
        lambda: gallery.browse(inst, human, after=deep_human),
        f"/gallery?cursor={deep_human}",
    )
    rare_filter = listing.Filters.parse(label="all", level="reviewed", kind="image")
    both(
        "first page, level reviewed + image (3% x 20%)",
        lambda: gallery.browse(inst, rare_filter),
        "/gallery?label=all&level=reviewed&kind=image",
    )
    both(
        f"creator page ({creator})",
        lambda: gallery.creator_page(inst, creator, None),
        f"/creators/{creator}",
    )
    for label, word in (("common", common), ("middling", middling), ("rare", rare)):
        both(
            f"search, one {label} word, all labels",
            lambda word=word: gallery.find(inst, word, every),  # type: ignore[misc]
            f"/search?q={word}&label=all",
        )
    both(
        "search, the common word, 50,000 works down",
        lambda: gallery.find(inst, common, every, after=deep_all),
        f"/search?q={common}&label=all&cursor={deep_all}",
    )
    both(
        "search, two words, human-made",
        lambda: gallery.find(inst, f"{middling} {words[40]}", human),
        f"/search?q={middling}+{words[40]}",
    )
    both(
        "search, a creator's handle",
        lambda: gallery.find(inst, creator, every),
        f"/search?q={creator}&label=all",
    )
    client.close()
    return rows


if __name__ == "__main__":
    main()
