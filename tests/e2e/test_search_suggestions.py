"""Issue 23, item 10: the top bar's search suggests people as one types."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.factories import UserFactory

pytestmark = pytest.mark.browser


def test_header_search_suggests_people_as_you_type(alice, browsing):
    UserFactory(username="bernard")
    UserFactory(username="bernice")
    page = browsing.page(browsing.context(alice), "/chats/")
    field = page.get_by_role("searchbox", name="Search people")
    field.press_sequentially("bern")
    suggestions = page.locator("#topsearch-results")
    expect(suggestions.locator("li.person")).to_have_count(2)
    expect(suggestions.get_by_role("button", name="Message bernice")).to_be_visible()
    assert page.url.endswith("/chats/")  # no page load, no URL change
    field.press_sequentially("ic")
    expect(suggestions.locator("li.person")).to_have_count(1)
    field.fill("")
    expect(suggestions).to_be_hidden()
    # Enter still opens the search page (as without JavaScript).
    field.fill("bernard")
    field.press("Enter")
    expect(page).to_have_url(re.compile(r"/search/\?q=bernard$"))
    expect(page.locator("#search-results li.person")).to_have_count(1)
    assert browsing.csp_violations == []
