"""Issue 2 smoke test in a real browser: sign up (terms), log out, log in."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from accounts.models import User
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

    # The recovery codes come before the app (tests/e2e/test_account_safety.py downloads them).
    expect(page.get_by_role("list", name="Recovery codes").get_by_role("listitem")).to_have_count(
        10
    )
    page.get_by_role("link", name="I have saved my codes, continue").click()
    expect(page).to_have_url(re.compile(r"/chats/$"))
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.locator(".usermenu summary")).to_have_text("dana")
    expect(page.get_by_text("No chats yet.")).to_be_visible()
    screenshots(page, "chats-empty")

    nav.locator(".usermenu summary").click()
    nav.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(re.compile(r"/accounts/login/$"))
    screenshots(page, "login")
    page.get_by_label("Username").fill("DANA")  # usernames match case-insensitively
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()

    expect(page).to_have_url(re.compile(r"/chats/$"))
    expect(nav.locator(".usermenu summary")).to_have_text("dana")
    assert browsing.csp_violations == []


def test_change_username_and_password_then_log_out_everywhere(browsing, alice):
    laptop = browsing.context(alice)
    page = browsing.page(laptop, "/chats/")
    phone = browsing.page(browsing.context(alice), "/chats/")  # another session
    nav = page.get_by_role("navigation", name="Main")

    nav.locator(".usermenu summary").click()
    nav.get_by_role("link", name="Profile").click()
    expect(page).to_have_url(re.compile(r"/accounts/profile/$"))
    page.get_by_label("Username").fill("alicia")
    page.get_by_role("button", name="Change username").click()
    expect(page.locator(".flash")).to_have_text("Your username was changed.")
    expect(nav.locator(".usermenu summary")).to_have_text("alicia")
    assert User.objects.get(pk=alice.pk).username == "alicia"

    # A wrong current password is refused with the reason; the right one changes it.
    page.get_by_role("link", name="Change your password").click()
    new_password = "a-new-long-passphrase-7"
    page.get_by_label("Old password").fill("not-my-password")
    page.get_by_label("New password", exact=True).fill(new_password)
    page.get_by_label("New password confirmation").fill(new_password)
    page.get_by_role("button", name="Change password").click()
    expect(page.locator(".field.has-error .error")).to_contain_text("incorrectly")
    page.get_by_label("Old password").fill(PASSWORD)
    page.get_by_label("New password", exact=True).fill(new_password)
    page.get_by_label("New password confirmation").fill(new_password)
    page.get_by_role("button", name="Change password").click()
    expect(page.locator(".flash")).to_have_text("Your password was changed.")

    # The other session is signed out at once, and says so; this one stays in.
    expect(phone.locator("#conn-status")).to_contain_text("You have been signed out.")
    page.goto(browsing.url + "/chats/")
    expect(nav.locator(".usermenu summary")).to_have_text("alicia")

    # Logging out ends the session in every tab that shares it.
    other_tab = browsing.page(laptop, "/chats/")
    nav.locator(".usermenu summary").click()
    nav.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(re.compile(r"/accounts/login/$"))
    banner = other_tab.locator("#conn-status")
    expect(banner).to_contain_text("You have been signed out.")
    banner.get_by_role("link", name="Log in again").click()
    expect(other_tab).to_have_url(re.compile(r"/accounts/login/\?next=%2Fchats%2F$"))
    other_tab.get_by_label("Username").fill("alicia")
    other_tab.get_by_label("Password").fill(new_password)
    other_tab.get_by_role("button", name="Log in").click()
    expect(other_tab).to_have_url(re.compile(r"/chats/$"))
    assert browsing.csp_violations == []
