"""Tests for :mod:`hallmark.web.uploads`: reading capped uploads and parsing the AI share."""

from __future__ import annotations

import io

import pytest
from fastapi import UploadFile

from hallmark.errors import InputError, TooLargeError
from hallmark.web.uploads import parse_ai_share, read_bundle, read_upload


@pytest.mark.parametrize(
    ("text", "expected"),
    [("", None), ("  ", None), (None, None), ("0", 0.0), ("12.5", 12.5), (" 40 % ", 40.0)],
)
def test_parse_ai_share(text: str | None, expected: float | None) -> None:
    assert parse_ai_share(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("abc", "The AI share 'abc' is not a number."),
        ("1e999", "The AI share 1e999 is not between 0 and 100."),
        ("-0.5", "The AI share -0.5 is not between 0 and 100."),
        ("100.01", "The AI share 100.01 is not between 0 and 100."),
        ("inf", "The AI share inf is not between 0 and 100."),
    ],
)
def test_parse_ai_share_refuses(text: str, message: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_ai_share(text)
    assert caught.value.detail == message


def _upload(data: bytes, filename: str | None = "f.txt") -> UploadFile:
    return UploadFile(io.BytesIO(data), filename=filename)


def test_read_upload_reads_up_to_the_limit() -> None:
    assert read_upload(_upload(b"x" * 10), limit=10) == b"x" * 10


def test_read_upload_refuses_one_byte_more() -> None:
    with pytest.raises(TooLargeError) as caught:
        read_upload(_upload(b"x" * 11), limit=10)
    assert caught.value.detail == "The file is larger than the limit of 10 bytes."


def test_an_empty_nameless_part_is_no_file() -> None:
    assert read_upload(None, limit=10) is None
    assert read_upload(_upload(b"", filename=""), limit=10) is None
    assert read_upload(_upload(b"", filename="empty.txt"), limit=10) == b""


def test_a_blank_bundle_is_refused() -> None:
    with pytest.raises(InputError, match=r"The bundle file is empty\."):
        read_bundle(_upload(b"  \n", filename="b.json"))
