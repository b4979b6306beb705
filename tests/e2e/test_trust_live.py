"""Issue 23 on the real server, two users in two browsers: messages typed fast under the rate
limit are stored and shown in the order they were typed, a rename is announced live, the
sender sees "Delivered" with the reader's receipts off, and a send refused by a block stays
failed across a reload."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from chats import services
from chats.models import Message
from chats.selectors import HISTORY_PAGE
from tests.factories import make_chat

pytestmark = pytest.mark.browser

TYPED = 60


def bodies(page):
    return page.locator("#message-list li.msg [data-field=body]")


def test_sixty_messages_typed_30_ms_apart_arrive_in_order_under_the_rate_limit(
    browsing, alice, bob
):
    chat = make_chat(alice, bob)
    path = f"/chats/{chat.pk}/"
    bob_page = browsing.page(browsing.context(bob), path)
    alice_page = browsing.page(browsing.context(alice), path)
    alice_page.wait_for_load_state()
    box = alice_page.get_by_role("textbox", name="Message bob")
    typed = [f"number {n}" for n in range(1, TYPED + 1)]
    for text in typed:
        box.fill(text)
        box.press("Enter")
        alice_page.wait_for_timeout(30)
    # The limit (10 per 2 s) holds most of them back for a while: the peer sees all of them,
    # in the order typed, and so does the database.
    expect(bodies(bob_page)).to_have_text(typed, timeout=90_000)
    stored = Message.objects.filter(chat=chat).order_by("seq").values_list("body", flat=True)
    assert list(stored) == typed
    mine = alice_page.locator("#message-list li.msg.mine")
    expect(mine.locator("[data-field=body]")).to_have_text(typed)
    expect(alice_page.locator("#composer-notice")).to_be_hidden()
    bob_page.reload()
    expect(bodies(bob_page)).to_have_text(typed[-HISTORY_PAGE:])  # the latest page


def test_a_rename_shows_live_in_the_peers_open_chat_once(browsing, alice, bob):
    chat = make_chat(alice, bob)
    alice_page = browsing.page(browsing.context(alice), f"/chats/{chat.pk}/")
    expect(alice_page.locator("#peer-name")).to_have_text("bob")
    bob_context = browsing.context(bob)
    bob_chat = browsing.page(bob_context, f"/chats/{chat.pk}/")
    bob_chat.wait_for_load_state()
    bob_chat.evaluate("window.beforeRename = true")

    profile = browsing.page(bob_context, "/accounts/profile/")
    profile.get_by_label("Username").fill("robert")
    profile.get_by_role("button", name="Change username").click()
    # (The profile page gets the frame too, and reloads: its success note may be gone.)

    expect(alice_page.locator("#peer-name")).to_have_text("robert")
    expect(alice_page.get_by_role("textbox", name="Message robert")).to_be_visible()
    expect(alice_page.locator("#chatlist li.chatitem .peer")).to_have_text(["robert"])
    expect(alice_page.locator("#message-list .system-line")).to_have_text(["bob is now robert"])
    # Bob's other tab reloads and shows his new name; a page rendered now shows it too.
    bob_chat.wait_for_function("window.beforeRename === undefined")
    expect(bob_chat.locator("#peer-name")).to_have_text("alice")
    alice_page.reload()
    expect(alice_page.locator("#peer-name")).to_have_text("robert")
    expect(alice_page).to_have_title(re.compile("^robert"))


def test_with_read_receipts_off_the_sender_sees_delivered_when_the_reader_opens_the_chat(
    browsing, alice, bob
):
    """Bug 2: bob turned read receipts off. Alice's message, sent while bob had no page open,
    turns "Delivered" on her screen when bob opens the chat and reads it, without a reload,
    and never "Read"."""
    bob.send_read_receipts = False
    bob.save(update_fields=["send_read_receipts"])
    chat = make_chat(alice, bob)
    alice_page = browsing.page(browsing.context(alice), f"/chats/{chat.pk}/")
    alice_page.evaluate("window.sameDocument = true")
    composer = alice_page.get_by_role("textbox", name="Message bob")
    composer.fill("are you there?")
    composer.press("Enter")
    status = alice_page.locator("#msg-1 [data-field=status]")
    expect(status).to_have_text(re.compile("Sent"))

    bob_page = browsing.page(browsing.context(bob), f"/chats/{chat.pk}/")
    expect(bodies(bob_page)).to_have_text(["are you there?"])
    expect(status).to_have_text(re.compile("Delivered"))
    bob_page.reload()  # read again: still no read receipt
    expect(bodies(bob_page)).to_have_text(["are you there?"])
    expect(status).not_to_have_text(re.compile("Read"))
    assert alice_page.evaluate("window.sameDocument") is True


def test_a_send_refused_by_a_block_stays_failed_across_reload_on_the_real_server(
    browsing, alice, bob
):
    """Bug 5 with two users and the real server: bob blocked alice; her message is refused,
    stays in her outbox as failed after a reload (Retry and Discard), and is never stored."""
    chat = make_chat(alice, bob)
    services.block_user(blocker=bob, blocked=alice)
    page = browsing.page(browsing.context(alice), f"/chats/{chat.pk}/")
    composer = page.get_by_role("textbox", name="Message bob")
    composer.fill("are you there?")
    composer.press("Enter")
    failed = page.locator("#message-list li.msg.failed")
    expect(failed).to_have_count(1)
    page.reload()
    expect(failed).to_have_count(1)
    expect(failed.locator("[data-field=status]")).to_have_text(re.compile("Not sent"))
    expect(failed.get_by_role("button", name="Retry")).to_be_visible()
    failed.get_by_role("button", name="Discard").click()
    expect(failed).to_have_count(0)
    page.reload()
    expect(page.locator("#message-list li.msg")).to_have_count(0)
    assert not Message.objects.filter(chat=chat).exists()
