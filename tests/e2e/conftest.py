"""Browser tests: a real daphne subprocess on the test database, driven by Debian's chromium.

The server runs in its own process, so it must see what the tests commit: the tests use
`django_db(transaction=True)`, and on SQLite the test database is a file (an in-memory
database cannot be shared with another process). With DATABASE_URL/REDIS_URL set the server
gets the same PostgreSQL test database, Redis and prefixes as the test process.
"""

from __future__ import annotations

import atexit
import io
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connections

from chats import services
from tests.factories import make_chat, make_messages
from tests.support.browser import add_session_cookie, chromium
from tests.support.sessions import login_session

BASE_DIR = Path(__file__).resolve().parents[2]
SCREENSHOTS = BASE_DIR / "artifacts" / "screenshots"
DOCS_SCREENSHOTS = BASE_DIR / "docs" / "screenshots"
SERVER_APP_NAME = "chatsite-e2e-daphne"
SERVED_APP = "chatsite.asgi:application"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


def _sqlite_test_database_in_a_file() -> None:
    """Runs when this directory is collected, before any test database exists."""
    db = settings.DATABASES["default"]
    if db["ENGINE"] != "django.db.backends.sqlite3":
        return
    folder = tempfile.mkdtemp(prefix="chatsite-e2e-")
    atexit.register(shutil.rmtree, folder, True)
    db.setdefault("TEST", {})["NAME"] = str(Path(folder) / "test.sqlite3")


_sqlite_test_database_in_a_file()


def _database_url(db: dict) -> str:
    if db["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{db['NAME']}"
    auth = quote(db.get("USER") or "", safe="")
    if db.get("PASSWORD"):
        auth += ":" + quote(db["PASSWORD"], safe="")
    host = db.get("HOST") or "127.0.0.1"
    port = f":{db['PORT']}" if db.get("PORT") else ""
    return f"postgres://{auth}@{host}{port}/{quote(db['NAME'], safe='')}"


def _wait_until_serving(url: str, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"daphne exited with {proc.returncode}:\n{log.read_text()[-4000:]}")
        try:
            probe = url + "/accounts/login/"  # http://127.0.0.1 built above
            with urllib.request.urlopen(probe, timeout=5) as response:  # noqa: S310
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.1)  # polling for start-up, not a timed assertion
    pytest.fail(f"daphne did not start in time:\n{log.read_text()[-4000:]}")


@pytest.fixture(scope="session")
def live_url(django_db_setup, django_db_blocker, tmp_path_factory):
    """Base URL of a daphne process serving the test database on an OS-assigned port."""
    env = os.environ.copy()
    env.update(
        {
            "DATABASE_URL": _database_url(connections["default"].settings_dict),
            "DEBUG": "1",
            "SIGNUP_RATE_COUNT": "1000",  # every test signs up from 127.0.0.1
            "PYTHONUNBUFFERED": "1",
            "PGAPPNAME": SERVER_APP_NAME,
        }
    )
    # Bound here and handed over, so no other process can take the port in between.
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(128)
    port = listener.getsockname()[1]
    log = tmp_path_factory.mktemp("daphne") / "daphne.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            # The real site, with its own Content-Security-Policy (django-csp, settings.py).
            [sys.executable, "-m", "daphne", "--fd", str(listener.fileno()), SERVED_APP],
            cwd=BASE_DIR,
            env=env,
            pass_fds=[listener.fileno()],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    listener.close()
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_serving(url, proc, log)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        with django_db_blocker.unblock():
            _wait_for_server_sessions_to_end()


def _wait_for_server_sessions_to_end() -> None:
    """PostgreSQL drops a dead client's session a moment after the process exits; the test
    database can only be dropped once it has."""
    connection = connections["default"]
    if connection.vendor != "postgresql":
        return
    deadline = time.monotonic() + 10
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s",
                [SERVER_APP_NAME],
            )
            if cursor.fetchone()[0] == 0:
                break
            time.sleep(0.05)
    connection.close()


@pytest.fixture
def browser(live_url, transactional_db, monkeypatch):
    """A chromium for this test. Playwright's sync API keeps an event loop marked as running,
    so ORM calls from the test itself need Django's async-safety check relaxed meanwhile."""
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with chromium() as instance:
        try:
            yield instance
        finally:
            # While the loop counts as running, Django keeps connections per context, not per
            # thread: close them now or they outlive the test (and block dropping the test DB).
            connections.close_all()


class Browsing:
    """Opens logged-in pages and records Content-Security-Policy violations."""

    def __init__(self, browser, live_url):
        self.browser = browser
        self.url = live_url
        self.csp_violations: list[str] = []

    def context(self, user=None, **options):
        context = self.browser.new_context(viewport=DESKTOP, **options)
        context.set_default_timeout(10_000)
        if user is not None:
            add_session_cookie(context, self.url, login_session(user))
        return context

    def page(self, context, path="/"):
        page = context.new_page()
        page.on("console", self._console)
        if path is not None:
            page.goto(self.url + path)
        return page

    def _console(self, message):
        if "Content Security Policy" in message.text:
            self.csp_violations.append(message.text)


@pytest.fixture
def read_chat(alice, bob):
    """Three messages from bob, read by alice; made before the browser starts."""
    chat = make_chat(alice, bob)
    make_messages(chat, bob, 3)
    services.chat_mark_read(user=alice, chat_id=chat.pk, seq=3)
    return chat


@pytest.fixture
def browsing(browser, live_url):
    return Browsing(browser, live_url)


def screenshots(page, name: str, docs: str | None = None) -> None:
    """Save the current screen at phone and desktop sizes, light and dark, as CI artifacts.

    With DOCS_SCREENSHOTS=1 in the environment, screens given a `docs` name are also saved,
    as small palette PNGs, to docs/screenshots/<docs>-<phone|desktop>-<scheme>.png.
    """
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    original = page.viewport_size
    for kind, size in (("phone", PHONE), ("desktop", DESKTOP)):
        page.set_viewport_size(size)
        for scheme in ("light", "dark"):
            page.emulate_media(color_scheme=scheme)
            settle(page)
            path = SCREENSHOTS / f"{name}-{size['width']}x{size['height']}-{scheme}.png"
            png = page.screenshot(path=str(path))
            if docs and os.environ.get("DOCS_SCREENSHOTS") == "1":
                _save_small_png(png, DOCS_SCREENSHOTS / f"{docs}-{kind}-{scheme}.png")
    page.emulate_media(color_scheme="light")
    page.set_viewport_size(original)


def settle(page) -> None:
    """Jump running CSS transitions and entry animations (not endless ones) to their end, so
    colours and positions are the final ones (a page in the background may not animate)."""
    page.evaluate(
        """() => document.getAnimations()
             .filter((a) => a.effect && a.effect.getTiming().iterations !== Infinity)
             .forEach((a) => a.finish())"""
    )


def _save_small_png(png: bytes, path: Path) -> None:
    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("RGB")
    image = image.quantize(colors=256, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE)
    image.save(path, optimize=True)
