"""The shipped AI-text weights came from the training script, on the recorded data.

The final fitting step is replayed from the feature cache that the training script leaves
under /tmp (it is skipped, with the reason shown, when that cache or the data is absent; the
cache takes about an hour of CPU to build: ``python -m hallmark.analysis.train_text``).
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from hallmark.analysis import train_text
from hallmark.analysis.text_detector import WEIGHTS_PATH, load_classifier
from hallmark.analysis.text_features import FEATURE_NAMES, MODEL_FILE, TOKEN_BUDGET

WEIGHTS = json.loads(WEIGHTS_PATH.read_text(encoding="utf-8"))
TRAIN = train_text.DATA_DIR / "train.jsonl"


def test_weights_record_their_provenance_and_feature_spec() -> None:
    training = WEIGHTS["training"]
    assert training["seed"] == train_text.SEED
    assert training["script"] == "python -m hallmark.analysis.train_text"
    assert training["language_model"] == MODEL_FILE
    assert training["token_budget"] == TOKEN_BUDGET
    assert training["lm_train_docs"] == train_text.LM_TRAIN_DOCS
    assert training["excluded_sources"] == list(train_text.EXCLUDED_SOURCES)
    assert WEIGHTS["model"]["feature_names"] == [*FEATURE_NAMES, "ngram_logit"]
    assert len(WEIGHTS["ngrams"]["vocabulary"]) <= train_text.NGRAM_FEATURES


def test_shipped_weights_are_small_and_load_without_scikit_learn() -> None:
    assert WEIGHTS_PATH.stat().st_size < 1_000_000
    clf = load_classifier()
    assert 0 < clf.low <= clf.threshold < 1


def test_weights_were_trained_on_the_recorded_data() -> None:
    if not TRAIN.exists():
        pytest.skip(f"the training data is not here ({TRAIN})")
    assert train_text.file_sha256(TRAIN) == WEIGHTS["training"]["train_sha256"]


def test_final_fit_replays_to_identical_weights() -> None:
    if not TRAIN.exists():
        pytest.skip(f"the training data is not here ({TRAIN})")
    train = train_text.read_jsonl(TRAIN)
    try:
        x, y, groups = train_text.training_table(
            train, WEIGHTS["training"]["train_sha256"], compute=False
        )
    except FileNotFoundError as exc:
        pytest.skip(f"no feature cache to replay from ({exc}); run the training script first")
    final, calibration = train_text.fit_final(x, y, groups)
    assert final == {k: WEIGHTS["model"][k] for k in final}
    assert calibration == WEIGHTS["calibration"]
    assert np.isfinite(x).all()
