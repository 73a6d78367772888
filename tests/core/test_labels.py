"""Origin labels, their IPTC digital source types, and the AI-share rules."""

from __future__ import annotations

import pytest

from hallmark.core.labels import AssuranceLevel, OriginLabel, check_ai_share
from hallmark.errors import InputError

IPTC = "http://cv.iptc.org/newscodes/digitalsourcetype/"


def test_labels_map_to_iptc_source_types() -> None:
    assert OriginLabel.HUMAN_MADE.digital_source_type() == IPTC + "digitalCreation"
    assert OriginLabel.HUMAN_MADE.digital_source_type(capture=True) == IPTC + "digitalCapture"
    assert (
        OriginLabel.AI_ASSISTED.digital_source_type()
        == IPTC + "compositeWithTrainedAlgorithmicMedia"
    )
    assert OriginLabel.AI_GENERATED.digital_source_type() == IPTC + "trainedAlgorithmicMedia"


def test_levels_are_ordered() -> None:
    ranks = [level.rank for level in AssuranceLevel]
    assert ranks == [1, 2, 3, 4]
    assert [x.value for x in AssuranceLevel] == [
        "declared",
        "analyzed",
        "process-verified",
        "reviewed",
    ]


def test_unknown_label_lists_the_choices() -> None:
    with pytest.raises(InputError) as info:
        OriginLabel.parse("robot-made")
    assert "human-made" in (info.value.hint or "")


@pytest.mark.parametrize(
    ("label", "share", "expected"),
    [
        (OriginLabel.HUMAN_MADE, None, 0.0),
        (OriginLabel.AI_GENERATED, None, 100.0),
        (OriginLabel.AI_ASSISTED, 12.345, 12.35),
    ],
)
def test_valid_shares(label: OriginLabel, share: float | None, expected: float) -> None:
    assert check_ai_share(label, share) == expected


@pytest.mark.parametrize(
    ("label", "share"),
    [
        (OriginLabel.HUMAN_MADE, 5),
        (OriginLabel.AI_GENERATED, 50),
        (OriginLabel.AI_ASSISTED, None),
        (OriginLabel.AI_ASSISTED, 0),
        (OriginLabel.AI_ASSISTED, 100),
        (OriginLabel.AI_ASSISTED, -3),
    ],
)
def test_inconsistent_shares_are_refused(label: OriginLabel, share: float | None) -> None:
    with pytest.raises(InputError):
        check_ai_share(label, share)
