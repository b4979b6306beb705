"""Issue 23, item 9: the favicon shows the unread count, the chat list offers browser
notifications once, and toasts play a short sound when the profile asks for one."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.test_client_protocol import FakeServer, hello_for, payload
from tests.factories import make_chat, make_messages

pytestmark = pytest.mark.browser

ICON = 'link[rel="icon"]'

# Counts the tones the page starts, without playing any.
COUNT_TONES = """
window.tones = 0;
const Original = window.AudioContext;
window.AudioContext = class extends Original {
  createOscillator() {
    const tone = super.createOscillator();
    const start = tone.start.bind(tone);
    tone.start = (...args) => { window.tones += 1; return start(...args); };
    return tone;
  }
};
"""


def test_favicon_shows_the_unread_count_and_clears_when_read(alice, bob, browsing):
    chat = make_chat(alice, bob)
    make_messages(chat, bob, 5)
    page = browsing.page(browsing.context(alice), "/chats/")
    icon = page.locator(ICON)
    expect(icon).to_have_attribute("data-count", "5")
    assert page.evaluate(f"document.querySelector('{ICON}').href").startswith("data:image/png")
    page.goto(f"{browsing.url}/chats/{chat.pk}/")
    expect(page.locator("#unread-total")).to_be_hidden()
    expect(icon).not_to_have_attribute("data-count", "5")
    assert page.evaluate(f"document.querySelector('{ICON}').href").endswith(".svg")


def test_chat_list_offers_notifications_once(alice, browsing):
    context = browsing.context(alice)
    page = browsing.page(context, "/chats/")
    offer = page.get_by_role("region", name="Notifications")
    expect(offer).to_be_visible()
    offer.get_by_role("button", name="Not now").click()
    expect(offer).to_have_count(0)
    page.reload()
    expect(page.locator("#chatlist")).to_be_attached()
    expect(offer).to_have_count(0)


@pytest.mark.parametrize("sound", [True, False])
def test_toasts_play_a_sound_only_when_the_profile_says_so(read_chat, browsing, alice, sound):
    alice.toast_sound = sound
    alice.save(update_fields=["toast_sound"])
    context = browsing.context(alice)
    context.add_init_script(COUNT_TONES)
    page = browsing.page(context, path=None)
    server = FakeServer(page, hello_for(read_chat))
    page.goto(f"{browsing.url}/chats/{read_chat.pk}/")
    server.wait_for(lambda: server.sent("sync"), "the sync")
    page.locator("body").click()  # audio needs an interaction first
    other = {**payload(read_chat, 1, "over here", "carol"), "chat": read_chat.pk + 100}
    server.push({"type": "message", "message": other})
    expect(page.locator(".toast")).to_contain_text("over here")
    if sound:
        page.wait_for_function("window.tones > 0")
    else:
        page.wait_for_timeout(300)
        assert page.evaluate("window.tones") == 0
