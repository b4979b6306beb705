"""Issue 23, item 10: the admin's report list fits a desktop window with the admin's side
navigation and filters open; a long unbroken reported text or reason wraps instead of
widening the table past its box (static/css/admin.css)."""

from __future__ import annotations

import uuid

import pytest
from playwright.sync_api import expect

from chats import moderation, services
from tests.factories import UserFactory, make_chat

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("width", [1280, 1440])
def test_report_list_columns_fit_the_window(browsing, alice, bob, width):
    chat = make_chat(alice, bob)
    services.message_send(sender=bob, chat_id=chat.pk, client_id=str(uuid.uuid4()), body="x" * 3000)
    moderation.report_create(reporter=alice, chat_id=chat.pk, seq=1, reason="y" * 500)
    staff = UserFactory(username="mod", is_staff=True, is_superuser=True)
    page = browsing.page(browsing.context(staff), "/admin/chats/report/")
    page.set_viewport_size({"width": width, "height": 800})
    expect(page.locator("#result_list tbody tr")).to_have_count(1)
    # Django's admin scrolls a too-wide table inside `.results`: nothing may need to scroll.
    overflow = page.evaluate(
        """() => [document.documentElement, document.querySelector('#changelist .results')]
            .map((box) => box.scrollWidth - box.clientWidth)"""
    )
    assert overflow == [0, 0]
