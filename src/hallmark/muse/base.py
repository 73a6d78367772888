"""The muse seam: its modes, the prompt a backend answers, and the backend protocol (issue #8).

The muse answers in one of four :class:`Mode`\\ s. Three of them (``questions``, ``ideas``,
``critique``) talk *about* the writing and never hand the writer text to use; ``continue``
writes prose. Whatever the mode, text the creator takes from the muse into the draft is
recorded in the journal as a ``muse`` event naming the suggestion, and counts as AI text.

A :class:`MuseBackend` turns a :class:`Prompt` into a stream of text. Backends are plugins (hook
``hallmark_muse_backends``) chosen by the ``muse_backend`` setting; the built-ins are in
:mod:`hallmark.muse.backends`. This module is pure: no database, no web, no model.
"""

from __future__ import annotations

import enum
import hashlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from hallmark.core.canonical import canonical_bytes
from hallmark.errors import InputError, UnavailableError


class Mode(enum.StrEnum):
    """What the creator asks the muse for."""

    #: Questions that push the writer to deepen a scene, a character or an argument.
    QUESTIONS = "questions"
    #: A short list of directions the text could take, not finished prose.
    IDEAS = "ideas"
    #: What is weak in the selected passage, and why.
    CRITIQUE = "critique"
    #: Prose that carries on from the writer's text.
    CONTINUE = "continue"

    @property
    def writes_prose(self) -> bool:
        return self is Mode.CONTINUE

    @classmethod
    def parse(cls, value: object) -> Mode:
        try:
            return cls(str(value).strip().lower())
        except ValueError:
            shown = str(value)[:30]
            raise InputError(
                f"'{shown}' is not a muse mode.",
                hint=f"Use one of: {', '.join(mode.value for mode in cls)}.",
            ) from None


class MuseUnavailable(UnavailableError):
    """The muse cannot answer now: its backend is down, busy, missing or turned off.

    The detail is written for the creator in the editor's panel; internals (the URL of a
    model server, a stack trace) go to the log instead.
    """

    title = "Muse unavailable"


@dataclass(frozen=True)
class Prompt:
    """What a backend is asked: chat ``messages`` (``role``, ``content``) and, for backends
    that can continue an answer already begun, the ``prefix`` the answer starts with (``"1."``
    for a numbered list). A backend that uses the prefix yields it as its first text."""

    messages: tuple[tuple[str, str], ...]
    prefix: str = ""

    def as_chat(self) -> list[dict[str, str]]:
        return [{"role": role, "content": content} for role, content in self.messages]

    def sha256(self) -> str:
        """The digest stored as evidence: SHA-256 of the JCS encoding of
        ``{"messages": [{"role", "content"}...], "prefix"}`` (docs/muse.md)."""
        doc = {"messages": self.as_chat(), "prefix": self.prefix}
        return hashlib.sha256(canonical_bytes(doc)).hexdigest()


@runtime_checkable
class MuseBackend(Protocol):
    """A language model the muse speaks through.

    ``name`` is the plugin name and ``model`` the model it runs, both stored with every
    suggestion. :meth:`stream` yields the answer's text piece by piece as it is generated and
    stops early, between pieces, once ``cancel`` is set; it raises :class:`MuseUnavailable`
    when it cannot answer. :meth:`warm_up` loads what the first answer would otherwise wait for
    (may do nothing).
    """

    name: str
    model: str

    def stream(
        self,
        prompt: Prompt,
        *,
        max_tokens: int,
        cancel: threading.Event | None = None,
        seed: int | None = None,
    ) -> Iterator[str]: ...

    def warm_up(self) -> None: ...
