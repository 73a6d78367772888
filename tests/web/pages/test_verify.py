"""Tests for :mod:`hallmark.web.pages.verify` and the log page: clear verdicts for people."""

from __future__ import annotations

import json

from tests.web.conftest import HTML, POEM, Web, csrf_of


def _verify(web: Web, files: dict[str, tuple[str, bytes]]) -> str:
    token = csrf_of(web.client.get("/verify", headers=HTML))
    response = web.client.post("/verify", headers=HTML, data={"csrf_token": token}, files=files)
    return f"{response.status_code}\n{response.text}"


def test_a_registered_file_is_valid(web: Web) -> None:
    web.register("alice", title="Harbour")
    result = _verify(web, {"file": ("poem.txt", POEM.replace(b"\n", b"\r\n"))})
    assert result.startswith("200\n")
    assert '<h1 id="verdict-heading" class="verdict-heading">Valid</h1>' in result
    assert "once line endings, trailing spaces and Unicode form" in result
    assert "Harbour" in result and "@alice" in result


def test_a_changed_file_with_its_bundle_is_not_valid(web: Web) -> None:
    bundle = json.dumps(web.register("alice")["bundle"]).encode()
    result = _verify(
        web,
        {"file": ("poem.txt", b"Something else.\n"), "bundle": ("b.hallmark.json", bundle)},
    )
    assert '<h1 id="verdict-heading" class="verdict-heading">Not valid</h1>' in result
    assert "The file&#39;s content differs from the certified work." in result


def test_an_unknown_file_is_not_valid(web: Web) -> None:
    result = _verify(web, {"file": ("x.txt", b"Never registered.\n")})
    assert "Not valid" in result
    assert "No certificate for this content is known to this instance." in result


def test_a_malformed_bundle_is_explained_in_the_form(web: Web) -> None:
    result = _verify(web, {"file": ("x.txt", POEM), "bundle": ("b.json", b"{oops")})
    assert result.startswith("400\n")
    assert "The bundle is not valid JSON" in result
    assert 'role="alert"' in result


def test_nothing_chosen_is_explained(web: Web) -> None:
    result = _verify(web, {"file": ("", b""), "bundle": ("", b"")})
    assert result.startswith("400\n")
    assert "Choose a file to check, its bundle, or both." in result


def test_log_page_shows_the_checkpoint_and_key(web: Web) -> None:
    web.register("alice")
    text = web.client.get("/log", headers=HTML).text
    assert web.inst.verifier_key in text
    assert f"{web.inst.origin}\n1\n" in text
    assert "<dt>Entries</dt><dd>1</dd>" in text
