"""The ``s3`` blob store: work bytes in a bucket of any S3-compatible service (issue #9, item 3).

AWS S3, MinIO, Ceph RGW and the like all speak the same API through boto3 (the ``s3`` extra:
``pip install 'hallmark[s3]'``). Objects are named ``<s3_prefix>ab/cd/<sha256 hex>``, the
local store's layout, so the store is content-addressed like the local one. A stream being
stored is spooled to a local temporary file while it is hashed, since its name is known only at
its end; the file is then uploaded in parts (multipart upload above
:data:`MULTIPART_THRESHOLD`) and reads come back in chunks, so no large blob is ever held in
memory. An object appears only once its upload completes
(S3 commits a PUT or a multipart upload whole), so a failed upload leaves nothing behind.

boto3 is imported only when an ``s3`` store is built, so this built-in plugin loads, and the
``local`` store works, on installs without it. Failures of the service become
:class:`UnavailableError` (503), never a traceback; the details go to the log, for the operator.

See docs/settings.md, "S3-compatible blob storage".
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from hallmark.errors import ConfigError, HallmarkError, NotFoundError, UnavailableError
from hallmark.plugins.hookspecs import hookimpl
from hallmark.storage.blobs import (
    CHUNK_SIZE,
    MISSING,
    BlobSource,
    BlobStore,
    BlobStream,
    check_key,
    copy_hashing,
)

logger = logging.getLogger(__name__)

#: Larger objects go up as a multipart upload, in parts of this size (S3's minimum part is 5 MiB).
MULTIPART_THRESHOLD = 8 * 1024 * 1024
#: Parts sent at once: bounds both the connections and the part buffers held by one upload.
MAX_CONCURRENCY = 4

_MISSING_CODES = {"404", "NoSuchKey", "NotFound"}
_CREDENTIAL_CODES = {
    "403",
    "AccessDenied",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "InvalidToken",
    "ExpiredToken",
}


class S3BlobStore:
    """A :class:`~hallmark.storage.blobs.BlobStore` over one bucket, through a boto3 client."""

    def __init__(self, client: Any, bucket: str, *, prefix: str = "") -> None:
        from boto3.s3.transfer import TransferConfig

        self.client = client
        self.bucket = bucket
        self.prefix = prefix
        self.transfer = TransferConfig(
            multipart_threshold=MULTIPART_THRESHOLD,
            multipart_chunksize=MULTIPART_THRESHOLD,
            max_concurrency=MAX_CONCURRENCY,
        )

    @classmethod
    def from_settings(cls, settings: Any) -> S3BlobStore:
        if not settings.s3_bucket:
            raise ConfigError(
                "The s3 blob store needs a bucket.",
                hint="Set s3_bucket (HALLMARK_S3_BUCKET); see docs/settings.md.",
            )
        try:
            import boto3
            from botocore.config import Config
        except ImportError:
            raise ConfigError(
                "The s3 blob store needs boto3, which is not installed.",
                hint="pip install 'hallmark[s3]'",
            ) from None
        secret = settings.s3_secret_access_key
        client = boto3.session.Session().client(
            "s3",
            endpoint_url=settings.s3_endpoint_url or None,
            region_name=settings.s3_region or None,
            # Without a key in the settings, boto3's own chain applies: AWS_* variables,
            # ~/.aws, an instance or task role.
            aws_access_key_id=settings.s3_access_key_id or None,
            aws_secret_access_key=secret.get_secret_value() if secret else None,
            config=Config(
                # A store that is down should answer a request with a 503 in seconds, not hang
                # it for a minute per retry.
                connect_timeout=5,
                read_timeout=60,
                retries={"mode": "standard", "max_attempts": 3},
                # MinIO, Ceph and most other S3-compatible services answer on one host name,
                # with the bucket in the path; AWS prefers the bucket in the host name.
                s3={"addressing_style": "path" if settings.s3_endpoint_url else "auto"},
            ),
        )
        return cls(client, settings.s3_bucket, prefix=settings.s3_prefix)

    def _name(self, key: str) -> str:
        # The local store's layout, so `aws s3 sync <home>/blobs s3://<bucket>/<prefix>` moves
        # an instance's blobs over as they are.
        return f"{self.prefix}{key[:2]}/{key[2:4]}/{check_key(key)}"

    @contextlib.contextmanager
    def _answers(self) -> Iterator[None]:
        """Turns boto3's failures into Hallmark's errors."""
        from boto3.exceptions import S3UploadFailedError
        from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

        try:
            yield
        except ClientError as exc:
            raise self._client_error(exc) from None
        except S3UploadFailedError as exc:
            # boto3's managed upload wraps the service's answer; it is the one that says why.
            cause = exc.__context__
            if isinstance(cause, ClientError):
                raise self._client_error(cause) from None
            logger.warning("the s3 blob store failed an upload (bucket %s): %s", self.bucket, exc)
            raise UnavailableError(
                "The S3 blob store could not store the file.", hint="Try again in a little while."
            ) from None
        except NoCredentialsError:
            logger.warning("the s3 blob store has no credentials (bucket %s)", self.bucket)
            raise UnavailableError(
                "The S3 blob store has no credentials.",
                hint="The operator should set s3_access_key_id and s3_secret_access_key.",
            ) from None
        except BotoCoreError as exc:
            logger.warning("the s3 blob store cannot be reached (bucket %s): %s", self.bucket, exc)
            raise UnavailableError(
                "The S3 blob store cannot be reached.", hint="Try again in a little while."
            ) from None

    def _client_error(self, exc: Any) -> HallmarkError:
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        if code in _MISSING_CODES:
            return NotFoundError(MISSING)
        logger.warning("the s3 blob store refused (bucket %s): %s", self.bucket, exc)
        if code == "NoSuchBucket":
            return UnavailableError(
                "The S3 bucket of this instance's blob store does not exist.",
                hint="The operator should create it, or correct s3_bucket.",
            )
        if code in _CREDENTIAL_CODES:
            return UnavailableError(
                "The S3 blob store refused Hallmark's credentials.",
                hint="The operator should check s3_access_key_id and s3_secret_access_key.",
            )
        return UnavailableError(
            "The S3 blob store is not answering properly.", hint="Try again in a little while."
        )

    def put(self, data: bytes) -> str:
        key = hashlib.sha256(data).hexdigest()
        if len(data) >= MULTIPART_THRESHOLD:
            return self.put_stream([data])
        if not self.exists(key):
            with self._answers():
                self.client.put_object(Bucket=self.bucket, Key=self._name(key), Body=data)
        return key

    def put_stream(
        self, source: BlobSource, *, max_bytes: int | None = None, sha256: str | None = None
    ) -> str:
        if sha256 is not None and hasattr(source, "read"):
            # Already hashed (and counted) by the caller's spool: sent from it, part by part.
            key = check_key(sha256)
            if not self.exists(key):
                with self._answers():
                    self.client.upload_fileobj(
                        source, self.bucket, self._name(key), Config=self.transfer
                    )
            return key
        # In TMPDIR: the spool holds one upload at most, and is removed whatever happens.
        fd, spool = tempfile.mkstemp(prefix="hallmark-blob-")
        try:
            with os.fdopen(fd, "wb") as handle:
                key, _ = copy_hashing(source, handle, max_bytes=max_bytes)
            if not self.exists(key):
                with self._answers():
                    # From a file name, boto3 reads each part from disk as it is sent.
                    self.client.upload_file(
                        spool, self.bucket, self._name(key), Config=self.transfer
                    )
        finally:
            Path(spool).unlink(missing_ok=True)
        return key

    def get(self, key: str) -> bytes:
        return self.stream(key).read_all()

    def stream(self, key: str) -> BlobStream:
        with self._answers():
            answer = self.client.get_object(Bucket=self.bucket, Key=self._name(key))
        body = answer["Body"]

        def chunks() -> Iterator[bytes]:
            with self._answers():
                yield from body.iter_chunks(CHUNK_SIZE)

        return BlobStream(int(answer["ContentLength"]), chunks(), body.close)

    def size(self, key: str) -> int:
        with self._answers():
            answer = self.client.head_object(Bucket=self.bucket, Key=self._name(key))
        return int(answer["ContentLength"])

    def exists(self, key: str) -> bool:
        try:
            self.size(key)
        except NotFoundError:
            return False
        return True

    def delete(self, key: str) -> None:
        # S3 answers a delete of a missing object with success, as the protocol asks.
        with self._answers():
            self.client.delete_object(Bucket=self.bucket, Key=self._name(key))


@hookimpl
def hallmark_blob_stores() -> dict[str, Any]:
    def s3(settings: Any) -> BlobStore:
        return S3BlobStore.from_settings(settings)

    return {"s3": s3}
