"""Content-addressed blob stores: work bytes stored under their SHA-256.

The :class:`BlobStore` protocol is the seam; the built-in ``local`` store keeps files in a
folder, two levels of fan-out deep. Writes go to a temporary file that is renamed into place,
so a crash never leaves a half-written blob under a real name.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from hallmark.errors import InputError, NotFoundError
from hallmark.plugins.hookspecs import hookimpl

_KEY = re.compile(r"^[0-9a-f]{64}$")


@runtime_checkable
class BlobStore(Protocol):
    def put(self, data: bytes) -> str:
        """Store ``data``; return its key (the lowercase hex SHA-256)."""
        ...

    def get(self, key: str) -> bytes: ...

    def exists(self, key: str) -> bool: ...

    def delete(self, key: str) -> None: ...


class LocalBlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        # Keys are checked before they touch the file system, so no path tricks get through.
        if not _KEY.match(key):
            raise InputError(f"'{key[:80]}' is not a blob key.")
        return self.root / key[:2] / key[2:4] / key

    def put(self, data: bytes) -> str:
        key = hashlib.sha256(data).hexdigest()
        path = self._path(key)
        if path.exists():
            return key
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return key

    def get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            raise NotFoundError("The stored file for this work is missing.") from None

    def exists(self, key: str) -> bool:
        return self._path(key).exists()

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)


@hookimpl
def hallmark_blob_stores() -> dict[str, Any]:
    def local(settings: Any) -> BlobStore:
        return LocalBlobStore(settings.blob_path)

    return {"local": local}
