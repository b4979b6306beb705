"""The browser client honours `retry_after` on a rate-limited sync (issue 21): it sends the
sync once more after the wait, never in a loop, and never gives up on it."""

import json
import time

import pytest

from tests.support.browser import add_session_cookie, chromium

pytestmark = [pytest.mark.browser, pytest.mark.live, pytest.mark.django_db(transaction=True)]


def test_a_rate_limited_sync_is_sent_again_once_after_retry_after(cluster_factory):
    cluster = cluster_factory(SYNC_RATE="1/8")
    data = cluster.run_seed("tests.security.bidi_seed")
    base = cluster.start().origin
    frames = []  # (time, direction, frame) of the page's sockets

    def watch(ws):
        ws.on("framesent", lambda p: frames.append((time.monotonic(), "out", json.loads(p))))
        ws.on("framereceived", lambda p: frames.append((time.monotonic(), "in", json.loads(p))))

    with chromium() as browser:
        context = browser.new_context()
        add_session_cookie(context, base, data["alice"])
        page = context.new_page()
        page.on("websocket", watch)
        limited = None
        for _ in range(4):  # the first load's sync spends the budget; a later one is refused
            seen = len(frames)
            page.goto(f"{base}/chats/{data['chat']}/")
            deadline = time.monotonic() + 3
            while time.monotonic() < deadline:
                page.wait_for_timeout(50)
                replies = [f for f in frames[seen:] if f[1] == "in"]
                limited = next((f for f in replies if f[2].get("code") == "rate_limited"), None)
                if limited or any(f[2]["type"] == "synced" for f in replies):
                    break
            if limited:
                break
        assert limited is not None, "no sync was rate limited"
        assert 1 <= limited[2]["retry_after"] <= 8
        page.wait_for_timeout(limited[2]["retry_after"] * 1000 + 2500)
    after = [f for f in frames if f[0] > limited[0]]
    syncs = [f for f in after if f[1] == "out" and f[2]["type"] == "sync"]
    assert len(syncs) == 1, syncs  # once, not in a loop
    assert syncs[0][0] - limited[0] >= limited[2]["retry_after"] - 1  # after the wait
    assert any(f[1] == "in" and f[2]["type"] == "synced" for f in after)
