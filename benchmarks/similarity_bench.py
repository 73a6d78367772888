"""Benchmark the ``memory`` similarity index at scale (issue #5): run by hand, never in CI.

Indexes N synthetic text fingerprints and N synthetic image fingerprints (default 1,000,000
each), made with NumPy in the shapes :mod:`hallmark.similarity.fingerprints` produces: texts of
one to four chunks (128 MinHash values and a unit 384-value vector per chunk; the whole-text
signature is the chunks' element-wise minimum and the mean vector their normalized mean, as
the fingerprints module computes them), images of as many PDQ and pHash rows as the
fingerprints module makes (as uploaded, mirrored, then the crops) and layouts (the coarse
colour maps the index searches first). Each layout is drawn around the layout of one of 1,500
generated scenes (``tests/similarity/perturb.py``), with Gaussian noise of their covariance
scaled so that unrelated layouts are as alike as the real scenes' are (the same cosine
exceeded once in 10,000 pairs) rather than as far apart as random vectors; the script prints
both tails. A planted copy's layout sits at a cosine to its original drawn from the cosines
measured on real altered copies of the same kind. Then it asks three kinds of question,
timing each:

- *planted copies*: a stored work altered the way copies alter fingerprints. Texts: near
  copies (30% of every chunk's MinHash values changed, every vector moved to a cosine of 0.9)
  and paraphrases (every MinHash value changed, vectors at 0.9). Images: 10-40 PDQ bits and
  0-6 pHash bits flipped in each row used, as a copy resized or recoloured (every row), a
  mirrored copy (rows 0 and 1 swapped), a cropped copy (its row 0 near one of the original's
  crop rows), the original of a stored crop (one of its crop rows near the stored row 0) and
  a captioned copy (only one crop row near the same crop row). The answer should name the
  original;
- *near misses*: a stored work altered beyond the shipped thresholds (90% of the MinHash
  values, vectors at a cosine of 0.5; 80-110 PDQ bits and 20-28 pHash bits in every row, with
  the original's very layout, so that the row scan, not the layout, must turn it away): the
  answer should be empty;
- *unrelated*: fresh random fingerprints: the answer should be empty.

Recall is the share of planted copies whose original is answered (of those that
``compare.compare`` itself accepts, which should be all of them); precision is the share of all
answers, over every question, that name a planted original. Also measured: the time to add
everything (one ``add`` call per work, as the service's rebuild does), peak memory, the size
and time of a save and a load, and what datasketch's ``MinHashLSH`` needs per signature for the
same bands (the reason the index keeps its own).

    .venv/bin/python benchmarks/similarity_bench.py [--texts 1000000] [--images 1000000]
        [--queries 1000] [--json results.jsonl]

Prints a table, and one JSON line of results (also appended to --json when given).
"""

from __future__ import annotations

import argparse
import gc
import io
import json
import platform
import resource
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn
from rich.table import Table

from hallmark.similarity import compare
from hallmark.similarity.base import ImageFingerprint, TextFingerprint
from hallmark.similarity.fingerprints import (
    EMBEDDING_DIM,
    FIRST_CROP_ROW,
    IMAGE_ROWS,
    LAYOUT_BOXES,
    NUM_PERM,
    image_layouts,
    mirror_layouts,
)
from hallmark.similarity.memory_index import MemoryIndex, lsh_parameters

# The scene generator and the alterations the tests use.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.similarity import perturb

try:
    import psutil
except ImportError:  # psutil is optional: without it only the peak is reported
    psutil = None

console = Console()

#: Chunks per synthetic text and how often: texts of 64 to 160 words (poems, short pieces).
CHUNK_COUNTS = np.array([1, 2, 3, 4])
CHUNK_SHARES = np.array([0.4, 0.3, 0.2, 0.1])
BATCH = 10_000


def rss_mb() -> float | None:
    return psutil.Process().memory_info().rss / 2**20 if psutil is not None else None


def peak_mb() -> float:
    # Linux reports ru_maxrss in kilobytes.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=-1, keepdims=True)).astype(np.float32)


def text_fingerprint(digest: str, chunks: np.ndarray, vectors: np.ndarray) -> TextFingerprint:
    return TextFingerprint(
        digest=digest,
        words=64 + 32 * (len(chunks) - 1),
        minhash=chunks.min(axis=0),
        chunk_minhashes=chunks,
        vectors=vectors,
        # The fingerprints module's mean vector; for one chunk, the chunk's own vector.
        vector=vectors[0] if len(vectors) == 1 else unit(vectors.mean(axis=0)),
    )


def random_texts(rng: np.random.Generator, count: int, first_key: int) -> list[TextFingerprint]:
    chunks = rng.choice(CHUNK_COUNTS, size=count, p=CHUNK_SHARES)
    total = int(chunks.sum())
    signatures = rng.integers(0, 2**32, size=(total, NUM_PERM), dtype=np.uint64)
    signatures = signatures.astype(np.uint32)
    vectors = (
        TEXTS.sample(rng, total)
        if TEXTS is not None
        else unit(rng.standard_normal((total, EMBEDDING_DIM), dtype=np.float32))
    )
    out = []
    start = 0
    for i, n in enumerate(chunks.tolist()):
        digest = f"{first_key + i:064x}"
        out.append(
            text_fingerprint(digest, signatures[start : start + n], vectors[start : start + n])
        )
        start += n
    return out


def move_vectors(rng: np.random.Generator, vectors: np.ndarray, cosine: float) -> np.ndarray:
    """Unit vectors at about ``cosine`` from ``vectors`` (noise orthogonal in expectation)."""
    noise = unit(rng.standard_normal(vectors.shape, dtype=np.float32))
    noise -= (noise * vectors).sum(axis=1, keepdims=True) * vectors
    noise = unit(noise)
    angle = np.arccos(cosine)
    return unit(np.cos(angle) * vectors + np.sin(angle) * noise)


def altered_text(
    rng: np.random.Generator, fp: TextFingerprint, share: float, how: str | float, digest: str
) -> TextFingerprint:
    """``fp`` with ``share`` of its MinHash values changed and its vectors moved: to the
    cosine ``how`` when it is a number, else to cosines the text model measured for ``how``
    (with random vectors, to 0.9)."""
    chunks = fp.chunk_minhashes.copy()
    changed = rng.random(chunks.shape) < share
    chunks[changed] = rng.integers(0, 2**32, size=int(changed.sum()), dtype=np.uint64)
    if isinstance(how, float):
        vectors = move_vectors(rng, fp.vectors, how)
    elif TEXTS is None:
        vectors = move_vectors(rng, fp.vectors, 0.9)
    else:
        vectors = np.stack([TEXTS.moved(rng, v, how) for v in fp.vectors])
    return text_fingerprint(digest, chunks, vectors)


def _best_cosine(stored: np.ndarray, query_image: Any) -> float:
    """The cosine the index sees: the best of the query's layouts and mirrors with ``stored``."""
    layouts = image_layouts(query_image)
    return float((np.vstack([layouts, mirror_layouts(layouts)]) @ stored).max())


@dataclass
class VectorModel:
    """Synthetic vectors drawn around real ones, and the cosines real copies were measured at.

    Random unit vectors are the worst case for an HNSW graph (every point about as far from
    every other, so a greedy walk has nothing to follow) and unlike real fingerprints, which
    cluster. So synthetic layouts and text vectors are drawn around real ones, with Gaussian
    noise of the real ones' covariance, its scale (``spread``) chosen so that unrelated
    synthetic vectors are as alike as unrelated real ones: the same cosine exceeded once in
    10,000 pairs. A planted copy sits at a cosine drawn from those measured on real copies.
    """

    centres: np.ndarray  # the real vectors
    factor: np.ndarray  # Cholesky factor of their covariance
    spread: float  # how far from its centre a vector is drawn, in units of that covariance
    copy_cosines: dict[str, np.ndarray]  # per kind of copy
    real_tail: float  # unrelated real vectors: the cosine exceeded once in 10,000 pairs

    @classmethod
    def around(
        cls,
        centres: np.ndarray,
        unrelated: np.ndarray,
        copy_cosines: dict[str, list[float]],
        seed: int,
    ) -> VectorModel:
        """Fit to ``centres``; ``unrelated`` holds one real vector per work, for the tail."""
        centres = centres.astype(np.float64)
        dim = centres.shape[1]
        covariance = np.cov(centres, rowvar=False) + 1e-6 * np.eye(dim)
        cosines = unrelated @ unrelated.T
        real_tail = float(np.quantile(cosines[np.triu_indices(len(unrelated), 1)], 0.9999))
        model = cls(
            centres=centres,
            factor=np.linalg.cholesky(covariance),
            spread=1.0,
            copy_cosines={kind: np.array(values) for kind, values in copy_cosines.items()},
            real_tail=real_tail,
        )
        # Drawn around one real vector each, synthetic ones are as clustered as the spread
        # allows: a wide spread gives a Gaussian (less clustered than real ones, its tail
        # lower), a narrow one near-copies of the real ones. Pick the spread whose tail
        # matches the real one, so unrelated works crowd a copy's original as real ones would.
        low, high = 0.05, 4.0
        for _ in range(12):
            model.spread = (low + high) / 2
            if model.model_tail(np.random.default_rng(seed)) > real_tail:
                low = model.spread
            else:
                high = model.spread
        return model

    def sample(self, rng: np.random.Generator, count: int) -> np.ndarray:
        dim = self.centres.shape[1]
        centres = self.centres[rng.integers(len(self.centres), size=count)]
        draws = centres + self.spread * rng.standard_normal((count, dim)) @ self.factor.T
        return (draws / np.linalg.norm(draws, axis=1, keepdims=True)).astype(np.float32)

    def model_tail(self, rng: np.random.Generator, count: int = 3_000) -> float:
        draws = self.sample(rng, count)
        cosines = draws @ draws.T
        return float(np.quantile(cosines[np.triu_indices(count, 1)], 0.9999))

    def moved(self, rng: np.random.Generator, vector: np.ndarray, how: str) -> np.ndarray:
        """A vector at a cosine to ``vector`` drawn from those measured for ``how``."""
        cosine = float(np.clip(rng.choice(self.copy_cosines[how]), -1.0, 1.0))
        return at_cosine(rng, vector, cosine)

    def describe(self, rng: np.random.Generator) -> str:
        return (
            f"cosine exceeded once in 10,000 unrelated pairs: real {self.real_tail:.3f}, "
            f"model {self.model_tail(rng):.3f}; copies (min / median): "
            + ", ".join(
                f"{kind} {np.min(c):.2f} / {np.median(c):.2f}"
                for kind, c in self.copy_cosines.items()
            )
        )


def at_cosine(rng: np.random.Generator, vector: np.ndarray, cosine: float) -> np.ndarray:
    noise = rng.standard_normal(len(vector))
    noise -= (noise @ vector) * vector
    noise /= np.linalg.norm(noise)
    return (cosine * vector + np.sqrt(1 - cosine**2) * noise).astype(np.float32)


def fit_layouts(scenes: int = 1_500, copies: int = 80, seed: int = 7) -> VectorModel:
    """The layout model: 1,500 generated scenes, and copies of 80 of them of every kind."""
    rng = np.random.default_rng(seed)
    images = [perturb.make_image(90_000 + i) for i in range(scenes)]
    layouts = np.stack([image_layouts(image)[0] for image in images]).astype(np.float64)
    measured: dict[str, list[float]] = {kind: [] for kind in IMAGE_COPIES}
    for i, image in enumerate(images[:copies]):
        stored = layouts[i]
        altered = perturb.recolour(perturb.resize(image, float(rng.uniform(0.5, 2))), i)
        measured["altered"].append(_best_cosine(stored, _jpeg(altered)))
        measured["mirrored"].append(_best_cosine(stored, perturb.mirror(image)))
        measured["cropped"].append(_best_cosine(stored, perturb.random_crop(image, i)))
        crop_layout = image_layouts(perturb.random_crop(image, i + 1))[0]
        measured["original of a crop"].append(_best_cosine(crop_layout, image))
        measured["captioned"].append(_best_cosine(stored, perturb.caption_bar(image)))
    return VectorModel.around(layouts, layouts, measured, seed)


#: Real texts for the text model: the human texts of the detector's corpus, one per group (each
#: group also holds an AI text on the same prompt, which would crowd the tail).
TEXT_CORPUS = Path(__file__).resolve().parents[2] / "shared" / "data" / "textdetect" / "train.jsonl"
#: Synthetic texts are 64 to 160 words, so real texts are cut to 160 words (at most 4 chunks).
TEXT_WORDS = 160


def real_texts() -> list[str]:
    if not TEXT_CORPUS.exists():
        # Without the shared corpus, the tests' generated texts (more alike than real ones).
        return [work.text for work in perturb.make_corpus(1_500, words=TEXT_WORDS, seed=7)]
    texts: dict[str, str] = {}
    with TEXT_CORPUS.open(encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            if row["label"] == "human":
                texts.setdefault(row["group"], row["text"])
    return list(texts.values())


def fit_texts(copies: int = 300, seed: int = 7) -> VectorModel:
    """The text model: real texts' chunk vectors, and the cosines of two kinds of copy.

    A near copy is a real text with a third of its words replaced and its sentences shuffled
    (MinHash still finds it). A paraphrase says the same again in other words, which only the
    vectors find; the tests' generated texts can be paraphrased (``perturb.paraphrase``: every
    sentence another template, every synonym another), real ones cannot, so the paraphrase
    cosines are measured on generated texts. A copy's cosine is each of its chunks' best cosine
    to the original's chunks.
    """
    from hallmark.similarity.fingerprints import text_fingerprints

    texts = [" ".join(text.split()[:TEXT_WORDS]) for text in real_texts()]
    works = perturb.make_corpus(copies, words=TEXT_WORDS, seed=seed)
    console.print(f"embedding {len(texts):,} real texts and {3 * copies} more ...")
    originals = text_fingerprints(texts)
    near = text_fingerprints(
        [
            perturb.reorder_sentences(perturb.replace_words(t, 1 / 3, i), i)
            for i, t in enumerate(texts[:copies])
        ]
    )
    generated = text_fingerprints([work.text for work in works])
    para = text_fingerprints([perturb.paraphrase(work, i) for i, work in enumerate(works)])
    measured: dict[str, list[float]] = {"near copy": [], "paraphrase": []}
    pairs = {
        "near copy": zip(originals, near, strict=False),
        "paraphrase": zip(generated, para, strict=True),
    }
    for kind, altered in pairs.items():
        for original, copy in altered:
            measured[kind] += (copy.vectors @ original.vectors.T).max(axis=1).tolist()
    chunks = np.vstack([fp.vectors for fp in originals])
    first_chunks = np.stack([fp.vectors[0] for fp in originals])
    return VectorModel.around(chunks, first_chunks, measured, seed)


def _jpeg(image: Any) -> Any:
    from PIL import Image

    return Image.open(io.BytesIO(perturb.encode(image, "JPEG", 50)))


LAYOUTS: VectorModel | None = None  # fitted in main() when images are benchmarked
TEXTS: VectorModel | None = None  # fitted in main() when texts are benchmarked


def random_images(rng: np.random.Generator, count: int, first_key: int) -> list[ImageFingerprint]:
    pdq = rng.integers(0, 256, size=(count, IMAGE_ROWS, 32), dtype=np.uint8)
    phash = rng.integers(0, 256, size=(count, IMAGE_ROWS, 8), dtype=np.uint8)
    assert LAYOUTS is not None
    layouts = LAYOUTS.sample(rng, count * len(LAYOUT_BOXES)).reshape(count, len(LAYOUT_BOXES), -1)
    return [
        ImageFingerprint(
            digest=f"{first_key + i:064x}",
            width=1024,
            height=768,
            pdq=pdq[i],
            phash=phash[i],
            quality=100,
            layout=layouts[i],
        )
        for i in range(count)
    ]


def flip_bits(rng: np.random.Generator, rows: np.ndarray, low: int, high: int) -> np.ndarray:
    bits = np.unpackbits(rows, axis=1)
    for row in bits:
        flips = rng.choice(row.size, size=int(rng.integers(low, high + 1)), replace=False)
        row[flips] ^= 1
    return np.packbits(bits, axis=1)


IMAGE_COPIES = ("altered", "mirrored", "cropped", "original of a crop", "captioned")


def altered_image(
    rng: np.random.Generator,
    fp: ImageFingerprint,
    pdq_bits: tuple[int, int],
    phash_bits: tuple[int, int],
    digest: str,
    how: str = "altered",
) -> ImageFingerprint:
    """A copy of ``fp`` whose rows relate to the original's as ``how`` says (IMAGE_COPIES)."""
    pdq = flip_bits(rng, fp.pdq, *pdq_bits)
    phash = flip_bits(rng, fp.phash, *phash_bits)
    assert LAYOUTS is not None and fp.layout is not None
    if how == "near miss":
        layout = fp.layout.copy()
    else:
        layout = LAYOUTS.sample(rng, len(LAYOUT_BOXES))
        layout[int(rng.integers(len(layout)))] = LAYOUTS.moved(rng, fp.layout[0], how)
    if how not in ("altered", "near miss"):
        fresh = random_images(rng, 1, 0)[0]
        crop = int(rng.integers(FIRST_CROP_ROW, len(pdq)))
        # Only the rows named below stay near the original; the others are new.
        keep = {"mirrored": [(0, 1), (1, 0)], "cropped": [(0, crop)]}.get(
            how, [(crop, 0)] if how == "original of a crop" else [(crop, crop)]
        )
        new_pdq, new_phash = fresh.pdq.copy(), fresh.phash.copy()
        for mine, theirs in keep:
            new_pdq[mine], new_phash[mine] = pdq[theirs], phash[theirs]
        pdq, phash = new_pdq, new_phash
    return ImageFingerprint(
        digest=digest,
        width=fp.width,
        height=fp.height,
        pdq=pdq,
        phash=phash,
        quality=100,
        layout=layout,
    )


@dataclass
class Question:
    kind: str  # "planted", "near miss" or "unrelated"
    fingerprint: Any
    original: int | None  # the key a planted copy should find
    accepted: bool  # whether compare.compare accepts the pair (planted copies only)


@dataclass
class Outcome:
    modality: str
    count: int
    build_seconds: float
    index_mb: float | None
    latencies: list[float]
    planted: int
    eligible: int
    found: int
    answers: int
    right_answers: int
    near_miss_answers: int
    unrelated_answers: int


def batches(total: int) -> Iterator[tuple[int, int]]:
    for start in range(0, total, BATCH):
        yield start, min(BATCH, total - start)


def build_and_ask(
    modality: str,
    index: MemoryIndex,
    total: int,
    first_key: int,
    queries: int,
    seed: int,
    ef_values: list[int] | None = None,
) -> list[Outcome]:
    """Add ``total`` works, then ask the questions (once per ``ef_values`` entry, if given)."""
    rng = np.random.default_rng(seed)
    targets = set(rng.choice(total, size=min(queries, total), replace=False).tolist())
    kept: dict[int, Any] = {}
    before = rss_mb()
    build = 0.0
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        task = progress.add_task(f"adding {modality}", total=total)
        for start, count in batches(total):
            first = first_key + start
            made = (
                random_texts(rng, count, first)
                if modality == "texts"
                else random_images(rng, count, first)
            )
            t0 = time.perf_counter()
            for offset, fp in enumerate(made):
                index.add(first + offset, fp)
            build += time.perf_counter() - t0
            for offset in targets.intersection(range(start, start + count)):
                kept[first_key + offset] = made[offset - start]
            progress.update(task, completed=start + count)
    gc.collect()
    after = rss_mb()

    questions: list[Question] = []
    for n, (key, fp) in enumerate(sorted(kept.items())):
        digest = f"{10**15 + n:064x}"
        if modality == "texts":
            how = "near copy" if n % 2 else "paraphrase"
            copy = altered_text(rng, fp, 0.30 if how == "near copy" else 1.0, how, digest)
        else:
            how = IMAGE_COPIES[n % len(IMAGE_COPIES)]
            copy = altered_image(rng, fp, (10, 40), (0, 6), digest, how)
        accepted = compare.compare(copy, fp) is not None
        questions.append(Question("planted", copy, key, accepted))
    for n, fp in enumerate(list(kept.values())[: max(1, queries // 2)]):
        digest = f"{2 * 10**15 + n:064x}"
        if modality == "texts":
            miss = altered_text(rng, fp, 0.90, 0.50, digest)
        else:
            miss = altered_image(rng, fp, (80, 110), (20, 28), digest, "near miss")
        questions.append(Question("near miss", miss, None, False))
    fresh = (
        random_texts(rng, queries, 3 * 10**15)
        if modality == "texts"
        else random_images(rng, queries, 3 * 10**15)
    )
    questions += [Question("unrelated", fp, None, False) for fp in fresh]
    order = rng.permutation(len(questions)).tolist()
    outcomes = []
    for ef in ef_values or [None]:
        if ef is not None:
            index.ef_search = ef
        outcomes.append(
            ask(index, [questions[i] for i in order], modality, total, build, before, after, ef)
        )
    return outcomes


def ask(
    index: MemoryIndex,
    questions: list[Question],
    modality: str,
    total: int,
    build: float,
    before: float | None,
    after: float | None,
    ef: int | None,
) -> Outcome:
    latencies: list[float] = []
    found = answers = right = near_miss_answers = unrelated_answers = 0
    for q in questions:
        t0 = time.perf_counter()
        result = index.query(q.fingerprint, limit=10)
        latencies.append(time.perf_counter() - t0)
        answers += len(result)
        keys = {c.key for c in result}
        if q.kind == "planted":
            hit = q.original in keys
            found += int(hit and q.accepted)
            right += int(hit)
        elif q.kind == "near miss":
            near_miss_answers += len(result)
        else:
            unrelated_answers += len(result)
    planted = [q for q in questions if q.kind == "planted"]
    return Outcome(
        modality=modality if ef is None else f"{modality}, ef_search {ef}",
        count=total,
        build_seconds=build,
        index_mb=(after - before) if after is not None and before is not None else None,
        latencies=latencies,
        planted=len(planted),
        eligible=sum(q.accepted for q in planted),
        found=found,
        answers=answers,
        right_answers=right,
        near_miss_answers=near_miss_answers,
        unrelated_answers=unrelated_answers,
    )


def datasketch_reference(samples: int, seed: int) -> dict[str, float]:
    """Bytes per signature and inserts per second of datasketch's MinHashLSH, same bands."""
    from datasketch import LeanMinHash, MinHashLSH

    rng = np.random.default_rng(seed)
    signatures = rng.integers(0, 2**32, size=(samples, NUM_PERM), dtype=np.uint64)
    sketches = [
        LeanMinHash(seed=1, hashvalues=s.astype(np.uint32), scheme="affine32") for s in signatures
    ]
    del signatures
    gc.collect()
    before = rss_mb()
    lsh = MinHashLSH(num_perm=NUM_PERM, params=lsh_parameters(NUM_PERM))
    t0 = time.perf_counter()
    for i, sketch in enumerate(sketches):
        lsh.insert(i, sketch, check_duplication=False)
    seconds = time.perf_counter() - t0
    del sketches
    gc.collect()
    after = rss_mb()
    bytes_each = (after - before) * 2**20 / samples if after and before else float("nan")
    del lsh
    gc.collect()
    return {"bytes_per_signature": bytes_each, "inserts_per_second": samples / seconds}


def persist(holder: list[MemoryIndex]) -> dict[str, float]:
    """Save the index, drop it, and load it back: the times and the size on disk.

    The index is passed in a list that this empties, so that the loaded copy does not share
    the machine's memory with the saved one (at a million works, two do not fit in 24 GB).
    """
    folder = Path(tempfile.mkdtemp(prefix="hallmark-similarity-bench-"))
    try:
        index = holder.pop()
        count = len(index)
        t0 = time.perf_counter()
        index.save(folder)
        save_seconds = time.perf_counter() - t0
        size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
        del index
        gc.collect()
        fresh = MemoryIndex()
        t0 = time.perf_counter()
        loaded = fresh.load(folder)
        load_seconds = time.perf_counter() - t0
        assert loaded and len(fresh) == count, "the saved index did not load"
        del fresh
        gc.collect()
        return {"save_seconds": save_seconds, "load_seconds": load_seconds, "mb": size / 2**20}
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def outcome_dict(o: Outcome) -> dict[str, Any]:
    return {
        "modality": o.modality,
        "count": o.count,
        "build_seconds": round(o.build_seconds, 2),
        "index_mb": o.index_mb,
        "rss_mb": rss_mb(),
        "queries": len(o.latencies),
        "p50_ms": round(percentile_ms(o.latencies, 50), 3),
        "p95_ms": round(percentile_ms(o.latencies, 95), 3),
        "planted": o.planted,
        "eligible": o.eligible,
        "recall": o.found / o.eligible if o.eligible else None,
        "precision": o.right_answers / o.answers if o.answers else None,
        "near_miss_answers": o.near_miss_answers,
        "unrelated_answers": o.unrelated_answers,
    }


def outcome_json(o: Outcome) -> str:
    return json.dumps(outcome_dict(o), sort_keys=True)


def percentile_ms(samples: list[float], q: float) -> float:
    return float(np.percentile(samples, q) * 1000) if samples else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=1_000_000)
    parser.add_argument("--images", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=1000, help="planted text copies")
    parser.add_argument(
        "--image-queries",
        type=int,
        default=None,
        help="planted image copies (default: --queries)",
    )
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--datasketch-sample", type=int, default=50_000)
    parser.add_argument(
        "--ef-search",
        type=lambda value: [int(v) for v in value.split(",")],
        default=None,
        help="text search efforts to ask at, comma-separated (default: the index's own)",
    )
    parser.add_argument(
        "--random-vectors",
        action="store_true",
        help="random unit text vectors (the worst case) instead of ones drawn around real texts",
    )
    parser.add_argument("--no-save", action="store_true", help="skip the save/load figures")
    parser.add_argument("--json", type=Path, default=None, help="append the results here")
    args = parser.parse_args()

    # Other work on the machine slows every figure down: say how busy it was.
    load = list(psutil.getloadavg()) if psutil is not None else None
    if load is not None:
        console.print(f"load average before the run: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    reference = datasketch_reference(args.datasketch_sample, args.seed)
    index = MemoryIndex()
    start_rss = rss_mb()
    outcomes = []
    if args.texts:
        global TEXTS
        if not args.random_vectors:
            TEXTS = fit_texts()
            console.print("text vectors: " + TEXTS.describe(np.random.default_rng(args.seed)))
        asked = build_and_ask(
            "texts", index, args.texts, 1, args.queries, args.seed, args.ef_search
        )
        outcomes += asked
        # Each modality's figures are shown as soon as they are known: a long run that fails
        # later (out of memory while saving, say) still leaves them.
        for outcome in asked:
            print(outcome_json(outcome), flush=True)
    if args.images:
        global LAYOUTS
        console.print("fitting the layout model to generated scenes ...")
        LAYOUTS = fit_layouts()
        console.print("layouts: " + LAYOUTS.describe(np.random.default_rng(args.seed)))
        outcomes += build_and_ask(
            "images",
            index,
            args.images,
            args.texts + 1,
            args.queries if args.image_queries is None else args.image_queries,
            args.seed + 1,
        )
        print(outcome_json(outcomes[-1]), flush=True)
    end_rss = rss_mb()
    saved = None if args.no_save else persist([index])
    del index

    bands, rows = lsh_parameters(NUM_PERM)
    table = Table(title=f"memory index, {datetime.now(UTC):%Y-%m-%d}")
    table.add_column("measure")
    for outcome in outcomes:
        table.add_column(f"{outcome.count:,} {outcome.modality}", justify="right")
    table.add_column("aim", justify="right")

    def row(name: str, values: list[str], aim: str = "") -> None:
        table.add_row(name, *values, aim)

    row("build (one add per work)", [f"{o.build_seconds:.0f} s" for o in outcomes])
    row("adds per second", [f"{o.count / o.build_seconds:,.0f}" for o in outcomes])
    row(
        "memory added",
        [f"{o.index_mb:,.0f} MB" if o.index_mb is not None else "?" for o in outcomes],
    )
    row("query p50", [f"{percentile_ms(o.latencies, 50):.1f} ms" for o in outcomes])
    row("query p95", [f"{percentile_ms(o.latencies, 95):.1f} ms" for o in outcomes], "< 50 ms")
    row("questions", [f"{len(o.latencies):,}" for o in outcomes])
    row("planted copies compare accepts", [f"{o.eligible}/{o.planted}" for o in outcomes])
    row(
        "recall",
        [f"{o.found / o.eligible:.4f}" if o.eligible else "-" for o in outcomes],
        ">= 0.95",
    )
    row(
        "precision",
        [f"{o.right_answers / o.answers:.4f}" if o.answers else "-" for o in outcomes],
        ">= 0.99",
    )
    row("answers to near misses", [str(o.near_miss_answers) for o in outcomes], "0")
    row("answers to unrelated", [str(o.unrelated_answers) for o in outcomes], "0")
    console.print(table)
    console.print(f"peak RSS {peak_mb():,.0f} MB; RSS with the index {end_rss or 0:,.0f} MB")
    if saved:
        console.print(
            f"save {saved['save_seconds']:.1f} s, load {saved['load_seconds']:.1f} s, "
            f"{saved['mb']:,.0f} MB on disk"
        )
    console.print(
        f"datasketch MinHashLSH with the same {bands} bands x {rows}: "
        f"{reference['bytes_per_signature']:,.0f} bytes per signature, "
        f"{reference['inserts_per_second']:,.0f} inserts/s "
        f"(this index: {bands * 8 + NUM_PERM * 4:,} bytes with the signature itself)"
    )

    result = {
        "date": f"{datetime.now(UTC):%Y-%m-%dT%H:%M:%SZ}",
        "machine": f"{platform.machine()} {platform.processor() or 'cpu'}",
        "python": platform.python_version(),
        "lsh": [bands, rows],
        "load_before": load,
        "load_after": list(psutil.getloadavg()) if psutil is not None else None,
        "start_rss_mb": start_rss,
        "end_rss_mb": end_rss,
        "peak_rss_mb": peak_mb(),
        "persist": saved,
        "datasketch": reference,
        "results": [outcome_dict(o) for o in outcomes],
    }
    line = json.dumps(result, sort_keys=True)
    print(line)
    if args.json is not None:
        with args.json.open("a", encoding="utf-8") as handle:
            handle.write(line + "\n")


if __name__ == "__main__":
    main()
