"""Issue 2 smoke test in a real browser: sign up (terms), log out, log in."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import screenshots
from tests.factories import PASSWORD

pytestmark = pytest.mark.browser


def test_sign_up_log_out_and_log_in_again(browsing):
    context = browsing.context()
    page = browsing.page(context, "/")
    screenshots(page, "home")

    page.get_by_role("link", name="Sign up").first.click()
    expect(page).to_have_url(re.compile(r"/accounts/signup/$"))
    page.get_by_label("Username").fill("dana")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Password confirmation").fill(PASSWORD)
    screenshots(page, "signup")
    page.get_by_role("button", name="Sign up").click()
    # The terms are required: the form comes back with the error and nothing is created.
    expect(page.locator(".field.has-error")).to_have_count(1)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Password confirmation").fill(PASSWORD)
    page.get_by_role("checkbox").check()
    page.get_by_role("button", name="Sign up").click()

    expect(page).to_have_url(re.compile(r"/chats/$"))
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="dana")).to_be_visible()
    expect(page.get_by_text("No chats yet.")).to_be_visible()
    screenshots(page, "chats-empty")

    nav.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(re.compile(r"/accounts/login/$"))
    screenshots(page, "login")
    page.get_by_label("Username").fill("DANA")  # usernames match case-insensitively
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()

    expect(page).to_have_url(re.compile(r"/chats/$"))
    expect(nav.get_by_role("link", name="dana")).to_be_visible()
    assert browsing.csp_violations == []
