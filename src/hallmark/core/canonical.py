"""Canonical JSON (RFC 8785, JSON Canonicalization Scheme) for everything Hallmark signs.

The encoding itself comes from the ``rfc8785`` package; this module only fixes how Hallmark
uses it and turns its errors into Hallmark's.
"""

from __future__ import annotations

import json
from typing import Any

import rfc8785

from hallmark.errors import InputError

_SAFE_INT = 2**53 - 1


def canonical_bytes(value: Any) -> bytes:
    """The RFC 8785 encoding of ``value`` (UTF-8 bytes, no trailing newline)."""
    try:
        return rfc8785.dumps(value)
    except (rfc8785.CanonicalizationError, TypeError, ValueError) as exc:
        raise InputError(f"Cannot encode as canonical JSON: {exc}") from exc


def loads(data: bytes | str, *, what: str = "document") -> Any:
    """Parse JSON, refusing duplicate keys and non-finite numbers, with a specific message."""

    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key, val in pairs:
            if key in result:
                raise InputError(f"The {what} has the key '{key}' twice.")
            result[key] = val
        return result

    def no_constant(name: str) -> Any:
        raise InputError(f"The {what} contains {name}, which JSON does not allow.")

    def number(literal: str) -> int | float:
        # RFC 8785 treats every number as an IEEE-754 double; integers beyond 2**53 only
        # exist there as doubles, so read them back as floats to keep round-trips exact.
        value = int(literal)
        return value if abs(value) <= _SAFE_INT else float(value)

    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError:
            raise InputError(f"The {what} is not UTF-8 text.") from None
    try:
        return json.loads(
            data, object_pairs_hook=no_duplicates, parse_constant=no_constant, parse_int=number
        )
    except json.JSONDecodeError as exc:
        raise InputError(
            f"The {what} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})."
        ) from None
