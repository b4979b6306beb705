"""Stored XSS in a real browser: with hostile bodies and usernames in the database, and more
sent live while the pages are open, no dialog opens, nothing requests /accounts/logout/, the
Content-Security-Policy never has to block anything, and the payloads show as text. Pages:
the chat (history and live), the chat list (live toasts), search (page and as-you-type),
and the admin's message, chat and user lists."""

import pytest

from tests.security.test_xss import BODIES, USERNAMES
from tests.support.browser import add_session_cookie, chromium

pytestmark = [pytest.mark.browser, pytest.mark.live, pytest.mark.django_db(transaction=True)]

SENDER = USERNAMES[2]  # the sender of the live messages (xss_seed.py)
INJECTED = "img[src='x'], [hx-trigger='load'], [onload], [onerror], a[href^='javascript:']"


def test_hostile_bodies_and_usernames_stay_inert_in_a_browser(cluster_factory):
    from playwright.sync_api import expect

    cluster = cluster_factory()
    data = cluster.run_seed("tests.security.xss_seed")
    server = cluster.start()
    base = server.origin
    dialogs, logouts, violations = [], [], []

    def watch(page):
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.on("request", lambda r: "/accounts/logout" in r.url and logouts.append(r.url))
        page.on(
            "console",
            lambda m: "Content Security Policy" in m.text and violations.append(m.text),
        )
        return page

    def visit(page, path):
        page.goto(base + path)
        page.wait_for_load_state("networkidle")
        assert page.locator(INJECTED).count() == 0, path

    with chromium() as browser:
        pages = {}
        for who in ("alice", "sender"):
            context = browser.new_context()
            add_session_cookie(context, base, data[who])
            pages[who] = watch(context.new_page())
        alice, sender = pages["alice"], pages["sender"]
        chat = data["sender_chat"]

        # History, with the live socket open; then the same payloads sent live.
        visit(alice, f"/chats/{chat}/")
        expect(alice.locator("#message-list")).to_contain_text(BODIES[0])
        visit(sender, f"/chats/{chat}/")
        for body in BODIES[:4]:
            sender.locator("#composer-body").fill(body)
            sender.locator("#composer button[type=submit]").click()
            sender.wait_for_load_state("networkidle")
        # Shown live, from the page's <template> filled with text.
        expect(alice.locator("#message-list li.msg")).to_have_count(len(BODIES) + 4)
        expect(alice.locator("#message-list li.msg").last).to_contain_text(BODIES[3])
        assert alice.locator(INJECTED).count() == 0

        # The chat list while more arrive (toasts), then the chat again (history).
        visit(alice, "/chats/")
        for body in BODIES[4:]:
            sender.locator("#composer-body").fill(body)
            sender.locator("#composer button[type=submit]").click()
            sender.wait_for_load_state("networkidle")
        toast = alice.locator("#toasts .toast")
        expect(toast).to_contain_text(SENDER)
        expect(toast).to_contain_text(BODIES[-1])
        assert alice.locator(INJECTED).count() == 0
        for other in data["chats"]:
            visit(alice, f"/chats/{other}/")
        expect(alice.locator("#message-list")).to_contain_text(BODIES[-1])

        # Search: the page, and results swapped in as you type.
        visit(alice, "/search/?q=alert")
        expect(alice.locator("body")).to_contain_text("<img src=x onerror=alert(1)>")
        visit(alice, "/search/")
        alice.locator("#search-q").press_sequentially("load")
        expect(alice.locator("body")).to_contain_text('"><b hx-get=/ hx-trigger=load>')
        assert alice.locator(INJECTED).count() == 0

        # The admin.
        for path in ["/admin/chats/message/", "/admin/chats/chat/", "/admin/accounts/user/"]:
            visit(alice, path)
        expect(alice.locator("body")).to_contain_text("<script>alert(1)</script>")

        # Still logged in: nothing logged alice out behind her back.
        visit(alice, "/chats/")
        assert "/accounts/login/" not in alice.url
    assert dialogs == []
    assert logouts == []
    assert violations == []
