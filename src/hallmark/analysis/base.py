"""The detector seam: what a detector is given, what it answers, and how it is registered.

A detector looks at one work and answers a :class:`Finding`: a score, a verdict against the
creator's declaration, a calibrated probability where that is meaningful, and an explanation a
creator can read. Detectors never decide a label; the policy (:mod:`hallmark.analysis.policy`)
turns findings and the declaration into a proposal, and contradictions go to a person.

Detectors are plugins (hook ``hallmark_detectors`` in :mod:`hallmark.plugins.hookspecs`),
chosen by name in the ``detectors`` setting. This module is pure: no database, no web.
"""

from __future__ import annotations

import enum
import io
from dataclasses import dataclass, field
from typing import IO, Any, Protocol, runtime_checkable

from hallmark.core.labels import OriginLabel


class Verdict(enum.StrEnum):
    """How a finding bears on the declaration."""

    CONSISTENT = "consistent"
    CONTRADICTS = "contradicts"
    INCONCLUSIVE = "inconclusive"


@dataclass(frozen=True)
class WorkInput:
    """What a detector may look at: the bytes, the decoded text for text works, the claim.

    ``data`` is the file's bytes, or a seekable file holding them: the analysis worker spools a
    stored image to a temporary file rather than reading it into memory. Detectors read it
    through :meth:`open` and :meth:`head`, one detector at a time.
    """

    kind: str
    media_type: str
    data: bytes | IO[bytes]
    declared: OriginLabel
    text: str | None = None
    filename: str | None = None

    def open(self) -> IO[bytes]:
        """The work's bytes as a seekable file, positioned at the start."""
        if isinstance(self.data, bytes):
            return io.BytesIO(self.data)
        self.data.seek(0)
        return self.data

    def head(self, count: int) -> bytes:
        """The first ``count`` bytes (fewer for a shorter file)."""
        if isinstance(self.data, bytes):
            return self.data[:count]
        return self.open().read(count)


@dataclass(frozen=True)
class Finding:
    detector: str
    version: str
    verdict: Verdict
    explanation: str
    score: float | None = None
    probability: float | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "detector": self.detector,
            "version": self.version,
            "verdict": self.verdict.value,
            "score": self.score,
            "probability": self.probability,
            "explanation": self.explanation,
            "details": self.details,
        }


@runtime_checkable
class Detector(Protocol):
    """One automated check. ``kinds`` says which works it takes ("text", "image")."""

    name: str
    version: str
    kinds: tuple[str, ...]

    def analyze(self, work: WorkInput) -> Finding: ...
