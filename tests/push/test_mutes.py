"""Issue 17: muting a chat tells every tab of the user (the `muted` frame), only after commit."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async

from push import mutes
from push.models import ChatMute
from tests.chats.conftest import Socket
from tests.factories import make_chat

pytestmark = pytest.mark.django_db(transaction=True)

db = database_sync_to_async


async def test_muting_and_unmuting_reach_every_tab_of_the_user(alice, bob):
    chat = await db(make_chat)(alice, bob)
    tabs = [Socket(alice), Socket(alice)]
    for tab in tabs:
        assert (await tab.connect())[0]

    await db(mutes.chat_mute_set)(user=alice, chat_id=chat.pk, muted=True)
    for tab in tabs:
        frame, _ = await tab.recv_until("muted")
        assert frame == {"type": "muted", "chat": chat.pk, "muted": True}
    await db(mutes.chat_mute_set)(user=alice, chat_id=chat.pk, muted=False)
    for tab in tabs:
        frame, _ = await tab.recv_until("muted")
        assert frame == {"type": "muted", "chat": chat.pk, "muted": False}
    for tab in tabs:
        await tab.comm.disconnect()


def test_the_frame_waits_for_the_commit(alice, bob, monkeypatch):
    from django.db import transaction

    from chats import events

    chat = make_chat(alice, bob)
    rung = []
    monkeypatch.setattr(events, "chat_muted", lambda **kwargs: rung.append(kwargs))
    with transaction.atomic():
        mutes.chat_mute_set(user=alice, chat_id=chat.pk, muted=True)
        assert rung == []
    assert rung == [{"user_id": alice.pk, "chat_id": chat.pk, "muted": True}]
    assert ChatMute.objects.filter(user=alice, chat=chat).exists()
