"""The consent lookup (issue #6, item 4): checking items, exact digests, altered copies through
the similarity fingerprints, and PDQ hashes alone, on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import numpy as np
import pdqhash
import pytest
import torch
from PIL import Image

from hallmark.core.digests import sha256_hex
from hallmark.errors import InputError
from hallmark.services import analysis, consent_lookup, registry
from hallmark.services.instance import Instance
from tests.conftest import add_user
from tests.similarity.perturb import encode, make_image, make_work, replace_words, resize

torch.set_num_threads(1)

LIMITS = {"max_text_chars": 1000, "max_image_bytes": 10_000}
TEXT = make_work(23, words=200).text


def parse(items: Any) -> list[consent_lookup.Query]:
    return consent_lookup.parse_items(items, **LIMITS)


def lookup(inst: Instance, *items: dict[str, str]) -> dict[str, Any]:
    return consent_lookup.lookup(inst, consent_lookup.parse_items(list(items), **_limits(inst)))


def _limits(inst: Instance) -> dict[str, int]:
    settings = inst.settings
    return {"max_text_chars": settings.max_text_chars, "max_image_bytes": settings.max_upload_bytes}


def pdq_hex(image: Image.Image) -> str:
    """A PDQ hash as a crawler computes it: Meta's algorithm on the full image, in hex."""
    bits, _quality = pdqhash.compute(np.asarray(image.convert("RGB")))
    return bytes(np.packbits(np.asarray(bits, dtype=np.uint8))).hex()


def ids(answer: dict[str, Any]) -> list[list[str]]:
    return [[m["work_id"] for m in r["matches"]] for r in answer["results"]]


# Checking items -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("items", "message"),
    [
        ({"sha256": "ab"}, "'items' must be a list"),
        ([{"sha256": "a" * 64}] * 1001, "at most 1,000 items; this one has 1,001"),
        (["a" * 64], r"items\[0\] is not an object"),
        ([{}], r"items\[0\] has no keys; an item has exactly one of"),
        ([{"sha256": "a" * 64, "text": "x"}], r"has 'sha256', 'text'; an item has exactly one"),
        ([{"md5": "a" * 32}], r"has 'md5'"),
        ([{"sha256": 7}], r"items\[0\]\.sha256 must be a string"),
        ([{"sha256": "a" * 63}], r"items\[0\]\.sha256 must be 64 hexadecimal digits \(63"),
        ([{"pdq": "g" * 64}], r"items\[0\]\.pdq must be 64 hexadecimal digits"),
        ([{"text": "  "}], r"items\[0\]\.text is empty"),
        ([{"text": "x" * 1001}], "1,001 characters; the limit is 1,000"),
        ([{"image_b64": "not base64!"}], r"items\[0\]\.image_b64 is not valid base64"),
        ([{"image_b64": "QUJ"}], "not valid base64"),
        ([{"image_b64": ""}], r"items\[0\]\.image_b64 is empty"),
        ([{"image_b64": base64.b64encode(b"x" * 10_001).decode()}], "limit is 10,000"),
    ],
)
def test_bad_items_are_refused_with_their_place(items: Any, message: str) -> None:
    with pytest.raises(InputError, match=message):
        parse(items)


def test_a_thousand_items_are_accepted() -> None:
    assert len(parse([{"sha256": "A" * 64}] * 1000)) == 1000


def test_items_are_read_as_what_they_say() -> None:
    picture = encode(make_image(1, (40, 30)))
    sha, text, image, pdq = parse(
        [
            {"sha256": "AB" * 32},
            {"text": "Tide\r\n"},
            {"image_b64": base64.encodebytes(picture).decode()},  # wrapped lines are fine
            {"pdq": "0f" * 32},
        ]
    )
    assert sha.digests == ("ab" * 32,)
    assert text.digests == (sha256_hex(b"Tide\r\n"), sha256_hex(b"Tide"))
    assert image.image == picture and image.digests == (sha256_hex(picture),)
    assert pdq.pdq == bytes.fromhex("0f" * 32)


def test_texts_and_images_cost_more_when_they_are_fingerprinted() -> None:
    queries = parse(
        [{"sha256": "a" * 64}, {"pdq": "b" * 64}, {"text": "x" * 10}, {"text": "y" * 1000}]
    )
    assert consent_lookup.cost(queries, near_copies=False) == 4
    long_text = consent_lookup.parse_items(
        [{"text": "z" * 25_000}], max_text_chars=30_000, max_image_bytes=1
    )
    assert consent_lookup.cost(queries + long_text, near_copies=True) == 1 + 1 + 10 + 10 + 30


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"hello, world", "is not a PNG, JPEG, WebP or GIF image"),
        (b"\x89PNG\r\n\x1a\nbroken", "cannot be read as an image"),
    ],
)
def test_an_undecodable_image_is_refused(instance: Instance, data: bytes, message: str) -> None:
    with pytest.raises(InputError, match=rf"items\[0\]\.image_b64 {message}"):
        lookup(instance, {"image_b64": base64.b64encode(data).decode()})


# Exact digests ------------------------------------------------------------------------------


def test_exact_digests_find_public_works_with_their_consent(any_instance: Instance) -> None:
    creator = add_user(any_instance, "ines")

    def register(text: str, **fields: Any) -> registry.Registration:
        return registry.register_work(
            any_instance,
            creator_id=creator,
            data=text.encode(),
            title=text.split()[0],
            declare="human-made",
            **fields,
        )

    public = register("Lanterns on the pier\nblink out.\n", consent="allowed")
    private = register("A private harbour.", visibility="private")
    revoked = register("A revoked harbour.")
    registry.revoke(any_instance, certificate_id=revoked.certificate_id, reason="test", actor=None)

    answer = lookup(
        any_instance,
        {"sha256": public.sha256.upper()},
        {"text": "Lanterns on the pier\r\nblink out.   \r\n"},  # same normalized text
        {"sha256": private.sha256},
        {"text": "A revoked harbour."},
        {"sha256": "0" * 64},
        {"pdq": "f" * 64},
    )
    assert answer["near_copies_searched"] is False
    assert ids(answer) == [[public.work_id], [public.work_id], [], [], [], []]
    match = answer["results"][0]["matches"][0]
    assert match == {
        "work_id": public.work_id,
        "consent": "allowed",
        "consent_policy_url": None,
        "score": 1.0,
        "kind": "exact",
        "title": "Lanterns",
        "creator": "ines",
        "url": f"{any_instance.settings.public_url.rstrip('/')}/works/{public.work_id}",
    }


# Altered copies -----------------------------------------------------------------------------


@pytest.fixture
def sim(any_instance: Instance) -> Iterator[Instance]:
    any_instance.settings = any_instance.settings.model_copy(update={"similarity_index": "memory"})
    yield any_instance


def test_altered_copies_are_found_through_the_fingerprints(sim: Instance) -> None:
    creator = add_user(sim, "ines")
    picture = make_image(5, (480, 360))
    image_work = registry.register_work(
        sim,
        creator_id=creator,
        data=encode(picture),
        title="Pier",
        declare="human-made",
        consent="constrained",
        consent_policy_url="https://ines.example/terms",
    )
    text_work = registry.register_work(
        sim, creator_id=creator, data=TEXT.encode(), title="Harbour", declare="human-made"
    )
    unrelated = make_image(6, (480, 360))
    for work_id in (image_work.work_id, text_work.work_id):
        analysis.analyze_now(sim, work_id)

    smaller = resize(picture, 0.5)
    answer = lookup(
        sim,
        {"image_b64": base64.b64encode(encode(smaller, "JPEG", 80)).decode()},
        {"text": replace_words(TEXT, 0.1, seed=4)},
        {"pdq": pdq_hex(smaller)},
        {"pdq": pdq_hex(unrelated)},
        {"image_b64": base64.b64encode(encode(unrelated)).decode()},
        {"text": make_work(88, words=200).text},
    )
    assert answer["near_copies_searched"] is True
    assert ids(answer) == [
        [image_work.work_id],
        [text_work.work_id],
        [image_work.work_id],
        [],
        [],
        [],
    ]
    by_image, by_text, by_pdq = (answer["results"][i]["matches"][0] for i in range(3))
    assert by_image["kind"] == by_text["kind"] == by_pdq["kind"] == "near-copy"
    assert by_image["consent"] == "constrained"
    assert by_image["consent_policy_url"] == "https://ines.example/terms"
    assert by_text["consent"] == "not-allowed"
    assert 0.85 < by_pdq["score"] <= 1.0


def test_the_pdq_table_catches_up_and_leaves_revoked_works_out(sim: Instance) -> None:
    creator = add_user(sim, "ines")
    pictures = [make_image(seed, (400, 300)) for seed in (7, 8)]
    works = []
    for i, picture in enumerate(pictures):
        reg = registry.register_work(
            sim, creator_id=creator, data=encode(picture), title=f"P{i}", declare="human-made"
        )
        analysis.analyze_now(sim, reg.work_id)
        works.append(reg)
        # Each lookup reads only the rows stored since the previous one.
        assert ids(lookup(sim, {"pdq": pdq_hex(picture)})) == [[reg.work_id]]
    registry.revoke(sim, certificate_id=works[0].certificate_id, reason="test", actor=None)
    assert ids(lookup(sim, {"pdq": pdq_hex(pictures[0])})) == [[]]
