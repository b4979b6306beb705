"""axe-core on every page, light and dark: no serious or critical violations.

axe is vendored from the npm package (tests/e2e/fixtures/axe.min.js, see the README there)
and evaluated in the page through DevTools, so the site's own Content-Security-Policy stays
on while it runs: the pages are checked exactly as users get them.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from chats import services
from chats.models import Message
from tests.e2e.conftest import settle
from tests.factories import make_chat, make_messages

pytestmark = pytest.mark.browser

AXE = (Path(__file__).parent / "fixtures" / "axe.min.js").read_text()
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]
BLOCKING = {"serious", "critical"}


def axe_problems(page, label: str) -> list[str]:
    """Serious and critical axe violations on the current page, in both colour schemes."""
    # After a form post the new document can be visible to a locator before its stylesheet
    # has loaded; measured then, the unstyled page's links are tiny targets.
    page.wait_for_load_state("load")
    if not page.evaluate("() => Boolean(window.axe)"):
        page.evaluate(AXE)
    problems = []
    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)
        settle(page)  # colours mid-transition would be measured wrong
        result = page.evaluate(
            "(tags) => axe.run(document, {runOnly: {type: 'tag', values: tags},"
            " resultTypes: ['violations']})",
            AXE_TAGS,
        )
        for violation in result["violations"]:
            if violation["impact"] not in BLOCKING:
                continue
            targets = [json.dumps(node["target"]) for node in violation["nodes"][:5]]
            problems.append(
                f"{label} [{scheme}] {violation['id']} ({violation['impact']}): "
                f"{violation['help']} at {', '.join(targets)}"
            )
    page.emulate_media(color_scheme="light")
    return problems


def test_public_pages_have_no_serious_axe_violations(browsing):
    context = browsing.context()
    page = browsing.page(context, None)
    problems = []
    for path, label in [
        ("/", "home"),
        ("/accounts/signup/", "signup"),
        ("/accounts/login/", "login"),
        ("/terms/", "terms"),
        ("/admin/login/", "admin login"),
    ]:
        page.goto(browsing.url + path)
        problems += axe_problems(page, label)

    # Forms showing their errors.
    page.goto(browsing.url + "/accounts/signup/")
    page.get_by_label("Username").fill("x")
    page.get_by_role("button", name="Sign up").click()
    expect(page.locator(".field.has-error").first).to_be_visible()
    problems += axe_problems(page, "signup with errors")
    page.goto(browsing.url + "/accounts/login/")
    page.get_by_label("Username").fill("nobody")
    page.get_by_label("Password").fill("wrong")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_be_visible()
    problems += axe_problems(page, "login with errors")
    assert problems == []
    assert browsing.csp_violations == []


@pytest.fixture
def lived_in(alice, bob, carol):
    """alice's account with history: read and unread messages, yesterday and today, a removed
    one and a long unbroken word (made before the browser starts)."""
    with_bob = make_chat(alice, bob)
    make_chat(alice, carol)
    make_messages(with_bob, bob, 3)
    make_messages(with_bob, alice, 2)
    Message.objects.filter(chat=with_bob, seq__lte=3).update(
        created_at=timezone.now() - timedelta(days=1)
    )
    Message.objects.filter(chat=with_bob, seq=2).update(removed_at=timezone.now())
    services.message_send(
        sender=bob,
        chat_id=with_bob.pk,
        client_id="x" * 8,
        body="see https://example.com/" + "a" * 90,
    )
    services.chat_mark_read(user=alice, chat_id=with_bob.pk, seq=3)
    return with_bob


def test_signed_in_pages_have_no_serious_axe_violations(lived_in, browsing, alice, bob):
    context = browsing.context(alice)
    page = browsing.page(context, None)
    problems = []
    for path, label in [
        ("/chats/", "chat list"),
        ("/chats/new/", "new chat"),
        ("/search/?q=bo", "search results"),
        ("/search/?q=zz", "search without results"),
        ("/accounts/profile/", "profile"),
        ("/accounts/password/", "password"),
        ("/accounts/delete/", "delete account"),
    ]:
        page.goto(browsing.url + path)
        problems += axe_problems(page, label)

    # The chat, live: presence from the server, the unread divider, a message menu open.
    bob_page = browsing.page(browsing.context(bob), f"/chats/{lived_in.pk}/")
    page.goto(f"{browsing.url}/chats/{lived_in.pk}/")
    expect(page.locator("#presence")).to_have_text("Online")
    expect(page.locator("#unread-divider")).to_be_visible()
    bob_page.get_by_role("textbox", name="Message alice").fill("typing…")
    bob_page.get_by_role("textbox", name="Message alice").press("Enter")
    expect(page.locator("#message-list li.msg", has_text="typing…")).to_be_visible()
    page.locator("li.msg.theirs").last.get_by_label("Message options").click()
    page.get_by_text("Report", exact=True).last.click()
    expect(page.get_by_role("button", name="Report message")).to_be_visible()
    problems += axe_problems(page, "chat")

    # Phone: one screen at a time.
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(browsing.url + "/chats/")
    problems += axe_problems(page, "chat list (phone)")
    page.goto(f"{browsing.url}/chats/{lived_in.pk}/")
    expect(page.get_by_role("heading", level=1, name="bob")).to_be_visible()
    problems += axe_problems(page, "chat (phone)")

    # Blocked: the header offers Unblock, the composer explains why it is off.
    page.get_by_role("button", name="Block bob").click()
    problems += axe_problems(page, "chat, confirm block (phone)")
    page.get_by_role("dialog").get_by_role("button", name="Block", exact=True).click()
    expect(page.get_by_role("button", name="Unblock bob")).to_be_visible()
    problems += axe_problems(page, "chat, blocked (phone)")
    assert problems == []
    assert browsing.csp_violations == []
