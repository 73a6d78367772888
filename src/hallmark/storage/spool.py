"""Uploaded files held while they are checked and stored (issue #9, item 3).

An upload is read once, in chunks: hashed and counted as it arrives, refused as soon as it
passes the size limit, and kept in a spooled temporary file (in memory while small, on disk
beyond :data:`IN_MEMORY_BYTES`). Inspection then reads what it needs from the start (an image's
decoder seeks in the file; a text is read whole, and texts are small), and the blob store takes
the same file as a stream. So a large upload never sits whole in memory on its way to storage.
"""

from __future__ import annotations

import hashlib
import io
import tempfile
from typing import IO

from hallmark.storage.blobs import BlobSource, BlobStore, copy_hashing

#: A content up to this size stays in memory; a larger one rolls over to a temporary file.
IN_MEMORY_BYTES = 1024 * 1024


class Content:
    """A file's bytes, received once: its ``size`` and ``sha256``, readable again from the start.

    Close it when done (or use it as a context manager) so its temporary file goes away.
    """

    def __init__(self, file: IO[bytes], size: int, sha256: str) -> None:
        self._file = file
        self.size = size
        self.sha256 = sha256

    @classmethod
    def receive(cls, source: BlobSource, *, max_bytes: int | None = None) -> Content:
        """Read ``source`` in chunks; more than ``max_bytes`` is a ``TooLargeError``."""
        spool = tempfile.SpooledTemporaryFile(max_size=IN_MEMORY_BYTES)  # noqa: SIM115
        try:
            sha256, size = copy_hashing(source, spool, max_bytes=max_bytes)
        except BaseException:
            spool.close()
            raise
        return cls(spool, size, sha256)

    @classmethod
    def adopt(cls, file: IO[bytes], *, max_bytes: int | None = None) -> Content:
        """A file already spooled by someone else (the web framework keeps each uploaded part
        in a spooled temporary file), hashed and counted where it is rather than copied.
        Closing the content closes ``file``."""
        file.seek(0)
        sha256, size = copy_hashing(file, None, max_bytes=max_bytes)
        return cls(file, size, sha256)

    def put_into(self, blobs: BlobStore) -> str:
        """Store the bytes in ``blobs`` from the spool, with the digest counted on arrival."""
        return blobs.put_stream(self.stream(), sha256=self.sha256)

    def stream(self) -> IO[bytes]:
        """The bytes as a seekable file, positioned at the start (one reader at a time)."""
        self._file.seek(0)
        return self._file

    def head(self, count: int) -> bytes:
        return self.stream().read(count)

    def read(self) -> bytes:
        """Every byte, in memory: for texts, which must be decoded whole anyway."""
        return self.stream().read()

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> Content:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def as_content(data: bytes | Content) -> Content:
    """``data`` as a :class:`Content`: bytes given whole (by the CLI and the library) are
    wrapped as they are, without a copy."""
    if isinstance(data, Content):
        return data
    return Content(io.BytesIO(data), len(data), hashlib.sha256(data).hexdigest())


def stored_content(blobs: BlobStore, key: str) -> Content:
    """A stored blob, copied chunk by chunk into a spool (a temporary file past
    :data:`IN_MEMORY_BYTES`), for readers that need to seek in it: image decoders, c2pa."""
    return Content.receive(blobs.stream(key))
