"""Issue 3/4 in a real browser: two users chatting live, history, offline sends, receipts."""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from chats import services
from chats.models import Block, Message, Report
from tests.e2e.conftest import screenshots
from tests.factories import make_chat, make_messages

pytestmark = pytest.mark.browser


def composer(page):
    return page.get_by_role("textbox", name=re.compile(r"^Message "))


def message(page, text):
    return page.locator("#message-list li.msg", has_text=text)


def bodies(page):
    return page.locator("#message-list li.msg [data-field=body]")


def say(page, text):
    # Module scripts run before the load event: an Enter typed earlier (right after a
    # navigation by click) reaches a textarea with no handler yet and adds a new line.
    page.wait_for_load_state()
    box = composer(page)
    box.fill(text)
    box.press("Enter")
    expect(box).to_be_focused()
    expect(box).to_have_value("")


def test_two_users_chat_live_both_ways_with_receipts_and_history(browsing, alice, bob):
    alice_page = browsing.page(browsing.context(alice), "/chats/")
    bob_page = browsing.page(browsing.context(bob), "/chats/")
    expect(bob_page.get_by_text("No chats yet.")).to_be_visible()

    # Alice starts the chat from the form and says hello.
    alice_page.get_by_role("link", name="New chat").click()
    screenshots(alice_page, "new-chat")
    alice_page.get_by_label("Username").fill("bob")
    alice_page.get_by_role("button", name="Message").click()
    expect(alice_page).to_have_url(re.compile(r"/chats/\d+/$"))
    chat_url = alice_page.url
    say(alice_page, "Hi bob, see https://example.com/docs?a=1.")
    expect(alice_page.locator("li.chatitem [data-field=preview]")).to_have_text(
        "You: Hi bob, see https://example.com/docs?a=1."
    )

    # Bob, on his chat list, gets the new chat live with a badge, a title count and a toast.
    item = bob_page.locator("li.chatitem", has_text="alice")
    expect(item).to_be_visible()
    expect(item.locator("[data-field=preview]")).to_have_text(
        "Hi bob, see https://example.com/docs?a=1."
    )
    expect(item.locator("[data-field=unread]")).to_have_text("1 unread")
    expect(bob_page.locator("#unread-total")).to_have_text("1")
    expect(bob_page).to_have_title("(1) Chats · Chatsite")
    toast = bob_page.locator("#toasts .toast")
    expect(toast).to_contain_text("alice")
    expect(toast).to_contain_text("Hi bob")
    screenshots(bob_page, "chats-unread")

    # Bob's socket received it: delivered, not yet read.
    own = message(alice_page, "Hi bob")
    expect(own.locator("[data-field=status]")).to_have_text(re.compile("Delivered"))
    screenshots(alice_page, "chat-delivered")

    # Bob opens the chat: the divider marks the first unread, the link is safe, Alice sees Read.
    bob_page.keyboard.press("Escape")
    expect(toast).to_have_count(0)
    item.get_by_role("link").click()
    expect(bob_page).to_have_url(chat_url)
    expect(bob_page.locator("#unread-divider")).to_have_text("New messages")
    link = message(bob_page, "Hi bob").get_by_role("link", name="https://example.com/docs?a=1")
    expect(link).to_have_attribute("href", "https://example.com/docs?a=1")
    expect(link).to_have_attribute("rel", "noopener noreferrer")
    expect(own.locator("[data-field=status]")).to_have_text(re.compile("Read"))
    expect(bob_page.locator("#unread-total")).to_be_hidden()
    expect(bob_page).to_have_title("alice · Chatsite")

    # Live both ways, with the typing indicator on the way.
    composer(bob_page).press_sequentially("Hel")
    expect(alice_page.locator("#typing")).to_have_text("bob is typing…")
    composer(bob_page).fill("Hello alice\nsecond line")
    composer(bob_page).press("Enter")
    expect(message(alice_page, "Hello alice")).to_be_visible()
    expect(alice_page.locator("#typing")).to_have_text("")
    expect(message(alice_page, "Hello alice").locator("[data-field=body]")).to_have_text(
        "Hello alice\nsecond line"
    )
    say(alice_page, "<b>not bold</b>")
    expect(message(bob_page, "<b>not bold</b>")).to_be_visible()
    expect(bob_page.locator("#message-list b")).to_have_count(0)
    say(bob_page, "last one")
    expect(message(alice_page, "last one")).to_be_visible()
    expect(message(bob_page, "last one").locator("[data-field=status]")).to_have_text(
        re.compile("Read")
    )
    screenshots(alice_page, "chat")

    expected = [
        "Hi bob, see https://example.com/docs?a=1.",
        "Hello alice\nsecond line",
        "<b>not bold</b>",
        "last one",
    ]
    for page in (alice_page, bob_page):
        expect(bodies(page)).to_have_text(expected)
        page.reload()
        expect(bodies(page)).to_have_text(expected)
        expect(page.locator("#message-list li.day-sep")).to_have_text(["Today"])
    assert Message.objects.count() == 4
    assert browsing.csp_violations == []


def test_message_sent_while_offline_is_delivered_once(browsing, alice, bob):
    chat = make_chat(alice, bob)
    alice_context = browsing.context(alice)
    alice_page = browsing.page(alice_context, f"/chats/{chat.pk}/")
    bob_page = browsing.page(browsing.context(bob), f"/chats/{chat.pk}/")
    say(alice_page, "online first")
    expect(message(bob_page, "online first")).to_be_visible()

    # The socket is cut: the banner says so and the message waits as "sending".
    alice_context.set_offline(True)
    banner = alice_page.locator("#conn-status")
    expect(banner).to_have_text("Reconnecting… your messages will send when you're back.")
    say(alice_page, "typed while offline")
    offline = message(alice_page, "typed while offline")
    expect(offline.locator("[data-field=status]")).to_have_text(re.compile("Sending"))
    screenshots(alice_page, "chat-offline")

    # Back online: sent once, seen once by Bob, who reads it.
    alice_context.set_offline(False)
    expect(banner).to_be_hidden()
    expect(message(bob_page, "typed while offline")).to_have_count(1)
    expect(offline.locator("[data-field=status]")).to_have_text(re.compile("Read"))

    # Unsent messages survive closing the tab: a new tab sends them with the same client_id.
    alice_context.set_offline(True)
    expect(banner).to_be_visible()
    say(alice_page, "kept across a reload")
    expect(message(alice_page, "kept across a reload")).to_have_count(1)
    alice_page.close()
    alice_context.set_offline(False)
    alice_page = browsing.page(alice_context, f"/chats/{chat.pk}/")
    expect(message(bob_page, "kept across a reload")).to_have_count(1)
    kept = message(alice_page, "kept across a reload")
    expect(kept).to_have_count(1)
    expect(kept.locator("[data-field=status]")).to_have_text(re.compile("Read"))
    alice_page.reload()
    expect(bodies(alice_page)).to_have_text(
        ["online first", "typed while offline", "kept across a reload"]
    )
    assert Message.objects.filter(body="typed while offline").count() == 1
    assert Message.objects.filter(body="kept across a reload").count() == 1
    assert browsing.csp_violations == []


@pytest.fixture
def long_chat(alice, bob):
    """60 messages from bob, all read by alice; made before the browser starts."""
    chat = make_chat(alice, bob)
    make_messages(chat, bob, 60)  # one page is 50
    services.chat_mark_read(user=alice, chat_id=chat.pk, seq=60)
    return chat


def test_older_history_loads_on_scroll_keeping_the_view_in_local_time(long_chat, browsing, alice):
    context = browsing.context(alice, timezone_id="Pacific/Auckland", locale="en-GB")
    page = browsing.page(context, f"/chats/{long_chat.pk}/")
    expect(bodies(page)).to_have_count(50)
    expect(message(page, "message 59")).to_be_in_viewport()  # opened at the bottom
    first = Message.objects.get(chat=long_chat, seq=11)
    local = first.created_at.astimezone(ZoneInfo("Pacific/Auckland"))
    expect(message(page, "message 10").locator("time")).to_have_text(local.strftime("%H:%M"))

    # Scrolling up to the top loads the older page above what the reader was looking at.
    page.get_by_role("link", name="Load older messages").scroll_into_view_if_needed()
    expect(bodies(page)).to_have_count(60)
    expect(bodies(page)).to_have_text([f"message {i}" for i in range(60)])
    expect(message(page, "message 10")).to_be_in_viewport()
    expect(message(page, "message 0")).not_to_be_in_viewport()
    expect(page.get_by_role("link", name="Load older messages")).to_have_count(0)
    expect(page.locator("#message-list li.day-sep")).to_have_count(1)
    expect(page.locator("#unread-divider")).to_have_count(0)
    assert browsing.csp_violations == []


def test_older_history_that_fails_to_load_says_so_and_retries(long_chat, browsing, alice):
    page = browsing.page(browsing.context(alice), None)
    page.route(re.compile(r"\?before="), lambda route: route.fulfill(status=503, body="busy"))
    page.goto(f"{browsing.url}/chats/{long_chat.pk}/")
    older = page.get_by_role("link", name=re.compile("older messages"))
    older.scroll_into_view_if_needed()
    expect(older).to_have_text("Couldn't load older messages. Try again")
    expect(bodies(page)).to_have_count(50)

    page.unroute(re.compile(r"\?before="))
    older.click()
    expect(bodies(page)).to_have_count(60)
    expect(older).to_have_count(0)


def test_badges_and_grouped_toasts_for_another_chat_converge_across_tabs(
    browsing, alice, bob, carol
):
    with_carol = make_chat(alice, carol)
    with_bob = make_chat(alice, bob)  # newer: listed first until carol writes
    alice_context = browsing.context(alice)
    alice_page = browsing.page(alice_context, f"/chats/{with_bob.pk}/")
    carol_page = browsing.page(browsing.context(carol), f"/chats/{with_carol.pk}/")
    items = alice_page.locator("#chatlist li.chatitem")
    expect(items).to_have_count(2)
    expect(items.first).to_have_attribute("data-peer", "bob")

    say(carol_page, "first from carol")
    say(carol_page, "javascript:alert(1) is not a link, http://carol.example is")
    # Alice is reading bob's chat: carol's messages come as one grouped toast and badges.
    toast = alice_page.locator("#toasts .toast")
    expect(toast).to_have_count(1)
    expect(toast).to_contain_text("carol · 2 new messages")
    expect(toast.get_by_role("link")).to_have_attribute("href", f"/chats/{with_carol.pk}/")
    expect(items.first).to_have_attribute("data-peer", "carol")  # re-ordered live
    carol_item = items.first
    expect(carol_item.locator("[data-field=unread]")).to_have_text("2 unread")
    expect(alice_page.locator("#unread-total")).to_have_text("2")
    expect(alice_page).to_have_title("(2) bob · Chatsite")
    screenshots(alice_page, "chat-toast")
    toast.get_by_role("button", name="Dismiss notification").click()
    expect(toast).to_have_count(0)

    # Reading carol's chat in a second tab clears the badges in the first tab too.
    second = browsing.page(alice_context, f"/chats/{with_carol.pk}/")
    links = message(second, "javascript:alert(1)").get_by_role("link")
    expect(links).to_have_count(1)
    expect(links).to_have_attribute("href", "http://carol.example/")
    expect(second.locator("#unread-total")).to_be_hidden()
    expect(carol_item.locator("[data-field=unread]")).to_be_hidden()
    expect(alice_page.locator("#unread-total")).to_be_hidden()
    expect(alice_page).to_have_title("bob · Chatsite")
    assert browsing.csp_violations == []


def test_report_a_live_message_then_block_so_the_senders_next_send_is_refused(browsing, alice, bob):
    chat = make_chat(alice, bob)
    alice_page = browsing.page(browsing.context(alice), f"/chats/{chat.pk}/")
    bob_page = browsing.page(browsing.context(bob), f"/chats/{chat.pk}/")
    expect(bob_page.locator("#presence")).to_have_text("Online")
    say(alice_page, "cheap watches at http://spam.example")

    # The message came live (built from the <template>): its menu reports it, through htmx.
    spam = message(bob_page, "cheap watches")
    spam.hover()
    spam.get_by_label("Message options").click()
    spam.get_by_text("Report", exact=True).click()
    spam.get_by_label("What is wrong with this message?").fill("spam")
    screenshots(bob_page, "chat-report")
    spam.get_by_role("button", name="Report message").click()
    expect(spam.get_by_role("status")).to_have_text(
        "Thank you. A moderator will look at this message."
    )
    report = Report.objects.get()
    assert (report.reporter, report.message.body, report.reason) == (
        bob,
        "cheap watches at http://spam.example",
        "spam",
    )
    assert message(alice_page, "cheap watches").get_by_label("Message options").count() == 0

    # Bob blocks alice from the chat header (a plain form post), after confirming in a dialog.
    bob_page.get_by_role("button", name="Block alice").click()
    dialog = bob_page.get_by_role("dialog", name="Block alice?")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("button", name="Cancel")).to_be_focused()
    bob_page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(bob_page.get_by_role("button", name="Block alice")).to_be_focused()
    assert not Block.objects.exists()
    bob_page.get_by_role("button", name="Block alice").click()
    dialog.get_by_role("button", name="Block", exact=True).click()
    expect(bob_page.locator(".flash")).to_contain_text("You blocked alice.")
    expect(bob_page.locator("#blocked-note")).to_contain_text("You blocked alice")
    expect(composer(bob_page)).to_be_disabled()
    expect(alice_page.locator("#presence")).to_have_text("")  # no presence across a block
    screenshots(bob_page, "chat-blocked")

    # Alice's next message is refused with the reason, and nothing is stored.
    composer(alice_page).fill("hello?")
    composer(alice_page).press("Enter")
    refused = message(alice_page, "hello?")
    expect(refused).to_have_class(re.compile(r"\bfailed\b"))
    expect(refused.locator(".msg-error")).to_have_text("You cannot send messages to this user.")
    expect(refused.locator("[data-field=status]")).to_have_text(re.compile("Not sent"))
    assert not Message.objects.filter(body="hello?").exists()
    # It stays failed, with Retry and Discard, across a reload (issue 23, bug 5).
    alice_page.reload()
    expect(refused).to_have_class(re.compile(r"\bfailed\b"))
    expect(refused.get_by_role("button", name="Discard")).to_be_visible()

    # Unblocked, the chat works again both ways.
    bob_page.get_by_role("button", name="Unblock alice").click()
    expect(bob_page.locator(".flash")).to_contain_text("You unblocked alice.")
    refused.get_by_role("button", name="Retry").click()
    expect(message(bob_page, "hello?")).to_be_visible()
    say(bob_page, "sorry, wrong button")
    expect(message(alice_page, "sorry, wrong button")).to_be_visible()
    assert browsing.csp_violations == []


def test_sixty_messages_typed_fast_arrive_in_the_order_typed(browsing, alice, bob):
    """Issue 23, bug 1: the send rate limit (10 per 2 s) bites, and the order holds."""
    chat = make_chat(alice, bob)
    alice_page = browsing.page(browsing.context(alice), f"/chats/{chat.pk}/")
    bob_page = browsing.page(browsing.context(bob), f"/chats/{chat.pk}/")
    expect(bob_page.locator("#presence")).to_have_text("Online")
    typed = [f"quick {n}" for n in range(60)]
    notice = alice_page.locator("#composer-notice")
    # Typed in the page, 30 ms apart whatever the load on the test machine; the page notes
    # whether it ever told alice she was sending too fast.
    alice_page.evaluate(
        """async (typed) => {
            const box = document.getElementById("composer-body");
            const notice = document.getElementById("composer-notice");
            new MutationObserver(() => {
                if (!notice.hidden && /too fast/.test(notice.textContent)) window.sawTooFast = true;
            }).observe(notice, { attributes: true, childList: true });
            for (const text of typed) {
                box.value = text;
                box.dispatchEvent(new Event("input", { bubbles: true }));
                box.dispatchEvent(new KeyboardEvent("keydown", { key: "Enter", bubbles: true }));
                await new Promise((resolve) => setTimeout(resolve, 30));
            }
        }""",
        typed,
    )
    expect(bodies(bob_page)).to_have_text(typed, timeout=60_000)
    stored = list(Message.objects.filter(chat=chat).order_by("seq").values_list("body", flat=True))
    assert stored == typed
    assert alice_page.evaluate("window.sawTooFast === true")
    expect(notice).to_be_hidden()
    expect(bodies(alice_page)).to_have_text(typed)
