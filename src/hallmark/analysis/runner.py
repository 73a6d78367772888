"""Choosing detectors by name and running them over one work (issue #4, item 1).

Detectors come from the ``hallmark_detectors`` hook (:mod:`hallmark.plugins.hookspecs`) and are
chosen by the names in the ``detectors`` setting, exactly like signers and blob stores. A
:class:`DetectorSet` builds each one once and keeps it, because some (the AI-text detector's
language model) are slow to load. One detector failing does not sink the others: its finding
becomes ``inconclusive`` and says the check could not run.

The findings digest is the SHA-256 of the canonical JSON (RFC 8785) of every finding, detector
versions included; it is what a certificate's ``analysis`` evidence item names.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Sequence
from typing import Any

from hallmark.analysis.base import Detector, Finding, Verdict, WorkInput
from hallmark.core.canonical import canonical_bytes
from hallmark.core.digests import sha256_hex
from hallmark.plugins.manager import choose

logger = logging.getLogger(__name__)


class DetectorSet:
    """The detectors named in settings, built lazily, once each, safe to share across threads."""

    def __init__(self, names: Sequence[str], settings: Any) -> None:
        self.names = tuple(dict.fromkeys(names))
        self._settings = settings
        self._built: dict[str, Detector] = {}
        self._lock = threading.Lock()

    def get(self, name: str) -> Detector:
        with self._lock:
            if name not in self._built:
                self._built[name] = choose("hallmark_detectors", name)(self._settings)
            return self._built[name]

    def for_kind(self, kind: str) -> list[Detector]:
        """Every chosen detector that takes works of ``kind`` ("text", "image")."""
        return [d for d in (self.get(name) for name in self.names) if kind in d.kinds]

    def run(self, work: WorkInput) -> list[Finding]:
        return run_detectors(self.for_kind(work.kind), work)


def run_detectors(detectors: Iterable[Detector], work: WorkInput) -> list[Finding]:
    findings = []
    for detector in detectors:
        try:
            finding = detector.analyze(work)
        except Exception as exc:
            # A broken detector must not decide anything about a person's work (nor stop the
            # others): record that it could not run, which the policy treats as no evidence.
            logger.exception("detector %s failed", detector.name)
            finding = Finding(
                detector=detector.name,
                version=detector.version,
                verdict=Verdict.INCONCLUSIVE,
                explanation=f"This check could not run ({type(exc).__name__}).",
            )
        findings.append(finding)
    return findings


def findings_json(findings: Iterable[Finding]) -> list[dict[str, Any]]:
    return [finding.to_json() for finding in findings]


def findings_sha256(findings: Sequence[dict[str, Any]]) -> str:
    return sha256_hex(canonical_bytes(list(findings)))


def evidence_item(findings: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The certificate's evidence item for an analysis: digest and ``name@version`` list."""
    return {
        "kind": "analysis",
        "sha256": findings_sha256(findings),
        "detectors": sorted({f"{f['detector']}@{f['version']}" for f in findings}),
    }
