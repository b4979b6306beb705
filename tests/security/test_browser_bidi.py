"""Bidi controls cannot reorder the page around a message (issue 21): every element that
holds user-supplied text is a bidi isolate (`unicode-bidi: isolate`), whether the server
rendered it or the client did from a live frame: the thread, the chat list's preview and the
toast."""

import pytest

from tests.security.bidi_seed import OVERRIDE
from tests.support.browser import add_session_cookie, chromium

pytestmark = [pytest.mark.browser, pytest.mark.live, pytest.mark.django_db(transaction=True)]

USER_TEXT = "#message-list .msg .body, .chatitem .preview, #toasts .toast-preview"


def isolation(page, selector):
    return page.eval_on_selector_all(
        selector, "nodes => nodes.map(n => getComputedStyle(n).unicodeBidi)"
    )


def test_user_text_is_isolated_in_server_and_client_rendering(cluster_factory):
    from playwright.sync_api import expect

    cluster = cluster_factory()
    data = cluster.run_seed("tests.security.bidi_seed")
    base = cluster.start().origin
    with chromium() as browser:
        pages = {}
        for who in ("alice", "bob"):
            context = browser.new_context()
            add_session_cookie(context, base, data[who])
            pages[who] = context.new_page()
        alice, bob = pages["alice"], pages["bob"]
        chat = f"/chats/{data['chat']}/"

        alice.goto(base + chat)  # server-rendered history and chat list
        expect(alice.locator("#message-list .msg .body")).to_have_count(1)
        assert set(isolation(alice, "#message-list .msg .body, .chatitem .preview")) == {"isolate"}

        bob.goto(base + chat)
        bob.locator("#composer-body").fill(OVERRIDE + " 2")
        bob.locator("#composer button[type=submit]").click()
        expect(alice.locator("#message-list .msg .body")).to_have_count(2)  # rendered live
        alice.goto(base + "/chats/")
        bob.locator("#composer-body").fill(OVERRIDE + " 3")
        bob.locator("#composer button[type=submit]").click()
        expect(alice.locator("#toasts .toast-preview")).to_have_count(1)
        expect(alice.locator(".chatitem .preview")).to_contain_text(" 3")
        alice.goto(base + chat)
        bob.locator("#composer-body").fill(OVERRIDE + " 4")
        bob.locator("#composer button[type=submit]").click()
        expect(alice.locator("#message-list .msg .body")).to_have_count(4)
        assert set(isolation(alice, USER_TEXT)) == {"isolate"}
