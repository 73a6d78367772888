"""Tests for :mod:`hallmark.web.downloads`: HEAD of a work's file answers as GET does, unread."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from hallmark.services import analysis
from hallmark.storage.blobs import BlobStream
from tests.web.conftest import POEM, Web

POLICY = "https://alice.example/ai-terms"


@pytest.mark.parametrize("prefix", ["", "/api/v1"])
def test_head_of_a_file_has_the_get_headers_and_no_content(any_web: Web, prefix: str) -> None:
    work_id = any_web.register("alice", consent="constrained", consent_policy_url=POLICY)["work_id"]
    path = f"{prefix}/works/{work_id}/file"
    got = any_web.client.get(path)
    head = any_web.client.head(path)
    assert got.status_code == head.status_code == 200
    assert got.content == POEM
    assert head.content == b""
    assert dict(head.headers) == dict(got.headers)
    assert head.headers["tdm-reservation"] == "1"
    assert head.headers["tdm-policy"] == POLICY
    assert head.headers["content-type"] == "text/plain; charset=utf-8"
    assert head.headers["content-length"] == str(len(POEM))


def test_head_of_a_file_without_a_policy_sends_only_the_reservation(web: Web) -> None:
    work_id = web.register("alice", consent="allowed")["work_id"]
    head = web.client.head(f"/works/{work_id}/file")
    assert head.headers["tdm-reservation"] == "0"
    assert "tdm-policy" not in head.headers


def test_head_opens_and_closes_the_blob_without_reading_it(
    web: Web, monkeypatch: pytest.MonkeyPatch
) -> None:
    work_id = web.register("alice")["work_id"]
    # The registration's analysis reads the stored file too: let it finish first.
    analysis.wait_idle(web.inst)
    opened = web.inst.blobs.stream
    events: list[str] = []

    def chunks(blob: BlobStream) -> Iterator[bytes]:
        events.append("read")
        yield from blob

    def spy(key: str) -> BlobStream:
        blob = opened(key)
        events.append("open")

        def close() -> None:
            events.append("close")
            blob.close()

        return BlobStream(blob.size, chunks(blob), close)

    monkeypatch.setattr(web.inst.blobs, "stream", spy)
    assert web.client.head(f"/api/v1/works/{work_id}/file").status_code == 200
    assert events == ["open", "close"]


def test_head_of_a_private_file_is_refused_as_get_is(web: Web) -> None:
    path = f"/api/v1/works/{web.register('alice', visibility='private')['work_id']}/file"
    assert web.client.get(path).status_code == web.client.head(path).status_code == 404
    assert web.client.head(path, headers=web.auth("alice")).status_code == 200
