"""Issue 17: the installable app in a real browser (manifest, service worker, offline page)."""

from __future__ import annotations

import pytest
from django.db import connections
from playwright.sync_api import expect

from tests.support.browser import add_session_cookie, chromium_profile
from tests.support.sessions import login_session

pytestmark = pytest.mark.browser

CONTROLLED = "() => navigator.serviceWorker.controller !== null"


def test_worker_controls_the_page_and_chromium_finds_the_app_installable(
    live_url, transactional_db, monkeypatch, tmp_path, alice
):
    session_key = login_session(alice)
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    try:
        with chromium_profile(str(tmp_path / "profile")) as context:
            add_session_cookie(context, live_url, session_key)
            page = context.new_page()
            page.goto(live_url + "/chats/")
            page.wait_for_function(CONTROLLED, timeout=60_000)  # install precaches
            scope = page.evaluate("navigator.serviceWorker.ready.then((r) => r.scope)")
            assert scope == live_url + "/"

            cdp = context.new_cdp_session(page)
            manifest = cdp.send("Page.getAppManifest")
            assert manifest["url"] == live_url + "/manifest.webmanifest"
            assert manifest["errors"] == []
            assert cdp.send("Page.getInstallabilityErrors")["installabilityErrors"] == []
    finally:
        connections.close_all()


def test_offline_page_shows_when_the_network_is_cut(browsing, alice):
    context = browsing.context(alice)
    page = browsing.page(context, "/chats/")
    page.wait_for_function(CONTROLLED, timeout=60_000)  # install precaches

    context.set_offline(True)
    page.goto(browsing.url + "/chats/")
    expect(page.get_by_role("heading", name="You are offline")).to_be_visible()
    assert page.evaluate("getComputedStyle(document.body).fontFamily") != ""  # the cached CSS

    context.set_offline(False)
    page.get_by_role("link", name="Try again").click()
    expect(page.get_by_role("heading", name="You are offline")).to_have_count(0)
    expect(page.get_by_role("navigation", name="Main")).to_be_visible()
