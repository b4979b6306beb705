"""Issue 16 in a real browser, two users: edit, delete, reply and react, each seen live by
the other; an edit or a deletion made while a tab was offline shows after it reconnects."""

from __future__ import annotations

import re
import time
import uuid

import pytest
from playwright.sync_api import expect

from chats import message_changes, services
from chats.models import Message
from tests.e2e.test_accessibility import axe_problems
from tests.e2e.test_catch_up import off_the_browser_loop
from tests.factories import make_chat, make_messages

pytestmark = pytest.mark.browser


def body(page, seq):
    return page.locator(f"#msg-{seq} [data-field=body]")


def open_actions(page, seq):
    page.locator(f"#msg-{seq}").hover()
    page.locator(f"#msg-{seq} .msg-actions-button").click()
    menu = page.get_by_role("menu", name="Message actions")
    expect(menu).to_be_visible()
    return menu


def test_two_users_edit_delete_reply_and_react_live(browsing, alice, bob):
    chat = make_chat(alice, bob)
    make_messages(chat, alice, 2)  # seqs 1, 2: alice's
    make_messages(chat, bob, 1)  # seq 3: bob's
    a = browsing.page(browsing.context(alice), f"/chats/{chat.pk}/")
    a.set_viewport_size({"width": 390, "height": 844})  # alice is on a phone
    b = browsing.page(browsing.context(bob), f"/chats/{chat.pk}/")
    for page in (a, b):
        expect(page.locator("#presence")).to_have_text(re.compile("Online|Offline|Last seen"))

    # Alice edits her last message with the Up arrow, and Escape cancels a second edit.
    composer = a.locator("#composer-body")
    composer.click()
    composer.press("ArrowUp")
    expect(composer).to_have_value("message 1")
    composer.fill("message 1, fixed")
    composer.press("Enter")
    for page in (a, b):
        expect(body(page, 2)).to_have_text("message 1, fixed")
        edited = page.locator("#msg-2 [data-field=edited]")
        expect(edited).to_have_text(re.compile(r"^edited \d{1,2}:\d{2}"))  # with the time
        expect(edited.locator("time")).to_have_attribute("datetime", re.compile(r"Z$"))
    composer.press("ArrowUp")
    expect(a.locator("#compose-context")).to_contain_text("Editing")
    composer.press("Escape")
    expect(composer).to_have_value("")
    expect(a.locator("#compose-context")).to_be_hidden()

    # Bob replies to message 2 from its actions menu (keyboard reachable).
    menu = open_actions(b, 2)
    expect(menu.get_by_role("menuitem", name="Edit")).to_have_count(0)  # not his
    menu.get_by_role("menuitem", name="Reply").click()
    expect(b.locator("#compose-context")).to_contain_text("Replying to alice")
    b.locator("#composer-body").fill("agreed")
    b.locator("#composer-body").press("Enter")
    for page in (a, b):
        quote = page.locator("#msg-4 [data-field=quote]")
        expect(quote).to_contain_text("alice")
        expect(quote).to_contain_text("message 1, fixed")

    # Bob reacts; alice sees who reacted with what and adds hers by clicking it.
    open_actions(b, 1).get_by_role("menuitem", name="React 👍").click()
    reaction = a.locator('#msg-1 button.reaction[data-emoji="👍"]')
    expect(reaction).to_have_attribute("aria-label", "👍 1: bob")
    reaction.click()
    expect(b.locator('#msg-1 button.reaction[data-emoji="👍"]')).to_have_attribute(
        "aria-label", "👍 2: bob, alice"
    )

    # Alice deletes message 2 through the confirmation dialog; the quote follows. The phone
    # view passes axe with reactions, a quote, "edited", the open menu and the dialog.
    menu = open_actions(a, 2)
    problems = axe_problems(a, "living messages, menu open (phone)")
    menu.get_by_role("menuitem", name="Delete").click()
    dialog = a.get_by_role("dialog", name="Delete this message?")
    expect(dialog).to_be_visible()
    problems += axe_problems(a, "delete dialog (phone)")
    assert problems == []
    dialog.get_by_role("button", name="Delete").click()
    for page in (a, b):
        expect(body(page, 2)).to_have_text("This message was deleted")
        expect(page.locator("#msg-4 [data-field=quote]")).to_contain_text("deleted message")
        expect(page.locator("#msg-2 .msg-actions-button")).to_have_count(0)
    assert browsing.csp_violations == []


OFFLINE_CHANGES = {
    "edit": (
        lambda chat, user: message_changes.message_edit(
            user=user, chat_id=chat.pk, seq=1, body="edited"
        ),
        "edited",
    ),
    "delete": (
        lambda chat, user: message_changes.message_delete(user=user, chat_id=chat.pk, seq=1),
        "This message was deleted",
    ),
}


@pytest.mark.parametrize("kind", OFFLINE_CHANGES)
def test_a_change_made_while_offline_shows_after_reconnecting(browsing, alice, bob, kind):
    change, shown = OFFLINE_CHANGES[kind]
    chat = make_chat(alice, bob)
    make_messages(chat, alice, 2)
    context = browsing.context(bob)
    page = browsing.page(context, f"/chats/{chat.pk}/")
    expect(page.locator("#presence")).to_have_text(re.compile("Online|Offline|Last seen"))
    page.evaluate("window.__sameDocument = true")
    context.set_offline(True)
    expect(page.locator("#conn-status")).to_contain_text("Reconnecting…")

    off_the_browser_loop(lambda: change(chat, alice))

    context.set_offline(False)
    expect(page.locator("#conn-status")).to_be_hidden()
    expect(body(page, 1)).to_have_text(shown)
    expect(page.locator("#message-list li.msg")).to_have_count(2)
    assert page.evaluate("window.__sameDocument") is True


def quoting_the_first(browsing, alice, bob, messages):
    """alice's page of a chat of `messages` of hers and bob's reply to the first, last."""
    chat = make_chat(alice, bob)
    make_messages(chat, alice, messages)
    services.message_send(
        sender=bob, chat_id=chat.pk, client_id=str(uuid.uuid4()), body="about that", reply_to=1
    )
    return browsing.page(browsing.context(alice), f"/chats/{chat.pk}/")


def test_clicking_a_quote_loads_older_history_and_scrolls_to_the_original(browsing, alice, bob):
    page = quoting_the_first(browsing, alice, bob, 60)
    expect(page.locator("#msg-1")).to_have_count(0)  # beyond the first page
    quote = page.locator("#msg-61 [data-field=quote]")
    expect(quote).to_contain_text("message 0")
    quote.click()
    expect(page.locator("#msg-1")).to_be_in_viewport()


def test_a_quote_stops_loading_older_history_once_the_budget_refuses_it(browsing, alice, bob):
    page = quoting_the_first(browsing, alice, bob, 120)
    older = []

    def refuse(route):  # the server's answer once HISTORY_RATE is spent (test_read_budgets)
        older.append(route.request.url)
        limited = '<li class="load-older failed" id="load-older"><a href="?before=72" '
        limited += 'hx-get="?before=72" hx-target="#load-older" hx-swap="outerHTML">'
        limited += "Too many history requests; wait and try again.</a></li>"
        route.fulfill(status=429, headers={"Retry-After": "60"}, body=limited)

    history = re.compile(r".*[?&]before=.*")
    page.route(history, refuse)
    page.locator("#msg-121 [data-field=quote]").click()
    expect(page.locator("#load-older.failed")).to_contain_text("Too many history requests")
    page.wait_for_timeout(7000)  # the loop used to try again every 3 s, 40 times
    assert len(older) == 1, older
    page.unroute(history)
    page.locator("#load-older a").click()  # trying again later works
    expect(page.locator("#msg-22")).to_have_count(1)


def test_changes_to_old_messages_are_not_announced_as_new(browsing, alice, bob):
    chat = make_chat(alice, bob)
    make_messages(chat, alice, 2)
    b = browsing.page(browsing.context(bob), None)
    # Listened for from the socket's start: waiting for a frame after goto returned missed
    # a hello that had come while the page was loading (a 10 s timeout, now and then).
    frames = []
    b.on("websocket", lambda ws: ws.on("framereceived", lambda frame: frames.append(frame)))
    b.goto(f"{browsing.url}/chats/")
    deadline = time.monotonic() + 10
    while not frames:  # hello: the socket is live
        assert time.monotonic() < deadline, "no hello within 10 s"
        b.wait_for_timeout(50)
    a = browsing.page(browsing.context(alice), f"/chats/{chat.pk}/")
    expect(a.locator("#presence")).to_have_text(re.compile("Online|Offline|Last seen"))

    # Alice edits and reacts to old messages (through the server), then sends a new one.
    composer = a.locator("#composer-body")
    composer.click()
    composer.press("ArrowUp")
    composer.fill("edited")
    composer.press("Enter")
    expect(body(a, 2)).to_have_text("edited")
    open_actions(a, 1).get_by_role("menuitem", name="React 🎉").click()
    expect(a.locator('#msg-1 button.reaction[data-emoji="🎉"]')).to_be_visible()
    composer.fill("really new")
    composer.press("Enter")

    expect(b.locator("li.chatitem [data-field=preview]")).to_have_text("really new")
    toast = b.locator("#toasts .toast")
    expect(toast).to_contain_text("really new")
    expect(toast).not_to_contain_text("new messages")  # one announced, not three


def test_a_quote_of_a_message_older_than_the_loaded_history_follows_its_changes(
    browsing, alice, bob
):
    chat = make_chat(alice, bob)
    make_messages(chat, alice, 60)
    services.message_send(
        sender=bob, chat_id=chat.pk, client_id=str(uuid.uuid4()), body="about that", reply_to=1
    )
    context = browsing.context(bob)
    page = browsing.page(context, f"/chats/{chat.pk}/")
    expect(page.locator("#presence")).to_have_text(re.compile("Online|Offline|Last seen"))
    expect(page.locator("#msg-1")).to_have_count(0)  # beyond the first page
    quote = page.locator("#msg-61 [data-field=quote]")
    expect(quote).to_contain_text("message 0")

    # Edited while bob's tab was offline: the sync after reconnecting updates the quote.
    context.set_offline(True)
    expect(page.locator("#conn-status")).to_contain_text("Reconnecting…")
    off_the_browser_loop(
        lambda: message_changes.message_edit(user=alice, chat_id=chat.pk, seq=1, body="rewritten")
    )
    context.set_offline(False)
    expect(page.locator("#conn-status")).to_be_hidden()
    expect(quote).to_contain_text("rewritten")
    expect(page.locator("#msg-1")).to_have_count(0)  # still not loaded: only the quote changed

    # Deleted during the next disconnect: the quote says so.
    context.set_offline(True)
    expect(page.locator("#conn-status")).to_contain_text("Reconnecting…")
    off_the_browser_loop(lambda: message_changes.message_delete(user=alice, chat_id=chat.pk, seq=1))
    context.set_offline(False)
    expect(page.locator("#conn-status")).to_be_hidden()
    expect(quote).to_contain_text("deleted message")
    expect(quote).not_to_contain_text("rewritten")
    expect(page.locator("#message-list li.msg")).to_have_count(50)  # nothing drawn twice


def test_the_actions_menu_works_from_the_keyboard_and_a_reply_can_be_cancelled(
    browsing, alice, bob
):
    chat = make_chat(alice, bob)
    make_messages(chat, alice, 1)
    page = browsing.page(browsing.context(bob), f"/chats/{chat.pk}/")
    expect(page.locator("#presence")).to_have_text(re.compile("Online|Offline|Last seen"))
    composer = page.locator("#composer-body")
    composer.focus()

    # Shift+Tab from the composer reaches the message's "Message actions" button, shown.
    for _ in range(12):
        page.keyboard.press("Shift+Tab")
        if page.evaluate("document.activeElement.getAttribute('aria-label')") == "Message actions":
            break
    button = page.get_by_role("button", name="Message actions")
    expect(button).to_be_focused()
    assert page.evaluate("getComputedStyle(document.activeElement).opacity") == "1"

    # Enter opens the menu on its first item; arrows move; Escape closes it onto the button.
    page.keyboard.press("Enter")
    menu = page.get_by_role("menu", name="Message actions")
    expect(menu.get_by_role("menuitem", name="Reply")).to_be_focused()
    page.keyboard.press("ArrowDown")
    expect(menu.get_by_role("menuitem", name="React 👍")).to_be_focused()
    page.keyboard.press("Escape")
    expect(menu).to_have_count(0)
    expect(button).to_be_focused()

    # Reply from the keyboard, then cancel it: the next message is sent without a quote.
    page.keyboard.press("Enter")
    page.keyboard.press("Enter")
    context = page.locator("#compose-context")
    expect(context).to_contain_text("Replying to alice")
    expect(composer).to_be_focused()
    context.get_by_role("button", name="Cancel reply").click()
    expect(context).to_be_hidden()
    composer.fill("not a reply")
    composer.press("Enter")
    expect(body(page, 2)).to_have_text("not a reply")
    expect(page.locator("#msg-2 [data-field=quote]")).to_be_hidden()
    assert Message.objects.get(chat=chat, seq=2).reply_to_id is None
