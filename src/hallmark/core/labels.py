"""Origin labels and assurance levels: the two things a certificate says about a work.

Labels map onto the IPTC NewsCodes "digital source type" vocabulary that C2PA uses
(https://cv.iptc.org/newscodes/digitalsourcetype/). Assurance levels follow DESIGN.md, in the
spirit of SLSA build levels: each level includes what the lower ones promise.
"""

from __future__ import annotations

import enum

from hallmark.errors import InputError

IPTC_BASE = "http://cv.iptc.org/newscodes/digitalsourcetype/"


class OriginLabel(enum.StrEnum):
    """What the certificate says about who made the work."""

    HUMAN_MADE = "human-made"
    AI_ASSISTED = "ai-assisted"
    AI_GENERATED = "ai-generated"

    @classmethod
    def parse(cls, value: str) -> OriginLabel:
        try:
            return cls(value.strip().lower())
        except ValueError:
            choices = ", ".join(label.value for label in cls)
            raise InputError(
                f"'{value}' is not an origin label.", hint=f"Use one of: {choices}."
            ) from None

    def digital_source_type(self, *, capture: bool = False) -> str:
        """The IPTC digital source type URI for this label.

        A human-made photograph is a ``digitalCapture``; every other human-made work is a
        ``digitalCreation``.
        """
        if self is OriginLabel.HUMAN_MADE:
            return IPTC_BASE + ("digitalCapture" if capture else "digitalCreation")
        if self is OriginLabel.AI_ASSISTED:
            return IPTC_BASE + "compositeWithTrainedAlgorithmicMedia"
        return IPTC_BASE + "trainedAlgorithmicMedia"


class AssuranceLevel(enum.StrEnum):
    """How strong the evidence behind a certificate is, weakest first."""

    DECLARED = "declared"
    ANALYZED = "analyzed"
    PROCESS_VERIFIED = "process-verified"
    REVIEWED = "reviewed"

    @property
    def rank(self) -> int:
        return list(AssuranceLevel).index(self) + 1


def check_ai_share(label: OriginLabel, ai_share: float | None) -> float:
    """Validate the declared AI share (percent of the work) against the label.

    ``human-made`` means no AI-generated expressive content, so its share is 0; ``ai-generated``
    is the whole work, 100; ``ai-assisted`` must state a share strictly between the two.
    """
    if label is OriginLabel.HUMAN_MADE:
        if ai_share not in (None, 0, 0.0):
            raise InputError(
                "A human-made work has no AI-generated share.",
                hint="Declare 'ai-assisted' with --ai-share if part of the work was generated.",
            )
        return 0.0
    if label is OriginLabel.AI_GENERATED:
        if ai_share not in (None, 100, 100.0):
            raise InputError(
                "An ai-generated work is 100% AI-generated.",
                hint="Declare 'ai-assisted' if a human made part of the work.",
            )
        return 100.0
    if ai_share is None:
        raise InputError(
            "An ai-assisted work must state its AI share.",
            hint="Give the percentage of the work that was AI-generated, e.g. --ai-share 20.",
        )
    if not 0 < ai_share < 100:
        raise InputError(
            f"AI share {ai_share:g}% is out of range for an ai-assisted work.",
            hint="Use a value above 0 and below 100.",
        )
    return round(float(ai_share), 2)
