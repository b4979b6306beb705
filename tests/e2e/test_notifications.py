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


def test_a_muted_chat_shows_no_toast_and_plays_no_sound_but_still_counts(
    alice, bob, carol, browsing
):
    """Issue 17: mute stops toasts and sounds (the page knows at load, and a `muted` frame
    changes it live); the unread badge still counts."""
    from push import mutes

    quiet, loud = make_chat(alice, bob), make_chat(alice, carol)
    mutes.chat_mute_set(user=alice, chat_id=quiet.pk, muted=True)
    alice.toast_sound = True
    alice.save(update_fields=["toast_sound"])
    context = browsing.context(alice)
    context.add_init_script(COUNT_TONES)
    page = browsing.page(context, path=None)
    hello = hello_for(quiet, last_seq=0)
    hello["chats"].append({**hello["chats"][0], "id": loud.pk, "peer": "carol"})
    server = FakeServer(page, hello)
    page.goto(f"{browsing.url}/chats/")
    assert page.locator("body").get_attribute("data-muted-chats") == str(quiet.pk)
    server.wait_for(lambda: server.sockets, "the socket")
    page.locator("body").click()  # audio needs an interaction first
    toasts = page.locator(".toast")

    def arrives(chat, seq, body, sender, unread):
        server.push({"type": "message", "message": payload(chat, seq, body, sender)})
        server.push({"type": "unread", "chat": chat.pk, "unread": unread, "unread_total": seq})

    arrives(quiet, 1, "muted news", "bob", 1)
    arrives(loud, 2, "loud news", "carol", 1)
    expect(toasts).to_have_count(1)  # frames are handled in order: the muted one came first
    expect(toasts).to_contain_text("loud news")
    badge = page.locator(f'li.chatitem[data-chat-id="{quiet.pk}"] [data-field="unread"]')
    expect(badge).to_have_attribute("data-count", "1")  # muted, still counted
    page.wait_for_function("window.tones === 2")  # one chime: two tones
    marks = page.locator('.chatitem [data-field="muted"]:visible')
    expect(marks).to_have_count(1)
    expect(
        page.locator(f'li.chatitem[data-chat-id="{quiet.pk}"] [data-field="muted"]')
    ).to_be_visible()
    page.keyboard.press("Escape")
    expect(toasts).to_have_count(0)

    # Muted and unmuted in another tab or device: this tab follows.
    server.push({"type": "muted", "chat": loud.pk, "muted": True})
    server.push({"type": "muted", "chat": quiet.pk, "muted": False})
    arrives(loud, 3, "now muted", "carol", 2)
    arrives(quiet, 4, "now heard", "bob", 2)
    expect(toasts).to_have_count(1)
    expect(toasts).to_contain_text("now heard")
    expect(badge).to_have_attribute("data-count", "2")
    page.wait_for_function("window.tones === 4")
    expect(marks).to_have_count(1)
    expect(
        page.locator(f'li.chatitem[data-chat-id="{loud.pk}"] [data-field="muted"]')
    ).to_be_visible()
