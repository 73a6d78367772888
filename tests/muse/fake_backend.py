"""Small, real muse backends for tests: registered through the same hook as the built-ins.

- ``fake`` answers at once with a canned text for the kind of request (a continuation for
  ``continue``, numbered questions or ideas, a critique), word by word, and keeps every prompt
  it was given so tests can look at what the muse sent.
- ``fake-slow`` does the same with a pause between words, for cancelling.
- ``fake-down`` cannot be reached, like a model server that is not running.
- ``fake-broken`` writes a few words, then loses its server.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from hallmark.muse.base import MuseUnavailable, Prompt
from hallmark.plugins.hookspecs import hookimpl
from hallmark.plugins.manager import plugin_manager

CONTINUATION = "The gulls settled on the harbour wall and waited for the boats."
QUESTIONS = "1. What does Mara fear the letter says?\n2. Who else is on the quay?"
IDEAS = "1. The letter is not from her father.\n2. A boat comes in early."
CRITIQUE = "The second sentence tells us nobody looked up, but not why that matters."


def answer_for(prompt: Prompt) -> str:
    system, user = prompt.messages[0][1], prompt.messages[-1][1]
    if "continue their text" in system:
        return CONTINUATION
    if "only ask questions" in system:
        return QUESTIONS
    if "suggest directions" in system:
        return IDEAS
    return CRITIQUE if "weak" in user else "Something else."


class FakeBackend:
    model = "fake-muse-1"

    def __init__(self, name: str, *, delay: float = 0.0, fail_after: int | None = None) -> None:
        self.name = name
        self.delay = delay
        self.fail_after = fail_after
        self.prompts: list[Prompt] = []
        self.seeds: list[int | None] = []
        self.closed = 0
        self.warmed = 0

    def warm_up(self) -> None:
        self.warmed += 1

    def stream(
        self,
        prompt: Prompt,
        *,
        max_tokens: int,
        cancel: threading.Event | None = None,
        seed: int | None = None,
    ) -> Iterator[str]:
        self.prompts.append(prompt)
        self.seeds.append(seed)
        words = answer_for(prompt).split(" ")
        try:
            for index, word in enumerate(words[:max_tokens]):
                if cancel is not None and cancel.is_set():
                    return
                if self.fail_after is not None and index >= self.fail_after:
                    raise MuseUnavailable("The muse's model server cannot be reached.")
                if self.delay:
                    time.sleep(self.delay)
                yield word if index == 0 else " " + word
        finally:
            self.closed += 1


class DownBackend(FakeBackend):
    def stream(
        self,
        prompt: Prompt,
        *,
        max_tokens: int,
        cancel: threading.Event | None = None,
        seed: int | None = None,
    ) -> Iterator[str]:
        raise MuseUnavailable(
            "The muse's model server cannot be reached.",
            hint="If you run this instance, check that the server at muse_url is running.",
        )
        yield ""  # a generator, like every backend's stream


class _Plugin:
    @hookimpl
    def hallmark_muse_backends(self) -> dict[str, Any]:
        return {
            "fake": lambda _settings: FakeBackend("fake"),
            "fake-slow": lambda _settings: FakeBackend("fake-slow", delay=0.3),
            "fake-down": lambda _settings: DownBackend("fake-down"),
            "fake-broken": lambda _settings: FakeBackend("fake-broken", fail_after=3),
        }


@contextmanager
def registered() -> Iterator[None]:
    """The test backends, registered with Hallmark's plugin manager for the duration."""
    pm = plugin_manager()
    plugin = _Plugin()
    pm.register(plugin, name="hallmark-test-muse")
    try:
        yield
    finally:
        pm.unregister(plugin)
