"""``hallmark similar`` and ``hallmark reindex`` on a local instance (issue #5, item 4)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner, Result

from hallmark.cli.main import app
from tests.similarity.perturb import make_work, replace_words

torch.set_num_threads(1)

ORIGINAL = make_work(51, words=200).text
# Only prior art is wanted here: no detector loads the AI-text language model.
ENV = {"HALLMARK_DETECTORS": "[]", "HALLMARK_SIMILARITY_INDEX": "memory"}


def run(home: Path, *args: str) -> Result:
    return CliRunner().invoke(app, ["--home", str(home), *args], env=ENV)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    assert run(home, "init").exit_code == 0
    original = tmp_path / "harbour.txt"
    original.write_text(ORIGINAL, encoding="utf-8")
    registered = run(
        home,
        "register", str(original), "--title", "Harbour", "--creator", "alice",
        "--declare", "human-made", "--analyze", "--json",
    )  # fmt: skip
    assert registered.exit_code == 0, registered.output
    return home


def test_json_lists_the_matches_like_the_api(home: Path, tmp_path: Path) -> None:
    query = tmp_path / "copy.txt"
    query.write_text(replace_words(ORIGINAL, 0.2, seed=1), encoding="utf-8")
    result = run(home, "similar", str(query), "--json")
    assert result.exit_code == 0, result.output
    [match] = json.loads(result.stdout)
    assert {"work_id", "score", "kind", "log_index", "creator", "logged_at"} <= set(match)
    assert (match["creator"], match["kind"], match["log_index"]) == ("alice", "near-copy", 0)


def test_text_output_is_a_table_and_unrelated_files_match_nothing(
    home: Path, tmp_path: Path
) -> None:
    query = tmp_path / "copy.txt"
    query.write_text(ORIGINAL, encoding="utf-8")
    shown = run(home, "similar", str(query))
    assert shown.exit_code == 0 and "Harbour" in shown.stdout and "exact" in shown.stdout
    other = tmp_path / "other.txt"
    other.write_text(make_work(52, words=200).text, encoding="utf-8")
    none = run(home, "similar", str(other), "--json")
    assert none.exit_code == 0 and json.loads(none.stdout) == []
    assert "No registered work resembles" in run(home, "similar", str(other)).stdout


def test_bad_input_is_a_clear_error(home: Path, tmp_path: Path) -> None:
    missing = run(home, "similar", str(tmp_path / "nope.txt"))
    assert missing.exit_code == 2 and "Error:" in missing.stderr
    empty = tmp_path / "empty.txt"
    empty.write_text("   ", encoding="utf-8")
    refused = run(home, "similar", str(empty))
    assert refused.exit_code == 2 and "empty" in refused.stderr
    assert "Traceback" not in refused.output


def test_reindex_rebuilds_and_saves(home: Path) -> None:
    result = run(home, "reindex")
    assert result.exit_code == 0, result.output
    assert "holds 1 work" in result.stdout
    assert any((home / "similarity").iterdir())
    assert "The search index holds 1 public work." in result.stdout
