"""The process journal: edit events, their hash chain, replay, attribution and the human-ness flags.

A journal is the edit-by-edit record of writing a text (issue #3; wire format in
``docs/journal.md`` with its JSON Schema). Each event inserts text at a position or deletes a run
of code points. Positions and lengths count Unicode code points, as Python strings do.

The server chains the events: ``h[-1] = SHA-256("hallmark journal v1\\n" || draft id)`` and
``h[i] = SHA-256(h[i-1] || JCS(event i))``; the last hash is the journal's root, which the
certificate states. Replaying the events must give exactly the submitted text.

Attribution follows every code point from the event that produced it to the final text:
``typed`` (insert), ``pasted`` (paste or drop of unknown origin), ``muse`` (accepted from the
muse, always AI), ``imported`` (text the creator brought in from their own earlier file). A
paste the creator marks ``"src": "ai"`` is pasted AI text. Text that is cut and pasted, copied
inside the document (``"src": "copy"``, checked against the text), or restored by undo and redo
keeps the origin it had, so pasting cannot be laundered into typing by deleting and undoing it.

This module is pure: no database, no web.
"""

from __future__ import annotations

import hashlib
import math
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from json.encoder import encode_basestring as _json_string
from typing import Any

from hallmark.errors import InputError

JOURNAL_VERSION = 1
OPS = ("insert", "delete", "paste", "muse", "import")
#: Optional ``src`` values: how the editor saw the change happen.
SOURCES = ("key", "ime", "undo", "redo", "drop", "cut", "copy", "autocorrect", "ai")
MAX_EVENT_TEXT = 200_000
MAX_TEXT = 2_000_000
MAX_REF = 100
MAX_TIME_MS = 2**53 - 1

TYPED, PASTED, MUSE, IMPORTED, PASTED_AI = 0, 1, 2, 3, 4
ORIGIN_NAMES = ("typed", "pasted", "muse", "imported", "pasted_ai")
_OP_ORIGIN = {"insert": TYPED, "paste": PASTED, "muse": MUSE, "import": IMPORTED}
_ALLOWED_KEYS = frozenset({"seq", "t", "op", "pos", "text", "len", "ref", "src"})
_ARTICLE = {"insert": "an", "paste": "a", "muse": "a", "import": "an"}

# Human-ness rules (docs/journal.md, "Flags"): thresholds, in one place.
PAUSE_MS = 2_000  # a gap longer than this is a pause, not a keystroke interval
ACTIVE_GAP_MS = 5 * 60_000  # gaps longer than this are not counted as writing time
SESSION_GAP_MS = 30 * 60_000  # a gap longer than this starts a new writing session
FAST_WINDOW_CHARS = 300
FAST_CHARS_PER_SECOND = 15.0
REGULAR_MIN_INTERVALS = 200
REGULAR_MAX_CV = 0.2
TRANSCRIPTION_MIN_CHARS = 800
TRANSCRIPTION_MIN_TYPED = 0.8
TRANSCRIPTION_MAX_REVISION = 0.02
TRANSCRIPTION_WINDOW_CHARS = 100
TRANSCRIPTION_MAX_SPEED_CV = 0.25
MOSTLY_PASTED_SHARE = 50.0
LARGE_PASTE_SHARE = 20.0
LARGE_PASTE_CHARS = 1_000
CLOCK_BACKWARDS_MS = 1_000
_RESTORE_MEMORY = 200  # how many deleted runs undo/redo and moves may restore from


def genesis_hash(draft_id: str) -> bytes:
    return hashlib.sha256(b"hallmark journal v1\n" + draft_id.encode("utf-8")).digest()


def event_bytes(event: Mapping[str, Any]) -> bytes:
    """The RFC 8785 (JCS) encoding of one canonical event (as :func:`parse_event` returns).

    Events hold only known ASCII keys, integers below 2**53 and strings, so JCS reduces to
    writing the keys in sorted order with the standard JSON string escaping, which is what
    ``json.encoder.encode_basestring`` does; a property test pins this against a general JCS
    encoder. Written out by hand, it is several times faster, which matters at 20,000 events/s.
    """
    parts = []
    if "len" in event:
        parts.append(f'"len":{int(event["len"])}')
    parts.append('"op":' + _json_string(event["op"]))
    parts.append(f'"pos":{int(event["pos"])}')
    if "ref" in event:
        parts.append('"ref":' + _json_string(event["ref"]))
    parts.append(f'"seq":{int(event["seq"])}')
    if "src" in event:
        parts.append('"src":' + _json_string(event["src"]))
    parts.append(f'"t":{int(event["t"])}')
    if "text" in event:
        parts.append('"text":' + _json_string(event["text"]))
    return ("{" + ",".join(parts) + "}").encode("utf-8")


def chain(previous: bytes, event: Mapping[str, Any]) -> bytes:
    return hashlib.sha256(previous + event_bytes(event)).digest()


def _encodable(text: str) -> bool:
    # JSON can carry lone surrogates ("\\ud800"), which are not text and cannot be stored.
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _bad(seq: Any, message: str) -> InputError:
    where = f"Event {seq}" if isinstance(seq, int) else "An event"
    return InputError(f"{where}: {message}")


def parse_event(raw: Any, *, expected_seq: int, text_length: int) -> dict[str, Any]:
    """Check one wire event against the journal so far; return it in canonical form.

    ``expected_seq`` is the next sequence number and ``text_length`` the current text's length
    in code points, so skipped, repeated or reordered events and out-of-range positions are
    refused with a message naming the event.
    """
    if not isinstance(raw, dict):
        raise _bad(None, "must be a JSON object.")
    seq = raw.get("seq")
    unknown = set(raw) - _ALLOWED_KEYS
    if unknown:
        raise _bad(seq, f"unknown field(s) {', '.join(sorted(unknown))}.")
    if not isinstance(seq, int) or isinstance(seq, bool):
        raise _bad(None, "'seq' must be an integer.")
    if seq != expected_seq:
        if seq < expected_seq:
            raise _bad(seq, f"repeats or reorders the journal; the next event is {expected_seq}.")
        raise _bad(seq, f"skips events; the next event is {expected_seq}.")
    t, op, pos = raw.get("t"), raw.get("op"), raw.get("pos")
    if not isinstance(t, int) or isinstance(t, bool) or not 0 <= t <= MAX_TIME_MS:
        raise _bad(seq, "'t' must be milliseconds since the Unix epoch.")
    if op not in OPS:
        raise _bad(seq, f"'op' must be one of {', '.join(OPS)}.")
    if not isinstance(pos, int) or isinstance(pos, bool) or not 0 <= pos <= text_length:
        raise _bad(seq, f"'pos' {pos!r} is outside the text (0 to {text_length}).")
    event: dict[str, Any] = {"seq": seq, "t": t, "op": op, "pos": pos}
    if op == "delete":
        length = raw.get("len")
        if "text" in raw:
            raise _bad(seq, "a delete has 'len', not 'text'.")
        if not isinstance(length, int) or isinstance(length, bool) or length < 1:
            raise _bad(seq, "'len' must be a positive integer.")
        if pos + length > text_length:
            raise _bad(seq, f"deletes past the end of the text ({pos}+{length} > {text_length}).")
        event["len"] = length
    else:
        text = raw.get("text")
        if "len" in raw:
            raise _bad(seq, f"{_ARTICLE[op]} {op} has 'text', not 'len'.")
        if not isinstance(text, str) or not text:
            raise _bad(seq, "'text' must be a non-empty string.")
        if len(text) > MAX_EVENT_TEXT:
            raise _bad(seq, f"'text' is longer than {MAX_EVENT_TEXT:,} characters.")
        if "\x00" in text or not _encodable(text):
            raise _bad(seq, "'text' contains a NUL or an unpaired surrogate.")
        if text_length + len(text) > MAX_TEXT:
            raise _bad(seq, f"the text would be longer than {MAX_TEXT:,} characters.")
        event["text"] = text
    for key, limit in (("ref", MAX_REF), ("src", 20)):
        if key in raw and raw[key] is not None:
            value = raw[key]
            if not isinstance(value, str) or not value or len(value) > limit:
                raise _bad(seq, f"'{key}' must be a short string.")
            event[key] = value
    if "src" in event and event["src"] not in SOURCES:
        raise _bad(seq, f"'src' must be one of {', '.join(SOURCES)}.")
    if event.get("src") == "ai" and op != "paste":
        raise _bad(seq, "only a paste can be marked as AI text ('src': 'ai').")
    return event


class _GapBuffer:
    """A sequence being edited at a moving cursor: what lies before the cursor in order, what
    lies after it reversed, so an edit costs the distance the cursor moves plus the edit.

    Writing happens near a cursor; editing a Python list in place would instead move the whole
    rest of the text on every keystroke (benchmarks/README.md, "Journal"). ``kind`` is ``list``
    for code points or ``bytearray`` for their origins.
    """

    __slots__ = ("left", "right")

    def __init__(self, kind: type[list[Any]] | type[bytearray], initial: Iterable[Any] = ()):
        self.left: Any = kind(initial)
        self.right: Any = kind()

    def __len__(self) -> int:
        return len(self.left) + len(self.right)

    def _move(self, pos: int) -> None:
        here = len(self.left)
        if pos < here:
            self.right += self.left[pos:][::-1]
            del self.left[pos:]
        elif pos > here:
            cut = len(self.right) - (pos - here)
            self.left += self.right[cut:][::-1]
            del self.right[cut:]

    def insert(self, pos: int, items: Iterable[Any]) -> None:
        if pos != len(self.left):
            self._move(pos)
        self.left += items

    def delete(self, pos: int, length: int) -> Any:
        """Remove ``length`` items at ``pos``; return them, in order."""
        self._move(pos)
        cut = len(self.right) - length
        gone = self.right[cut:][::-1]
        del self.right[cut:]
        return gone

    def whole(self) -> Any:
        return self.left + self.right[::-1]


@dataclass
class Ingest:
    """The state the server keeps per draft to accept the next batch without a full replay."""

    text: str
    next_seq: int
    head: bytes


def ingest(
    state: Ingest, batch: Iterable[Any]
) -> tuple[Ingest, list[tuple[dict[str, Any], bytes]]]:
    """Validate and chain a batch; return the new state and each event with its hash.

    All or nothing: the first bad event refuses the whole batch, and ``state`` is not changed.
    """
    chars = _GapBuffer(list, state.text)
    head, seq = state.head, state.next_seq
    accepted: list[tuple[dict[str, Any], bytes]] = []
    for raw in batch:
        event = parse_event(raw, expected_seq=seq, text_length=len(chars))
        if event["op"] == "delete":
            chars.delete(event["pos"], event["len"])
        else:
            chars.insert(event["pos"], event["text"])
        head = chain(head, event)
        accepted.append((event, head))
        seq += 1
    return Ingest("".join(chars.whole()), seq, head), accepted


# Replay and attribution ----------------------------------------------------------------------


@dataclass
class Report:
    """What the journal says about how the text was written."""

    text: str
    events: int
    root: bytes
    counts: dict[str, int]
    shares: dict[str, float]
    ai_share: float
    deleted_chars: int
    longest_paste: int
    active_ms: int
    sessions: int
    keystrokes: int
    flags: list[dict[str, str]]
    timeline: list[dict[str, int]] = field(default_factory=list)
    origins: bytes = b""

    def to_json(self) -> dict[str, Any]:
        return {
            "events": self.events,
            "journal_root": self.root.hex(),
            "length": len(self.text),
            "shares": self.shares,
            "counts": self.counts,
            "ai_share": self.ai_share,
            "deleted_chars": self.deleted_chars,
            "longest_paste": self.longest_paste,
            "active_seconds": round(self.active_ms / 1000),
            "sessions": self.sessions,
            "keystrokes": self.keystrokes,
            "flags": self.flags,
            "timeline": self.timeline,
        }


def _share(count: int, total: int) -> float:
    return round(100.0 * count / total, 2) if total else 0.0


def journal_root(events: Iterable[Mapping[str, Any]], *, draft_id: str) -> bytes:
    """Recompute the hash chain over ``events``: the root the certificate states."""
    head = genesis_hash(draft_id)
    for event in events:
        head = chain(head, event)
    return head


def replay(
    events: Iterable[Mapping[str, Any]], *, root: bytes = b"", timeline_points: int = 120
) -> Report:
    """Rebuild the text from validated events, attributing every code point to its origin.

    Events are trusted to be valid: they were checked by :func:`ingest` when they arrived.
    ``root`` is only carried into the report; :func:`journal_root` recomputes it when needed.
    """
    events = events if isinstance(events, list) else list(events)
    every = max(1, len(events) // max(1, timeline_points))
    chars = _GapBuffer(list)
    origins = _GapBuffer(bytearray)
    counts = [0, 0, 0, 0, 0]
    deleted: deque[tuple[str, bytes]] = deque(maxlen=_RESTORE_MEMORY)
    deleted_chars = longest_paste = longest_unknown = keystrokes = 0
    active_ms = 0
    sessions = 0
    last_t: int | None = None
    clock_backwards = False
    # (writing clock, cumulative typed code points). The writing clock adds up the gaps between
    # events that go forward, so a clock set back mid-journal (flagged on its own) cannot make
    # typing look impossibly fast.
    typed_times: list[tuple[int, int]] = []
    clock = 0
    typed_total = 0
    intervals: list[int] = []
    last_key_t: int | None = None
    samples: list[tuple[int, list[int]]] = []
    n = 0
    typed_one = bytes([TYPED])
    for event in events:
        t, op, pos = event["t"], event["op"], event["pos"]
        if last_t is None:
            sessions = 1
        else:
            gap = t - last_t
            if gap < -CLOCK_BACKWARDS_MS:
                clock_backwards = True
            if gap > SESSION_GAP_MS:
                sessions += 1
            if gap > 0:
                clock += gap
                if gap <= ACTIVE_GAP_MS:
                    active_ms += gap
        last_t = t
        if op == "delete":
            length = event["len"]
            gone = bytes(origins.delete(pos, length))
            deleted.append(("".join(chars.delete(pos, length)), gone))
            for origin in set(gone):
                counts[origin] -= gone.count(origin)
            deleted_chars += length
        else:
            text = event["text"]
            src = event.get("src")
            size = len(text)
            if op == "insert" and src not in ("undo", "redo"):
                # Typing, the common case, kept short: its origin needs no search.
                chars.insert(pos, text)
                origins.insert(pos, typed_one * size)
                counts[TYPED] += size
                typed_total += size
                typed_times.append((clock, typed_total))
                if size == 1 and (src is None or src == "key"):
                    keystrokes += 1
                    if last_key_t is not None and 0 < t - last_key_t <= PAUSE_MS:
                        intervals.append(t - last_key_t)
                    last_key_t = t
            else:
                run, fresh = _origins_for(op, src, text, chars, origins, deleted)
                chars.insert(pos, text)
                origins.insert(pos, run)
                for origin in set(run):
                    counts[origin] += run.count(origin)
                # Only text new to this journal counts as a paste: moving a paragraph (cut and
                # paste), copying inside the document or undoing a deletion brings nothing in.
                if fresh and run[0] in (PASTED, PASTED_AI):
                    longest_paste = max(longest_paste, size)
                    if run[0] == PASTED:
                        longest_unknown = max(longest_unknown, size)
        n += 1
        if n % every == 0 or n == len(events):
            samples.append((t, counts.copy()))
    final = "".join(chars.whole())
    total = len(final)
    named = {
        "typed": counts[TYPED],
        "pasted": counts[PASTED] + counts[PASTED_AI],
        "muse": counts[MUSE],
        "imported": counts[IMPORTED],
    }
    shares = {name: _share(count, total) for name, count in named.items()}
    ai_share = _ai_share(counts[MUSE] + counts[PASTED_AI], total)
    unknown_paste_share = _share(counts[PASTED], total)
    flags = _flags(
        total=total,
        typed_share=shares["typed"],
        unknown_paste_share=unknown_paste_share,
        longest_unknown_paste=longest_unknown,
        deleted_chars=deleted_chars,
        typed_times=typed_times,
        intervals=intervals,
        clock_backwards=clock_backwards,
    )
    return Report(
        text=final,
        events=n,
        root=root,
        counts={**named, "pasted_ai": counts[PASTED_AI]},
        shares=shares,
        ai_share=ai_share,
        deleted_chars=deleted_chars,
        longest_paste=longest_paste,
        active_ms=active_ms,
        sessions=sessions,
        keystrokes=keystrokes,
        flags=flags,
        timeline=_timeline(samples),
        origins=bytes(origins.whole()),
    )


def _ai_share(ai: int, total: int) -> float:
    """The AI share in percent, never rounded to 0 when there is AI text, nor to 100 when
    there is other text: the label follows from it (``ai-assisted`` needs 0 < share < 100)."""
    share = _share(ai, total)
    if ai and share == 0.0:
        return 0.01
    if ai < total and share == 100.0:
        return 99.99
    return share


def _origins_for(
    op: str,
    src: str | None,
    text: str,
    chars: _GapBuffer,
    origins: _GapBuffer,
    deleted: deque[tuple[str, bytes]],
) -> tuple[bytes, bool]:
    """The origin of each code point an insert-like event adds, and whether it is new text.

    Text is not new when it comes back from a recent deletion or from elsewhere in the document.
    """
    if op in ("insert", "paste") and (src in ("undo", "redo") or op == "paste"):
        # Text put back by undo/redo, or cut and pasted, keeps the origins it had when it left.
        restored = _restored(text, deleted)
        if restored is not None:
            return restored, False
        if op == "paste":
            if src == "copy":
                # The editor says the text was copied inside this document; where it is found
                # there, it keeps its origins. Only claimed copies are searched: the search
                # costs a pass over the text, too much to spend on every paste.
                found = "".join(chars.whole()).find(text) if len(text) <= len(chars) else -1
                if found >= 0:
                    return bytes(origins.whole()[found : found + len(text)]), False
            return bytes([PASTED_AI if src == "ai" else PASTED]) * len(text), True
        # Undo or redo of text this journal never held: of unknown origin, like a paste.
        return bytes([PASTED]) * len(text), True
    return bytes([_OP_ORIGIN[op]]) * len(text), True


def _restored(text: str, deleted: deque[tuple[str, bytes]]) -> bytes | None:
    """The origins ``text`` had if it is a recently deleted run, or else None."""
    for gone_text, gone_origins in reversed(deleted):
        if gone_text == text:
            return gone_origins
    # Browsers undo a word erased key by key in one step, so the text comes back whole after
    # several one-key deletions. Backspace erases right to left, so the newest run comes first;
    # the Delete key erases left to right at one place, so the oldest run comes first.
    newest_first: list[tuple[str, bytes]] = []
    size = 0
    for run in reversed(deleted):
        newest_first.append(run)
        size += len(run[0])
        if size >= len(text):
            break
    if size != len(text) or len(newest_first) < 2:
        return None
    for runs in (newest_first, newest_first[::-1]):
        if "".join(gone for gone, _ in runs) == text:
            return b"".join(origin for _, origin in runs)
    return None


def _timeline(samples: list[tuple[int, list[int]]]) -> list[dict[str, int]]:
    return [
        {
            "t": t,
            "typed": c[TYPED],
            "pasted": c[PASTED] + c[PASTED_AI],
            "muse": c[MUSE],
            "imported": c[IMPORTED],
        }
        for t, c in samples
    ]


def _flag(code: str, explanation: str) -> dict[str, str]:
    return {"code": code, "explanation": explanation}


def _flags(
    *,
    total: int,
    typed_share: float,
    unknown_paste_share: float,
    longest_unknown_paste: int,
    deleted_chars: int,
    typed_times: list[tuple[int, int]],
    intervals: list[int],
    clock_backwards: bool,
) -> list[dict[str, str]]:
    """The rules of docs/journal.md, "Flags". Each sends the work to review, never to rejection."""
    flags: list[dict[str, str]] = []
    if unknown_paste_share >= MOSTLY_PASTED_SHARE:
        flags.append(
            _flag(
                "mostly-pasted",
                f"{unknown_paste_share:g}% of the text arrived by paste from outside the editor, "
                "so the journal cannot show how it was written.",
            )
        )
    elif unknown_paste_share >= LARGE_PASTE_SHARE or longest_unknown_paste >= LARGE_PASTE_CHARS:
        flags.append(
            _flag(
                "large-paste",
                f"A large part of the text was pasted from outside the editor "
                f"({unknown_paste_share:g}% of the text; the longest paste was "
                f"{longest_unknown_paste:,} characters). A reviewer will look at where it "
                "came from.",
            )
        )
    fastest = _fastest_rate(typed_times, FAST_WINDOW_CHARS)
    if fastest > FAST_CHARS_PER_SECOND:
        flags.append(
            _flag(
                "too-fast",
                f"{FAST_WINDOW_CHARS} characters in a row were typed at {fastest:.0f} characters "
                f"a second, faster than people type for that long "
                f"(the limit is {FAST_CHARS_PER_SECOND:g}).",
            )
        )
    if len(intervals) >= REGULAR_MIN_INTERVALS:
        cv = _variation(intervals)
        if cv < REGULAR_MAX_CV:
            flags.append(
                _flag(
                    "machine-regular",
                    f"The time between keystrokes barely varied (variation {cv:.2f}; people "
                    f"type with {REGULAR_MAX_CV:g} or more), as when a program types.",
                )
            )
    revision = deleted_chars / total if total else 0.0
    if (
        total >= TRANSCRIPTION_MIN_CHARS
        and typed_share >= 100 * TRANSCRIPTION_MIN_TYPED
        and revision < TRANSCRIPTION_MAX_REVISION
    ):
        speed_cv = _speed_variation(typed_times, TRANSCRIPTION_WINDOW_CHARS)
        if speed_cv is not None and speed_cv < TRANSCRIPTION_MAX_SPEED_CV:
            flags.append(
                _flag(
                    "transcription",
                    f"A long text ({total:,} characters) was typed at a steady pace with almost "
                    f"no revision ({revision:.1%} deleted), as when copying out a finished text.",
                )
            )
    if clock_backwards:
        flags.append(
            _flag(
                "clock-irregular",
                "The editor's clock went backwards during writing, so timings are unreliable.",
            )
        )
    return flags


def _fastest_rate(typed_times: list[tuple[int, int]], window: int) -> float:
    """The highest typing rate, in code points a second, over any run of ``window`` code points."""
    if not typed_times or typed_times[-1][1] < window:
        return 0.0
    # A window counts the code points typed after its first point. Starting from nothing at
    # the first event's time makes the first event count too: otherwise a journal that "types"
    # a whole text in one insert would show no typing rate at all.
    times = [typed_times[0][0], *(t for t, _ in typed_times)]
    totals = [0, *(count for _, count in typed_times)]
    best = 0.0
    start = 0
    for end in range(1, len(totals)):
        total = totals[end]
        if total < window:
            continue
        # The shortest run ending here that still holds a whole window.
        while total - totals[start + 1] >= window:
            start += 1
        elapsed_ms = times[end] - times[start]
        rate = (total - totals[start]) * 1000 / (elapsed_ms if elapsed_ms > 1 else 1)
        if rate > best:
            best = rate
    return best


def _speed_variation(typed_times: list[tuple[int, int]], window: int) -> float | None:
    """Coefficient of variation of typing speed across consecutive windows of ``window`` chars."""
    speeds: list[float] = []
    start_t, start_c = typed_times[0] if typed_times else (0, 0)
    for t, c in typed_times:
        if c - start_c >= window:
            seconds = max((t - start_t) / 1000, 0.001)
            speeds.append((c - start_c) / seconds)
            start_t, start_c = t, c
    if len(speeds) < 4:
        return None
    return _variation(speeds) if any(speeds) else None


def _variation(values: list[int] | list[float]) -> float:
    """Coefficient of variation (population standard deviation over mean) of positive values.

    In floating point: ``statistics.pstdev`` computes exactly with fractions, which costs a
    tenth of a second on a long journal and buys nothing at two significant digits.
    """
    mean = math.fsum(values) / len(values)
    if not mean:
        return 0.0
    return math.sqrt(math.fsum((value - mean) ** 2 for value in values) / len(values)) / mean
