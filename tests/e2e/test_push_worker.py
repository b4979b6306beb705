"""Issue 17: the service worker's push and notificationclick handlers in Chromium. No real
push service is reachable here, so pushes are delivered to the worker with CDP
(`ServiceWorker.deliverPushMessage`), which fires a real `push` event."""

from __future__ import annotations

import json
import time

import pytest
from playwright.sync_api import expect

from tests.factories import make_chat

pytestmark = pytest.mark.browser

CONTROLLED = "() => navigator.serviceWorker.controller !== null"
NOTIFICATIONS = """() => self.registration.getNotifications().then((all) =>
    all.map((n) => ({title: n.title, body: n.body, tag: n.tag, url: n.data && n.data.url})))"""


class Worker:
    def __init__(self, browsing, context, page):
        self.url = browsing.url
        self.context = context
        self.cdp = context.new_cdp_session(page)
        self.registrations = []
        self.cdp.on(
            "ServiceWorker.workerRegistrationUpdated",
            lambda event: self.registrations.extend(event["registrations"]),
        )
        self.cdp.send("ServiceWorker.enable")
        deadline = time.monotonic() + 10
        while not self.registrations:
            assert time.monotonic() < deadline
            page.wait_for_timeout(50)  # CDP events arrive while Playwright waits
        self.worker = context.service_workers[0]

    def push(self, payload):
        (registration,) = {r["registrationId"] for r in self.registrations if not r["isDeleted"]}
        self.cdp.send(
            "ServiceWorker.deliverPushMessage",
            {"origin": self.url, "registrationId": registration, "data": json.dumps(payload)},
        )

    def notifications(self):
        return self.worker.evaluate(NOTIFICATIONS)

    def wait_notifications(self, count):
        deadline = time.monotonic() + 10
        while len(shown := self.notifications()) != count:
            assert time.monotonic() < deadline, shown
            time.sleep(0.05)  # polling the browser, not a timed assertion
        return shown


def payload(chat, seq, body, sender="bob"):
    return {
        "type": "message",
        "chat": chat.pk,
        "seq": seq,
        "sender": sender,
        "body": body,
        "url": f"/chats/{chat.pk}/",
    }


def test_a_push_shows_one_notification_per_chat_and_none_for_a_visible_chat(browsing, alice, bob):
    chat = make_chat(alice, bob)
    context = browsing.context(alice, permissions=["notifications"])
    page = browsing.page(context, "/chats/")
    page.wait_for_function(CONTROLLED, timeout=60_000)  # install precaches
    worker = Worker(browsing, context, page)

    worker.push(payload(chat, 1, "hello"))
    shown = worker.wait_notifications(1)
    assert shown == [
        {"title": "bob", "body": "hello", "tag": f"chat-{chat.pk}", "url": f"/chats/{chat.pk}/"}
    ]

    worker.push(payload(chat, 2, None))  # previews off: no text
    time.sleep(0.3)
    assert worker.wait_notifications(1)[0]["body"] == "New message"  # replaced, still one

    worker.worker.evaluate(
        "() => self.registration.getNotifications().then((a) => a.forEach((n) => n.close()))"
    )
    worker.wait_notifications(0)
    page.goto(f"{browsing.url}/chats/{chat.pk}/")
    expect(page.locator("#chat")).to_be_visible()
    worker.push(payload(chat, 3, "you see this already"))
    time.sleep(0.5)  # nothing may appear: give the worker time to (not) show it
    assert worker.notifications() == []


# Headless Chromium has no notification to click and CDP cannot click one, so the click is a
# NotificationEvent dispatched in the worker on the real notification. A script-made event
# gets no permission to focus or open windows, so those two calls are recorded instead of made.
RECORD_WINDOW_CALLS = """() => {
  self.windowCalls = [];
  let called;
  self.windowCalled = new Promise((resolve) => { called = resolve; });
  const path = (url) => new URL(url, self.location.origin).pathname;
  WindowClient.prototype.focus = function () {
    self.windowCalls.push(["focus", path(this.url)]);
    called();
    return Promise.resolve(this);
  };
  Clients.prototype.openWindow = function (url) {
    self.windowCalls.push(["open", path(url)]);
    called();
    return Promise.resolve(null);
  };
}"""
CLICK = """async () => {
  const [notification] = await self.registration.getNotifications();
  self.dispatchEvent(new NotificationEvent("notificationclick", { notification }));
  await self.windowCalled;
  return self.windowCalls;
}"""


def test_a_notification_click_focuses_the_chats_tab_or_opens_one(browsing, alice, bob, carol):
    chat, other = make_chat(alice, bob), make_chat(alice, carol)
    context = browsing.context(alice, permissions=["notifications"])
    page = browsing.page(context, f"/chats/{other.pk}/")
    page.wait_for_function(CONTROLLED, timeout=60_000)
    worker = Worker(browsing, context, page)
    worker.worker.evaluate(RECORD_WINDOW_CALLS)

    worker.push(payload(chat, 1, "no tab shows this chat"))
    worker.wait_notifications(1)
    assert worker.worker.evaluate(CLICK) == [["open", f"/chats/{chat.pk}/"]]
    worker.wait_notifications(0)  # the click closed it

    worker.worker.evaluate(RECORD_WINDOW_CALLS)
    worker.push(payload(chat, 2, "now a tab will"))
    worker.wait_notifications(1)
    # The chat's tab opens after its notification showed (and a query string changes nothing).
    chat_page = browsing.page(context, f"/chats/{chat.pk}/?from=elsewhere")
    expect(chat_page.locator("#chat")).to_be_visible()
    assert worker.worker.evaluate(CLICK) == [["focus", f"/chats/{chat.pk}/"]]
    worker.wait_notifications(0)


FAKE_SUBSCRIBE = """(subscription) => {
  // The browser's push service is out of reach here: subscribe() answers as it would.
  PushManager.prototype.subscribe = async function (options) {
    const key = btoa(String.fromCharCode(...new Uint8Array(options.applicationServerKey)));
    sessionStorage.setItem("key", key.replace(/[+]/g, "-").replace(/[/]/g, "_").replace(/=+$/, ""));
    return { toJSON: () => subscription };
  };
}"""


def test_turning_push_on_asks_permission_on_click_and_lists_the_browser(browsing, alice):
    from django.conf import settings

    from push.models import PushSubscription
    from push.vapid import public_key_of
    from tests.support.webpush import BrowserKeys

    subscription = BrowserKeys().subscription("https://fcm.googleapis.com/fcm/send/e2e-browser")
    context = browsing.context(alice, permissions=["notifications"])
    context.add_init_script(script=f"({FAKE_SUBSCRIBE})({json.dumps(subscription)})")
    page = browsing.page(context, "/accounts/profile/")
    section = page.locator("#push-settings")
    expect(section.get_by_text("No browser is subscribed.")).to_be_visible()

    section.get_by_role("button", name="Turn on for this browser").click()
    expect(section.get_by_role("button", name="Remove")).to_have_count(1)
    stored = PushSubscription.objects.get()
    assert (stored.endpoint, stored.p256dh) == (
        subscription["endpoint"],
        subscription["keys"]["p256dh"],
    )
    # Subscribed with the server's VAPID key (the server runs on this checkout's key file).
    assert page.evaluate("sessionStorage.getItem('key')") == public_key_of(
        settings.VAPID_PRIVATE_KEY
    )

    section.get_by_role("button", name="Remove").click()
    expect(section.get_by_text("No browser is subscribed.")).to_be_visible()
    assert not PushSubscription.objects.exists()
    assert browsing.csp_violations == []


def test_a_denied_permission_says_so_and_stores_nothing(browsing, alice):
    from push.models import PushSubscription

    context = browsing.context(alice)  # notifications not granted: headless Chromium denies
    page = browsing.page(context, "/accounts/profile/")
    page.get_by_role("button", name="Turn on for this browser").click()
    expect(page.locator("#push-status")).to_contain_text("blocked")
    assert not PushSubscription.objects.exists()
