"""Debian's chromium driven by Playwright, for every browser test."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from django.conf import settings

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@contextlib.contextmanager
def chromium() -> Iterator:
    """A headless chromium, closed on exit. Playwright's sync API keeps an event loop marked as
    running while this is open: make sessions and other ORM rows before entering."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def add_session_cookie(context, url: str, session_key: str) -> None:
    """Log a browser context in on the site at `url` with an existing session."""
    context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": session_key, "url": url}])


@contextlib.contextmanager
def chromium_profile(user_data_dir: str) -> Iterator:
    """A headless chromium with a profile on disk, as a browser context, closed on exit.
    Playwright's other contexts are incognito, where Chromium never offers to install an app."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            user_data_dir, executable_path=CHROMIUM, args=CHROMIUM_ARGS
        )
        try:
            yield context
        finally:
            context.close()
