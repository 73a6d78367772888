"""RFC 8785 canonical JSON: round-trips and the parser's refusals."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hallmark.core.canonical import canonical_bytes, loads
from hallmark.errors import InputError

# JSON values that JCS can encode exactly: integers within the IEEE-754 safe range, finite
# floats, strings, and nested containers.
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5)
    ),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None)
@given(json_values)
def test_canonical_round_trip_is_stable(value: Any) -> None:
    encoded = canonical_bytes(value)
    decoded = loads(encoded)
    assert canonical_bytes(decoded) == encoded


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(st.text(max_size=8), st.integers(0, 1000), max_size=8))
def test_key_order_does_not_change_the_encoding(value: dict[str, int]) -> None:
    reordered = dict(reversed(list(value.items())))
    assert canonical_bytes(value) == canonical_bytes(reordered)


def test_known_answer() -> None:
    # Keys sorted by UTF-16 code units, no whitespace, shortest number forms (RFC 8785 3.2).
    value = {"b": [1, 2.5, "é"], "a": {"z": None, "y": True}, "c": 1e21}
    assert canonical_bytes(value) == b'{"a":{"y":true,"z":null},"b":[1,2.5,"\xc3\xa9"],"c":1e+21}'


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"a": 1, "a": 2}', "twice"),
        ('{"a": NaN}', "NaN"),
        ("{", "not valid JSON"),
        (b"\xff\xfe{}", "not UTF-8"),
    ],
)
def test_loads_refuses_with_a_specific_message(text: str | bytes, message: str) -> None:
    with pytest.raises(InputError, match=message):
        loads(text, what="bundle")


def test_loads_accepts_plain_json() -> None:
    assert loads(json.dumps({"x": [1, 2]})) == {"x": [1, 2]}
