"""Issue 23, item 8: the phone header fits one row and leaves the screen to the chat; Log out
lives in the menu behind the user's name, with the profile (and Moderation for staff)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import PHONE
from tests.factories import UserFactory, make_chat, make_messages

pytestmark = pytest.mark.browser


@pytest.fixture
def busy(alice, bob, carol):
    """alice has 120 unread messages from bob, and a quiet chat with carol."""
    make_messages(make_chat(alice, bob), bob, 120)
    return make_chat(alice, carol)


def test_phone_header_keeps_one_row_and_at_most_15_percent_of_the_screen(busy, browsing, alice):
    context = browsing.context(alice, has_touch=True, is_mobile=True)
    page = browsing.page(context, path=None)
    page.set_viewport_size(PHONE)
    page.goto(f"{browsing.url}/chats/{busy.pk}/")
    badge = page.locator("#unread-total")
    expect(badge).to_have_text(re.compile(r"^\d{3}|99\+$"))
    topbar = page.locator("header.topbar").bounding_box()
    head = page.locator(".chat-head").bounding_box()
    assert topbar["height"] + head["height"] <= 0.15 * PHONE["height"]
    # One row: every visible item of the bar overlaps every other vertically.
    boxes = page.evaluate(
        """() => [...document.querySelectorAll('.topbar .brand, .topnav > *')]
                 .filter((n) => n.getClientRects().length)
                 .map((n) => n.getBoundingClientRect())
                 .map((r) => [r.top, r.bottom])"""
    )
    assert max(top for top, _ in boxes) < min(bottom for _, bottom in boxes), boxes
    expect(page.get_by_role("button", name="Log out")).to_be_hidden()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


def test_log_out_and_profile_are_in_the_menu_behind_the_users_name(browsing, alice):
    page = browsing.page(browsing.context(alice), "/chats/")
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("button", name="Log out")).to_be_hidden()
    expect(nav.get_by_role("link", name="Moderation")).to_have_count(0)
    nav.locator(".usermenu summary").click()
    expect(nav.get_by_role("link", name="Profile")).to_be_visible()
    page.keyboard.press("Escape")
    expect(nav.get_by_role("link", name="Profile")).to_be_hidden()
    nav.locator(".usermenu summary").click()
    nav.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(re.compile(r"/accounts/login/$"))


def test_staff_see_moderation_in_the_user_menu(browsing):
    staff = UserFactory(username="mod", is_staff=True)
    page = browsing.page(browsing.context(staff), "/chats/")
    nav = page.get_by_role("navigation", name="Main")
    nav.locator(".usermenu summary").click()
    expect(nav.get_by_role("link", name="Moderation")).to_have_attribute("href", "/admin/")
