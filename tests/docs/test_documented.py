"""Docs are tested: every setting and every plugin hook is documented, the README is honest."""

from __future__ import annotations

import re
from pathlib import Path

from hallmark.plugins import hookspecs
from hallmark.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
SETTINGS_DOC = (ROOT / "docs" / "settings.md").read_text("utf-8")


def test_every_setting_is_documented() -> None:
    documented = set(re.findall(r"^\| `([a-z0-9_]+)` \|", SETTINGS_DOC, re.MULTILINE))
    assert set(Settings.model_fields) <= documented, set(Settings.model_fields) - documented


def test_no_setting_is_documented_that_does_not_exist() -> None:
    documented = set(
        re.findall(r"^\| `([a-z0-9_]+)` \| [^|]*\| [^|]*\|$", SETTINGS_DOC, re.MULTILINE)
    )
    hooks = {name for name in dir(hookspecs) if name.startswith("hallmark_")}
    assert documented - hooks <= set(Settings.model_fields)


def test_every_hook_is_documented() -> None:
    hooks = {name for name in dir(hookspecs) if name.startswith("hallmark_")}
    assert hooks
    for hook in hooks:
        assert f"`{hook}`" in SETTINGS_DOC, hook


def test_readme_gives_the_two_commands() -> None:
    readme = (ROOT / "README.md").read_text("utf-8")
    assert "make demo" in readme and "make test" in readme
    ci = (ROOT / ".ci" / "run").read_text("utf-8")
    assert "make test" in ci
