"""A real browser walks the main path: sign up, register a text, see its certificate, verify it.

Runs the app under uvicorn on a free localhost port and drives Debian's Chromium through
Playwright. It also proves the Content-Security-Policy holds for real: the pages work with no
inline script or style, and the browser reports no CSP violation on the way.
"""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import uvicorn

from hallmark.services.instance import Instance
from hallmark.web.app import create_app

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} is not installed"),
]


@contextmanager
def serve_in_thread(instance: Instance) -> Iterator[str]:
    """The app of ``instance`` served by uvicorn in a thread, on a socket bound before the
    server starts; yields its base URL and stops the server afterwards."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        create_app(instance.settings, instance=instance), log_level="warning", lifespan="on"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@pytest.fixture
def base_url(instance: Instance) -> Iterator[str]:
    """The app served by uvicorn in a thread (see :func:`serve_in_thread`)."""
    with serve_in_thread(instance) as url:
        yield url


def test_sign_up_register_and_verify_in_a_browser(base_url: str, tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    work = tmp_path / "tide.txt"
    work.write_text("The tide goes out,\nthe gulls come in.\n", "utf-8")
    console: list[str] = []

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            page = browser.new_page()
            page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))

            page.goto(f"{base_url}/signup")
            page.get_by_label("Handle").fill("clara")
            page.get_by_label("Password", exact=True).fill("a long enough password")
            page.get_by_label("Password again").fill("a long enough password")
            page.get_by_role("button", name="Create account").click()
            expect(page).to_have_url(f"{base_url}/upload")

            page.get_by_label("The work").set_input_files(str(work))
            page.get_by_label("Title").fill("Low <tide>")
            page.get_by_label("Human-made").check()
            page.get_by_role("button", name="Register and certify").click()
            expect(page).to_have_url(re.compile(r"/works/w_[0-9a-z]+$"))
            expect(page.get_by_role("heading", name="Low <tide>")).to_be_visible()
            card = page.get_by_role("complementary", name="Certificate")
            expect(card).to_be_visible()
            expect(card).to_contain_text("Human-made")
            expect(card).to_contain_text("Declared")
            expect(card.get_by_role("link", name="Download bundle")).to_be_visible()
            expect(page.locator("pre.work-text")).to_contain_text("The tide goes out,")

            page.get_by_role("link", name="Verify", exact=True).click()
            page.get_by_label("The work").set_input_files(str(work))
            page.get_by_role("button", name="Verify").click()
            expect(page.locator("#verdict-heading")).to_have_text("Valid")
            expect(page.locator(".verdict-reason")).to_contain_text("matches its certificate")
        finally:
            browser.close()

    violations = [line for line in console if "Content Security Policy" in line]
    assert not violations, violations
    errors = [line for line in console if line.startswith("error")]
    assert not errors, errors
