"""Listing works newest first, with filters and a keyset cursor (issue #7, items 1 to 3).

The gallery, search, the creator pages and ``GET /api/v1/works`` page through works by
``(created_at, id)``, newest first. A cursor names the last work of a page and the next page
starts just after it, so works registered in the meantime never shift a page (no duplicates,
no gaps), and a deep page costs what the first one does, a range scan of one index
(migration 0006), where OFFSET would step through every work before it.

A work is *listed* when it is public and its current certificate is not revoked. Private,
unlisted and revoked works are never in the gallery, in search results or on a creator's page.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, exists, false, select, tuple_

from hallmark.core.labels import AssuranceLevel, OriginLabel
from hallmark.errors import InputError
from hallmark.services.consent import CONSENT_CHOICES
from hallmark.storage.models import Certificate, Revocation, Work

#: The label filter's value for "every label"; no ``label`` at all means human-made.
ALL_LABELS = "all"
LABELS = tuple(label.value for label in OriginLabel)
LEVELS = tuple(level.value for level in AssuranceLevel)
KINDS = ("text", "image")
CONSENTS = CONSENT_CHOICES
DEFAULT_LIMIT = 24
MAX_LIMIT = 100

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_CURSOR = re.compile(r"^(\d{1,19})-([0-9a-z_]{1,40})$")


def _choice(name: str, value: str | None, choices: tuple[str, ...]) -> str | None:
    value = (value or "").strip().lower()
    if not value:
        return None
    if value not in choices:
        raise InputError(
            f"'{value[:40]}' is not a {name} to filter by.",
            hint=f"Use one of: {', '.join(choices)}; or leave the {name} out.",
        )
    return value


@dataclass(frozen=True)
class Filters:
    """What a listing is narrowed to; None means "any". ``default_label`` is what the page
    shows without a ``label`` parameter, so links leave it out."""

    label: str | None = OriginLabel.HUMAN_MADE.value
    level: str | None = None
    kind: str | None = None
    consent: str | None = None
    default_label: str | None = field(default=OriginLabel.HUMAN_MADE.value, compare=False)

    @classmethod
    def parse(
        cls,
        *,
        label: str | None = None,
        level: str | None = None,
        kind: str | None = None,
        consent: str | None = None,
        default_label: str | None = OriginLabel.HUMAN_MADE.value,
    ) -> Filters:
        """Filters from query parameters, or an :class:`InputError` naming the bad one.

        Without a ``label`` the gallery shows human-made work (issue #7: human-made is the
        default view); ``label=all`` shows every label.
        """
        wanted = (label or "").strip().lower()
        if wanted == ALL_LABELS:
            chosen_label = None
        elif not wanted:
            chosen_label = default_label
        else:
            chosen_label = _choice("label", wanted, LABELS)
        return cls(
            label=chosen_label,
            level=_choice("level", level, LEVELS),
            kind=_choice("kind", kind, KINDS),
            consent=_choice("consent", consent, CONSENTS),
            default_label=default_label,
        )

    def params(self) -> dict[str, str]:
        """Query parameters that give these filters back; the default label is left out."""
        params: dict[str, str] = {}
        if self.label != self.default_label:
            params["label"] = self.label or ALL_LABELS
        for name in ("level", "kind", "consent"):
            value = getattr(self, name)
            if value is not None:
                params[name] = value
        return params

    def to_json(self) -> dict[str, Any]:
        return {
            "label": self.label or ALL_LABELS,
            "level": self.level,
            "kind": self.kind,
            "consent": self.consent,
        }

    def apply(self, query: Select[Any]) -> Select[Any]:
        if self.label is not None:
            query = query.where(Work.label == self.label)
        if self.level is not None:
            query = query.where(Work.level == self.level)
        if self.kind is not None:
            query = query.where(Work.kind == self.kind)
        if self.consent is not None:
            query = query.where(Work.consent == self.consent)
        return query


ALL = Filters(label=None, default_label=None)


@dataclass(frozen=True)
class Cursor:
    """Where a page ends: the (created_at, id) of its last work.

    Written as ``<microseconds since 1970 UTC>-<work id>``: short, URL-safe and readable.
    """

    created_at: datetime
    work_id: str

    @classmethod
    def after(cls, work: Work) -> Cursor:
        return cls(_utc(work.created_at), work.id)

    @classmethod
    def parse(cls, value: str | None) -> Cursor | None:
        """The cursor in ``value`` (None when empty), or an :class:`InputError`."""
        value = (value or "").strip()
        if not value:
            return None
        found = _CURSOR.match(value)
        micros = int(found.group(1)) if found else -1
        if found is None or micros > 253402300799999999:  # 9999-12-31T23:59:59.999999Z
            raise InputError(
                "The 'cursor' is not one this site gave out.",
                hint="Follow the 'next page' link, or leave the cursor out to start at the "
                "newest works.",
            )
        return cls(_EPOCH + timedelta(microseconds=micros), found.group(2))

    def __str__(self) -> str:
        delta = self.created_at - _EPOCH
        micros = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
        return f"{micros}-{self.work_id}"


def _utc(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes; they were stored as UTC.
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def revoked() -> ColumnElement[bool]:
    """True for a work whose current certificate is revoked (a superseded one does not count:
    its revocation only says a newer certificate replaced it)."""
    return exists(
        select(Revocation.id)
        .join(Certificate, Certificate.id == Revocation.certificate_id)
        .where(Certificate.work_id == Work.id, Certificate.superseded == false())
    )


def listed() -> ColumnElement[bool]:
    """True for a work the gallery, search and creator pages may show to anyone."""
    return and_(Work.visibility == "public", ~revoked())


def newest_first(query: Select[Any], after: Cursor | None, limit: int) -> Select[Any]:
    """``query`` in (created_at, id) order, newest first, from just after ``after``.

    One row more than ``limit`` is asked for, so :func:`page_of` knows whether there is a
    next page without counting.
    """
    if after is not None:
        query = query.where(tuple_(Work.created_at, Work.id) < (after.created_at, after.work_id))
    return query.order_by(Work.created_at.desc(), Work.id.desc()).limit(limit + 1)


def clamp_limit(limit: int | None) -> int:
    return max(1, min(limit or DEFAULT_LIMIT, MAX_LIMIT))


@dataclass(frozen=True)
class Page:
    """One page of a listing; ``next_cursor`` is None on the last page."""

    works: list[Work]
    next_cursor: str | None


def page_of(rows: list[Work], limit: int) -> Page:
    """The first ``limit`` of ``rows`` (fetched by :func:`newest_first`) and the next cursor."""
    if len(rows) > limit:
        rows = rows[:limit]
        return Page(rows, str(Cursor.after(rows[-1])))
    return Page(rows, None)


__all__ = [
    "ALL",
    "ALL_LABELS",
    "CONSENTS",
    "KINDS",
    "LABELS",
    "LEVELS",
    "Cursor",
    "Filters",
    "Page",
    "clamp_limit",
    "listed",
    "newest_first",
    "page_of",
    "revoked",
]
