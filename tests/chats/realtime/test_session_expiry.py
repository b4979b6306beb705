"""The socket's session timer (chats/realtime/socket_auth.py): it checks when the session is due,
and a check that fails is tried again rather than lost or raised."""

import asyncio
from datetime import timedelta

from django.utils import timezone

from chats.realtime.socket_auth import SessionExpiry


async def test_the_check_runs_once_the_session_is_due(monkeypatch):
    monkeypatch.setattr(SessionExpiry, "SLACK", 0.05)
    monkeypatch.setattr(SessionExpiry, "MIN_DELAY", 0.05)
    ran = asyncio.Event()

    async def check():
        ran.set()

    expiry = SessionExpiry(check)
    expiry.arm(timezone.now() + timedelta(seconds=0.2))
    assert not ran.is_set()
    await asyncio.wait_for(ran.wait(), 2)


async def test_a_failed_check_is_tried_again(monkeypatch):
    monkeypatch.setattr(SessionExpiry, "MIN_DELAY", 0.01)
    monkeypatch.setattr(SessionExpiry, "RETRY", 0.05)
    calls = []
    done = asyncio.Event()

    async def check():
        calls.append(1)
        if len(calls) == 1:
            raise ConnectionError("database down")
        done.set()

    SessionExpiry(check).arm(timezone.now())
    await asyncio.wait_for(done.wait(), 2)
    assert len(calls) == 2


async def test_a_stopped_timer_never_checks_nor_rearms(monkeypatch):
    monkeypatch.setattr(SessionExpiry, "MIN_DELAY", 0.01)
    calls = []

    async def check():
        calls.append(1)

    expiry = SessionExpiry(check)
    expiry.arm(timezone.now())
    expiry.stop()
    expiry.arm(timezone.now())  # a check that was running re-arms after the close
    await asyncio.sleep(0.2)
    assert calls == []
