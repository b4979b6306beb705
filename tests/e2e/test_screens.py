"""The main screens with lived-in data: nothing overflows sideways from 320 px phones to
desktops, in light and dark; each run saves their screenshots (see conftest.screenshots)."""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from chats import services
from chats.models import Chat, Message
from tests.e2e.conftest import SCREENSHOTS, screenshots, settle
from tests.factories import UserFactory, make_chat

pytestmark = pytest.mark.browser

WIDTHS = (320, 390, 1280)

# (sender, body, minutes ago); yesterday's first, so the chat shows two days.
BOB = [
    ("bob", "Morning! Did the train strike hit you too?", 26 * 60),
    ("alice", "It did. I worked from home, honestly not bad.", 26 * 60 - 3),
    ("bob", "Same. Sent you the plan for Saturday.", 26 * 60 - 5),
    ("bob", "Ferry at 9:40, lunch on the island, back by six.", 26 * 60 - 5),
    ("alice", "Sounds great. The timetable is here: https://example.com/ferry/timetable", 42),
    ("bob", "Perfect!", 40),
    ("bob", "Shall I book a table? The place by the harbour fills up fast.", 39),
    ("alice", "Yes please, for four.", 12),
    ("alice", "Carol and Dave are in.", 11),
    ("bob", "Booked for 12:30 under my name.", 3),
]
CAROL = [("carol", "Are we still on for Saturday? I can bring the picnic blanket.", 8)]


def sent_at(minutes_ago: int) -> datetime:
    """`minutes_ago` before now, on the day the conversation means whatever the hour the suite
    runs at (the browser and the server both use the machine's UTC day): the part of a day
    ago yesterday morning, in order; the recent part within today, squeezed after midnight
    when the run starts less than an hour into the day."""
    now = timezone.now()
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    if minutes_ago >= 24 * 60:
        return midnight - timedelta(hours=14, minutes=minutes_ago - 26 * 60)
    if now - midnight > timedelta(hours=1):
        return now - timedelta(minutes=minutes_ago)
    return midnight + (now - midnight) * (1 - minutes_ago / 60)


def send(chat: Chat, users: dict, sender: str, body: str, minutes_ago: int) -> Message:
    message, _ = services.message_send(
        sender=users[sender], chat_id=chat.pk, client_id=str(uuid.uuid4()), body=body
    )
    created = sent_at(minutes_ago)
    Message.objects.filter(pk=message.pk).update(created_at=created)
    Chat.objects.filter(pk=chat.pk).update(last_message_at=created)
    return message


@pytest.fixture
def people(alice, bob, carol):
    """alice's chats: bob (all read both ways), carol (one unread), dave (nothing yet)."""
    dave = UserFactory(username="dave")
    users = {"alice": alice, "bob": bob, "carol": carol}
    make_chat(alice, dave)
    with_carol = make_chat(alice, carol)
    with_bob = make_chat(alice, bob)
    for sender, body, ago in BOB:
        send(with_bob, users, sender, body, ago)
    for sender, body, ago in CAROL:
        send(with_carol, users, sender, body, ago)
    services.chat_mark_read(user=alice, chat_id=with_bob.pk, seq=len(BOB))
    services.chat_mark_read(user=bob, chat_id=with_bob.pk, seq=len(BOB) - 1)
    return with_bob


def overflow(page) -> list[str]:
    """What is wider than the viewport: the page itself, or a scroll box scrolling sideways."""
    return page.evaluate(
        """() => {
          const wide = [];
          const root = document.documentElement;
          if (root.scrollWidth > root.clientWidth) wide.push(`page ${root.scrollWidth}px`);
          for (const node of document.querySelectorAll("body *")) {
            const style = getComputedStyle(node);
            if (!["auto", "scroll"].includes(style.overflowX)) continue;
            if (node.scrollWidth > node.clientWidth + 1 && node.offsetParent !== null) {
              wide.push(`${node.tagName.toLowerCase()}#${node.id}.${node.className} ` +
                        `${node.scrollWidth}px in ${node.clientWidth}px`);
            }
          }
          return wide;
        }"""
    )


def layout_shift(page) -> float:
    """The page's cumulative layout shift so far (shifts right after user input excluded)."""
    return page.evaluate(
        """() => new Promise((resolve) => {
          let total = 0;
          const add = (entries) => entries.forEach((e) => {
            if (!e.hadRecentInput) total += e.value;
          });
          const observer = new PerformanceObserver((list) => add(list.getEntries()));
          observer.observe({type: "layout-shift", buffered: true});
          setTimeout(() => {
            add(observer.takeRecords());
            observer.disconnect();
            resolve(total);
          }, 50);
        })"""
    )


def check_widths(page, name: str) -> list[str]:
    """Overflow at each width; the narrowest is saved too (artifacts/screenshots/*-320px.png)."""
    problems = []
    original = page.viewport_size
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 640 if width < 390 else 844})
        settle(page)
        problems += [f"{name} at {width}px: {what}" for what in overflow(page)]
        if width == WIDTHS[0]:
            page.screenshot(path=str(SCREENSHOTS / f"{name}-{width}px.png"))
    page.set_viewport_size(original)
    return problems


def test_main_screens_fit_from_320_px_phones_to_desktops(people, browsing, alice, bob):
    problems = []
    anonymous = browsing.page(browsing.context(), None)
    for path, name in [("/", "home"), ("/accounts/login/", "login")]:
        anonymous.goto(browsing.url + path)
        screenshots(anonymous, name, docs=name)
        problems += check_widths(anonymous, name)
    anonymous.goto(browsing.url + "/accounts/signup/")
    anonymous.get_by_label("Username").fill("a b")
    anonymous.get_by_role("button", name="Sign up").click()
    expect(anonymous.locator(".field.has-error").first).to_be_visible()
    screenshots(anonymous, "signup-errors", docs="signup-errors")
    problems += check_widths(anonymous, "signup-errors")

    page = browsing.page(browsing.context(alice), "/chats/")
    expect(page.locator("#chatlist li.chatitem")).to_have_count(3)
    # Loading settles without visible jumps: the server renders day separators and groups as
    # the client will (the client's local time format may still widen a bubble slightly).
    assert layout_shift(page) < 0.02
    screenshots(page, "chats", docs="chats")
    problems += check_widths(page, "chats")

    # The chat with bob online and typing: presence, day separators, groups, receipts, links.
    bob_page = browsing.page(browsing.context(bob), f"/chats/{people.pk}/")
    page.goto(f"{browsing.url}/chats/{people.pk}/")
    expect(page.locator("#presence")).to_have_text("Online")
    online = page.locator('li.chatitem[data-peer="bob"] [data-field=presence]')
    expect(online).to_have_class(re.compile(r"\bonline\b"))
    expect(online).to_have_text("(online)")
    expect(page.locator("#message-list li.day-sep")).to_have_text(["Yesterday", "Today"])
    bob_page.get_by_role("textbox", name="Message alice").press_sequentially("See y")
    expect(page.locator("#typing")).to_have_text("bob is typing…")
    assert layout_shift(page) < 0.02
    screenshots(page, "chat", docs="chat")
    problems += check_widths(page, "chat")

    page.goto(browsing.url + "/search/?q=ca")
    expect(page.locator(".person")).to_have_count(1)
    screenshots(page, "search", docs="search")
    problems += check_widths(page, "search")

    page.goto(browsing.url + "/accounts/profile/")
    screenshots(page, "profile", docs="profile")
    problems += check_widths(page, "profile")
    assert problems == []
    assert browsing.csp_violations == []
