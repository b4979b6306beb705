"""The browser client against a scripted socket server (Playwright's WebSocket routing).

The page comes from the real server; only /ws/ is answered by the test, so the client's side
of the protocol can be driven precisely: sync paging, gap filling, duplicates, retries, errors,
presence and the close codes.
"""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect

from chats import services
from tests.factories import make_chat, make_messages

pytestmark = pytest.mark.browser


class FakeServer:
    """Answers the page's /ws/ socket; records every frame the client sends."""

    def __init__(self, page, hello=None, close_code=None):
        self.page = page
        self.hello = hello
        self.close_code = close_code
        self.frames: list[dict] = []
        self.sockets = []
        self.on = {}
        page.route_web_socket(re.compile(r"/ws/$"), self._accept)

    def _accept(self, ws):
        self.sockets.append(ws)
        if self.close_code is not None:
            ws.close(code=self.close_code, reason="scripted")
            return
        ws.on_message(lambda text: self._received(ws, text))
        ws.send(json.dumps(self.hello))

    def _received(self, ws, text):
        frame = json.loads(text)
        self.frames.append(frame)
        if frame["type"] in self.on:
            self.on[frame["type"]](ws, frame)

    def sent(self, kind):
        return [f for f in self.frames if f["type"] == kind]

    def push(self, frame):
        self.sockets[-1].send(json.dumps(frame))

    def wait_for(self, predicate, what, timeout=10):
        """Poll (letting Playwright deliver socket events) until `predicate()` holds."""
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                pytest.fail(f"timed out waiting for {what}; client sent {self.frames}")
            self.page.wait_for_timeout(20)


def hello_for(chat, last_seq=3, **peer):
    entry = {"id": chat.pk, "peer": "bob", "last_seq": last_seq, "read_seq": 3, "unread": 0}
    return {"type": "hello", "user": "alice", "chats": [{**entry, **peer}], "unread_total": 0}


def payload(chat, seq, body=None, sender="bob", client_id=None):
    return {
        "id": 1000 + seq,
        "chat": chat.pk,
        "seq": seq,
        "sender": sender,
        "body": body or f"live {seq}",
        "sent_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "client_id": client_id or f"client-{seq}",
        "removed": False,
    }


def refuse(code, detail):
    """A handler that answers every frame with an `error` naming its client_id."""

    def answer(ws, frame):
        error = {"type": "error", "code": code, "detail": detail}
        ws.send(json.dumps({**error, "client_id": frame["client_id"], "chat": frame["chat"]}))

    return answer


def bodies(page):
    return page.locator("#message-list li.msg [data-field=body]")


def test_client_syncs_while_more_fills_gaps_and_drops_duplicates(read_chat, browsing, alice):
    chat = read_chat
    page = browsing.page(browsing.context(alice), path=None)
    stored = {seq: payload(chat, seq) for seq in (4, 5)}

    def on_sync(ws, frame):
        # One message per reply, so the client has to follow `more`.
        later = sorted(seq for seq in stored if seq > frame["after"])
        for seq in later[:1]:
            ws.send(json.dumps({"type": "message", "message": stored[seq]}))
        done = {"chat": chat.pk, "last_seq": max(stored), "more": len(later) > 1}
        ws.send(json.dumps({"type": "synced", **done}))

    server = FakeServer(page, hello_for(chat, last_seq=5, peer_status="online"))
    server.on["sync"] = on_sync
    page.goto(f"{browsing.url}/chats/{chat.pk}/")

    expect(bodies(page)).to_have_text(["message 0", "message 1", "message 2", "live 4", "live 5"])
    assert [f["after"] for f in server.sent("sync")] == [3, 4]
    expect(page.locator("#presence")).to_have_text("Online")

    # A live message after a gap: the client syncs from its last contiguous seq.
    stored.update({6: payload(chat, 6), 7: payload(chat, 7)})
    server.push({"type": "message", "message": stored[7]})
    expected = ["message 0", "message 1", "message 2", "live 4", "live 5", "live 6", "live 7"]
    expect(bodies(page)).to_have_text(expected)
    # 6 filled the gap up to the live 7, so `more` continues from 7.
    afters = lambda: [f["after"] for f in server.sent("sync")]  # noqa: E731
    server.wait_for(lambda: len(afters()) == 4, "the sync after the gap")
    assert afters() == [3, 4, 5, 7]
    # Replays of what is shown are dropped; the visible chat is read up to its end.
    server.push({"type": "message", "message": stored[6]})
    server.wait_for(lambda: any(f["seq"] == 7 for f in server.sent("read")), "read up to 7")
    expect(bodies(page)).to_have_text(expected)

    five_minutes_ago = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
    server.push(
        {"type": "presence", "user": "bob", "status": "offline", "last_seen": five_minutes_ago}
    )
    expect(page.locator("#presence")).to_have_text("Last seen 5 minutes ago")

    server.push({"type": "typing", "chat": chat.pk, "user": "bob"})
    expect(page.locator("#typing")).to_have_text("bob is typing…")
    server.push({"type": "message", "message": payload(chat, 8, body="<img src=x>")})
    expect(page.locator("#typing")).to_have_text("")
    expect(bodies(page).last).to_have_text("<img src=x>")
    expect(page.locator("#message-list img")).to_have_count(0)


def test_rate_limited_send_is_retried_with_the_same_client_id(read_chat, browsing, alice):
    chat = read_chat
    page = browsing.page(browsing.context(alice), path=None)
    server = FakeServer(page, hello_for(chat))

    def on_send(ws, frame):
        if len(server.sent("send")) == 1:
            error = {"type": "error", "code": "rate_limited", "detail": "Slow down."}
            ws.send(json.dumps({**error, "client_id": frame["client_id"]}))
            return
        stored = payload(chat, 4, body=frame["body"], sender="alice", client_id=frame["client_id"])
        ws.send(json.dumps({"type": "ack", "client_id": frame["client_id"], "message": stored}))

    server.on["send"] = on_send
    page.goto(f"{browsing.url}/chats/{chat.pk}/")
    box = page.get_by_role("textbox", name="Message bob")
    box.fill("hold on")
    box.press("Enter")
    mine = page.locator("#message-list li.msg.mine", has_text="hold on")
    expect(mine.locator("[data-field=status]")).to_have_text(re.compile("Sent"))
    expect(mine).to_have_count(1)
    sends = server.sent("send")
    assert len(sends) == 2 and sends[0]["client_id"] == sends[1]["client_id"]


def test_refused_send_is_marked_not_sent_and_stays_failed_until_edited(read_chat, browsing, alice):
    chat = read_chat
    page = browsing.page(browsing.context(alice), path=None)
    server = FakeServer(page, hello_for(chat))
    server.on["send"] = refuse("blocked", "You cannot send messages to this user.")
    page.goto(f"{browsing.url}/chats/{chat.pk}/")
    box = page.get_by_role("textbox", name="Message bob")
    box.fill("are you there?")
    box.press("Enter")
    failed = page.locator("#message-list li.msg.failed", has_text="are you there?")
    expect(failed.locator("[data-field=status]")).to_have_text(re.compile("Not sent"))
    expect(failed).to_contain_text("You cannot send messages to this user.")
    outbox = f"JSON.parse(localStorage.getItem('chatsite:outbox:{alice.pk}'))"
    assert page.evaluate(outbox)[0]["failed"] == "blocked"  # kept, as failed
    failed.get_by_role("button", name="Edit").click()
    assert page.evaluate(outbox) is None
    expect(box).to_have_value("are you there?")
    expect(box).to_be_focused()
    expect(failed).to_have_count(0)


def test_client_does_not_reconnect_after_4401_but_backs_off_after_other_closes(
    read_chat, browsing, alice
):
    chat = read_chat
    signed_out = browsing.page(browsing.context(alice), path=None)
    signed_out.clock.install()
    refused = FakeServer(signed_out, close_code=4401)
    signed_out.goto(f"{browsing.url}/chats/{chat.pk}/")
    banner = signed_out.locator("#conn-status")
    expect(banner).to_contain_text("You have been signed out.")
    expect(banner.get_by_role("link", name="Log in again")).to_be_visible()
    signed_out.clock.run_for("05:00")
    assert len(refused.sockets) == 1

    dropped = browsing.page(browsing.context(alice), path=None)
    dropped.clock.install()
    failing = FakeServer(dropped, close_code=1011)
    dropped.goto(f"{browsing.url}/chats/{chat.pk}/")
    expect(dropped.locator("#conn-status")).to_contain_text("Reconnecting…")
    dropped.clock.run_for("01:00")
    failing.wait_for(lambda: len(failing.sockets) >= 4, "reconnect attempts")
    # Backoff doubles up to 30 s: a minute holds a handful of attempts, not a flood.
    assert len(failing.sockets) < 10


def test_message_removed_by_a_moderator_is_replaced_live_and_loses_its_menu(
    read_chat, browsing, alice
):
    chat = read_chat
    page = browsing.page(browsing.context(alice), path=None)
    server = FakeServer(page, hello_for(chat))
    page.goto(f"{browsing.url}/chats/{chat.pk}/")
    history = page.locator("#msg-2")
    expect(history.locator("form.report-form")).to_have_attribute(
        "action", f"/chats/{chat.pk}/messages/2/report/"
    )

    # A live message gets a report form pointing at it (the <template>'s has no URL).
    server.push({"type": "message", "message": payload(chat, 4, body="spam spam")})
    live = page.locator("#msg-4")
    expect(live.locator("[data-field=body]")).to_have_text("spam spam")
    report = live.locator("form.report-form")
    expect(report).to_have_attribute("action", f"/chats/{chat.pk}/messages/4/report/")
    expect(report).to_have_attribute("hx-post", f"/chats/{chat.pk}/messages/4/report/")
    expect(report.locator("textarea")).to_have_attribute("id", "report-reason-4")
    preview = page.locator(f'li.chatitem[data-chat-id="{chat.pk}"] [data-field=preview]')
    expect(preview).to_have_text("spam spam")

    for seq in (2, 4):
        server.push({"type": "message_removed", "chat": chat.pk, "seq": seq, "id": 1000 + seq})
    for node in (history, live):
        expect(node.locator("[data-field=body]")).to_have_text("Message removed by a moderator")
        expect(node).to_have_class(re.compile(r"\bremoved\b"))
        expect(node.locator(".msg-menu")).to_have_count(0)
    expect(preview).to_have_text("Message removed")
    # Frames for another chat, or malformed ones, change nothing.
    server.push({"type": "message_removed", "chat": chat.pk + 1, "seq": 3})
    server.push({"type": "message_removed", "chat": chat.pk, "seq": "3"})
    server.push({"type": "message", "message": payload(chat, 5)})
    expect(bodies(page)).to_have_text(
        [
            "message 0",
            "Message removed by a moderator",
            "message 2",
            *["Message removed by a moderator", "live 5"],
        ]
    )


@pytest.fixture
def long_read_chat(alice, bob):
    chat = make_chat(alice, bob)
    make_messages(chat, bob, 30)
    services.chat_mark_read(user=alice, chat_id=chat.pk, seq=30)
    return chat


def test_new_messages_pill_shows_when_scrolled_up_and_brings_the_reader_down(
    long_read_chat, browsing, alice
):
    chat = long_read_chat
    page = browsing.page(browsing.context(alice), path=None)
    hello = hello_for(chat, last_seq=30)
    hello["chats"][0].update(read_seq=30)
    server = FakeServer(page, hello)
    page.goto(f"{browsing.url}/chats/{chat.pk}/")
    last = page.locator("#msg-30")
    expect(last).to_be_in_viewport()
    pill = page.get_by_role("button", name="New messages")
    expect(pill).to_be_hidden()

    # Pinned to the bottom, a new message keeps the view there: no pill.
    server.push({"type": "message", "message": payload(chat, 31)})
    expect(page.locator("#msg-31")).to_be_in_viewport()
    expect(pill).to_be_hidden()
    server.wait_for(lambda: any(f["seq"] == 31 for f in server.sent("read")), "read up to 31")

    # Scrolled up to read older ones, a new message does not move the view: the pill says so.
    page.locator("#msg-2").scroll_into_view_if_needed()
    # Scroll events are dispatched with the next frame: let two pass before the message.
    page.evaluate("() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))")
    server.push({"type": "message", "message": payload(chat, 32)})
    expect(pill).to_be_visible()
    expect(page.locator("#msg-32")).not_to_be_in_viewport()
    expect(page.locator("#unread-divider")).to_be_attached()
    assert not any(f["seq"] == 32 for f in server.sent("read"))

    pill.click()
    expect(page.locator("#msg-32")).to_be_in_viewport()
    expect(pill).to_be_hidden()
    expect(page.get_by_role("textbox", name="Message bob")).to_be_focused()
    server.wait_for(lambda: any(f["seq"] == 32 for f in server.sent("read")), "read up to 32")


# The Notification API, recorded (the permission lasts the tab's session, as a real grant
# lasts longer); and a page that can be told it is hidden.
NOTIFICATION_STUB = """
window.__notifications = [];
window.__permissionAsked = 0;
window.__hidden = false;
class RecordedNotification {
  static get permission() {
    return sessionStorage.getItem("test:permission") || "default";
  }
  static async requestPermission() {
    window.__permissionAsked += 1;
    sessionStorage.setItem("test:permission", "granted");
    return "granted";
  }
  constructor(title, options) {
    window.__notifications.push({title, body: options.body, tag: options.tag});
  }
  addEventListener() {}
  close() {}
}
window.Notification = RecordedNotification;
Object.defineProperty(document, "visibilityState", {
  get: () => (window.__hidden ? "hidden" : "visible"),
});
Object.defineProperty(document, "hidden", {get: () => window.__hidden});
"""


def test_browser_notifications_are_opt_in_and_only_for_a_hidden_tab(read_chat, browsing, alice):
    chat = read_chat
    context = browsing.context(alice)
    context.add_init_script(NOTIFICATION_STUB)
    page = browsing.page(context, path=None)
    server = FakeServer(page, hello_for(chat))
    page.goto(f"{browsing.url}/chats/")
    server.push({"type": "message", "message": payload(chat, 4, body="not asked for")})
    expect(page.locator("#toasts .toast")).to_contain_text("not asked for")

    # The permission is asked only when the user turns the toggle on.
    page.goto(f"{browsing.url}/accounts/profile/")
    toggle = page.get_by_role("checkbox", name="Browser notifications for new messages")
    expect(toggle).not_to_be_checked()
    assert page.evaluate("window.__permissionAsked") == 0
    toggle.check()
    expect(page.locator("#notify-status")).to_have_text(
        "Browser notifications are on for this device."
    )
    assert page.evaluate("window.__permissionAsked") == 1
    assert page.evaluate(f"localStorage.getItem('chatsite:notify:{alice.pk}')") == "on"

    # Visible tab: a toast, no notification. Hidden tab: a notification per chat.
    page.goto(f"{browsing.url}/chats/")
    server.push({"type": "message", "message": payload(chat, 5, body="while visible")})
    expect(page.locator("#toasts .toast")).to_contain_text("while visible")
    page.evaluate("window.__hidden = true")
    server.push({"type": "message", "message": payload(chat, 6, body="while away")})
    server.wait_for(lambda: page.evaluate("window.__notifications.length") == 1, "a notification")
    assert page.evaluate("window.__notifications") == [
        {"title": "bob", "body": "while away", "tag": f"chatsite-chat-{chat.pk}"}
    ]

    # Turned off, it stays off across pages.
    page.evaluate("window.__hidden = false")
    page.goto(f"{browsing.url}/accounts/profile/")
    expect(toggle).to_be_checked()
    toggle.uncheck()
    assert page.evaluate(f"localStorage.getItem('chatsite:notify:{alice.pk}')") is None
    page.goto(f"{browsing.url}/chats/")
    page.evaluate("window.__hidden = true")
    server.push({"type": "message", "message": payload(chat, 7, body="after turning off")})
    expect(page.locator("#toasts .toast")).to_contain_text("after turning off")
    assert page.evaluate("window.__notifications.length") == 0


def test_client_catches_up_by_version_and_replaces_changed_messages(read_chat, browsing, alice):
    """A server with versions: hello carries them, the page was rendered at version 3."""
    chat = read_chat
    page = browsing.page(browsing.context(alice), path=None)

    def rendered_at_version_3(route):
        html = route.fetch().text()
        html = re.sub(r'(id="chat"[^>]*?)data-version=""', r'\1data-version="3"', html)
        route.fulfill(body=html, content_type="text/html; charset=utf-8")

    page.route(f"{browsing.url}/chats/{chat.pk}/", rendered_at_version_3)

    def change(seq, version, removed=False):
        m = {**payload(chat, seq), "id": 1000 + seq, "version": version, "removed": removed}
        return {**m, "body": ""} if removed else m

    # Changes by version: message 2 removed at 4, message 4 sent at 5.
    changes = {4: change(2, 4, removed=True), 5: change(4, 5)}

    def on_sync(ws, frame):
        # One change per reply, so the client has to follow `more`.
        later = sorted(v for v in changes if v > frame["since"])
        for version in later[:1]:
            ws.send(json.dumps({"type": "message", "message": changes[version]}))
        last_seq = max(m["seq"] for m in changes.values())
        done = {"chat": chat.pk, "version": max(changes), "last_seq": last_seq}
        ws.send(json.dumps({"type": "synced", **done, "more": len(later) > 1}))

    hello = hello_for(chat, last_seq=4)
    hello["chats"][0]["version"] = 5
    server = FakeServer(page, hello)
    server.on["sync"] = on_sync
    page.goto(f"{browsing.url}/chats/{chat.pk}/")
    since = lambda: [f["since"] for f in server.sent("sync")]  # noqa: E731

    removed = page.locator("#msg-2")
    expect(removed.locator("[data-field=body]")).to_have_text("Message removed by a moderator")
    expect(removed).to_have_class(re.compile(r"\bremoved\b"))
    expect(removed.locator(".msg-menu")).to_have_count(0)
    expect(bodies(page)).to_have_text(
        ["message 0", "Message removed by a moderator", "message 2", "live 4"]
    )
    server.wait_for(lambda: since() == [3, 4], "the sync to follow `more`")
    assert not any("after" in f for f in server.sent("sync"))

    # An older state of a shown message, or the same one again, changes nothing.
    server.push({"type": "message", "message": {**changes[4], "version": 3, "removed": False}})
    server.push({"type": "message", "message": changes[5]})
    # A live change that skips a version: the client syncs the ones it missed.
    changes.update({6: change(3, 6, removed=True), 7: change(5, 7)})
    server.push({"type": "message", "message": changes[7]})
    expected = ["message 0", *["Message removed by a moderator"] * 2, "live 4", "live 5"]
    expect(bodies(page)).to_have_text(expected)
    server.wait_for(lambda: since() == [3, 4, 5, 6], "the sync after the version gap")

    # The last message removed: its preview says so, and the chat keeps its place.
    changes[8] = change(5, 8, removed=True)
    server.push({"type": "message", "message": changes[8]})
    preview = page.locator(f'li.chatitem[data-chat-id="{chat.pk}"] [data-field=preview]')
    expect(preview).to_have_text("Message removed")
    expect(page.locator("#msg-5 [data-field=body]")).to_have_text("Message removed by a moderator")

    # After a reconnect the client asks for what changed since the last version it has.
    hello["chats"][0]["version"] = 8
    server.sockets[-1].close(code=1011, reason="scripted")
    server.wait_for(lambda: since() == [3, 4, 5, 6, 8], "the sync after the reconnect")
    expect(bodies(page)).to_have_count(5)
    assert browsing.csp_violations == []
