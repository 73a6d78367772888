"""``hallmark register --consent`` (issue #6, item 6): the work's AI-training consent from the
command line, with its policy URL, and the creator's default when none is given."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from hallmark.cli.main import app
from hallmark.services import accounts, consent
from hallmark.services.instance import open_instance
from hallmark.settings import Settings

POLICY = "https://ines.example/ai-terms"


def run(home: Path, *args: str) -> Result:
    return CliRunner().invoke(app, ["--home", str(home), *args])


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "home"
    assert run(path, "init").exit_code == 0
    return path


def register(home: Path, tmp_path: Path, text: str, *extra: str) -> Result:
    work = tmp_path / (text.split()[0].strip(".").lower() + ".txt")
    work.write_text(text, encoding="utf-8")
    return run(
        home,
        "register", str(work), "--title", "Pier", "--creator", "ines",
        "--declare", "human-made", *extra,
    )  # fmt: skip


def registered(result: Result) -> dict[str, Any]:
    assert result.exit_code == 0, result.output
    document: dict[str, Any] = json.loads(result.stdout)
    return document


def test_register_takes_a_consent_and_its_policy(home: Path, tmp_path: Path) -> None:
    options = ("--consent", "constrained", "--consent-policy-url", POLICY, "--json")
    result = registered(register(home, tmp_path, "Lanterns on the pier.\n", *options))
    assert (result["consent"], result["consent_policy_url"]) == ("constrained", POLICY)
    bundle = json.loads((tmp_path / Path(result["bundle_path"]).name).read_text())
    assert bundle["certificate"]["consent"] == {"ai_training": "constrained", "policy_url": POLICY}

    shown = register(home, tmp_path, "Gulls at dawn.\n", "--consent", "allowed")
    assert shown.exit_code == 0, shown.output
    assert "AI training" in shown.stdout and "allowed" in shown.stdout


def test_without_consent_the_creator_default_applies(home: Path, tmp_path: Path) -> None:
    assert registered(register(home, tmp_path, "First.\n", "--json"))["consent"] == "not-allowed"
    inst = open_instance(Settings.load(home))
    try:
        with inst.db.session() as session:
            user_id = accounts.get_user(session, "ines").id
        consent.set_default(inst, user_id, "allowed", None)
    finally:
        inst.close()
    assert registered(register(home, tmp_path, "Second.\n", "--json"))["consent"] == "allowed"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (("--consent", "maybe"), "not a consent choice"),
        (("--consent", "constrained"), "needs the URL of a policy"),
        (("--consent", "allowed", "--consent-policy-url", POLICY), "only with 'constrained'"),
    ],
)
def test_a_bad_consent_registers_nothing(
    home: Path, tmp_path: Path, extra: tuple[str, ...], message: str
) -> None:
    result = register(home, tmp_path, "Nets drying.\n", *extra)
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert not list(tmp_path.glob("*.hallmark.json"))
