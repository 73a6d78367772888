"""A small, real detector plugin for tests: registered through the same hook as the built-ins.

``keyword`` reads the text of a text work: a telltale AI phrase contradicts a ``human-made``
declaration, a text shorter than ten words is inconclusive, anything else is consistent.
``broken`` always raises, to show one failing detector does not sink the analysis.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from hallmark.analysis.base import Finding, Verdict, WorkInput
from hallmark.core.labels import OriginLabel
from hallmark.plugins.hookspecs import hookimpl
from hallmark.plugins.manager import plugin_manager

TELLTALE = "as an ai language model"


class KeywordDetector:
    name = "keyword"
    version = "1.0"
    kinds = ("text",)

    def analyze(self, work: WorkInput) -> Finding:
        text = (work.text or "").lower()
        if len(text.split()) < 10:
            return Finding(self.name, self.version, Verdict.INCONCLUSIVE, "Too short to judge.")
        if TELLTALE in text:
            verdict = (
                Verdict.CONTRADICTS
                if work.declared is OriginLabel.HUMAN_MADE
                else Verdict.CONSISTENT
            )
            return Finding(
                self.name,
                self.version,
                verdict,
                "The text contains a phrase chatbots write about themselves.",
                score=0.99,
                probability=0.9,
                details={"phrase": TELLTALE},
            )
        return Finding(
            self.name, self.version, Verdict.CONSISTENT, "No telltale phrase.", score=0.01
        )


class BrokenDetector:
    name = "broken"
    version = "0.1"
    kinds = ("text", "image")

    def analyze(self, work: WorkInput) -> Finding:
        raise RuntimeError("this detector always fails")


class _Plugin:
    @hookimpl
    def hallmark_detectors(self) -> dict[str, Any]:
        return {
            "keyword": lambda _settings: KeywordDetector(),
            "broken": lambda _s: BrokenDetector(),
        }


@contextmanager
def registered() -> Iterator[None]:
    """The test detectors, registered with Hallmark's plugin manager for the duration."""
    pm = plugin_manager()
    plugin = _Plugin()
    pm.register(plugin, name="hallmark-test-detectors")
    try:
        yield
    finally:
        pm.unregister(plugin)


HUMAN_TEXT = (
    b"The harbour lights came on one by one while the fishermen mended their nets,\n"
    b"and the tide turned quietly under the old stone pier at dusk.\n"
)
AI_TEXT = (
    b"As an AI language model, I cannot feel the sea, but here is a poem about the harbour\n"
    b"and its lights and the boats that come home in the evening.\n"
)
SHORT_TEXT = b"Gulls, salt, rope.\n"
