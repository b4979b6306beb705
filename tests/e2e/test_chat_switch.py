"""Issue 23, item 7 in a real browser: switching chats from the list swaps the conversation in
place (htmx, the URL pushed) on the tab's one socket; back and forward land on the right chat;
drafts are kept per chat; without JavaScript the list's links are plain links."""

from __future__ import annotations

import json
import re
import time

import pytest
from playwright.sync_api import expect

from chats import services
from chats.models import Message
from tests.e2e.test_accessibility import axe_problems
from tests.factories import make_chat, make_messages

pytestmark = pytest.mark.browser


def chat_link(page, chat):
    return page.locator(f'#chatlist li.chatitem[data-chat-id="{chat.pk}"] a')


def badge(page, chat):
    return page.locator(f'#chatlist li.chatitem[data-chat-id="{chat.pk}"] [data-field="unread"]')


def showing(page, url, chat, peer):
    expect(page).to_have_url(f"{url}/chats/{chat.pk}/")
    expect(page.locator("#chat")).to_have_attribute("data-chat-id", str(chat.pk))
    expect(page.locator("#peer-name")).to_have_text(peer)
    current = page.locator("#chatlist li.chatitem.current")
    expect(current).to_have_count(1)
    expect(current).to_have_attribute("data-chat-id", str(chat.pk))
    expect(page).to_have_title(re.compile(rf"{peer} · Chatsite$"))


def synced_once_more(page, frames, chat, seen):
    """Wait for the sync the switch sent for `chat` to be answered (its frames are in)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if any(f["type"] == "synced" and f.get("chat") == chat.pk for f in frames[seen:]):
            return
        page.wait_for_timeout(50)
    pytest.fail("the switched-in chat was never synced")


def test_switching_chats_keeps_the_page_its_one_socket_and_each_chats_draft(
    browsing, alice, bob, carol
):
    with_bob = make_chat(alice, bob)
    with_carol = make_chat(alice, carol)
    make_messages(with_bob, bob, 2)
    make_messages(with_carol, carol, 3)
    services.chat_mark_read(user=alice, chat_id=with_bob.pk, seq=2)
    services.chat_mark_read(user=alice, chat_id=with_carol.pk, seq=3)
    url = browsing.url
    page = browsing.page(browsing.context(alice), None)
    sockets, frames = [], []

    def watch(ws):
        sockets.append(ws)
        ws.on("framereceived", lambda payload: frames.append(json.loads(payload)))

    page.on("websocket", watch)
    page.goto(f"{url}/chats/{with_bob.pk}/")
    expect(page.locator("#presence")).to_have_text(re.compile("Online|Offline|Last seen"))
    page.evaluate("window.__sameDocument = true")  # gone if the page ever loads again
    box = page.locator("#composer-body")
    box.fill("half a thought for bob")

    # To carol's chat from the list: swapped in place, the URL pushed, no draft of bob's.
    seen = len(frames)
    chat_link(page, with_carol).click()
    showing(page, url, with_carol, "carol")
    expect(page.locator("#message-list li.msg")).to_have_count(3)
    expect(box).to_have_value("")
    expect(box).to_be_focused()
    expect(page.locator("#chat-announcer")).to_have_text("Chat with carol")
    synced_once_more(page, frames, with_carol, seen)
    assert axe_problems(page, "a chat switched in place") == []

    # The socket serves the new chat: a send is stored once, in carol's chat.
    box.fill("hello carol")
    box.press("Enter")
    expect(page.locator("#message-list li.msg", has_text="hello carol")).to_have_count(1)
    tick = page.locator("#msg-4 .tick")
    expect(tick).to_have_attribute("data-status", re.compile("sent|delivered|read"))
    assert Message.objects.filter(chat=with_carol, body="hello carol").count() == 1

    # Bob writes while carol's chat is open: his chat's badge and a toast, not carol's chat.
    b = browsing.page(browsing.context(bob), f"/chats/{with_bob.pk}/")
    expect(b.locator("#presence")).to_have_text(re.compile("Online|Offline|Last seen"))
    b.locator("#composer-body").fill("while you were in another chat")
    b.locator("#composer-body").press("Enter")
    expect(badge(page, with_bob)).to_have_text(re.compile(r"^1"))
    expect(page.locator("#toasts .toast")).to_contain_text("while you were in another chat")
    expect(page.locator("#message-list li.msg", has_text="while you were")).to_have_count(0)

    # Back to bob's chat by his toast (in place too): his message shows exactly once, the
    # draft is back, the badge clears.
    seen = len(frames)
    page.locator("#toasts .toast-link").click()
    showing(page, url, with_bob, "bob")
    synced_once_more(page, frames, with_bob, seen)
    expect(page.locator("#message-list li.msg", has_text="while you were in")).to_have_count(1)
    expect(page.locator("#message-list li.msg")).to_have_count(3)
    expect(box).to_have_value("half a thought for bob")
    expect(badge(page, with_bob)).to_be_hidden()

    # Back and forward land on the right chat, still in the same page.
    page.go_back()
    showing(page, url, with_carol, "carol")
    expect(page.locator("#message-list li.msg", has_text="hello carol")).to_have_count(1)
    page.go_back()
    showing(page, url, with_bob, "bob")
    page.go_forward()
    showing(page, url, with_carol, "carol")
    page.go_forward()
    showing(page, url, with_bob, "bob")
    expect(box).to_have_value("half a thought for bob")
    assert page.evaluate("window.__sameDocument") is True
    assert len(sockets) == 1, "switching chats opened another socket"
    assert sum(f["type"] == "hello" for f in frames) == 1
    assert browsing.csp_violations == []

    # A reload lands on bob's chat with the draft; a sent draft is gone for good.
    page.reload()
    showing(page, url, with_bob, "bob")
    expect(box).to_have_value("half a thought for bob")
    box.press("Enter")
    expect(page.locator("#message-list li.msg", has_text="half a thought for bob")).to_have_count(1)
    page.reload()
    expect(page.locator("#message-list li.msg", has_text="half a thought for bob")).to_have_count(1)
    expect(box).to_have_value("")


def test_on_a_phone_the_list_and_the_chats_switch_in_place(browsing, alice, bob, carol):
    with_bob = make_chat(alice, bob)
    with_carol = make_chat(alice, carol)
    make_messages(with_bob, bob, 1)
    make_messages(with_carol, carol, 1)
    url = browsing.url
    context = browsing.context(alice, has_touch=True, is_mobile=True)
    page = browsing.page(context, None)
    sockets = []
    page.on("websocket", lambda ws: sockets.append(ws))
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{url}/chats/")
    page.evaluate("window.__sameDocument = true")
    expect(page.locator(".chat-panel.placeholder")).to_be_hidden()  # one screen: the list
    chat_link(page, with_bob).click()
    showing(page, url, with_bob, "bob")
    expect(page.locator("#chatlist")).to_be_hidden()
    expect(page.locator("#peer-name")).to_be_focused()  # no keyboard popping up on a phone

    # The chat's "Chats" link goes back to the list in place, focus on the chat just left.
    page.get_by_role("link", name="Back to Chats").click()
    expect(page).to_have_url(f"{url}/chats/")
    expect(page.locator("#chatlist")).to_be_visible()
    expect(page.locator("#chat")).to_have_count(0)
    expect(chat_link(page, with_bob)).to_be_focused()
    expect(page).to_have_title(re.compile(r"Chats · Chatsite$"))
    chat_link(page, with_carol).click()
    showing(page, url, with_carol, "carol")
    page.go_back()
    expect(page).to_have_url(f"{url}/chats/")
    expect(page.locator("#chatlist")).to_be_visible()
    page.go_back()
    showing(page, url, with_bob, "bob")
    assert page.evaluate("window.__sameDocument") is True
    assert len(sockets) == 1
    assert axe_problems(page, "a chat switched in place (phone)") == []


def test_without_javascript_the_chat_list_links_load_whole_pages(browsing, alice, bob, carol):
    with_bob = make_chat(alice, bob)
    with_carol = make_chat(alice, carol)
    make_messages(with_carol, carol, 1)
    context = browsing.context(alice, java_script_enabled=False)
    page = browsing.page(context, f"/chats/{with_bob.pk}/")
    expect(page.locator("#peer-name")).to_have_text("bob")
    chat_link(page, with_carol).click()
    expect(page).to_have_url(f"{browsing.url}/chats/{with_carol.pk}/")
    expect(page.locator("#peer-name")).to_have_text("carol")
    expect(page.locator("#chatlist li.chatitem")).to_have_count(2)
    expect(page.locator("#message-list li.msg")).to_have_count(1)
