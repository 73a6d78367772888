"""Insights: what the registry holds, counted for the public charts (issue #7, item 4).

Five aggregates, each grouped in SQL so only counts leave the database:

- registrations per period and origin label;
- the AI share of ``ai-assisted`` works, in bins of ten percent;
- works per assurance level and label;
- review outcomes: reviewers' decisions (the ``reviews`` table) and the works waiting now;
- log entries per period and kind, with the log's size at the end of each period.

Dates are UTC days on both databases: SQLite holds the UTC wall-clock time the service wrote,
and PostgreSQL's ``timestamptz`` is read through ``timezone('UTC', ...)``. The query groups by
day; days are gathered into weeks or months here, in Python, because that is the date
arithmetic SQLite and PostgreSQL do not share. The period follows the span shown (days up to
five weeks, then ISO weeks, then months), so a chart never has too many bars to read.

What is counted: public works whose current certificate is not revoked, the works anyone may
browse. Unlisted and private works stay out, since the charts are public and a count per day
would tell when such a work was registered; revoked works stay out because the registry no
longer vouches for them. Review figures follow the same rule (decisions on counted works). The
log is the exception: it is public in full, every certificate and revocation (hashes only,
never whose), so its chart counts every entry, as its checkpoints do.

:func:`current` reuses the figures for a few seconds, and for a minute while the log has not
grown, since counting reads every work and the page is public.
"""

from __future__ import annotations

import calendar
import threading
import time
import weakref
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, case, false, func, literal_column, select
from sqlalchemy.orm import Session

from hallmark.core.labels import AssuranceLevel, OriginLabel
from hallmark.services.instance import Instance
from hallmark.services.review import DECISIONS, IN_QUEUE
from hallmark.storage.log_store import LogStore
from hallmark.storage.models import Certificate, LogEntry, Review, Revocation, Work

LABELS: tuple[str, ...] = tuple(label.value for label in OriginLabel)
LEVELS: tuple[str, ...] = tuple(level.value for level in AssuranceLevel)
#: Review outcomes in chart order: the decisions, then the two ways of waiting in the queue.
OUTCOMES: tuple[str, ...] = (*DECISIONS, *IN_QUEUE)
LOG_KINDS = ("certificate", "revocation")
#: The width of one AI-share bin, in percent; each bin holds its lower bound, not its upper.
SHARE_BIN = 10
#: The charts, by the names their CSV files and the API use.
CHARTS = ("registrations", "ai-share", "levels", "reviews", "log")
#: The longest span charted day by day, and week by week; longer spans go month by month.
DAILY_MAX_DAYS = 35
WEEKLY_MAX_DAYS = 2 * 366
PERIODS = ("day", "week", "month")

Value = str | int


@dataclass(frozen=True)
class Table:
    """One chart's numbers: machine-readable column names and rows of plain values."""

    columns: tuple[str, ...]
    rows: tuple[tuple[Value, ...], ...]

    def records(self) -> list[dict[str, Value]]:
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]


@dataclass(frozen=True)
class Insights:
    """Everything the insight page charts, as of one day."""

    as_of: date
    period: str
    works: int
    log_size: int
    registrations: Table
    ai_share: Table
    levels: Table
    reviews: Table
    log: Table

    @property
    def empty(self) -> bool:
        return self.works == 0 and self.log_size == 0

    def table(self, chart: str) -> Table:
        tables = {
            "registrations": self.registrations,
            "ai-share": self.ai_share,
            "levels": self.levels,
            "reviews": self.reviews,
            "log": self.log,
        }
        return tables[chart]

    def to_json(self) -> dict[str, Any]:
        return {
            "as_of": self.as_of.isoformat(),
            "period": self.period,
            "counted": "public works whose current certificate is not revoked",
            "works": self.works,
            "log_size": self.log_size,
            **{chart.replace("-", "_"): self.table(chart).records() for chart in CHARTS},
        }


# What is counted -----------------------------------------------------------------------------


def counted() -> ColumnElement[bool]:
    """Works the charts count: public, and their current certificate not revoked."""
    revoked = (
        select(Revocation.id)
        .join(Certificate, Certificate.id == Revocation.certificate_id)
        .where(Certificate.work_id == Work.id, Certificate.superseded == false())
    )
    return (Work.visibility == "public") & ~revoked.exists()


def _utc_day(column: Any, dialect: str) -> ColumnElement[Any]:
    if dialect == "postgresql":
        # Written inline, not bound: the expression is grouped by in an outer query.
        return func.date(func.timezone(literal_column("'UTC'"), column))
    return func.date(column)


def _as_date(value: date | str) -> date:
    # SQLite's date() answers with text, PostgreSQL's with a date.
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def _per_day(
    session: Session, column: Any, key: Any, *where: ColumnElement[bool]
) -> dict[tuple[date, str], int]:
    """Counts per (UTC day of ``column``, ``key``), grouped in the database."""
    dialect = session.get_bind().dialect.name
    inner = select(_utc_day(column, dialect).label("day"), key.label("key")).where(*where)
    sub = inner.subquery()
    query = select(sub.c.day, sub.c.key, func.count()).group_by(sub.c.day, sub.c.key)
    return {(_as_date(day), str(k)): int(n) for day, k, n in session.execute(query)}


def _per_key(session: Session, query: Any) -> dict[str, int]:
    return {str(key): int(n) for key, n in session.execute(query)}


# Periods -------------------------------------------------------------------------------------


def choose_period(first: date, last: date) -> str:
    """Days for a short span, ISO weeks for up to two years, months beyond."""
    span = (last - first).days + 1
    if span <= DAILY_MAX_DAYS:
        return "day"
    if span <= WEEKLY_MAX_DAYS:
        return "week"
    return "month"


def period_start(day: date, period: str) -> date:
    if period == "week":
        return day - timedelta(days=day.weekday())
    if period == "month":
        return day.replace(day=1)
    return day


def _next(start: date, period: str) -> date:
    if period == "week":
        return start + timedelta(days=7)
    if period == "month":
        days = calendar.monthrange(start.year, start.month)[1]
        return start + timedelta(days=days)
    return start + timedelta(days=1)


def periods(first: date, last: date, period: str) -> list[date]:
    """The start of every period from the one holding ``first`` to the one holding ``last``."""
    out = []
    start = period_start(first, period)
    while start <= last:
        out.append(start)
        start = _next(start, period)
    return out


def _gather(
    counts: Mapping[tuple[date, str], int], starts: Sequence[date], period: str
) -> dict[date, dict[str, int]]:
    gathered: dict[date, dict[str, int]] = {start: {} for start in starts}
    for (day, key), n in counts.items():
        bucket = gathered[period_start(day, period)]
        bucket[key] = bucket.get(key, 0) + n
    return gathered


# The aggregates ------------------------------------------------------------------------------


def _share_bin() -> ColumnElement[int]:
    edges = range(SHARE_BIN, 100, SHARE_BIN)
    return case(
        *((Work.ai_share < edge, index) for index, edge in enumerate(edges)),
        else_=len(edges),
    )


def _ai_share(session: Session) -> Table:
    sub = (
        select(_share_bin().label("bin"))
        .where(counted(), Work.label == OriginLabel.AI_ASSISTED.value)
        .subquery()
    )
    found = _per_key(session, select(sub.c.bin, func.count()).group_by(sub.c.bin))
    rows = tuple(
        (low, low + SHARE_BIN, found.get(str(index), 0))
        for index, low in enumerate(range(0, 100, SHARE_BIN))
    )
    return Table(("from_percent", "to_percent", "works"), rows if any(r[2] for r in rows) else ())


def _levels(session: Session) -> Table:
    query = (
        select(Work.level, Work.label, func.count())
        .where(counted())
        .group_by(Work.level, Work.label)
    )
    found = {(str(level), str(label)): int(n) for level, label, n in session.execute(query)}
    rows: list[tuple[Value, ...]] = []
    for level in LEVELS:
        counts = [found.get((level, label), 0) for label in LABELS]
        rows.append((level, *counts, sum(counts)))
    return Table(("level", *LABELS, "total"), tuple(rows) if found else ())


def _reviews(session: Session) -> Table:
    decisions = _per_key(
        session,
        select(Review.decision, func.count())
        .join(Work, Work.id == Review.work_id)
        .where(counted())
        .group_by(Review.decision),
    )
    waiting = _per_key(
        session,
        select(Work.review_status, func.count())
        .where(counted(), Work.review_status.in_(IN_QUEUE))
        .group_by(Work.review_status),
    )
    found = {**decisions, **waiting}
    rows = tuple((outcome, found.get(outcome, 0)) for outcome in OUTCOMES)
    return Table(("outcome", "count"), rows if any(found.values()) else ())


def _series(
    registered: Mapping[tuple[date, str], int],
    logged: Mapping[tuple[date, str], int],
    starts: Sequence[date],
    period: str,
) -> tuple[Table, Table]:
    by_label = _gather(registered, starts, period)
    reg_rows: list[tuple[Value, ...]] = []
    for start in starts:
        counts = [by_label[start].get(label, 0) for label in LABELS]
        reg_rows.append((start.isoformat(), *counts, sum(counts)))
    by_kind = _gather(logged, starts, period)
    log_rows: list[tuple[Value, ...]] = []
    size = 0
    for start in starts:
        counts = [by_kind[start].get(kind, 0) for kind in LOG_KINDS]
        size += sum(counts)
        log_rows.append((start.isoformat(), *counts, size))
    registrations = Table(("period_start", *LABELS, "total"), tuple(reg_rows) if registered else ())
    log = Table(
        ("period_start", "certificates", "revocations", "log_size"),
        tuple(log_rows) if logged else (),
    )
    return registrations, log


def _days(*counts: Iterable[tuple[date, str]]) -> list[date]:
    return [day for keys in counts for day, _ in keys]


def collect(session: Session, *, today: date) -> Insights:
    """Every aggregate the insight page shows, as of ``today`` (a UTC date)."""
    registered = _per_day(session, Work.created_at, Work.label, counted())
    logged = _per_day(session, LogEntry.created_at, LogEntry.kind)
    days = _days(registered, logged)
    first = min(days, default=today)
    last = max([today, *days])
    period = choose_period(first, last)
    starts = periods(first, last, period)
    registrations, log = _series(registered, logged, starts, period)
    return Insights(
        as_of=today,
        period=period,
        works=sum(registered.values()),
        log_size=sum(logged.values()),
        registrations=registrations,
        ai_share=_ai_share(session),
        levels=_levels(session),
        reviews=_reviews(session),
        log=log,
    )


def today_of(moment: datetime) -> date:
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC).date()


# Reuse ---------------------------------------------------------------------------------------

#: Counted figures are reused this long whatever happened since, in seconds: on a busy registry
#: the log grows every few seconds, and counting (about 0.2 s at 20,000 works, growing with the
#: registry) then drawing the charts again (about 0.8 s) on every view of a public page would
#: let its visitors load the server.
FRESH_SECONDS = 10.0
#: ... and up to this long while the log has not grown. A registration, revocation or reissue
#: grows the log, so it shows after at most ``FRESH_SECONDS``; a change that leaves the log
#: alone (a rejection, an appeal) shows within this time.
MAX_AGE_SECONDS = 60.0


@dataclass(frozen=True)
class _Counted:
    log_size: int
    at: float
    found: Insights


_counted: dict[int, _Counted] = {}
_counted_lock = threading.Lock()


def _forget(key: int) -> None:
    with _counted_lock:
        _counted.pop(key, None)


def current(
    inst: Instance, *, fresh_for: float = FRESH_SECONDS, max_age: float = MAX_AGE_SECONDS
) -> Insights:
    """The instance's insights as of its clock's day: the figures counted last, while they are
    younger than ``fresh_for`` seconds, or than ``max_age`` if the log has not grown since
    (and the day is the same); otherwise counted again."""
    today = today_of(inst.clock())
    with inst.db.session() as session:
        with _counted_lock:
            kept = _counted.get(id(inst))
        if kept is not None and kept.found.as_of == today:
            age = time.monotonic() - kept.at
            if age < fresh_for or (age < max_age and LogStore(session).size() == kept.log_size):
                return kept.found
        size = LogStore(session).size()
        found = collect(session, today=today)
    with _counted_lock:
        if id(inst) not in _counted:
            # Instances are unhashable dataclasses, so figures are kept by identity and
            # dropped with the instance (as the analysis runner is).
            weakref.finalize(inst, _forget, id(inst))
        _counted[id(inst)] = _Counted(size, time.monotonic(), found)
    return found
