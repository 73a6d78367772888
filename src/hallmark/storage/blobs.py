"""Content-addressed blob stores: work bytes stored under their SHA-256.

The :class:`BlobStore` protocol is the seam; the built-in ``local`` store keeps files in a
folder, two levels of fan-out deep, and ``s3`` (:mod:`hallmark.storage.s3_blobs`) keeps them in
an S3-compatible bucket (issue #9, item 3). Every store takes bytes whole (``put``, ``get``),
for the small works that the registration pipeline inspects in memory anyway, and as streams
(``put_stream``, ``stream``), so a large file passes through in chunks and never sits in memory
whole. Writes go to a temporary file that is renamed into place, so a crash never leaves a
half-written blob under a real name.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Callable, Generator, Iterable, Iterator
from pathlib import Path
from typing import IO, Any, Protocol, runtime_checkable

from hallmark.errors import InputError, NotFoundError, TooLargeError
from hallmark.plugins.hookspecs import hookimpl

_KEY = re.compile(r"^[0-9a-f]{64}$")
#: How much of a blob is read, hashed, written or sent at a time.
CHUNK_SIZE = 1024 * 1024

#: What ``put_stream`` takes: a binary file object (read until it is exhausted) or chunks.
BlobSource = IO[bytes] | Iterable[bytes]

MISSING = "The stored file for this work is missing."


def check_key(key: str) -> str:
    """``key`` if it is a blob key (lowercase hex SHA-256), else an :class:`InputError`."""
    # Keys are checked before they reach a file system or a bucket, so no path tricks get through.
    if not _KEY.match(key):
        raise InputError(f"'{key[:80]}' is not a blob key.")
    return key


def chunks_of(source: BlobSource, chunk_size: int = CHUNK_SIZE) -> Iterator[bytes]:
    """The bytes of ``source`` in chunks, whether it is a file object or already chunks."""
    read = getattr(source, "read", None)
    if read is None:
        yield from (bytes(chunk) for chunk in source if chunk)
        return
    while chunk := read(chunk_size):
        yield chunk


def copy_hashing(
    source: BlobSource, sink: IO[bytes] | None, *, max_bytes: int | None = None
) -> tuple[str, int]:
    """Copy ``source`` into ``sink`` (if any) chunk by chunk; return its SHA-256 (hex) and size.

    Over ``max_bytes`` it stops at once with a :class:`TooLargeError`; the caller discards
    whatever reached ``sink``.
    """
    digest = hashlib.sha256()
    size = 0
    for chunk in chunks_of(source):
        size += len(chunk)
        if max_bytes is not None and size > max_bytes:
            raise TooLargeError(
                f"The file is larger than the limit of {max_bytes:,} bytes.",
                hint="Send a smaller file, or ask the operator to raise max_upload_bytes.",
            )
        digest.update(chunk)
        if sink is not None:
            sink.write(chunk)
    return digest.hexdigest(), size


class BlobStream:
    """An open blob: its ``size``, then its bytes in chunks when iterated.

    Opening one is when a missing blob or an unreachable store is found out, so a web answer
    can still become a 404 or a 503 before any byte of it is sent. ``close`` releases the file
    or connection behind it, whether or not every chunk was read; it may be called twice.
    """

    def __init__(self, size: int, chunks: Iterator[bytes], close: Callable[[], None]) -> None:
        self.size = size
        self._chunks = chunks
        self._close = close
        self._closed = False

    def __iter__(self) -> Generator[bytes, None, None]:
        try:
            yield from self._chunks
        finally:
            # Also when the reader stops early and the iterator is closed or collected.
            self.close()

    def read_all(self) -> bytes:
        return b"".join(self)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._close()

    def __enter__(self) -> BlobStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@runtime_checkable
class BlobStore(Protocol):
    """Where work bytes live, each under its key: the lowercase hex SHA-256 of the bytes.

    Storing the same bytes twice is harmless and returns the same key. A blob is visible under
    its key only once it is complete. Missing blobs are :class:`NotFoundError`; a store that
    cannot be reached raises :class:`hallmark.errors.UnavailableError`.
    """

    def put(self, data: bytes) -> str:
        """Store ``data``; return its key."""
        ...

    def put_stream(
        self, source: BlobSource, *, max_bytes: int | None = None, sha256: str | None = None
    ) -> str:
        """Store the bytes of ``source``, read in chunks; return their key.

        More than ``max_bytes`` is a :class:`TooLargeError`, and nothing is stored. A caller
        that has already hashed the bytes (a spooled upload) passes their ``sha256``, which
        a store may use to skip its own spool; it must be the digest of exactly these bytes.
        """
        ...

    def get(self, key: str) -> bytes:
        """The whole blob, in memory: for works small enough to inspect."""
        ...

    def stream(self, key: str) -> BlobStream:
        """The blob opened for reading in chunks; close it when done."""
        ...

    def size(self, key: str) -> int: ...

    def exists(self, key: str) -> bool: ...

    def delete(self, key: str) -> None:
        """Remove the blob; removing one that is not there is not an error."""
        ...


class LocalBlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / key[2:4] / check_key(key)

    def put(self, data: bytes) -> str:
        key = hashlib.sha256(data).hexdigest()
        if not self._path(key).exists():
            self.put_stream([data])
        return key

    def put_stream(
        self, source: BlobSource, *, max_bytes: int | None = None, sha256: str | None = None
    ) -> str:
        if sha256 is not None and self._path(check_key(sha256)).exists():
            return sha256
        # The key is known only once every byte is hashed, so the temporary file sits at the
        # top of the store: on the same file system as its final place, so the rename is atomic.
        self.root.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as handle:
                key, _ = copy_hashing(source, handle, max_bytes=max_bytes)
                handle.flush()
                os.fsync(handle.fileno())
            path = self._path(key)
            if path.exists():
                Path(tmp).unlink()
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return key

    def get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            raise NotFoundError(MISSING) from None

    def stream(self, key: str) -> BlobStream:
        try:
            handle = self._path(key).open("rb")
        except FileNotFoundError:
            raise NotFoundError(MISSING) from None
        return BlobStream(os.fstat(handle.fileno()).st_size, chunks_of(handle), handle.close)

    def size(self, key: str) -> int:
        try:
            return self._path(key).stat().st_size
        except FileNotFoundError:
            raise NotFoundError(MISSING) from None

    def exists(self, key: str) -> bool:
        return self._path(key).exists()

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)


@hookimpl
def hallmark_blob_stores() -> dict[str, Any]:
    def local(settings: Any) -> BlobStore:
        return LocalBlobStore(settings.blob_path)

    return {"local": local}
