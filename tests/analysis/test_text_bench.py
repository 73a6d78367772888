"""``hallmark bench detect``: its report's shape and its answers to bad input (exit 2).

The language model and the classifier are replaced by stand-ins, so the figures are known.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from hallmark.analysis import text_detector, text_features
from hallmark.analysis.text_features import TokenScores
from hallmark.cli.main import app

from .test_text_detector import toy_classifier

runner = CliRunner()


class FakeModel:
    """Texts containing 'robot' get predictable tokens, so the toy classifier calls them AI."""

    def score(self, text: str) -> TokenScores:
        n = 20
        logp = -0.5 if "robot" in text else -5.0
        return TokenScores(np.arange(n), np.full(n, logp), np.ones(n), np.zeros(n))


@pytest.fixture
def fakes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(text_features, "shared_model", FakeModel)
    monkeypatch.setattr(text_detector, "load_classifier", lambda: toy_classifier())


def write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_report_has_the_documented_keys(tmp_path: Path, fakes: None) -> None:
    rows = [
        {"text": "a robot wrote this", "label": "ai", "domain": "news", "generator": "g1"},
        {"text": "a robot again", "label": "ai", "domain": "story", "generator": "g2"},
        {"text": "my own words", "label": "human", "domain": "news"},
        {"text": "more of mine", "label": "human", "domain": "story"},
    ]
    data = write(tmp_path / "d.jsonl", [json.dumps(r) for r in rows])
    result = runner.invoke(app, ["bench", "detect", "--data", str(data), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    for key in (
        "auroc",
        "tpr_at_1pct_fpr",
        "tpr_at_5pct_fpr",
        "fpr_at_threshold",
        "docs_per_s",
        "n",
    ):
        assert key in report
    assert report["n"] == 4
    assert report["auroc"] == 1.0
    assert report["fpr_at_threshold"] == 0.0
    assert set(report["by_domain"]) == {"news", "story"}
    assert set(report["by_generator"]) == {"g1", "g2"}
    assert report["by_generator"]["g1"]["n"] == 3  # its one AI text against both human texts


def test_limit_reads_only_the_first_records(tmp_path: Path, fakes: None) -> None:
    rows = [
        json.dumps(
            {"text": f"t{i} robot" if i % 2 else f"t{i}", "label": "ai" if i % 2 else "human"}
        )
        for i in range(6)
    ]
    data = write(tmp_path / "d.jsonl", rows)
    result = runner.invoke(app, ["bench", "detect", "--data", str(data), "--json", "--limit", "4"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["n"] == 4


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (['{"text": "x", "label": "ai"}', "{not json"], "Line 2"),
        (['{"label": "ai"}'], "no 'text'"),
        (['{"text": "x", "label": "robot"}'], "must be 'human' or 'ai'"),
        (['["text", "label"]'], "not a JSON object"),
        ([""], "no records"),
    ],
)
def test_bad_input_is_a_clear_error(tmp_path: Path, lines: list[str], message: str) -> None:
    data = write(tmp_path / "d.jsonl", lines)
    result = runner.invoke(app, ["bench", "detect", "--data", str(data)])
    assert result.exit_code == 2
    assert message in result.output


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    result = runner.invoke(app, ["bench", "detect", "--data", str(tmp_path / "nope.jsonl")])
    assert result.exit_code == 2
    assert "does not exist" in result.output
