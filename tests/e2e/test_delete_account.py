"""Deleting an account in a real browser: the profile's link, the form, and what the peer's
open chat shows (the erased messages at once; "Deleted account" and no composer after)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import screenshots
from tests.factories import PASSWORD, make_exchange

pytestmark = pytest.mark.browser


def test_delete_my_account_and_everything_i_wrote(browsing, alice, bob):
    chat = make_exchange(alice, bob, "a secret from alice", "hi alice")
    peer = browsing.page(browsing.context(bob), f"/chats/{chat.pk}/")
    expect(peer.locator("#msg-1 .body")).to_contain_text("a secret from alice")

    page = browsing.page(browsing.context(alice), "/accounts/profile/")
    page.get_by_role("link", name="Delete my account").click()
    expect(page).to_have_url(re.compile(r"/accounts/delete/$"))
    page.get_by_label("Current password").fill(PASSWORD)
    page.get_by_label("Type your username to confirm").fill("alice")
    page.get_by_label("Also delete everything I wrote").check()
    screenshots(page, "delete-account")
    page.get_by_role("button", name="Delete my account").click()
    expect(page).to_have_url(browsing.url + "/")
    expect(page.locator(".flash")).to_have_text("Your account was deleted.")

    # The peer's open chat shows the erasure as it happens, on its socket.
    expect(peer.locator("#msg-1")).to_have_attribute("data-deleted", "true")
    expect(peer.locator("#msg-1 .body")).not_to_contain_text("a secret from alice")
    expect(peer.locator("#peer-name")).to_have_text("Deleted account")  # the `renamed` frame
    peer.reload()
    expect(peer.locator("#peer-name")).to_have_text("Deleted account")
    expect(peer.locator("#deleted-note")).to_be_visible()
    expect(peer.locator("#composer-body")).to_be_disabled()
    expect(peer.locator("#msg-2")).to_contain_text("hi alice")
