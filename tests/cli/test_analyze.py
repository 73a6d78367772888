"""``hallmark analyze PATH``: findings of local detectors, in text and JSON (issue #4, item 6).

The detectors are the test plugin of ``tests/analysis/keyword_plugin.py``, registered through
the same hook as the built-ins, so no language model is loaded.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner, Result

from hallmark.cli.main import app
from tests.analysis.keyword_plugin import AI_TEXT, HUMAN_TEXT, registered


@pytest.fixture(autouse=True)
def _detectors() -> Iterator[None]:
    with registered():
        yield


def analyze(tmp_path: Path, *args: str) -> Result:
    # No instance in this home: analysis needs only the settings' defaults.
    return CliRunner().invoke(app, ["--home", str(tmp_path / "none"), "analyze", *args])


def test_json_is_a_list_of_findings_with_the_promised_keys(tmp_path: Path) -> None:
    work = tmp_path / "poem.txt"
    work.write_bytes(AI_TEXT)
    result = analyze(tmp_path, str(work), "--json", "--detector", "keyword")
    assert result.exit_code == 0, result.output
    findings = json.loads(result.stdout)
    assert isinstance(findings, list) and len(findings) == 1
    [finding] = findings
    assert {"detector", "verdict", "score", "explanation"} <= set(finding)
    assert (finding["detector"], finding["verdict"], finding["score"]) == (
        "keyword",
        "contradicts",
        0.99,
    )


def test_the_declaration_is_what_findings_are_judged_against(tmp_path: Path) -> None:
    work = tmp_path / "poem.txt"
    work.write_bytes(AI_TEXT)
    result = analyze(
        tmp_path, str(work), "--json", "--detector", "keyword", "--declare", "ai-generated"
    )
    assert json.loads(result.stdout)[0]["verdict"] == "consistent"


def test_text_output_names_each_detector_and_its_verdict(tmp_path: Path) -> None:
    work = tmp_path / "poem.txt"
    work.write_bytes(HUMAN_TEXT)
    result = analyze(tmp_path, str(work), "--detector", "keyword", "--detector", "broken")
    assert result.exit_code == 0, result.output
    assert "keyword 1.0: consistent" in result.stdout
    assert "broken 0.1: inconclusive" in result.stdout
    assert "could not run" in result.stdout


def test_only_applicable_detectors_run(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(buffer, "PNG")
    image = tmp_path / "red.png"
    image.write_bytes(buffer.getvalue())
    result = analyze(tmp_path, str(image), "--json", "--detector", "keyword")
    assert result.exit_code == 0 and json.loads(result.stdout) == []


def test_a_missing_file_exits_2(tmp_path: Path) -> None:
    result = analyze(tmp_path, str(tmp_path / "nope.txt"), "--json")
    assert result.exit_code == 2
    assert "does not exist" in result.stderr


def test_an_unknown_detector_exits_2_naming_the_known_ones(tmp_path: Path) -> None:
    work = tmp_path / "poem.txt"
    work.write_bytes(HUMAN_TEXT)
    result = analyze(tmp_path, str(work), "--detector", "nonesuch")
    assert result.exit_code == 2
    assert "nonesuch" in result.stderr and "keyword" in result.stderr
