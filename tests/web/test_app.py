"""Tests for :mod:`hallmark.web.app`: the factory builds a working app from settings alone."""

from __future__ import annotations

from pathlib import Path

import pytest

from hallmark.services.instance import init_instance
from hallmark.settings import Settings
from hallmark.web.app import app_from_environment, create_app
from tests.web.conftest import HTML, TestClient


def test_create_app_opens_its_own_instance(tmp_path: Path) -> None:
    settings = init_instance(tmp_path / "home")
    with TestClient(create_app(settings)) as client:
        response = client.get("/api/v1/keys/public")
        assert response.status_code == 200
        assert response.text.startswith(settings.origin + "+")
        assert client.get("/", headers=HTML).status_code == 200


def test_app_from_environment_reads_settings_when_called(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    init_instance(tmp_path / "home", origin="example.org/log")
    monkeypatch.setenv("HALLMARK_HOME", str(tmp_path / "home"))
    with TestClient(app_from_environment()) as client:
        assert client.get("/api/v1/keys/public").text.startswith("example.org/log+")


def test_secure_cookies_follow_the_settings(tmp_path: Path) -> None:
    init_instance(tmp_path / "home")
    settings = Settings.load(tmp_path / "home", cookie_secure=True)
    with TestClient(create_app(settings), base_url="https://testserver") as client:
        cookie = client.get("/signup", headers=HTML).headers["set-cookie"].lower()
        assert "secure" in cookie
