"""Fixtures shared by the suite: fast hashing, and a live server with a browser to drive it."""

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.core.servers.basehttp import ThreadedWSGIServer
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, connections
from django.test import Client
from django.test.testcases import LiveServerThread

SCREENSHOTS = Path(settings.BASE_DIR) / "var" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
# Debian's Chromium as root in a sandbox, with no background traffic to a network it can't reach.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


# Every form carries a fresh random CSRF token, 64 letters and digits. A test that checks a
# page does not show "SO1" failed about once in 4,000 pages because the token happened to
# contain it. The token is never what a test looks for, so the suite's client blanks it out.
_CSRF_TOKEN = re.compile(rb'(name="csrfmiddlewaretoken" value=")[^"]*"')


class _PageClient(Client):
    def request(self, **request):
        response = super().request(**request)
        if not response.streaming:
            response.content = _CSRF_TOKEN.sub(rb'\1[token]"', response.content)
        return response


@pytest.fixture
def client() -> Client:
    """The test client, with each page's random CSRF token blanked out (see above)."""
    return _PageClient()


class _SharedConnectionServer(ThreadedWSGIServer):
    def _close_connections(self) -> None:
        """The shared connection belongs to the test, which rolls it back; it stays open."""


class _AppServerThread(LiveServerThread):
    server_class = _SharedConnectionServer


@pytest.fixture(autouse=True)
def _replica_is_the_primary(settings):
    """The replica alias mirrors the primary (settings) and reads are routed to it, as they
    are in production with a replica; here it also shares the primary's connection, so that
    reads routed to it see what the test wrote in its transaction."""
    settings.READ_REPLICA = True
    original = connections["replica"]
    connections["replica"] = connections["default"]
    yield
    connections["replica"] = original


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """Argon2 is deliberately slow; tests that create many users use a faster hasher."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(scope="session")
def app_server(django_db_setup, django_db_blocker) -> Iterator[str]:
    """The app on a real socket, sharing the test's database connection and transaction.

    Sharing the connection means a browser test sees the data its test made and everything is
    rolled back afterwards, as in any other test; the audit tables refuse the TRUNCATE that a
    transactional test's clean-up would need. Static files are served by WhiteNoise from
    collectstatic's output, exactly as in production (pytest-django's live_server would serve
    them from the finders, which do not know the manifest's hashed names).
    """
    with django_db_blocker.unblock():
        shared = connections["default"]
        shared.inc_thread_sharing()
        thread = _AppServerThread(
            "127.0.0.1",
            static_handler=lambda app: app,  # type: ignore[arg-type]
            connections_override={"default": shared, "replica": shared},
        )
        thread.daemon = True
        thread.start()
        thread.is_ready.wait()
        if thread.error:
            raise thread.error
        yield f"http://127.0.0.1:{thread.port}"
        thread.terminate()
        shared.dec_thread_sharing()


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the ORM calls tests make between
    # browser steps are still synchronous.
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def live_app(app_server, db) -> Iterator[str]:
    """The app server's address, for a test whose requests share its transaction."""
    # Django closes connections that are inside a transaction at each request's start and end;
    # the test client avoids that the same way while it makes a request.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield app_server
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def page(browser, live_app) -> Iterator[object]:
    """A fresh browser tab whose console errors (CSP violations among them) fail the test."""
    context = browser.new_context(base_url=live_app)
    page = context.new_page()
    errors: list[str] = []

    def on_console(message) -> None:
        if message.type == "error":
            errors.append(message.text)

    page.on("console", on_console)
    page.console_errors = errors  # a test that expects an error page clears what it expected
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert errors == [], f"the browser reported errors: {errors}"


@pytest.fixture
def screenshot(page):
    """Saves a full-page screenshot into var/screenshots/ (gitignored) for a person to look at."""

    def take(name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take
