"""Matching fingerprints: the per-signal helpers, and recall and precision at the shipped
thresholds over generated works and the alterations a copier makes (real MiniLM, real hashes).
"""

from __future__ import annotations

import inspect
import random
import re
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import pytest
from PIL import Image

from hallmark.similarity import compare as compare_module
from hallmark.similarity.base import Fingerprint, Match, MatchKind, TextFingerprint
from hallmark.similarity.compare import (
    NEAR_COPY_CONTAINMENT,
    PASSAGE_LENGTH_RATIO,
    alignment,
    chunk_containments,
    compare,
    containment,
    cosine,
    eligible_pairs,
    hamming,
    image_distance,
    image_distances,
    minhash_similarity,
)
from hallmark.similarity.fingerprints import (
    FIRST_CROP_ROW,
    IMAGE_ROWS,
    Embedder,
    image_fingerprint,
    shared_embedder,
    text_fingerprint,
    text_fingerprints,
)
from tests.similarity import perturb
from tests.similarity.perturb import CachingEmbedder, WordHashEmbedder

WORKS = 30
STAND_IN = WordHashEmbedder()


@pytest.fixture(scope="module")
def embedder() -> Iterator[CachingEmbedder]:
    import torch

    # Two threads on the shared test machines were up to ten times slower than one.
    torch.set_num_threads(1)
    yield CachingEmbedder(shared_embedder())


# Helpers -----------------------------------------------------------------------------------


def test_minhash_similarity_is_the_share_of_equal_positions() -> None:
    a = np.array([1, 2, 3, 4], dtype=np.uint32)
    assert minhash_similarity(a, a) == 1.0
    assert minhash_similarity(a, np.array([1, 2, 0, 0], dtype=np.uint32)) == 0.5


def test_hamming_counts_differing_bits_and_broadcasts() -> None:
    zero = np.zeros(32, dtype=np.uint8)
    ones = np.full(32, 0xFF, dtype=np.uint8)
    assert hamming(zero, ones) == 256
    assert hamming(zero, zero) == 0
    rows = np.stack([zero, ones, np.full(32, 0x0F, dtype=np.uint8)])
    assert hamming(zero, rows).tolist() == [0, 256, 128]


def test_cosine_and_alignment() -> None:
    x, y = np.eye(2, dtype=np.float32)
    assert cosine(x, x) == 1.0
    assert cosine(x, y) == 0.0
    # Each row of the first set finds itself in the second; not every row of the second does.
    assert alignment(np.stack([x]), np.stack([x, y])) == 1.0
    assert alignment(np.stack([x, y]), np.stack([x])) == 0.5


def test_containment_of_a_passage_is_near_one_and_not_symmetric() -> None:
    host = perturb.make_corpus(1, 400, seed=21)[0].text
    passage = perturb.make_corpus(1, 100, seed=22)[0].text
    inside = perturb.embed_passage(passage, host, seed=1)
    short, long = text_fingerprints([passage, inside], STAND_IN)
    assert containment(short, long) > 0.8
    assert containment(long, short) < 0.4
    assert chunk_containments(short, long).shape == (len(short.chunk_minhashes),)


def test_a_short_text_inside_one_chunk_is_fully_contained() -> None:
    # A 30-word text has a Jaccard of about 30/64 with the chunk holding it, yet is all there.
    host = perturb.make_corpus(1, 300, seed=23)[0].text
    words = perturb.make_corpus(1, 30, seed=24)[0].text.split()[:30]
    passage = " ".join(words) + "."
    short, long = text_fingerprints([passage, perturb.embed_passage(passage, host, 2)], STAND_IN)
    assert containment(short, long) > 0.85


def test_image_distance_is_the_best_eligible_pair() -> None:
    scene = perturb.make_image(5)
    a = image_fingerprint(perturb.encode(scene))
    b = image_fingerprint(perturb.encode(perturb.random_crop(scene, 5), "JPEG", 70))
    c = image_fingerprint(perturb.encode(perturb.make_image(6)))
    for x, y in [(a, b), (b, a), (a, c), (b, c)]:
        assert image_distance(x, y) == pytest.approx(float(image_distances(x, y).min()))
    assert image_distance(a, b) < image_distances(a, b)[0, 0]  # a crop row did better


def test_eligible_row_pairs() -> None:
    eligible = eligible_pairs(IMAGE_ROWS)
    assert eligible.shape == (IMAGE_ROWS, IMAGE_ROWS)
    assert np.array_equal(eligible, eligible.T)
    assert eligible[0].all() and eligible[1].all()
    assert eligible[FIRST_CROP_ROW, FIRST_CROP_ROW]
    assert not eligible[FIRST_CROP_ROW, FIRST_CROP_ROW + 1]


def test_texts_and_images_never_match() -> None:
    text = text_fingerprint("A picture is worth a thousand words.", STAND_IN)
    image = image_fingerprint(perturb.encode(perturb.make_image(1)))
    assert compare(text, image) is None
    assert compare(image, text) is None


def test_short_texts_match_only_exactly() -> None:
    a, b, c = text_fingerprints(
        [
            "The fisherman mended the net at dawn.",
            "THE FISHERMAN MENDED THE NET AT DAWN!",
            "The fisherman mended the nets at dawn.",
        ],
        STAND_IN,
    )
    assert compare(a, b) == Match(1.0, MatchKind.EXACT)
    assert compare(a, c) is None


def test_flat_images_match_only_exactly() -> None:
    blue = image_fingerprint(perturb.encode(Image.new("RGB", (200, 150), (30, 60, 200))))
    grey = image_fingerprint(perturb.encode(Image.new("RGB", (220, 140), (128, 128, 128))))
    assert image_distance(blue, grey) < 0.2  # they hash alike, which is why quality gates
    assert compare(blue, grey) is None
    assert compare(blue, blue) == Match(1.0, MatchKind.EXACT)


def test_every_threshold_is_documented_with_figures() -> None:
    doc = compare_module.__doc__ or ""
    source = inspect.getsource(compare_module)
    constants = re.findall(r"^([A-Z][A-Z_]+) = ", source, flags=re.MULTILINE)
    assert constants
    for name in constants:
        assert f":data:`{name}`" in doc, f"{name} is not explained in compare.py's docstring"


def test_comparing_does_not_load_the_heavy_libraries() -> None:
    # An index compares stored fingerprints; it should not pay for torch or scipy to do so.
    code = (
        "import sys, hallmark.similarity.compare; "
        "print(sorted(m for m in ('torch', 'scipy', 'datasketch', 'sentence_transformers') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# Robustness: recall and precision ----------------------------------------------------------


@dataclass
class Trial:
    """Originals, their altered copies (with the kind each should be reported as), and decoys."""

    originals: Sequence[Fingerprint]
    altered: dict[str, list[tuple[Fingerprint, MatchKind]]]
    decoys: Sequence[Fingerprint]


def _score(trial: Trial, alteration: str) -> tuple[float, float, list[str]]:
    """Recall of one alteration, precision over all pairs, and what went wrong."""
    problems = []
    found = 0
    for index, (copy, kind) in enumerate(trial.altered[alteration]):
        match = compare(trial.originals[index], copy)
        if match is not None and match.kind is kind:
            found += 1
        else:
            problems.append(f"work {index}: expected {kind}, got {match}")
        if match is not None:
            assert 0.0 <= match.score <= 1.0
            assert compare(copy, trial.originals[index]) == match
    # Every original against every other work's copy and the decoys (originals against each
    # other: test_unrelated_texts_do_not_match, test_unrelated_images_do_not_match).
    others: list[tuple[int | None, Fingerprint]] = [
        *((owner, copy) for owner, (copy, _) in enumerate(trial.altered[alteration])),
        *((None, decoy) for decoy in trial.decoys),
    ]
    false = 0
    for index, original in enumerate(trial.originals):
        for owner, other in others:
            if owner != index and compare(original, other) is not None:
                false += 1
                problems.append(
                    f"work {index} matched a copy of {owner}: {compare(original, other)}"
                )
    recall = found / len(trial.originals)
    precision = found / (found + false) if found + false else 1.0
    return recall, precision, problems


def _check(trial: Trial, alteration: str) -> None:
    recall, precision, problems = _score(trial, alteration)
    assert recall >= 0.95, problems
    assert precision >= 0.99, problems


def text_trial(embedder: Embedder) -> Trial:
    """The texts of the robustness tests (also used to measure the figures in compare.py)."""
    works = perturb.make_corpus(WORKS, 110, seed=31)
    # Hosts longer than the works, so that a work is under half of the text it is put in.
    hosts = perturb.make_corpus(WORKS, 200, seed=32)
    # The decoys: other works on the same topics, some long, some short.
    decoys = [w.text for w in perturb.make_corpus(WORKS, 50, seed=33)]
    alterations: dict[str, Callable[[int, perturb.Work], str]] = {
        "restyled": lambda i, w: perturb.restyle(w.text, i),
        "a third of the words replaced": lambda i, w: perturb.replace_words(w.text, 1 / 3, i),
        "sentences reordered": lambda i, w: perturb.reorder_sentences(w.text, i),
        "a quarter of the sentences dropped": lambda i, w: perturb.drop_sentences(w.text, 0.25, i),
        "a paragraph dropped": lambda i, w: perturb.drop_paragraph(w.text, i),
        "paraphrased": lambda i, w: perturb.paraphrase(w, i),
        "inside a longer text": lambda i, w: perturb.embed_passage(w.text, hosts[i].text, i),
    }
    altered_texts = {
        name: [alter(i, work) for i, work in enumerate(works)]
        for name, alter in alterations.items()
    }
    everything = [w.text for w in works] + decoys
    everything += [text for group in altered_texts.values() for text in group]
    fingerprints = iter(text_fingerprints(everything, embedder))
    originals = [next(fingerprints) for _ in works]
    decoy_prints = [next(fingerprints) for _ in decoys]

    def expected(name: str, original: Fingerprint, copy: Fingerprint) -> MatchKind:
        if name == "restyled":
            return MatchKind.EXACT
        assert isinstance(original, TextFingerprint) and isinstance(copy, TextFingerprint)
        if name == "paraphrased":
            # Shared wording comes first: a paraphrase keeping a third of the word pairs is
            # also a near-copy (test_most_paraphrases_are_reported_as_such checks the share).
            if containment(*sorted((original, copy), key=lambda f: (f.words, f.digest))) >= (
                NEAR_COPY_CONTAINMENT
            ):
                return MatchKind.NEAR_COPY
            return MatchKind.PARAPHRASE
        # Dropping one of two paragraphs may leave less than half: then it is a passage.
        if max(original.words, copy.words) >= PASSAGE_LENGTH_RATIO * min(
            original.words, copy.words
        ):
            return MatchKind.CONTAINS_PASSAGE
        return MatchKind.NEAR_COPY

    altered: dict[str, list[tuple[Fingerprint, MatchKind]]] = {}
    for name, group in altered_texts.items():
        prints = [next(fingerprints) for _ in group]
        altered[name] = [
            (copy, expected(name, original, copy))
            for original, copy in zip(originals, prints, strict=True)
        ]
    return Trial(originals, altered, decoy_prints)


@pytest.fixture(scope="module")
def texts(embedder: CachingEmbedder) -> Trial:
    return text_trial(embedder)


TEXT_ALTERATIONS = [
    "restyled",
    "a third of the words replaced",
    "sentences reordered",
    "a quarter of the sentences dropped",
    "a paragraph dropped",
    "paraphrased",
    "inside a longer text",
]


@pytest.mark.slow
@pytest.mark.parametrize("alteration", TEXT_ALTERATIONS)
def test_altered_texts_are_found_as_the_right_kind(texts: Trial, alteration: str) -> None:
    _check(texts, alteration)


@pytest.mark.slow
def test_a_passage_in_a_longer_text_is_reported_as_such(texts: Trial) -> None:
    kinds = {kind for _, kind in texts.altered["inside a longer text"]}
    assert kinds == {MatchKind.CONTAINS_PASSAGE}


@pytest.mark.slow
def test_most_paraphrases_are_reported_as_such(texts: Trial) -> None:
    matches = [
        compare(original, copy)
        for original, (copy, _) in zip(texts.originals, texts.altered["paraphrased"], strict=True)
    ]
    kinds = [match.kind for match in matches if match is not None]
    assert kinds.count(MatchKind.PARAPHRASE) >= 0.9 * len(matches)


@pytest.mark.slow
def test_unrelated_texts_do_not_match(texts: Trial) -> None:
    prints = [*texts.originals, *texts.decoys]
    matches = [
        (i, j)
        for i in range(len(prints))
        for j in range(i + 1, len(prints))
        if compare(prints[i], prints[j]) is not None
    ]
    assert matches == []


def image_trial() -> Trial:
    """The images of the robustness tests (also used to measure the figures in compare.py)."""
    scenes = [perturb.make_image(70_000 + i) for i in range(WORKS)]
    rng = random.Random(71)

    def alterations(i: int, image: Image.Image) -> dict[str, bytes]:
        return {
            "resized": perturb.encode(perturb.resize(image, rng.choice([0.4, 0.6, 1.3, 2.0]))),
            "re-encoded as JPEG": perturb.encode(image, "JPEG", rng.randint(50, 95)),
            "cropped up to 10% per side": perturb.encode(perturb.random_crop(image, i)),
            "mirrored": perturb.encode(perturb.mirror(image)),
            "recoloured": perturb.encode(perturb.recolour(image, i)),
            "captioned": perturb.encode(perturb.caption_bar(image)),
            "watermarked": perturb.encode(perturb.watermark(image)),
            "cropped, recoloured, shrunk, JPEG 60": perturb.encode(
                perturb.resize(perturb.random_crop(perturb.recolour(image, i), i + 1), 0.7),
                "JPEG",
                60,
            ),
        }

    originals = [image_fingerprint(perturb.encode(scene)) for scene in scenes]
    altered: dict[str, list[tuple[Fingerprint, MatchKind]]] = {}
    for i, scene in enumerate(scenes):
        for name, data in alterations(i, scene).items():
            altered.setdefault(name, []).append((image_fingerprint(data), MatchKind.NEAR_COPY))
    decoys = [image_fingerprint(perturb.encode(perturb.make_image(80_000 + i))) for i in range(10)]
    return Trial(originals, altered, decoys)


@pytest.fixture(scope="module")
def images() -> Trial:
    return image_trial()


IMAGE_ALTERATIONS = [
    "resized",
    "re-encoded as JPEG",
    "cropped up to 10% per side",
    "mirrored",
    "recoloured",
    "captioned",
    "watermarked",
    "cropped, recoloured, shrunk, JPEG 60",
]


@pytest.mark.slow
@pytest.mark.parametrize("alteration", IMAGE_ALTERATIONS)
def test_altered_images_are_found(images: Trial, alteration: str) -> None:
    _check(images, alteration)


def test_the_same_pixels_in_another_file_are_an_exact_match() -> None:
    scene = perturb.make_image(90_000)
    png = image_fingerprint(perturb.encode(scene, "PNG"))
    bmp = image_fingerprint(perturb.encode(scene, "BMP"))
    assert compare(png, bmp) == Match(1.0, MatchKind.EXACT)


@pytest.mark.slow
def test_unrelated_images_do_not_match(images: Trial) -> None:
    prints = [*images.originals, *images.decoys]
    matches = [
        (i, j)
        for i in range(len(prints))
        for j in range(i + 1, len(prints))
        if compare(prints[i], prints[j]) is not None
    ]
    assert matches == []
