"""Hypothesis fuzzing of the parsers that read what strangers send (issue #9).

Each parser is fed arbitrary input and mutations of valid input. The property is the same for
all of them: the input is accepted, or refused with an :class:`~hallmark.errors.InputError`
(which the web face turns into a 4xx problem document); any other exception would be a 500.

- The journal: :func:`hallmark.core.journal.ingest` on arbitrary JSON-like event lists and on a
  recorded browser journal with one field, one event or the order changed. What it accepts
  must replay to the same text.
- The bundle: :meth:`hallmark.core.bundle.Bundle.parse` then
  :func:`hallmark.core.verify.verify_bundle`, on arbitrary bytes and on a real bundle with one
  value replaced or some bytes flipped. A verdict or an InputError, never anything else.
- Uploads: :func:`hallmark.web.uploads.read_upload` with any filename and content type, then
  :func:`hallmark.services.media.inspect`, on arbitrary bytes, on bytes behind an image's magic
  number, and on real PNG, JPEG, GIF and WebP files with bytes flipped or cut off.

Example counts are bounded and derandomized, so CI runs the same cases every time.
"""

from __future__ import annotations

import copy
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import UploadFile
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image
from starlette.datastructures import Headers

from hallmark.core import journal
from hallmark.core.bundle import Bundle
from hallmark.core.verify import VerificationResult, verify_bundle
from hallmark.errors import InputError
from hallmark.services import registry
from hallmark.services.instance import Instance
from hallmark.services.media import MediaInfo, inspect
from hallmark.web.uploads import parse_ai_share, read_bundle, read_upload
from tests.conftest import add_user, make_instance

FUZZ = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
ROOT = Path(__file__).resolve().parents[2]
DRAFT = "d_fuzz"
#: The first events of a journal typed in a real browser: realistic, and quick to replay.
RECORDED = json.loads(
    (ROOT / "tests" / "fixtures" / "journals" / "human_like_browser.json").read_text("utf-8")
)["events"][:80]

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**64), max_value=2**64)
    | st.floats()
    | st.text(max_size=20)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


def _paths(doc: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every place in a JSON document where a value sits."""
    if isinstance(doc, dict):
        for key, value in doc.items():
            yield (*prefix, key)
            yield from _paths(value, (*prefix, key))
    elif isinstance(doc, list):
        for index, value in enumerate(doc):
            yield (*prefix, index)
            yield from _paths(value, (*prefix, index))


def _replace(doc: Any, path: tuple[Any, ...], value: Any, *, delete: bool) -> Any:
    mutated = copy.deepcopy(doc)
    parent = mutated
    for step in path[:-1]:
        parent = parent[step]
    if delete:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return mutated


@st.composite
def mutated_json(draw: st.DrawFn, doc: Any) -> Any:
    """``doc`` with one value replaced by arbitrary JSON, or removed."""
    path = draw(st.sampled_from(list(_paths(doc))))
    return _replace(doc, path, draw(json_values), delete=draw(st.booleans()))


@st.composite
def mutated_bytes(draw: st.DrawFn, data: bytes) -> bytes:
    """``data`` with a few bytes flipped, inserted or removed, or cut short."""
    buf = bytearray(data)
    for _ in range(draw(st.integers(1, 4))):
        if not buf:
            break
        at = draw(st.integers(0, len(buf) - 1))
        action = draw(st.sampled_from(["flip", "insert", "delete", "truncate"]))
        if action == "flip":
            buf[at] ^= draw(st.integers(1, 255))
        elif action == "insert":
            buf[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif action == "delete":
            del buf[at : at + draw(st.integers(1, 16))]
        else:
            del buf[at:]
    return bytes(buf)


# The journal -----------------------------------------------------------------------------------

EVENT_KEYS = ["seq", "t", "op", "pos", "text", "len", "ref", "src", "extra"]
plausible_events = st.fixed_dictionaries(
    {
        "seq": st.integers(-1, 6) | json_scalars,
        "t": st.integers(0, 2**54) | json_scalars,
        "op": st.sampled_from([*journal.OPS, "Insert", ""]) | json_scalars,
    },
    optional={
        "pos": st.integers(-2, 12) | json_scalars,
        "text": st.text(max_size=12) | json_scalars,
        "len": st.integers(-2, 12) | json_scalars,
        "ref": st.text(max_size=5) | json_values,
        "src": st.sampled_from(journal.SOURCES) | json_scalars,
        "extra": json_values,
    },
)


def _ingest(events: list[Any]) -> None:
    """Ingest ``events`` in one batch; if accepted, replay must rebuild the same text."""
    start = journal.Ingest("", 0, journal.genesis_hash(DRAFT))
    try:
        state, accepted = journal.ingest(start, events)
    except InputError:
        return
    chained = [event for event, _ in accepted]
    report = journal.replay(chained, root=journal.journal_root(chained, draft_id=DRAFT))
    assert report.text == state.text
    assert report.root == state.head
    json.dumps(report.to_json())


def test_the_recorded_journal_is_accepted() -> None:
    # The mutations below start from this journal, so it must be valid to begin with.
    _, accepted = journal.ingest(journal.Ingest("", 0, journal.genesis_hash(DRAFT)), RECORDED)
    assert len(accepted) == len(RECORDED)


@FUZZ
@given(st.lists(json_values, max_size=6) | st.lists(plausible_events, max_size=8))
def test_journal_takes_arbitrary_events_or_refuses_them(events: list[Any]) -> None:
    _ingest(events)


@FUZZ
@given(mutated_json(RECORDED))
def test_journal_with_one_value_changed(events: list[Any]) -> None:
    _ingest(events)


@FUZZ
@given(st.data())
def test_journal_with_events_dropped_repeated_or_swapped(data: st.DataObject) -> None:
    events = list(RECORDED)
    i = data.draw(st.integers(0, len(events) - 1))
    j = data.draw(st.integers(0, len(events) - 1))
    action = data.draw(st.sampled_from(["drop", "repeat", "swap"]))
    if action == "drop":
        del events[i]
    elif action == "repeat":
        events.insert(j, events[i])
    else:
        events[i], events[j] = events[j], events[i]
    _ingest(events)


# The bundle ------------------------------------------------------------------------------------

POEM = b"The tide goes out,\nthe gulls come in;\nthe harbour keeps its counsel.\n"


@pytest.fixture(scope="module")
def signed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Instance, dict[str, Any]]]:
    """An instance with two works (so the first one's inclusion proof is not empty) and the
    first one's bundle."""
    inst = make_instance(tmp_path_factory.mktemp("bundle") / "home")
    creator = add_user(inst, "ines")
    reg = registry.register_work(
        inst, creator_id=creator, data=POEM, title="Harbour", declare="human-made"
    )
    registry.register_work(
        inst, creator_id=creator, data=b"another", title="B", declare="human-made"
    )
    with inst.db.session() as session:
        cert = registry.find_certificate(session, reg.certificate_id)
        doc = registry.build_bundle(session, cert).to_json()
    yield inst, doc
    inst.close()


def _verify(inst: Instance, data: bytes, content: bytes | None) -> VerificationResult | None:
    """Parse and verify; None when the bundle is refused as input."""
    try:
        bundle = Bundle.parse(data)
    except InputError:
        return None
    result = verify_bundle(content, bundle, inst.verifier)
    json.dumps(result.to_json())
    return result


def test_the_real_bundle_is_valid(signed: tuple[Instance, dict[str, Any]]) -> None:
    inst, doc = signed
    result = _verify(inst, json.dumps(doc).encode(), POEM)
    assert result is not None and result.valid, result


@pytest.mark.parametrize("creator", [None, "ines", [1], {}, {"handle": 7}])
def test_bundle_with_a_malformed_creator_is_refused(
    signed: tuple[Instance, dict[str, Any]], creator: Any
) -> None:
    # Found by the fuzzing below: this passed the certificate's shape check and then crashed
    # the verification report, a 500 from POST /api/v1/verify.
    _, doc = signed
    mutated = copy.deepcopy(doc)
    mutated["certificate"]["creator"] = creator
    with pytest.raises(InputError, match="creator"):
        Bundle.parse(json.dumps(mutated).encode())


@FUZZ
@given(data=st.binary(max_size=300) | st.text(max_size=200).map(str.encode))
def test_bundle_from_arbitrary_bytes(signed: tuple[Instance, dict[str, Any]], data: bytes) -> None:
    assert _verify(signed[0], data, None) is None  # random bytes are never a valid bundle


@FUZZ
@given(st.data())
def test_bundle_with_one_value_changed(
    signed: tuple[Instance, dict[str, Any]], data: st.DataObject
) -> None:
    inst, doc = signed
    mutated = data.draw(mutated_json(doc))
    content = data.draw(st.sampled_from([None, POEM, POEM + b"!"]))
    result = _verify(inst, json.dumps(mutated).encode(), content)
    if result is not None and result.valid:
        # Only changes the signature does not cover may leave it valid: none inside the
        # certificate, the signature or the proof.
        assert mutated["certificate"] == doc["certificate"]
        assert mutated["signature"] == doc["signature"]


@FUZZ
@given(st.data())
def test_bundle_with_bytes_changed(
    signed: tuple[Instance, dict[str, Any]], data: st.DataObject
) -> None:
    inst, doc = signed
    raw = json.dumps(doc, indent=1).encode()
    _verify(inst, data.draw(mutated_bytes(raw)), data.draw(st.sampled_from([None, POEM])))


# Uploads ---------------------------------------------------------------------------------------

LIMITS = {"max_bytes": 64_000, "max_pixels": 40_000, "max_text_chars": 20_000}


def _image(fmt: str) -> bytes:
    out = io.BytesIO()
    picture = Image.new("RGB", (24, 16), (200, 90, 40))
    picture.putpixel((3, 4), (0, 0, 255))
    picture.save(out, format=fmt)
    return out.getvalue()


IMAGES = {fmt: _image(fmt) for fmt in ("PNG", "JPEG", "GIF", "WEBP")}
MAGIC = [
    b"\x89PNG\r\n\x1a\n",
    b"\xff\xd8\xff",
    b"GIF89a",
    b"GIF87a",
    b"RIFF",
    b"%PDF",
    b"PK\x03\x04",
]
filenames = st.sampled_from(["poem.txt", "notes.md", "a.MARKDOWN", "photo.png", "", "x"]) | st.text(
    max_size=30
)
# Header values are Latin-1 on the wire (RFC 9110 section 5.5), so the drawn ones are too.
content_types = st.sampled_from(
    ["text/plain", "image/png", "application/octet-stream", "multipart/form-data", ""]
) | st.text(st.characters(min_codepoint=32, max_codepoint=255), max_size=30)


def _inspect(data: bytes, filename: str | None) -> MediaInfo | None:
    try:
        info = inspect(data, filename=filename, **LIMITS)
    except InputError:
        return None
    assert info.size == len(data)
    assert info.kind in {"text", "image"}
    return info


def test_real_images_are_accepted() -> None:
    for fmt, data in IMAGES.items():
        info = _inspect(data, "picture")
        assert info is not None and info.kind == "image", fmt
        assert (info.width, info.height) == (24, 16)


@FUZZ
@given(
    data=st.binary(max_size=400)
    | st.text(max_size=200).map(lambda s: s.encode("utf-8", "replace")),
    filename=filenames,
    content_type=content_types,
)
def test_upload_of_arbitrary_bytes(data: bytes, filename: str, content_type: str) -> None:
    upload = UploadFile(
        io.BytesIO(data),
        filename=filename or None,
        headers=Headers({"content-type": content_type}),
    )
    try:
        read = read_upload(upload, limit=300)
    except InputError:
        assert len(data) > 300
        return
    if read is not None:
        assert read == data
        _inspect(read, filename)


@FUZZ
@given(magic=st.sampled_from(MAGIC), tail=st.binary(max_size=200), filename=filenames)
def test_upload_behind_a_magic_number(magic: bytes, tail: bytes, filename: str) -> None:
    _inspect(magic + tail, filename)


@FUZZ
@given(st.data())
def test_upload_of_a_damaged_image(data: st.DataObject) -> None:
    original = IMAGES[data.draw(st.sampled_from(sorted(IMAGES)))]
    _inspect(data.draw(mutated_bytes(original)), "picture")


@FUZZ
@given(st.binary(max_size=200))
def test_bundle_upload_field(data: bytes) -> None:
    upload = UploadFile(io.BytesIO(data), filename="b.hallmark.json")
    try:
        read = read_bundle(upload)
    except InputError:
        assert not data.strip()
        return
    assert read == data


@FUZZ
@given(st.none() | st.text(max_size=30))
def test_ai_share_field(value: str | None) -> None:
    try:
        share = parse_ai_share(value)
    except InputError:
        return
    assert share is None or 0 <= share <= 100
