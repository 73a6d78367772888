"""Tests for the blob stores (issue #9, item 3): one conformance suite over ``local`` and ``s3``.

The ``s3`` store is tested against a real S3-compatible server, ``moto_server``, started here
in its own process on a free port of 127.0.0.1: boto3 talks HTTP to it exactly as it would to
AWS or MinIO, and the server's copy of a large object does not count in this process's memory.
"""

from __future__ import annotations

import hashlib
import random
import socket
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

boto3 = pytest.importorskip("boto3", reason="the s3 blob store needs boto3 (the s3 extra)")
pytest.importorskip("moto.server", reason="the s3 tests need moto[server] (the dev extra)")

from botocore.config import Config  # noqa: E402

from hallmark.errors import (  # noqa: E402
    ConfigError,
    InputError,
    NotFoundError,
    TooLargeError,
    UnavailableError,
)
from hallmark.plugins.manager import choose  # noqa: E402
from hallmark.services import analysis  # noqa: E402
from hallmark.settings import Settings  # noqa: E402
from hallmark.storage.blobs import BlobStore, LocalBlobStore  # noqa: E402
from hallmark.storage.s3_blobs import S3BlobStore  # noqa: E402
from hallmark.storage.spool import Content  # noqa: E402
from tests.conftest import make_instance  # noqa: E402
from tests.web.conftest import POEM, Web, _web  # noqa: E402

KEY_ID, SECRET = "hallmark-test", "hallmark-test-secret"
MB = 1024 * 1024


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    """The URL of a moto S3 server running in a child process for this module."""
    port = _free_port()
    command = [sys.executable, "-c", "from moto.server import main; main()"]
    server = subprocess.Popen(
        [*command, "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"moto_server did not start on port {port}")
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=10)


def _client(endpoint: str, **config: Any) -> Any:
    return boto3.session.Session().client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=KEY_ID,
        aws_secret_access_key=SECRET,
        config=Config(s3={"addressing_style": "path"}, **config),
    )


def _new_bucket(endpoint: str) -> str:
    name = f"hallmark-{random.getrandbits(48):012x}"
    _client(endpoint).create_bucket(Bucket=name)
    return name


def _s3_settings(home: Path, endpoint: str, bucket: str) -> dict[str, Any]:
    return {
        "blob_store": "s3",
        "s3_endpoint_url": endpoint,
        "s3_bucket": bucket,
        "s3_region": "us-east-1",
        "s3_access_key_id": KEY_ID,
        "s3_secret_access_key": SECRET,
        "s3_prefix": "works/",
    }


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> BlobStore:
    """Each built-in store, empty, built by its plugin factory from settings."""
    if request.param == "local":
        settings = Settings.load(tmp_path / "home")
    else:
        endpoint = request.getfixturevalue("s3_endpoint")
        home = tmp_path / "home"
        settings = Settings.load(home, **_s3_settings(home, endpoint, _new_bucket(endpoint)))
    built: BlobStore = choose("hallmark_blob_stores", settings.blob_store)(settings)
    return built


def _stored(store: BlobStore) -> list[str]:
    """Every object or file the store holds, temporary ones included."""
    if isinstance(store, LocalBlobStore):
        root = store.root
        return [str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()]
    assert isinstance(store, S3BlobStore)
    listing = store.client.list_objects_v2(Bucket=store.bucket)
    uploads = store.client.list_multipart_uploads(Bucket=store.bucket)
    return [o["Key"] for o in listing.get("Contents", [])] + [
        u["Key"] for u in uploads.get("Uploads", [])
    ]


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_each_store_is_a_blob_store(store: BlobStore) -> None:
    assert isinstance(store, BlobStore)


def test_put_get_exists_size_delete(store: BlobStore) -> None:
    key = store.put(POEM)
    assert key == _sha(POEM)
    assert store.exists(key)
    assert store.get(key) == POEM
    assert store.size(key) == len(POEM)
    with store.stream(key) as blob:
        assert blob.size == len(POEM)
        assert b"".join(blob) == POEM
    store.delete(key)
    assert not store.exists(key)
    assert _stored(store) == []
    # Deleting what is not there is not an error.
    store.delete(key)


def test_a_missing_blob_is_not_found(store: BlobStore) -> None:
    key = _sha(b"never stored")
    assert not store.exists(key)
    for read in (store.get, store.stream, store.size):
        with pytest.raises(NotFoundError, match=r"The stored file for this work is missing\."):
            read(key)


@pytest.mark.parametrize("key", ["../../etc/passwd", "A" * 64, "ab" * 31, ""])
def test_a_key_that_is_not_a_sha256_is_refused(store: BlobStore, key: str) -> None:
    for call in (store.get, store.stream, store.size, store.exists, store.delete):
        with pytest.raises(InputError, match="is not a blob key"):
            call(key)


def test_streamed_and_whole_puts_agree_and_are_idempotent(store: BlobStore) -> None:
    data = random.Random(1).randbytes(3 * MB + 17)
    key = store.put_stream(iter([data[:5], data[5 : 2 * MB], data[2 * MB :]]))
    assert key == _sha(data)
    assert store.put(data) == key
    with store.stream(key) as blob:
        assert b"".join(blob) == data
    assert store.put_stream(_Reader(data)) == key
    assert len(_stored(store)) == 1


def test_empty_content_is_a_blob_too(store: BlobStore) -> None:
    key = store.put_stream(iter([]))
    assert key == _sha(b"")
    assert store.get(key) == b""
    assert store.size(key) == 0


def test_over_the_limit_nothing_is_stored(store: BlobStore) -> None:
    with pytest.raises(TooLargeError, match="larger than the limit of 1,048,576 bytes"):
        store.put_stream(iter([b"x" * MB, b"y"]), max_bytes=MB)
    assert _stored(store) == []
    # At the limit exactly, it is stored.
    assert store.put_stream(iter([b"x" * MB]), max_bytes=MB) == _sha(b"x" * MB)


def test_a_source_that_fails_half_way_stores_nothing(store: BlobStore) -> None:
    def broken() -> Iterator[bytes]:
        yield b"a" * MB
        raise OSError("the client went away")

    with pytest.raises(OSError, match="the client went away"):
        store.put_stream(broken())
    assert _stored(store) == []


def test_a_reader_that_stops_early_releases_the_blob(store: BlobStore) -> None:
    key = store.put(b"z" * (3 * MB))
    blob = store.stream(key)
    chunks = iter(blob)
    assert next(chunks)
    chunks.close()
    # Closed once by the iterator; closing again is harmless.
    blob.close()
    assert store.get(key) == b"z" * (3 * MB)


class _Reader:
    """A file-like source that hands out at most 64 KiB a read, like a socket."""

    def __init__(self, data: bytes) -> None:
        self.data, self.at = data, 0

    def read(self, size: int = -1) -> bytes:
        size = min(size, 64 * 1024)
        chunk = self.data[self.at : self.at + size]
        self.at += len(chunk)
        return chunk


def _generated(size: int, seed: int) -> tuple[Iterator[bytes], Any]:
    digest = hashlib.sha256()

    def chunks() -> Iterator[bytes]:
        rng = random.Random(seed)
        left = size
        while left:
            chunk = rng.randbytes(min(MB, left))
            digest.update(chunk)
            left -= len(chunk)
            yield chunk

    return chunks(), digest


def test_a_spooled_content_goes_in_from_its_own_file(
    store: BlobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    source, digest = _generated(12 * MB, seed=4)
    with Content.receive(source) as content:
        if isinstance(store, S3BlobStore):
            # The digest is known, so the upload is sent from the content's file: no second spool.
            def no_spool(*args: Any, **kwargs: Any) -> Any:
                raise AssertionError("the S3 store spooled an already spooled upload")

            monkeypatch.setattr("hallmark.storage.s3_blobs.tempfile.mkstemp", no_spool)
        key = content.put_into(store)
        assert content.put_into(store) == key  # stored once, the second time a no-op
    assert key == digest.hexdigest() == content.sha256
    assert store.size(key) == 12 * MB
    with store.stream(key) as blob:
        back = hashlib.sha256()
        for chunk in blob:
            back.update(chunk)
    assert back.hexdigest() == key
    assert [name for name in _stored(store) if key not in name] == []


@pytest.mark.slow
def test_a_50_mb_round_trip_streams_in_bounded_memory(store: BlobStore) -> None:
    size = 50 * MB
    source, digest = _generated(size, seed=9)
    tracemalloc.start()
    try:
        key = store.put_stream(source)
        assert key == digest.hexdigest()
        back = hashlib.sha256()
        total = 0
        with store.stream(key) as blob:
            assert blob.size == size
            for chunk in blob:
                back.update(chunk)
                total += len(chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (total, back.hexdigest()) == (size, key)
    assert store.size(key) == size
    # Multipart parts and read chunks are a few MiB each; the whole file is never held.
    assert peak < size // 4, f"peak {peak:,} bytes for a {size:,}-byte blob"


def test_objects_are_named_by_their_key_under_the_prefix(s3_endpoint: str, tmp_path: Path) -> None:
    bucket = _new_bucket(s3_endpoint)
    settings = Settings.load(tmp_path, **_s3_settings(tmp_path, s3_endpoint, bucket))
    store = S3BlobStore.from_settings(settings)
    key = store.put(POEM)
    assert _stored(store) == [f"works/{key[:2]}/{key[2:4]}/{key}"]


def test_the_bucket_is_laid_out_as_the_local_folder(s3_endpoint: str, tmp_path: Path) -> None:
    # Documented: `aws s3 sync <home>/blobs s3://<bucket>/<prefix>` moves an instance over.
    local = LocalBlobStore(tmp_path / "blobs")
    s3 = S3BlobStore(_client(s3_endpoint), _new_bucket(s3_endpoint), prefix="p/")
    for data in (POEM, b"another"):
        assert local.put(data) == s3.put(data)
    assert sorted(f"p/{name}" for name in _stored(local)) == sorted(_stored(s3))


def test_s3_without_a_bucket_is_a_configuration_error(tmp_path: Path) -> None:
    settings = Settings.load(tmp_path, blob_store="s3")
    with pytest.raises(ConfigError, match=r"The s3 blob store needs a bucket\."):
        choose("hallmark_blob_stores", "s3")(settings)


def test_s3_secret_is_not_shown_with_the_settings(tmp_path: Path) -> None:
    settings = Settings.load(tmp_path, s3_secret_access_key=SECRET)
    assert SECRET not in repr(settings)


@pytest.fixture
def down_store() -> S3BlobStore:
    """An s3 store whose server is not running: nothing listens on its port."""
    client = _client(
        f"http://127.0.0.1:{_free_port()}",
        connect_timeout=2,
        retries={"mode": "standard", "max_attempts": 1},
    )
    return S3BlobStore(client, "hallmark-down")


def test_s3_down_is_unavailable(down_store: S3BlobStore) -> None:
    key = _sha(POEM)
    calls = [
        lambda: down_store.put(POEM),
        lambda: down_store.put_stream(iter([POEM])),
        lambda: down_store.get(key),
        lambda: down_store.stream(key),
        lambda: down_store.size(key),
        lambda: down_store.exists(key),
        lambda: down_store.delete(key),
    ]
    for call in calls:
        with pytest.raises(UnavailableError, match=r"The S3 blob store cannot be reached\."):
            call()


def test_a_missing_bucket_is_unavailable(s3_endpoint: str) -> None:
    store = S3BlobStore(_client(s3_endpoint), "hallmark-no-such-bucket")
    with pytest.raises(UnavailableError, match=r"bucket .* does not exist"):
        store.put(POEM)
    # Through boto3's managed upload, whose failures are of another kind.
    with pytest.raises(UnavailableError, match=r"bucket .* does not exist"):
        store.put_stream(iter([POEM]))


def test_wrong_credentials_are_unavailable(s3_endpoint: str, tmp_path: Path) -> None:
    bucket = _new_bucket(s3_endpoint)
    store = S3BlobStore(_client(s3_endpoint), bucket)
    key = store.put(POEM)
    # moto accepts any key pair unless told to check them; a failed signature check is what
    # a real service answers to a wrong secret, so the client is made to receive one.
    stubbed = _client(s3_endpoint)
    store = S3BlobStore(stubbed, bucket)

    def refuse(request: Any, **_: Any) -> None:
        from botocore.exceptions import ClientError

        raise ClientError(
            {"Error": {"Code": "SignatureDoesNotMatch", "Message": "no"}}, "GetObject"
        )

    stubbed.meta.events.register("before-send.s3.GetObject", refuse)
    with pytest.raises(UnavailableError, match="refused Hallmark's credentials"):
        store.get(key)


@pytest.fixture
def s3_web(s3_endpoint: str, tmp_path: Path) -> Iterator[Web]:
    home = tmp_path / "home"
    inst = make_instance(home, **_s3_settings(home, s3_endpoint, _new_bucket(s3_endpoint)))
    try:
        yield from _web(inst)
    finally:
        inst.close()


def _no_whole_reads(key: str) -> bytes:
    raise AssertionError("the blob was read whole")


def test_an_instance_on_s3_registers_and_serves_works(s3_web: Web) -> None:
    assert isinstance(s3_web.inst.blobs, S3BlobStore)
    work = s3_web.register("alice", POEM)
    key = work["sha256"]
    assert _stored(s3_web.inst.blobs) == [f"works/{key[:2]}/{key[2:4]}/{key}"]
    assert not any(s3_web.inst.settings.blob_path.rglob("*"))
    # The file routes stream the blob; a whole read would fail the test. The analysis of the
    # new work reads it whole, so it is let finish first.
    analysis.wait_idle(s3_web.inst)
    s3_web.inst.blobs.get = _no_whole_reads  # type: ignore[method-assign]
    for url in (f"/api/v1/works/{work['work_id']}/file", f"/works/{work['work_id']}/file"):
        response = s3_web.client.get(url)
        assert response.status_code == 200, response.text
        assert response.content == POEM
        assert response.headers["content-length"] == str(len(POEM))
        assert response.headers["content-type"] == "text/plain; charset=utf-8"
        assert response.headers["x-content-type-options"] == "nosniff"


def test_an_instance_whose_s3_is_down_answers_503(s3_web: Web) -> None:
    work = s3_web.register("alice", POEM)
    inst = s3_web.inst
    assert isinstance(inst.blobs, S3BlobStore)
    analysis.wait_idle(inst)
    inst.blobs.client = _client(
        f"http://127.0.0.1:{_free_port()}", retries={"mode": "standard", "max_attempts": 1}
    )
    response = s3_web.client.get(f"/api/v1/works/{work['work_id']}/file")
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"] == "The S3 blob store cannot be reached."
    upload = s3_web.upload("bruno", b"Another poem, for a store that is down.\n")
    assert upload.status_code == 503
    assert s3_web.work_count() == 1
