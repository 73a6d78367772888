"""Features of the AI-text detector on small inputs whose answers are known by hand."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from hallmark.analysis import text_features
from hallmark.analysis.text_detector import NgramModel, char_ngrams, word_ngrams
from hallmark.analysis.text_features import (
    FEATURE_NAMES,
    TokenScores,
    feature_vector,
    lm_features,
    sentence_of_tokens,
    sentence_spans,
    style_features,
)
from hallmark.analysis.train_text import auroc, tpr_at_fpr


def scores(
    starts: list[int], logp: list[float], entropy: list[float], rank: list[int]
) -> TokenScores:
    return TokenScores(
        np.array(starts), np.array(logp), np.array(entropy), np.log1p(np.array(rank, dtype=float))
    )


def test_sentence_spans_split_at_terminal_punctuation() -> None:
    text = "It rained. Did it? Yes! And then"
    spans = sentence_spans(text)
    assert [text[a:b] for a, b in spans] == ["It rained.", "Did it?", "Yes!", "And then"]


def test_sentence_spans_of_blank_text_are_empty() -> None:
    assert sentence_spans("   ") == []


def test_tokens_are_assigned_to_their_sentences() -> None:
    text = "One two. Three four."
    spans = sentence_spans(text)
    tokens = scores([0, 4, 9, 15], [0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0])
    assert sentence_of_tokens(tokens, spans).tolist() == [0, 0, 1, 1]


def test_style_features_count_by_hand() -> None:
    text = "I like tea, and I like cake. The cake is good."
    features = style_features(text)
    # Sentences of 7 and 4 words.
    assert features["sent_len_mean"] == pytest.approx(5.5)
    assert features["sent_len_std"] == pytest.approx(1.5)
    # 11 words, 8 distinct: i, like, tea, and, cake, the, is, good.
    assert features["ttr_200"] == pytest.approx(8 / 11)
    assert features["comma_rate"] == pytest.approx(1 / 11)
    assert features["first_person_rate"] == pytest.approx(2 / 11)
    assert features["digit_rate"] == 0.0


def test_lm_features_of_known_series() -> None:
    text = "Aa bb. Cc dd."
    tokens = scores([3, 7, 10], [-1.0, -3.0, -2.0], [1.0, 1.0, 4.0], [0, 9, 0])
    features = lm_features(tokens, text)
    assert features["logp_mean"] == pytest.approx(-2.0)
    assert features["entropy_mean"] == pytest.approx(2.0)
    assert features["top1_rate"] == pytest.approx(2 / 3)
    assert features["top10_rate"] == pytest.approx(1.0)
    assert features["logrank_mean"] == pytest.approx(math.log(10) / 3)
    # Sentence 1 holds the first token (-1), sentence 2 the other two (mean -2.5).
    assert features["sent_logp_range"] == pytest.approx(1.5)
    assert features["surprise_mean"] == pytest.approx((0 + 2 - 2) / 3)
    assert features["binoculars_ratio"] == pytest.approx(1.0)


def test_feature_vector_follows_the_spec() -> None:
    assert len(set(FEATURE_NAMES)) == len(FEATURE_NAMES)
    tokens = scores([2, 5], [-1.0, -2.0], [1.0, 2.0], [0, 3])
    vector = feature_vector(tokens, "Hi there. Bye now.")
    assert vector.shape == (len(FEATURE_NAMES),)
    assert np.isfinite(vector).all()


def test_features_of_an_unscored_text_are_finite() -> None:
    empty = TokenScores(np.zeros(0, dtype=np.int64), np.zeros(0), np.zeros(0), np.zeros(0))
    assert np.isfinite(feature_vector(empty, "x")).all()


def test_char_ngrams_collapse_spaces_and_lowercase() -> None:
    assert char_ngrams("Ab  C", 3, 4) == ["ab ", "b c", "ab c"]


def test_ngram_logit_is_sublinear_tfidf_then_linear() -> None:
    model = NgramModel(
        name="ngram_logit",
        analyzer="char",
        low=3,
        high=3,
        index={"aaa": 0, "bbb": 1},
        idf=np.array([1.0, 2.0]),
        coef=np.array([1.0, -1.0]),
        intercept=0.5,
    )
    # "aaaa" holds "aaa" twice, "bbb" once: tf 1 + ln 2 and 1, times idf 1 and 2.
    a, b = 1 + math.log(2), 2.0
    expected = (a - b) / math.hypot(a, b) + 0.5
    assert model.logit("aaaa bbb") == pytest.approx(expected)
    assert model.logit("zzz") == 0.5


def test_word_ngrams_are_lowercased_unigrams_then_bigrams() -> None:
    assert word_ngrams("The cat, a Cat!", 1, 2) == ["the", "cat", "cat", "the cat", "cat cat"]


def test_leave_one_out_logits_come_from_count_rows() -> None:
    model = NgramModel(
        name="word_logit",
        analyzer="word",
        low=1,
        high=1,
        index={"gull": 0, "tide": 1},
        idf=np.array([1.0, 1.5]),
        coef=np.array([2.0, -1.0]),
        intercept=0.25,
    )
    counts = model.counts("gull gull tide sea")
    assert counts.tolist() == [2.0, 1.0]
    rows = model.logits_of_counts(np.vstack([counts, [0.0, 1.0], [0.0, 0.0]]))
    assert rows[0] == pytest.approx(model.logit("gull gull tide sea"))
    assert rows[1] == pytest.approx(model.logit("tide"))
    # No known n-gram: only the intercept, never a division by zero.
    assert rows[2] == pytest.approx(0.25)


def test_auroc_and_tpr_on_known_scores() -> None:
    labels = np.array([0, 0, 0, 0, 1, 1], dtype=bool)
    scores_ = np.array([0.1, 0.2, 0.3, 0.9, 0.8, 0.95])
    assert auroc(labels, scores_) == pytest.approx(7 / 8)
    # Allowing no false positive, only the AI text above 0.9 counts.
    assert tpr_at_fpr(labels, scores_, 0.01) == pytest.approx(0.5)
    assert tpr_at_fpr(labels, scores_, 0.25) == pytest.approx(1.0)
    assert auroc(labels, np.ones(6)) == pytest.approx(0.5)


def test_the_model_runs_in_bfloat16_only_where_the_cpu_has_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(text_features.PRECISION_ENV, raising=False)
    monkeypatch.setattr(text_features, "native_bfloat16", lambda: True)
    assert text_features.runtime_precision() == "bfloat16"
    # Emulated bfloat16 is slower than float32, so a CPU without it gets float32.
    monkeypatch.setattr(text_features, "native_bfloat16", lambda: False)
    assert text_features.runtime_precision() == "float32"
    monkeypatch.setenv(text_features.PRECISION_ENV, " BFloat16 ")
    assert text_features.runtime_precision() == "bfloat16"
    monkeypatch.setenv(text_features.PRECISION_ENV, "float16")
    with pytest.raises(text_features.LanguageModelUnavailable, match="bfloat16 or float32"):
        text_features.runtime_precision()


@pytest.mark.parametrize(
    ("flags", "native"),
    [
        ("fpu sse2 avx2 fma avx512f avx512bw avx512_vnni", False),
        ("fpu sse2 avx2 avx512f avx512_bf16 avx512_vnni", True),
        ("fpu sse2 avx2 amx_bf16 amx_tile amx_int8", True),
        ("fp asimd evtstrm aes pmull sha1 sha2 crc32", False),
    ],
)
def test_native_bfloat16_is_read_from_the_cpu_flags(
    tmp_path: Path, flags: str, native: bool
) -> None:
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(f"processor\t: 0\nmodel name\t: a CPU\nflags\t\t: {flags}\n\n")
    assert text_features.native_bfloat16(cpuinfo) is native
    assert text_features.native_bfloat16(tmp_path / "absent") is False
