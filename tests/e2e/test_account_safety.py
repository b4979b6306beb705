"""Issue 19 in a real browser: sign up and keep the recovery codes, turn on two-factor
sign-in by scanning (typing) the key, sign in again with a code, recover with a code."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import screenshots
from tests.factories import PASSWORD
from tests.support.totp import totp

pytestmark = pytest.mark.browser

NEW_PASSWORD = "a-recovered-passphrase-8"


def test_sign_up_with_codes_turn_on_2fa_sign_in_with_a_code_and_recover(browsing, tmp_path):
    page = browsing.page(browsing.context(accept_downloads=True), "/accounts/signup/")
    page.get_by_label("Username").fill("erin")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Password confirmation").fill(PASSWORD)
    page.get_by_role("checkbox").check()
    page.get_by_role("button", name="Sign up").click()

    # The codes come before the app, and download as a text file.
    items = page.get_by_role("list", name="Recovery codes").get_by_role("listitem")
    expect(items).to_have_count(10)
    codes = [text.strip() for text in items.all_inner_texts()]
    assert all(re.fullmatch(r"[0-9a-z]{5}-[0-9a-z]{5}", code) for code in codes)
    screenshots(page, "recovery-codes")
    with page.expect_download() as download:
        page.get_by_role("button", name="Download as a text file").click()
    saved = tmp_path / "codes.txt"
    download.value.save_as(saved)
    assert all(code in saved.read_text() for code in codes)
    page.get_by_role("link", name="I have saved my codes, continue").click()
    expect(page).to_have_url(re.compile(r"/chats/$"))

    # Two-factor sign-in from the profile: password, QR code (and the key), one code.
    nav = page.get_by_role("navigation", name="Main")
    nav.locator(".usermenu summary").click()
    nav.get_by_role("link", name="Profile").click()
    page.get_by_role("link", name="Two-factor sign-in").click()
    page.get_by_label("Current password").fill(PASSWORD)
    page.get_by_role("button", name="Set up two-factor sign-in").click()
    expect(page.locator(".qr-code svg")).to_be_visible()
    secret = page.locator("#totp-secret").inner_text()
    screenshots(page, "twofactor-setup")
    page.get_by_label("Code from the app").fill(totp(secret))
    page.get_by_role("button", name="Turn on").click()
    expect(page.locator(".flash")).to_have_text("Two-factor sign-in is on.")

    # Signing in again takes the password, then a code (the next one: each works once).
    nav.locator(".usermenu summary").click()
    nav.get_by_role("button", name="Log out").click()
    page.get_by_label("Username").fill("erin")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/accounts/login/code/$"))
    page.goto(browsing.url + "/chats/")  # the password alone opens nothing
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=(/|%2F)chats(/|%2F)$"))
    page.goto(browsing.url + "/accounts/login/code/")
    page.get_by_label("Code").fill(totp(secret, time.time() + 30))
    page.get_by_role("button", name="Verify").click()
    expect(page).to_have_url(re.compile(r"/chats/$"))
    expect(nav.locator(".usermenu summary")).to_have_text("erin")

    # Forgot the password: a recovery code sets a new one and signs every session out.
    other = browsing.page(browsing.context(), "/accounts/login/")
    other.get_by_role("link", name="Recover your account").click()
    other.get_by_label("Username").fill("erin")
    other.get_by_label("Recovery code").fill(codes[0])
    other.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    other.get_by_label("New password confirmation").fill(NEW_PASSWORD)
    other.get_by_role("button", name="Set new password").click()
    expect(other.get_by_role("status")).to_contain_text("You have 9 recovery codes left")
    expect(page.locator("#conn-status")).to_contain_text("You have been signed out.")

    # The next sign-in: the new password, and a recovery code at the code step.
    other.locator("#main").get_by_role("link", name="Log in").click()
    other.get_by_label("Username").fill("erin")
    other.get_by_label("Password").fill(NEW_PASSWORD)
    other.get_by_role("button", name="Log in").click()
    other.get_by_label("Code").fill(codes[1])
    other.get_by_role("button", name="Verify").click()
    expect(other).to_have_url(re.compile(r"/chats/$"))
    assert browsing.csp_violations == []
