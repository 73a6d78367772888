"""Tests for :mod:`hallmark.web.templating`: the filters that turn codes into words."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from hallmark.core.labels import AssuranceLevel, OriginLabel
from hallmark.web.templating import LABELS, LEVELS, _label_name, _level_name, _share, _when


@pytest.mark.parametrize(
    "value",
    [
        datetime(2026, 11, 28, 12, 5, tzinfo=UTC),
        datetime(2026, 11, 28, 12, 5),
        "2026-11-28T12:05:00Z",
    ],
)
def test_times_are_shown_in_utc(value: datetime | str) -> None:
    assert _when(value) == "28 Nov 2026, 12:05 UTC"


def test_an_unreadable_time_is_shown_as_it_is() -> None:
    assert _when("yesterday") == "yesterday"
    assert _when(None) == ""


def test_shares_drop_needless_decimals() -> None:
    assert (_share(0), _share(12.5), _share(100.0), _share(None)) == ("0%", "12.5%", "100%", "")


def test_every_label_and_level_has_words() -> None:
    assert {label.value for label in OriginLabel} == set(LABELS)
    assert {level.value for level in AssuranceLevel} == set(LEVELS)
    assert _label_name("ai-assisted") == "AI-assisted"
    assert _level_name("process-verified") == "Process verified"
    assert _label_name("unknown") == "unknown"
