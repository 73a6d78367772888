"""Safety on the open internet (issue #7, item 6): the properties the site promises, pinned.

- The Content-Security-Policy allows scripts and styles from this site only: no inline code,
  no ``eval``, nothing from another origin; the templates and the stylesheet load nothing from
  elsewhere (no CDN, no web fonts) and carry no inline script or style.
- No template marks a value ``|safe``, and only the reviewed modules build ``Markup`` in
  Python (:data:`REVIEWED_MARKUP`).
- The session cookie is ``HttpOnly`` and ``SameSite=Lax`` always, ``Secure`` in production,
  where every answer also carries HSTS.
- Logins and sign-ups are limited per client address, on top of the per-account lockout.
- An upload over ``max_upload_bytes`` is refused with a 413 and leaves nothing behind.

CSRF on every form and who may use each route are checked route by route in
``test_route_walk.py``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from hallmark.services.instance import init_instance
from hallmark.settings import Settings
from hallmark.web import headers
from hallmark.web.app import create_app
from tests.conftest import add_token, add_user, make_instance
from tests.web.conftest import HTML, PASSWORD, TestClient, Web, csrf_of, login, signup

WEB = Path(__file__).resolve().parents[2] / "src" / "hallmark" / "web"
TEMPLATES = sorted((WEB / "templates").iterdir())
STATIC = sorted((WEB / "static").iterdir())


# The Content-Security-Policy ------------------------------------------------------------------


def directives(policy: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for part in policy.split(";"):
        words = part.split()
        if words:
            found[words[0]] = words[1:]
    return found


@pytest.mark.parametrize("kind", ["script-src", "style-src", "font-src", "connect-src"])
def test_the_policy_allows_this_site_only(kind: str) -> None:
    policy = directives(headers.CONTENT_SECURITY_POLICY)
    # A fetch directive that is not given falls back to default-src (CSP Level 3, 6.8.3).
    assert policy.get(kind, policy["default-src"]) == ["'self'"]


def test_the_policy_closes_the_other_doors() -> None:
    policy = directives(headers.CONTENT_SECURITY_POLICY)
    assert policy["object-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["base-uri"] == ["'self'"]
    assert policy["form-action"] == ["'self'"]
    assert policy["img-src"] == ["'self'", "data:"]
    for word in ("'unsafe-inline'", "'unsafe-eval'", "*", "http:", "https:"):
        assert word not in headers.CONTENT_SECURITY_POLICY


# What the templates and static files load ------------------------------------------------------

#: ``|safe`` in a template, with or without spaces around the bar.
SAFE_FILTER = re.compile(r"\|\s*safe\b")
#: Template expressions allowed to use ``|safe``, each with why it cannot carry user input.
REVIEWED_SAFE: dict[str, str] = {}
#: Python modules of the web face that build ``Markup`` (text Jinja will not escape), and why
#: that is safe.
REVIEWED_MARKUP = {
    "jsonld.py": "JSON-LD for a <script type=application/ld+json>: json.dumps with <, >, & "
    "and the line separators escaped as \\u sequences (_UNSAFE), so no value can close the "
    "element; HTML escaping would corrupt the JSON.",
    "charts.py": "SVG drawn by the chart renderer from counts and fixed words; the one "
    "description put in by hand is escaped with Markup.escape.",
}


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda path: path.name)
def test_no_template_marks_a_value_safe(template: Path) -> None:
    for number, line in enumerate(template.read_text("utf-8").splitlines(), 1):
        if SAFE_FILTER.search(line):
            assert line.strip() in REVIEWED_SAFE, (
                f"{template.name}:{number} uses |safe: {line.strip()}. Autoescaping is what "
                "keeps titles and texts from running as HTML; if this value can never come "
                "from a user, add the line to REVIEWED_SAFE with the reason."
            )


def test_only_reviewed_modules_build_markup() -> None:
    building = {
        path.name for path in WEB.rglob("*.py") if re.search(r"\bMarkup\(", path.read_text("utf-8"))
    }
    assert building <= set(REVIEWED_MARKUP), (
        f"{sorted(building - set(REVIEWED_MARKUP))} build Markup, which Jinja does not "
        "escape; review that no user input reaches it and add the module to REVIEWED_MARKUP."
    )


#: Where a page names something the browser fetches: script, stylesheet, font, image, frame.
FETCHED = re.compile(
    r"""<(?:script|link|img|iframe|source|video|audio|embed|object)\b[^>]*?"""
    r"""\b(?:src|href|data|srcset)\s*=\s*["']([^"']*)["']""",
    re.IGNORECASE,
)
CSS_URL = re.compile(r"""(?:url\(\s*["']?|@import\s+["'])([^"')]+)""", re.IGNORECASE)


def _external(url: str) -> bool:
    return bool(re.match(r"^\s*(?:[a-z][a-z0-9+.-]*:)?//", url, re.IGNORECASE))


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda path: path.name)
def test_templates_load_nothing_from_elsewhere(template: Path) -> None:
    # Jinja comments never reach the browser.
    text = re.sub(r"\{#.*?#\}", "", template.read_text("utf-8"), flags=re.DOTALL)
    external = [url for url in FETCHED.findall(text) if _external(url)]
    assert not external, f"{template.name} loads {external}; serve it from /static instead"
    assert not re.search(r"<style\b", text, re.IGNORECASE), f"{template.name} has a <style>"
    assert not re.search(r"\sstyle\s*=", text, re.IGNORECASE), (
        f"{template.name} has a style attribute, which the CSP blocks; use a class"
    )
    assert not re.search(r"\son[a-z]+\s*=", text, re.IGNORECASE), (
        f"{template.name} has an inline event handler, which the CSP blocks"
    )
    for script in re.finditer(r"<script\b([^>]*)>", text, re.IGNORECASE):
        attributes = script.group(1)
        # JSON-LD is data, not code: the browser never runs it.
        assert "src=" in attributes or 'type="application/ld+json"' in attributes, (
            f"{template.name} has an inline script; put it in /static"
        )


@pytest.mark.parametrize(
    "static", [p for p in STATIC if p.suffix in (".css", ".js")], ids=lambda p: p.name
)
def test_static_files_load_nothing_from_elsewhere(static: Path) -> None:
    text = static.read_text("utf-8")
    if static.suffix == ".css":
        external = [url for url in CSS_URL.findall(text) if _external(url)]
        assert not external, f"{static.name} loads {external}"
        assert "@font-face" not in text, "no web fonts: the site uses the reader's own"
    else:
        assert not re.search(r"\b(?:eval|Function)\s*\(", text), f"{static.name} evaluates code"
        assert not re.search(r"""fetch\(\s*["'](?:https?:)?//""", text), static.name


# Cookies and transport --------------------------------------------------------------------------


def _cookie_of(client: TestClient) -> str:
    return client.get("/signup", headers=HTML).headers["set-cookie"].lower()


def test_production_cookies_are_secure_http_only_and_lax(tmp_path: Path) -> None:
    init_instance(tmp_path / "home")
    settings = Settings.load(tmp_path / "home", mode="production", secret_key="s" * 40)
    with TestClient(create_app(settings), base_url="https://testserver") as client:
        answer = client.get("/signup", headers=HTML)
        cookie = answer.headers["set-cookie"].lower()
        assert "secure" in cookie and "httponly" in cookie and "samesite=lax" in cookie
        assert answer.headers["strict-transport-security"] == "max-age=31536000"
        # A page that sets no cookie, and an error, carry HSTS as well.
        assert "strict-transport-security" in client.get("/api/v1/keys/public").headers
        assert "strict-transport-security" in client.get("/nowhere").headers


def test_development_cookies_work_over_plain_http(web: Web) -> None:
    answer = web.client.get("/signup", headers=HTML)
    cookie = answer.headers["set-cookie"].lower()
    assert "secure" not in cookie and "httponly" in cookie and "samesite=lax" in cookie
    assert "strict-transport-security" not in answer.headers


def test_production_refuses_insecure_cookies(tmp_path: Path) -> None:
    from hallmark.errors import ConfigError

    init_instance(tmp_path / "home")
    with pytest.raises(ConfigError, match="cookie_secure"):
        Settings.load(
            tmp_path / "home", mode="production", secret_key="s" * 40, cookie_secure=False
        )


# Logins per client address ----------------------------------------------------------------------


@pytest.fixture
def three_a_minute(tmp_path: Path) -> Iterator[Web]:
    """An instance that takes three login or sign-up attempts a minute from one address."""
    inst = make_instance(tmp_path / "home", login_attempts_per_minute=3)
    add_user(inst, "alice", password=PASSWORD)
    with TestClient(create_app(inst.settings, instance=inst)) as client:
        yield Web(client, inst, {"alice": add_token(inst, "alice")})
    inst.close()


def test_logins_from_one_address_are_limited_whatever_the_account(three_a_minute: Web) -> None:
    client = three_a_minute.client
    for handle in ("bob", "carol", "dave"):
        assert login(client, handle, "guessed password").status_code == 401
    refused = login(client, "alice")
    assert refused.status_code == 429
    assert refused.headers["retry-after"].isdigit() and int(refused.headers["retry-after"]) >= 1
    assert "Too many login attempts from this client" in refused.text
    # The form is drawn again, with the handle kept and no password.
    assert 'value="alice"' in refused.text and PASSWORD not in refused.text
    # Sign-ups draw on the same budget: each costs a password hash too.
    assert signup(client, "erin").status_code == 429
    # Another address still gets in.
    with TestClient(three_a_minute.client.app, client=("192.0.2.7", 50000)) as elsewhere:
        assert login(elsewhere, "alice").status_code == 303


def test_a_refused_csrf_token_costs_no_attempt(three_a_minute: Web) -> None:
    client = three_a_minute.client
    client.get("/login", headers=HTML)
    for _ in range(5):
        sent = client.post("/login", headers=HTML, data={"handle": "alice", "password": "x"})
        assert sent.status_code == 403
    assert login(client, "alice").status_code == 303


def test_a_locked_address_says_when_to_come_back(web: Web) -> None:
    add_user(web.inst, "clara", password=PASSWORD)
    for _ in range(web.inst.settings.login_max_failures):
        assert login(web.client, "clara", "not the password").status_code == 401
    refused = login(web.client, "clara")
    assert refused.status_code == 429
    assert "from this address are locked after too many failed logins" in refused.text
    seconds = int(refused.headers["retry-after"])
    assert 0 < seconds <= web.inst.settings.login_lockout_seconds


def test_a_guesser_cannot_lock_the_owner_out(web: Web) -> None:
    add_user(web.inst, "clara", password=PASSWORD)
    for _ in range(web.inst.settings.login_max_failures):
        assert login(web.client, "clara", "not the password").status_code == 401
    assert login(web.client, "clara").status_code == 429
    # The owner, from their own address, signs in as usual.
    with TestClient(web.client.app, client=("192.0.2.7", 50000)) as owner:
        assert login(owner, "clara").status_code == 303
    assert login(web.client, "clara").status_code == 429


# Uploads over the limit ---------------------------------------------------------------------------


@pytest.fixture
def small(tmp_path: Path) -> Iterator[Web]:
    inst = make_instance(tmp_path / "home", max_upload_bytes=2_000)
    with TestClient(create_app(inst.settings, instance=inst)) as client:
        web = Web(client, inst, {})
        web.add_person("alice")
        yield web
    inst.close()


def _stored_blobs(web: Web) -> list[Path]:
    return [path for path in web.inst.settings.blob_path.rglob("*") if path.is_file()]


def test_an_oversized_page_upload_is_413_and_stores_nothing(small: Web) -> None:
    signup(small.client, "clara")
    form = small.client.get("/upload", headers=HTML)
    answer = small.client.post(
        "/upload",
        headers=HTML,
        data={"csrf_token": csrf_of(form), "title": "Big", "declare": "human-made"},
        files={"file": ("big.txt", b"word " * 1_000, "text/plain")},
        follow_redirects=False,
    )
    assert answer.status_code == 413
    assert "larger than the limit of 2,000 bytes" in answer.text
    assert small.work_count() == 0 and _stored_blobs(small) == []


def test_an_oversized_draft_is_413_and_stores_nothing(small: Web) -> None:
    answer = small.client.post(
        "/api/v1/works",
        headers=small.auth("alice"),
        files=[
            ("file", ("poem.txt", b"A small poem.\n", "text/plain")),
            ("stage", ("draft.txt", b"draft " * 1_000, "text/plain")),
        ],
        data={"title": "Small", "declare": "human-made"},
    )
    assert answer.status_code == 413
    assert small.work_count() == 0 and _stored_blobs(small) == []
