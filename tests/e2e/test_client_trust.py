"""Issue 23 in the browser client: order under the rate limit, failed sends that stay, the
length limit, phone typing, drafts, and the restart close code (scripted socket server)."""

from __future__ import annotations

import json
import re
import time

import pytest
from playwright.sync_api import expect

from tests.e2e.test_client_protocol import FakeServer, bodies, hello_for, payload, refuse

pytestmark = pytest.mark.browser

BLOCKED = "You cannot send messages to this user."


def box_of(page):
    return page.get_by_role("textbox", name="Message bob")


def acker(chat):
    """A `send` handler that stores every message as seq 4."""

    def ack(ws, f):
        message = payload(chat, 4, f["body"], "alice", f["client_id"])
        ws.send(json.dumps({"type": "ack", "client_id": f["client_id"], "message": message}))

    return ack


class LimitingServer:
    """Stores sends in the order they arrive, refusing (with `retry_after` when given) every
    send that comes while the limit holds: a server with no ordering rule of its own."""

    def __init__(self, server, chat, limit, retry_after=None, window=1.0):
        self.server = server
        self.chat = chat
        self.limit = limit
        self.retry_after = retry_after
        self.window = window
        self.stored: list[dict] = []
        self.refused_at: float | None = None
        self.unacked = 0
        self.most_unacked = 0
        server.on["send"] = self.on_send

    def on_send(self, ws, frame):
        if any(s["client_id"] == frame["client_id"] for s in self.stored):
            return
        self.unacked += 1
        self.most_unacked = max(self.most_unacked, self.unacked)
        if len(self.stored) >= self.limit and self.refused_at is None:
            self.refused_at = time.monotonic()
        holding = self.refused_at is not None and time.monotonic() - self.refused_at < self.window
        if holding:
            error = {"type": "error", "code": "rate_limited", "detail": "You are sending too fast."}
            if self.retry_after is not None:
                error["retry_after"] = self.retry_after
            self.unacked -= 1
            ws.send(json.dumps({**error, "client_id": frame["client_id"], "chat": self.chat.pk}))
            return
        seq = 4 + len(self.stored)
        stored = payload(self.chat, seq, frame["body"], "alice", frame["client_id"])
        stored["version"] = seq
        self.stored.append(stored)
        self.unacked -= 1
        ws.send(json.dumps({"type": "ack", "client_id": frame["client_id"], "message": stored}))


def test_outbox_is_first_in_first_out_and_waits_out_rate_limited_with_retry_after(
    read_chat, browsing, alice
):
    chat = read_chat
    page = browsing.page(browsing.context(alice), path=None)
    server = FakeServer(page, hello_for(chat))
    limiting = LimitingServer(server, chat, limit=3, retry_after=2, window=2.0)
    page.goto(f"{browsing.url}/chats/{chat.pk}/")
    box = box_of(page)
    typed = [f"line {n}" for n in range(12)]
    notice = page.locator("#composer-notice")
    for n, text in enumerate(typed):
        box.fill(text)
        box.press("Enter")
        if n == 4:
            expect(notice).to_contain_text("sending too fast")
        page.wait_for_timeout(30)
    server.wait_for(lambda: len(limiting.stored) == len(typed), "every message stored", timeout=20)
    assert [m["body"] for m in limiting.stored] == typed
    # One send per chat in flight: a later message never races an earlier one.
    assert limiting.most_unacked == 1
    refusals = [i for i, f in enumerate(server.frames) if f["type"] == "send"]
    sends = [server.frames[i]["body"] for i in refusals]
    first_refused = sends.index("line 3")
    # Nothing after the refused message went out before it was resent.
    assert sends[first_refused + 1] == "line 3"
    expect(notice).to_be_hidden()
    mine = page.locator("#message-list li.msg.mine")
    expect(mine.locator("[data-field=body]")).to_have_text(typed)
    expect(mine.locator("[data-field=status]").last).to_have_text(re.compile("Sent"))
    assert page.evaluate(f"localStorage.getItem('chatsite:outbox:{alice.pk}')") is None


def test_rate_limited_without_retry_after_backs_off_then_resends_in_order(
    read_chat, browsing, alice
):
    """A limit window that ends between two sends: the second is refused, the third would
    pass. The client must not let the third overtake the second."""
    chat = read_chat
    page = browsing.page(browsing.context(alice), path=None)
    server = FakeServer(page, hello_for(chat))
    stored: list[str] = []
    times: list[float] = []

    def on_send(ws, frame):
        times.append(time.monotonic())
        if len(server.sent("send")) == 2:
            error = {"type": "error", "code": "rate_limited", "detail": "Slow down."}
            ws.send(json.dumps({**error, "client_id": frame["client_id"]}))
            return
        stored.append(frame["body"])
        message = payload(chat, 3 + len(stored), frame["body"], "alice", frame["client_id"])
        ws.send(json.dumps({"type": "ack", "client_id": frame["client_id"], "message": message}))

    server.on["send"] = on_send
    page.goto(f"{browsing.url}/chats/{chat.pk}/")
    box = box_of(page)
    for text in ("one", "two", "three"):
        box.fill(text)
        box.press("Enter")
    server.wait_for(lambda: len(stored) == 3, "every message stored", timeout=20)
    assert stored == ["one", "two", "three"]
    resent = [f for f in server.sent("send") if f["body"] == "two"]
    assert len(resent) == 2 and len({f["client_id"] for f in resent}) == 1
    assert times[2] - times[1] > 0.9  # a backoff, not a hammering


def test_blocked_send_stays_failed_across_reload_with_retry_and_discard(read_chat, browsing, alice):
    chat = read_chat
    context = browsing.context(alice)
    page = browsing.page(context, path=None)
    server = FakeServer(page, hello_for(chat))
    server.on["send"] = refuse("blocked", BLOCKED)
    # A server that does not know `discard` answers it with an error: the page takes it calmly.
    unknown = {"type": "error", "code": "unknown_type", "detail": "Unknown frame type."}
    server.on["discard"] = lambda ws, f: ws.send(
        json.dumps({**unknown, "client_id": f["client_id"]})
    )
    page.goto(f"{browsing.url}/chats/{chat.pk}/")
    box = box_of(page)
    for text in ("are you there?", "hello?"):
        box.fill(text)
        box.press("Enter")
    failed = page.locator("#message-list li.msg.failed")
    expect(failed).to_have_count(2)

    page.reload()
    expect(failed).to_have_count(2)
    first = failed.filter(has_text="are you there?")
    expect(first.locator("[data-field=status]")).to_have_text(re.compile("Not sent"))
    expect(first).to_contain_text("You cannot send messages to this user.")
    sends_before = len(server.sent("send"))
    assert sends_before == 2  # failed messages are not resent on their own after a reload

    first.get_by_role("button", name="Retry").click()
    server.wait_for(lambda: len(server.sent("send")) == 3, "the retried send")
    assert server.sent("send")[-1]["body"] == "are you there?"
    expect(failed).to_have_count(2)
    # It went last: after the message typed after it.
    expect(bodies(page).last).to_have_text("are you there?")

    failed.filter(has_text="hello?").get_by_role("button", name="Discard").click()
    server.wait_for(lambda: len(server.sent("discard")) == 1, "the discard frame")
    discard = server.sent("discard")[0]
    assert discard["chat"] == chat.pk and isinstance(discard["client_id"], str)
    expect(failed).to_have_count(1)
    page.reload()
    expect(failed).to_have_count(1)
    expect(failed).to_contain_text("are you there?")

    # The socket still works after the unknown_type answer.
    server.on["send"] = acker(chat)
    box.fill("back")
    box.press("Enter")
    back = page.locator("#message-list li.msg.mine", has_text="back")
    expect(back.locator("[data-field=status]")).to_have_text(re.compile("Sent"))


def test_pasting_over_the_limit_counts_warns_and_keeps_every_character(read_chat, browsing, alice):
    chat = read_chat
    page = browsing.page(browsing.context(alice), path=None)
    server = FakeServer(page, hello_for(chat))
    page.goto(f"{browsing.url}/chats/{chat.pk}/")
    box = box_of(page)
    counter = page.locator("#composer-count")
    box.fill("x" * 3000)
    expect(counter).to_be_hidden()
    box.fill("x" * 3900)
    expect(counter).to_be_visible()
    expect(counter).to_contain_text("3,900")
    long_text = "y" * 4500
    box.focus()
    page.keyboard.insert_text(long_text)  # as a paste does: no per-key events
    expect(box).to_have_value("x" * 3900 + long_text)
    error = page.locator("#composer-error")
    expect(error).to_contain_text("8,400 characters")
    expect(error).to_contain_text("4,000")
    expect(box).to_have_attribute("aria-invalid", "true")
    box.press("Enter")
    expect(box).to_have_value("x" * 3900 + long_text)
    page.wait_for_timeout(200)
    assert server.sent("send") == []
    box.fill("short again")
    expect(error).to_be_hidden()
    expect(counter).to_be_hidden()


def test_on_a_touch_screen_enter_adds_a_line_and_the_button_sends(read_chat, browsing, alice):
    chat = read_chat
    context = browsing.context(alice, has_touch=True, is_mobile=True)
    page = browsing.page(context, path=None)
    page.set_viewport_size({"width": 390, "height": 844})
    server = FakeServer(page, hello_for(chat))
    page.goto(f"{browsing.url}/chats/{chat.pk}/")
    assert page.evaluate("matchMedia('(pointer: coarse)').matches")
    box = box_of(page)
    box.tap()
    box.type("first line")
    box.press("Enter")
    box.type("second line")
    expect(box).to_have_value("first line\nsecond line")
    assert server.sent("send") == []
    expect(page.locator("#composer-hint")).to_have_text(re.compile("Send button sends"))
    page.get_by_role("button", name="Send").tap()
    server.wait_for(lambda: len(server.sent("send")) == 1, "the send")
    assert server.sent("send")[0]["body"] == "first line\nsecond line"


def test_drafts_are_kept_per_chat_across_reload_and_cleared_when_sent(read_chat, browsing, alice):
    chat = read_chat
    context = browsing.context(alice)
    page = browsing.page(context, path=None)
    server = FakeServer(page, hello_for(chat))
    server.on["send"] = acker(chat)
    page.goto(f"{browsing.url}/chats/{chat.pk}/")
    box = box_of(page)
    box.fill("half a thought")
    page.close()

    page = browsing.page(context, path=None)
    server = FakeServer(page, hello_for(chat))
    server.on["send"] = acker(chat)
    page.goto(f"{browsing.url}/chats/{chat.pk}/")
    box = box_of(page)
    expect(box).to_have_value("half a thought")
    box.press("Enter")
    server.wait_for(lambda: len(server.sent("send")) == 1, "the send")
    page.reload()
    expect(box_of(page)).to_have_value("")


class RestartingServer(FakeServer):
    """Closes each socket with the next of `closes` (None: stays up), before or after hello."""

    def __init__(self, page, hello, closes):
        super().__init__(page, hello)
        self.closes = list(closes)
        self.opened_at: list[float] = []

    def _accept(self, ws):
        self.opened_at.append(time.monotonic())
        close = self.closes.pop(0) if self.closes else None
        if close is not None and close[1] == "before":
            self.sockets.append(ws)
            ws.close(code=close[0], reason="scripted")
            return
        super()._accept(ws)
        if close is not None:
            ws.close(code=close[0], reason="scripted")


def test_service_restart_close_reconnects_at_once_resending_and_syncing(read_chat, browsing, alice):
    chat = read_chat
    page = browsing.page(browsing.context(alice), path=None)
    hello = {**hello_for(chat), "chats": [{**hello_for(chat)["chats"][0], "version": 3}]}
    # Failed connects grow the backoff to seconds; then a restart closes a socket.
    closes = [None, (1011, "before"), (1011, "before"), (1011, "before"), (1012, "before")]
    server = RestartingServer(page, hello, closes)
    server.on["send"] = lambda ws, f: None  # the first socket never acks
    page.goto(f"{browsing.url}/chats/{chat.pk}/")
    server.wait_for(lambda: len(server.sent("sync")) == 1, "the first sync")
    box = box_of(page)
    box.fill("across the restart")
    box.press("Enter")
    server.wait_for(lambda: len(server.sent("send")) == 1, "the send")
    server.on["send"] = acker(chat)
    server.sockets[0].close(code=1011, reason="crash")
    # Backoff ceilings 0.5, 1, 2 and 4 s: 7.5 s at most, far longer on a loaded machine.
    server.wait_for(lambda: len(server.sockets) == 5, "the backoff attempts", timeout=60)
    # The backoff is now 4 s or more; the restart close (1012) skips it.
    server.wait_for(lambda: len(server.sockets) == 6, "the reconnect after 1012", timeout=5)
    assert server.opened_at[5] - server.opened_at[4] < 1.5
    server.wait_for(lambda: len(server.sent("send")) == 2, "the resend")
    assert server.sent("send")[1]["body"] == "across the restart"
    server.wait_for(lambda: len(server.sent("sync")) == 2, "the sync after the restart")
    expect(page.locator("#conn-status")).to_be_hidden()


@pytest.mark.parametrize(
    ("locale", "clock"), [("en-GB", r"^\d{2}:\d{2}$"), ("en-US", r"^\d{1,2}:\d{2}\s?[AP]M$")]
)
def test_times_follow_the_browsers_locale_and_bare_www_addresses_are_links(
    read_chat, browsing, alice, locale, clock
):
    chat = read_chat
    page = browsing.page(browsing.context(alice, locale=locale, timezone_id="UTC"), path=None)
    server = FakeServer(page, hello_for(chat))
    page.goto(f"{browsing.url}/chats/{chat.pk}/")
    live = payload(chat, 4, "see www.example.com/menu, or https://a.example/x. not foo.www.bar")
    live["sent_at"] = "2026-12-06T15:08:00Z"
    server.push({"type": "message", "message": live})
    message = page.locator("#message-list li.msg", has_text="see www")
    links = message.locator("a.msg-link")
    expect(links).to_have_count(2)
    expect(links.first).to_have_attribute("href", "https://www.example.com/menu")
    expect(links.first).to_have_text("www.example.com/menu")
    time_text = message.locator("[data-field=time]").inner_text().strip()
    assert re.match(clock, time_text), time_text
    assert not time_text.startswith("0")  # "3:08 PM" or "15:08", never "03:08 PM"


def test_renamed_peer_updates_every_place_and_says_so_once(read_chat, browsing, alice):
    chat = read_chat
    page = browsing.page(browsing.context(alice), path=None)
    server = FakeServer(page, hello_for(chat, peer_status="online"))
    page.goto(f"{browsing.url}/chats/{chat.pk}/")
    expect(page.locator("#presence")).to_have_text("Online")
    for _ in range(2):  # a repeated frame changes nothing more
        server.push({"type": "renamed", "old": "bob", "new": "robert"})
    expect(page.locator("#peer-name")).to_have_text("robert")
    expect(page.get_by_role("textbox", name="Message robert")).to_have_attribute(
        "placeholder", "Message robert"
    )
    expect(page.get_by_role("button", name="Block robert")).to_be_visible()
    senders = page.locator("#message-list li.msg [data-field=sender]")
    expect(senders).to_have_text(["robert:"] * 3)
    expect(page.locator("#chatlist li.chatitem .peer")).to_have_text(["robert"])
    expect(page.locator("#message-list .system-line")).to_have_text(["bob is now robert"])
    expect(page.locator("#presence")).to_have_text("Online")
    assert page.title().startswith("robert ·")
    # Frames name the new name from now on.
    server.push({"type": "typing", "chat": chat.pk, "user": "robert"})
    expect(page.locator("#typing")).to_have_text("robert is typing…")


def test_own_rename_in_another_tab_reloads_this_one(read_chat, browsing, alice):
    chat = read_chat
    page = browsing.page(browsing.context(alice), path=None)
    server = FakeServer(page, hello_for(chat))
    page.goto(f"{browsing.url}/chats/{chat.pk}/")
    server.wait_for(lambda: server.sent("sync"), "the sync")
    page.evaluate("window.beforeRename = true")
    server.push({"type": "renamed", "old": "alice", "new": "alicia"})
    page.wait_for_function("window.beforeRename === undefined")
