"""Uploads spooled as they arrive (issue #9, item 3): counted, hashed, capped, never whole."""

from __future__ import annotations

import hashlib
import os
import tempfile
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest

from hallmark.errors import TooLargeError
from hallmark.storage import spool
from hallmark.storage.blobs import LocalBlobStore
from hallmark.storage.spool import Content, as_content

MIB = 1024 * 1024


def pieces(total: int, size: int = 64 * 1024) -> Iterator[bytes]:
    """``total`` pseudo-random bytes in pieces, made as they are asked for."""
    seed = b"hallmark"
    made = 0
    while made < total:
        seed = hashlib.sha256(seed).digest()
        piece = (seed * (size // len(seed) + 1))[: min(size, total - made)]
        made += len(piece)
        yield piece


def test_receive_counts_and_hashes_what_arrives() -> None:
    expected = hashlib.sha256(b"".join(pieces(3 * MIB))).hexdigest()
    with Content.receive(pieces(3 * MIB)) as content:
        assert content.size == 3 * MIB and content.sha256 == expected
        assert content.head(4) == next(pieces(4))
        # Readable again from the start, as often as needed.
        assert hashlib.sha256(content.read()).hexdigest() == expected
        assert hashlib.sha256(content.stream().read()).hexdigest() == expected


def test_a_large_content_goes_to_disk_and_a_small_one_stays_in_memory() -> None:
    with Content.receive([b"a short poem"]) as small:
        assert not small.stream()._rolled  # type: ignore[attr-defined]
    with Content.receive(pieces(spool.IN_MEMORY_BYTES + 1)) as large:
        assert large.stream()._rolled  # type: ignore[attr-defined]


def test_receive_stops_at_the_limit() -> None:
    read = []

    def counted() -> Iterator[bytes]:
        for piece in pieces(10 * MIB):
            read.append(len(piece))
            yield piece

    with pytest.raises(TooLargeError, match="limit of 1,048,576 bytes"):
        Content.receive(counted(), max_bytes=MIB)
    # It stopped reading just past the limit rather than taking the whole upload.
    assert sum(read) <= MIB + 64 * 1024


def test_a_file_spooled_elsewhere_is_hashed_in_place_not_copied() -> None:
    data = b"".join(pieces(3 * MIB))
    # As Starlette keeps an uploaded part; closed by the content.
    file = tempfile.SpooledTemporaryFile(max_size=MIB)  # noqa: SIM115
    file.write(data)
    with Content.adopt(file, max_bytes=4 * MIB) as content:
        assert (content.size, content.sha256) == (len(data), hashlib.sha256(data).hexdigest())
        assert content.stream() is file and content.read() == data
    assert file.closed
    with tempfile.SpooledTemporaryFile() as big:
        big.write(data)
        with pytest.raises(TooLargeError, match="limit of 1,048,576 bytes"):
            Content.adopt(big, max_bytes=MIB)


def test_bytes_given_whole_are_wrapped_without_a_copy() -> None:
    content = as_content(b"verse")
    assert (content.size, content.sha256) == (5, hashlib.sha256(b"verse").hexdigest())
    assert as_content(content) is content


def test_a_large_upload_reaches_the_store_without_being_held_whole(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "blobs")
    total = 24 * MIB
    tracemalloc.start()
    try:
        with Content.receive(pieces(total), max_bytes=32 * MIB) as content:
            key = store.put_stream(content.stream())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert key == content.sha256 and store.size(key) == total
    # A few chunks in flight at most: far below the 24 MiB that passed through.
    assert peak < 6 * MIB, f"peak {peak / MIB:.1f} MiB"
    assert not any(name.startswith(".tmp-") for name in os.listdir(tmp_path / "blobs"))
