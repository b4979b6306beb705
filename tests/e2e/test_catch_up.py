"""Issue 15: a tab that was disconnected catches up on every change, not only new messages."""

from __future__ import annotations

import re
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connections
from playwright.sync_api import expect

from chats import moderation, services
from tests.factories import UserFactory, make_chat, make_messages, message_at

pytestmark = pytest.mark.browser


def off_the_browser_loop(write):
    """Run a write whose broadcasts go through async_to_sync: not on the thread where
    Playwright's event loop counts as running."""

    def run():
        try:
            write()
        finally:
            connections.close_all()

    with ThreadPoolExecutor(1) as pool:
        pool.submit(run).result()


def test_removal_made_while_the_tab_was_offline_shows_after_reconnecting(browsing, alice, bob):
    chat = make_chat(alice, bob)
    make_messages(chat, bob, 3)
    moderator = UserFactory(username="mod", is_staff=True)
    context = browsing.context(alice)
    page = browsing.page(context, f"/chats/{chat.pk}/")
    spam = page.locator("#msg-2")
    expect(spam.locator("[data-field=body]")).to_have_text("message 1")
    # The socket has said hello (presence comes with it), then the tab goes offline.
    expect(page.locator("#presence")).to_have_text(re.compile("Online|Offline|Last seen"))
    page.evaluate("window.__sameDocument = true")
    context.set_offline(True)
    banner = page.locator("#conn-status")
    expect(banner).to_contain_text("Reconnecting…")

    # Meanwhile a moderator removes bob's second message and bob sends another.
    def remove_and_send():
        spam_message = message_at(chat, 2)
        moderation.message_remove(message=spam_message, moderator=moderator, reason="spam")
        services.message_send(
            sender=bob, chat_id=chat.pk, client_id=str(uuid.uuid4()), body="later"
        )

    off_the_browser_loop(remove_and_send)

    context.set_offline(False)
    expect(banner).to_be_hidden()
    expect(spam.locator("[data-field=body]")).to_have_text("Message removed by a moderator")
    expect(spam).to_have_class(re.compile(r"\bremoved\b"))
    expect(spam.locator(".msg-menu")).to_have_count(0)
    expect(page.locator("#message-list li.msg [data-field=body]")).to_have_text(
        ["message 0", "Message removed by a moderator", "message 2", "later"]
    )
    assert page.evaluate("window.__sameDocument") is True  # no reload
    assert browsing.csp_violations == []
