"""Issue 18 in a real browser: search messages from the top bar, open a result, and the
chat shows that message in view and highlighted, with newer history loading on scroll."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from chats import services
from tests.e2e.test_accessibility import axe_problems
from tests.factories import make_chat, make_messages

pytestmark = pytest.mark.browser


def test_search_then_open_a_result_in_its_place(browsing, alice, bob):
    chat = make_chat(alice, bob)
    make_messages(chat, alice, 39)
    services.message_send(
        sender=bob, chat_id=chat.pk, client_id="the-one", body="Meet me at the Café <mark>!"
    )
    make_messages(chat, bob, 60)  # seq 40 is the one; 100 messages in all
    page = browsing.page(browsing.context(alice), "/chats/")

    page.get_by_role("radio", name="Messages").check()
    field = page.get_by_role("searchbox", name="Search messages")
    field.press_sequentially("cafe")
    suggestion = page.locator("#topsearch-results li.hit")
    expect(suggestion).to_have_count(1)
    expect(suggestion.locator("mark")).to_have_text("Café")
    expect(suggestion.locator(".hit-snippet")).to_contain_text("<mark>!")  # text, not markup
    field.press("Enter")
    expect(page).to_have_url(re.compile(r"/search/messages/\?q=cafe$"))

    expect(page.locator("#search-results li.hit")).to_have_count(1)
    problems = axe_problems(page, "message search results")

    page.locator("#search-results a.hit-link").click()
    expect(page).to_have_url(re.compile(rf"/chats/{chat.pk}/\?around=40#msg-40$"))
    target = page.locator("#msg-40")
    expect(target).to_have_class(re.compile(r"\btarget\b"))
    expect(target).to_be_in_viewport()
    expect(page.locator("#msg-65")).to_be_attached()
    expect(page.locator("#msg-100")).to_have_count(0)
    problems += axe_problems(page, "chat opened at a search result")
    assert problems == []

    # Newer history loads on scroll, up to the end.
    page.locator("#load-newer").scroll_into_view_if_needed()
    expect(page.locator("#msg-100")).to_be_attached()
    expect(page.locator("#load-newer")).to_have_count(0)
    assert browsing.csp_violations == []
